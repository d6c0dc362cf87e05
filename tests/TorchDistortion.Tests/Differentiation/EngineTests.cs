using TorchDistortion.Differentiation;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Differentiation;

/// <summary>
/// The engine's fast paths (blocks of points, groups of networks, one network's in-place first and last layers, the
/// thread choice) against the reverse-mode Jacobian, and against each other: splitting the work must not change a bit.
/// </summary>
public class EngineTests
{
    [Theory]
    [InlineData("64,64,64,4", 1, 1, 3000, 0.0)] // one network, many blocks of points
    [InlineData("8,64,64,64,3", 1, 3, 2000, 0.5)] // tangents read as strided slices, biases drawn
    [InlineData("5,64,64,2", 40, 1, 100, 0.0)] // groups of networks
    [InlineData("6,32,32,32,5", 7, 2, 1500, 0.3)] // groups and blocks
    [InlineData("4,3", 1, 2, 700, 0.2)] // one layer: inputs straight to results
    [InlineData("4,3", 5, 2, 50, 0.0)]
    public void FastPathsAgreeWithReverseMode(string widths, int networks, int k, int points, double biasVariance)
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec(widths.Split(',').Select(int.Parse).ToArray(), InitScheme.He, BiasVariance: biasVariance);
        using var net = Mlp.Create(spec, networks, seed: 3, dtype: ScalarType.Float64);
        var g = new Generator(8);
        var x = randn([networks, points, spec.InputDim], float64, generator: g);
        var u = randn([networks, points, k, spec.InputDim], float64, generator: g);

        var (output, product) = Jacobians.TangentPropagation(net, x, u);
        var reverse = matmul(u, Jacobians.Reverse(net, x).transpose(-1, -2));
        using (no_grad())
        {
            Assert.Equal(new long[] { networks, points, k, spec.OutputDim }, product.shape);
            Assert.True(product.abs().max().item<double>() > 0);
            Assert.True((product - reverse).abs().max().item<double>() < 1e-10, "tangent propagation vs reverse mode");
            Assert.True((output - net.forward(x)).abs().max().item<double>() < 1e-10, "output vs forward");
        }
        // The re-orthonormalised frame keeps the volume: exp(LogScale) vol(block) = vol(J U) wherever J U has full rank.
        var (_, frameBlock, fewest, logScale) = Jacobians.TangentPropagation(net, x, u, frame: true);
        if (k == 1 || spec.Depth == 1) return;
        using (no_grad())
        {
            var viaFrame = Distortion.LogVolumes(frameBlock) + logScale!;
            var direct = Distortion.LogVolumes(reverse);
            var fullRank = fewest!.ge(k);
            Assert.True(fullRank.sum().item<long>() > points / 2, "most points have full rank");
            Assert.True((viaFrame - direct).abs().masked_select(fullRank).max().item<double>() < 1e-9, "log-volume via the frame vs reverse mode");
        }
    }

    [Fact]
    public void SplittingIntoBlocksGroupsOrThreadsChangesNoBit()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([16, 64, 64, 64, 8], InitScheme.He, BiasVariance: 0.1);
        const int networks = 24, points = 600, k = 2;
        using var ensemble = Mlp.Create(spec, networks, seed: 4, dtype: ScalarType.Float32);
        var g = new Generator(9);
        var x = randn([networks, points, spec.InputDim], generator: g);
        var u = randn([networks, points, k, spec.InputDim], generator: g);
        var (_, whole, fewest, _) = Jacobians.TangentPropagation(ensemble, x, u, frame: true);
        for (int i = 0; i < networks; i += 5)
        {
            using var single = Mlp.Create(spec, 1, seed: 4, firstIndex: i, dtype: ScalarType.Float32);
            var (_, alone, fewestAlone, _) = Jacobians.TangentPropagation(single, x[i..(i + 1)], u[i..(i + 1)], frame: true);
            var (_, firstHalf, _, _) = Jacobians.TangentPropagation(single, x[i..(i + 1), ..300], u[i..(i + 1), ..300], frame: true);
            // Matmuls of other shapes may round differently: the same network alone, in a block or in a group agrees to rounding.
            Assert.True((alone - whole[i..(i + 1)]).abs().max().item<float>() <= 1e-5f * whole[i].abs().max().item<float>());
            Assert.True(firstHalf.eq(alone[.., ..300]).all().item<bool>(), "a point's result must not depend on the other points");
            Assert.True(fewestAlone.eq(fewest[i..(i + 1)]).all().item<bool>());
        }
        int threads = get_num_threads();
        try
        {
            set_num_threads(2);
            var (_, twoThreads, _, _) = Jacobians.TangentPropagation(ensemble, x, u, frame: true);
            Assert.True(twoThreads.eq(whole).all().item<bool>(), "small ops run on one thread whatever the setting");
            Assert.Equal(2, get_num_threads());
        }
        finally { set_num_threads(threads); }
    }

    [Fact]
    public void FewestActiveCountsTheActiveNeuronsOfEveryHiddenLayer()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([3, 5, 4, 6, 2], InitScheme.He, BiasVariance: 1.0);
        using var net = Mlp.Create(spec, 2, seed: 6, dtype: ScalarType.Float64);
        var x = randn([2, 200, 3], float64, generator: new Generator(2));
        var u = randn([2, 200, 1, 3], float64, generator: new Generator(3));
        var (_, _, fewest, _) = Jacobians.TangentPropagation(net, x, u, frame: true);
        using (no_grad())
        {
            var h = x;
            Tensor? least = null;
            for (int l = 0; l < spec.Depth - 1; l++)
            {
                h = (bmm(h, net.Weights[l].transpose(1, 2)) + net.Biases[l]!.unsqueeze(1)).relu();
                var count = h.gt(0).sum(-1L);
                least = least is null ? count : minimum(least, count);
            }
            Assert.Equal(ScalarType.Int64, fewest!.dtype);
            Assert.True(fewest.eq(least!).all().item<bool>());
        }
    }
}
