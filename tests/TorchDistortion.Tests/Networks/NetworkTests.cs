using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

public class NetworkTests
{
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void SameSeedGivesBitwiseIdenticalWeightsAndChunksConcatenate()
    {
        var spec = new NetworkSpec([5, 9, 9, 4], InitScheme.He, BiasVariance: 0.3);
        using var whole = ReluNetwork.Create(spec, 10, seed: 7);
        using var again = ReluNetwork.Create(spec, 10, seed: 7);
        using var other = ReluNetwork.Create(spec, 10, seed: 8);
        using var head = ReluNetwork.Create(spec, 4, seed: 7, firstIndex: 0);
        using var tail = ReluNetwork.Create(spec, 6, seed: 7, firstIndex: 4);
        for (int l = 0; l < spec.Depth; l++)
        {
            Assert.True(Same(whole.Weights[l], again.Weights[l]));
            Assert.False(Same(whole.Weights[l], other.Weights[l]));
            Assert.True(Same(whole.Weights[l], cat([head.Weights[l], tail.Weights[l]], 0)));
            Assert.True(Same(whole.Biases[l]!, cat([head.Biases[l]!, tail.Biases[l]!], 0)));
        }
    }

    public static TheoryData<string> Schemes() => ["he", "lecun", "glorot-normal", "glorot-uniform", "orthogonal", "variance"];

    [Theory]
    [MemberData(nameof(Schemes))]
    public void EmpiricalVarianceMatchesTheScheme(string name)
    {
        var scheme = InitScheme.Parse(name, name is "variance" or "orthogonal" ? 3.0 : null);
        using var net = ReluNetwork.Create(new NetworkSpec([256, 256, 128], scheme), 4, seed: 1);
        for (int l = 0; l < 2; l++)
        {
            var w = net.Weights[l];
            long fanOut = w.shape[1], fanIn = w.shape[2];
            double measured = w.var().item<double>() * fanIn;
            double expected = scheme.Variance((int)fanIn, (int)fanOut);
            // Standard error of a sample variance of n Gaussian-ish entries: about sqrt(2 / n) relative.
            Assert.InRange(measured / expected, 1 - 6 * Math.Sqrt(2.0 / w.numel()), 1 + 6 * Math.Sqrt(2.0 / w.numel()));
        }
        if (name == "orthogonal")
        {
            var square = net.Weights[0][0];
            var gram = square.mm(square.t());
            Assert.True((gram - 3.0 * eye(256, dtype: ScalarType.Float64)).abs().max().item<double>() < 1e-10);
        }
    }

    [Fact]
    public void OutputVarianceRescalesTheLastLayer()
    {
        using var net = ReluNetwork.Create(new NetworkSpec([64, 256, 512], InitScheme.He, OutputVariance: 0.5), 4, seed: 2);
        Assert.InRange(net.Weights[1].var().item<double>() * 256 / 0.5, 0.97, 1.03);
    }

    [Fact]
    public void BadSpecsAndNamesThrowNamingTheOption()
    {
        Assert.Contains("--init", Assert.Throws<ArgumentException>(() => InitScheme.Parse("kaiming-magic")).Message);
        Assert.Contains("he, lecun", Assert.Throws<ArgumentException>(() => InitScheme.Parse("kaiming-magic")).Message);
        Assert.Contains("--cw", Assert.Throws<ArgumentException>(() => InitScheme.Parse("he", 3)).Message);
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8], InitScheme.He).Validate());
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8, 0, 8], InitScheme.He).Validate());
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8, -2, 8], InitScheme.He).Validate());
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8, 8], InitScheme.He, BiasVariance: double.NaN).Validate());
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8, 8], InitScheme.He, OutputVariance: double.PositiveInfinity).Validate());
        Assert.Throws<ArgumentException>(() => new NetworkSpec([8, 8], InitScheme.He, OutputVariance: 0).Validate());
    }

    [Fact]
    public void ForwardTakesSingleAndEnsembleInputs()
    {
        using var single = ReluNetwork.Create(new NetworkSpec([3, 5, 2], InitScheme.He), 1);
        using var ensemble = ReluNetwork.Create(new NetworkSpec([3, 5, 2], InitScheme.He), 3);
        using (no_grad())
        {
            Assert.Equal(new long[] { 7, 2 }, single.forward(randn(7, 3, dtype: ScalarType.Float64)).shape);
            Assert.Equal(new long[] { 3, 7, 2 }, ensemble.forward(randn(3, 7, 3, dtype: ScalarType.Float64)).shape);
            Assert.Throws<ArgumentException>(() => ensemble.forward(randn(7, 3, dtype: ScalarType.Float64)));
            Assert.Throws<ArgumentException>(() => single.forward(randn(7, 4, dtype: ScalarType.Float64)));
        }
    }
}
