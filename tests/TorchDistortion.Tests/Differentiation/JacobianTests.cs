using TorchDistortion.Differentiation;
using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Differentiation;

public class JacobianTests
{
    private static double MaxRelativeDifference(Tensor a, Tensor b) =>
        (a - b).abs().max().item<double>() / Math.Max(b.abs().max().item<double>(), 1e-300);

    public static TheoryData<int[], int, int, double, int> Shapes() => new()
    {
        // widths, k, networks K, bias variance, points B (5000 exercises the cache-sized point blocks)
        { [5, 7, 3], 1, 1, 0.0, 9 },
        { [4, 16, 16, 16, 9], 3, 1, 0.5, 11 },
        { [10, 8, 8, 8, 8, 8, 10], 2, 4, 0.3, 6 },
        { [3, 20, 1], 1, 2, 0.0, 13 },
        { [6, 32, 32, 32, 5], 2, 1, 0.2, 5000 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TangentPropagationDoubleVjpAndReverseModeAgree(int[] widths, int k, int networks, double biasVariance, int points)
    {
        using var scope = NewDisposeScope();
        using var net = ReluNetwork.Create(new NetworkSpec(widths, InitScheme.He, BiasVariance: biasVariance), networks, seed: widths.Sum());
        var generator = new Generator(17);
        var x = randn([networks, points, widths[0]], ScalarType.Float64, generator: generator);
        var u = randn([networks, points, k, widths[0]], ScalarType.Float64, generator: generator);
        var (output, tangent) = Jacobians.TangentPropagation(net, x, u);
        using (no_grad()) Assert.True(MaxRelativeDifference(output, net.forward(x)) < 1e-12);
        int checkedPoints = Math.Min(points, 64); // reverse mode costs one backward pass per output
        var xs = x.narrow(1, 0, checkedPoints);
        var us = u.narrow(1, 0, checkedPoints);
        var vjp = Jacobians.DoubleVjp(net, xs, us);
        var reverse = Jacobians.Apply(net, JacobianMethod.Reverse, xs, us);
        Assert.True(MaxRelativeDifference(tangent.narrow(1, 0, checkedPoints), reverse) < 1e-10);
        Assert.True(MaxRelativeDifference(vjp, reverse) < 1e-10);
        Assert.Equal(new long[] { networks, points, k, widths[^1] }, tangent.shape);
    }

    [Fact]
    public void TangentsAgreeWithCentralFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var net = ReluNetwork.Create(new NetworkSpec([6, 12, 12, 12, 4], InitScheme.He, BiasVariance: 0.4), 1, seed: 3);
        var x = randn([1, 20, 6], ScalarType.Float64, generator: new Generator(5));
        var u = randn([1, 20, 1, 6], ScalarType.Float64, generator: new Generator(6));
        var (_, tangent) = Jacobians.TangentPropagation(net, x, u);
        const double h = 1e-6;
        using (no_grad())
        {
            var difference = (net.forward(x + h * u.squeeze(2)) - net.forward(x - h * u.squeeze(2))) / (2 * h);
            Assert.True(MaxRelativeDifference(tangent.squeeze(2), difference) < 1e-6);
        }
    }

    [Fact]
    public void GenericModulesUseTheAutogradPaths()
    {
        using var scope = NewDisposeScope();
        var module = nn.Sequential(nn.Linear(5, 9, dtype: ScalarType.Float64), nn.Tanh(), nn.Linear(9, 3, dtype: ScalarType.Float64));
        var x = randn([7, 5], ScalarType.Float64, generator: new Generator(8));
        var u = randn([7, 2, 5], ScalarType.Float64, generator: new Generator(9));
        var vjp = Jacobians.Apply(module, JacobianMethod.DoubleVjp, x, u);
        var reverse = Jacobians.Apply(module, JacobianMethod.Reverse, x, u);
        Assert.True(MaxRelativeDifference(vjp, reverse) < 1e-10);
        Assert.Throws<ArgumentException>(() => Jacobians.Apply(module, JacobianMethod.TangentPropagation, x, u));
    }

    [Fact]
    public void MismatchedShapesThrowInsteadOfAborting()
    {
        using var scope = NewDisposeScope();
        using var net = ReluNetwork.Create(new NetworkSpec([4, 8, 3], InitScheme.He), 1);
        var x = randn([1, 5, 4], ScalarType.Float64);
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, x, randn([1, 5, 1, 3], ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, randn([1, 5, 6], ScalarType.Float64), randn([1, 5, 1, 6], ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => Jacobians.Apply(net, JacobianMethod.DoubleVjp, x, randn([1, 5, 4], ScalarType.Float64)));
    }
}
