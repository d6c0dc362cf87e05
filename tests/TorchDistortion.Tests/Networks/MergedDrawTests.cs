using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

/// <summary>
/// Networks of the torch generator drawn with one normal_ call per network equal, bit for bit, the draw with one call per
/// layer: the networks of every version before generators could be chosen.
/// </summary>
public sealed class MergedDrawTests
{
    /// <summary>The per-layer draw written out independently: generator (seed, i), layer by layer, normal_ at the layer's std.</summary>
    private static Tensor[] PerLayer(NetworkSpec spec, long seed, int index)
    {
        using var generator = new Generator(Seeds.Derive(seed, index, Seeds.Stream.Weights));
        var init = spec.ResolvedInit;
        var layers = new Tensor[spec.Depth];
        for (int l = 0; l < spec.Depth; l++)
        {
            int fanIn = spec.Widths[l], fanOut = spec.Widths[l + 1];
            layers[l] = empty([fanOut, fanIn], float64).normal_(0.0, Math.Sqrt(init.Variance(fanIn, fanOut) / fanIn), generator);
            if (l == spec.Depth - 1 && spec.OutputVariance is double cOut) layers[l].mul_(Math.Sqrt(cOut / init.Variance(fanIn, fanOut)));
        }
        return layers;
    }

    public static TheoryData<string, int[], double?> Specs => new()
    {
        { "he", [32, 32, 32, 32, 32], null },
        { "he", [16, 64, 48, 64, 8], 1.0 },          // fan-ins (and so stds) differ per layer; C_out rescales the last
        { "lecun", [64, 128, 64], null },
        { "glorot-normal", [32, 16, 48], 0.5 },
        { "he", [6, 10, 10, 6], null },              // 60 entries: not a multiple of 16, drawn per layer
        { "he", [256, 512, 256], 1.0 },              // 262k entries a network: its 8 MiB buffer holds 4, so 5 networks take two
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void MergedDrawEqualsPerLayerDrawBitForBit(string init, int[] widths, double? cOut)
    {
        var spec = new NetworkSpec(widths, InitScheme.Parse(init), OutputVariance: cOut, Generator: WeightGenerator.Torch);
        const long seed = 11;
        using var net = Mlp.Create(spec, count: 5, seed: seed, firstIndex: 3);
        for (int i = 0; i < 5; i++)
        {
            var expected = PerLayer(spec, seed, 3 + i);
            for (int l = 0; l < spec.Depth; l++)
                Assert.True(net.Weights[l][i].detach().eq(expected[l]).all().item<bool>(), $"{init} {string.Join(",", widths)}: network {i}, layer {l}");
        }
    }
}
