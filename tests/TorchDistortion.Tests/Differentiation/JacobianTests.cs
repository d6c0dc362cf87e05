using TorchDistortion.Differentiation;
using TorchDistortion.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Differentiation;

/// <summary>
/// The three ways of computing J·U (tangent propagation, double VJP, full reverse-mode Jacobian) checked
/// against each other and against methods that share no code with them: the explicit matrix product
/// W_L D_{L-1} ... D_1 W_1 built from the weights and activation masks, central finite differences, and
/// the closed-form Jacobian of a small tanh network.
/// </summary>
public class JacobianTests
{
    private const int Points = 6;

    public static IEnumerable<object[]> AgreementCases()
    {
        string[] widths = ["5,7,3", "4,16,16,16,9", "10,8,8,8,8,8,10", "3,20,1"];
        string[] modes = ["no-bias", "zero-bias", "bias", "ensemble"];
        foreach (var w in widths)
            foreach (var k in new[] { 1, 3 })
                foreach (var mode in modes)
                    yield return [w, k, mode];
    }

    [Theory]
    [MemberData(nameof(AgreementCases))]
    public void AllMethodsAgreeWithEachOtherAndWithTheExplicitProduct(string widths, int k, string mode)
    {
        using var scope = NewDisposeScope();
        var (spec, count) = Setup(widths, mode);
        using var net = Mlp.Create(spec, count, seed: 11, firstIndex: 0, dtype: ScalarType.Float64);
        var g = new Generator(1234);
        var x = Gaussian(g, count, Points, spec.InputDim);
        var u = Gaussian(g, count, Points, k, spec.InputDim);

        var (output, propagated) = Jacobians.TangentPropagation(net, x, u);
        var doubleVjp = Jacobians.DoubleVjp(net, x, u);
        var jacobian = Jacobians.Reverse(net, x);
        Assert.Equal(new long[] { count, Points, spec.OutputDim, spec.InputDim }, jacobian.shape);
        var reverse = matmul(u, jacobian.transpose(-1, -2));
        var explicitProduct = ExplicitJU(net, x, u);

        long[] expectedShape = [count, Points, k, spec.OutputDim];
        Assert.Equal(expectedShape, propagated.shape);
        Assert.Equal(expectedShape, doubleVjp.shape);
        Assert.Equal(expectedShape, reverse.shape);
        Assert.Equal(ScalarType.Float64, propagated.dtype);
        Assert.True(MaxAbs(explicitProduct) > 0, "degenerate case: J·U is identically zero");

        AssertClose(explicitProduct, propagated, 1e-10, "tangent propagation vs explicit product");
        AssertClose(propagated, doubleVjp, 1e-10, "tangent propagation vs double VJP");
        AssertClose(propagated, reverse, 1e-10, "tangent propagation vs reverse-mode U·J^T");

        // Apply dispatches to the same computations.
        foreach (var method in Enum.GetValues<JacobianMethod>())
            AssertClose(propagated, Jacobians.Apply(net, method, x, u), 1e-10, $"Apply({method})");
        Assert.Equal(new long[] { count, Points, spec.OutputDim }, output.shape);
    }

    [Fact]
    public void TangentPropagationMatchesCentralFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([10, 32, 32, 32, 4], InitScheme.He, BiasVariance: 0.5);
        const int count = 3, k = 2;
        const double h = 1e-6;
        using var net = Mlp.Create(spec, count, seed: 5, dtype: ScalarType.Float64);
        var g = new Generator(77);
        var x = Gaussian(g, count, 8, spec.InputDim);
        var u = Gaussian(g, count, 8, k, spec.InputDim);

        var (_, ju) = Jacobians.TangentPropagation(net, x, u);
        using (no_grad())
        {
            for (int j = 0; j < k; j++)
            {
                var uj = u.select(2, j);
                var fd = (net.forward(x + h * uj) - net.forward(x - h * uj)) / (2 * h);
                AssertClose(fd, ju.select(2, j), 1e-6, $"finite differences, tangent {j}");
            }
        }
    }

    [Theory]
    [InlineData("5,7,3", "bias")]
    [InlineData("10,8,8,8,8,8,10", "ensemble")]
    [InlineData("4,16,16,16,9", "no-bias")]
    public void TangentPropagationOutputEqualsForward(string widths, string mode)
    {
        using var scope = NewDisposeScope();
        var (spec, count) = Setup(widths, mode);
        using var net = Mlp.Create(spec, count, seed: 3, dtype: ScalarType.Float64);
        var g = new Generator(99);
        var x = Gaussian(g, count, Points, spec.InputDim);
        var u = Gaussian(g, count, Points, 2, spec.InputDim);

        var (output, _) = Jacobians.TangentPropagation(net, x, u);
        Tensor forward;
        using (no_grad()) forward = net.forward(x);
        AssertClose(forward, output, 1e-12, "TangentPropagation output vs forward");
    }

    [Fact]
    public void GenericModuleDoubleVjpMatchesReverseAndClosedForm()
    {
        using var scope = NewDisposeScope();
        const int n0 = 5, hidden = 16, nL = 3, k = 3;
        var g = new Generator(2024);
        var lin1 = nn.Linear(n0, hidden, dtype: ScalarType.Float64);
        var lin2 = nn.Linear(hidden, nL, dtype: ScalarType.Float64);
        using (no_grad())
        {
            lin1.weight!.normal_(0, 1.0 / Math.Sqrt(n0), g);
            lin1.bias!.normal_(0, 0.5, g);
            lin2.weight!.normal_(0, 1.0 / Math.Sqrt(hidden), g);
            lin2.bias!.normal_(0, 0.5, g);
        }
        using var module = nn.Sequential(lin1, nn.Tanh(), lin2);

        // Points with one and with two leading (sample) dimensions.
        foreach (long[] lead in new[] { new long[] { 7 }, new long[] { 2, 4 } })
        {
            var x = Gaussian(g, [.. lead, n0]);
            var u = Gaussian(g, [.. lead, k, n0]);

            var doubleVjp = Jacobians.DoubleVjp(module, x, u);
            var reverse = matmul(u, Jacobians.Reverse(module, x).transpose(-1, -2));

            // Closed form: J = W2 diag(1 - tanh^2(W1 x + b1)) W1.
            Tensor closedForm;
            using (no_grad())
            {
                var w1 = lin1.weight!.detach();
                var w2 = lin2.weight!.detach();
                var slope = 1 - tanh(einsum("hi,...i->...h", w1, x) + lin1.bias!.detach()).pow(2);
                var hiddenTangents = einsum("hi,...ki->...kh", w1, u) * slope.unsqueeze(-2);
                closedForm = einsum("oh,...kh->...ko", w2, hiddenTangents);
            }

            Assert.Equal(closedForm.shape, doubleVjp.shape);
            AssertClose(reverse, doubleVjp, 1e-10, "double VJP vs reverse (generic module)");
            AssertClose(closedForm, doubleVjp, 1e-10, "double VJP vs closed form (generic module)");
            AssertClose(closedForm, Jacobians.Apply(module, JacobianMethod.DoubleVjp, x, u), 1e-10, "Apply(DoubleVjp)");
            AssertClose(closedForm, Jacobians.Apply(module, JacobianMethod.Reverse, x, u), 1e-10, "Apply(Reverse)");

            // A smooth module: central differences agree to O(h^2) plus rounding.
            const double h = 1e-6;
            using (no_grad())
            {
                var u0 = u.select(-2, 0);
                var fd = (module.call(x + h * u0) - module.call(x - h * u0)) / (2 * h);
                AssertClose(fd, doubleVjp.select(-2, 0), 1e-6, "finite differences (generic module)");
            }

            Assert.Throws<ArgumentException>(() => Jacobians.Apply(module, JacobianMethod.TangentPropagation, x, u));
        }
    }

    [Fact]
    public void SingleNetworkWithUnbatchedPointsAgreesWithBatchedTangentPropagation()
    {
        // A single network's forward takes [B, n0]; the generic methods must then agree with tangent
        // propagation on the same points viewed as an ensemble of one, [1, B, n0].
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([6, 12, 12, 4], InitScheme.He, BiasVariance: 0.5);
        using var net = Mlp.Create(spec, 1, seed: 8, dtype: ScalarType.Float64);
        var g = new Generator(5);
        var x = Gaussian(g, Points, spec.InputDim);
        var u = Gaussian(g, Points, 2, spec.InputDim);
        var (_, propagated) = Jacobians.TangentPropagation(net, x.unsqueeze(0), u.unsqueeze(0));
        AssertClose(propagated.squeeze(0), Jacobians.Apply(net, JacobianMethod.DoubleVjp, x, u), 1e-10, "DoubleVjp [B, n0]");
        AssertClose(propagated.squeeze(0), Jacobians.Apply(net, JacobianMethod.Reverse, x, u), 1e-10, "Reverse [B, n0]");
    }

    [Fact]
    public void BadTangentShapesThrowArgumentException()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 7, 3], InitScheme.He, BiasVariance: 0.5);
        const int count = 2;
        using var net = Mlp.Create(spec, count, seed: 1, dtype: ScalarType.Float64);
        var g = new Generator(3);
        var x = Gaussian(g, count, Points, 5);

        foreach (var n in new[] { 4, 6 })
        {
            var wrongLast = Gaussian(g, count, Points, 2, n);
            foreach (var method in Enum.GetValues<JacobianMethod>())
                Assert.Throws<ArgumentException>(() => Jacobians.Apply(net, method, x, wrongLast));
            Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, x, wrongLast));
        }

        // Tangents without the k axis.
        var missingK = Gaussian(g, count, Points, 5);
        foreach (var method in Enum.GetValues<JacobianMethod>())
            Assert.Throws<ArgumentException>(() => Jacobians.Apply(net, method, x, missingK));
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, x, missingK));

        // Leading dimensions that do not match the points (tangent propagation checks them).
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, x, Gaussian(g, count, Points - 1, 2, 5)));
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, x, Gaussian(g, count + 1, Points, 2, 5)));

        // Points of the wrong input dimension, or not one slice per network.
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, Gaussian(g, count, Points, 4), Gaussian(g, count, Points, 2, 4)));
        Assert.Throws<ArgumentException>(() => Jacobians.TangentPropagation(net, Gaussian(g, count + 1, Points, 5), Gaussian(g, count + 1, Points, 2, 5)));
    }

    [Fact]
    public void MismatchedLeadingDimensionsThrowArgumentExceptionForEveryMethod()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 7, 3], InitScheme.He);
        using var net = Mlp.Create(spec, 1, seed: 1, dtype: ScalarType.Float64);
        var g = new Generator(3);
        var x = Gaussian(g, 1, 5, 5);
        var u = Gaussian(g, 1, 4, 2, 5);
        foreach (var method in Enum.GetValues<JacobianMethod>())
            Assert.Throws<ArgumentException>(() => Jacobians.Apply(net, method, x, u));
    }

    [Fact]
    public void LargeBatchesPropagatedInCacheSizedBlocksAgreeWithDoubleVjp()
    {
        // 5000 points exceed one cache-sized block, so the blocked path runs; double-VJP shares no code with it.
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([6, 32, 32, 32, 5], InitScheme.He, BiasVariance: 0.2);
        using var net = Mlp.Create(spec, 1, seed: 4, dtype: ScalarType.Float64);
        var g = new Generator(12);
        var x = Gaussian(g, 1, 5000, 6);
        var u = Gaussian(g, 1, 5000, 2, 6);
        var (y, ju) = Jacobians.TangentPropagation(net, x, u);
        var vjp = Jacobians.DoubleVjp(net, x, u);
        Assert.True((ju - vjp).abs().max().item<double>() <= 1e-10 * vjp.abs().max().item<double>());
        using (no_grad()) Assert.True((y - net.forward(x)).abs().max().item<double>() <= 1e-12 * y.abs().max().item<double>());
    }

    [Fact]
    public void TangentPropagationIsLinearInTheTangents()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([6, 24, 24, 24, 5], InitScheme.He, BiasVariance: 0.5);
        const int count = 2;
        const double a = 1.7, b = -0.6;
        using var net = Mlp.Create(spec, count, seed: 21, dtype: ScalarType.Float64);
        var g = new Generator(8);
        var x = Gaussian(g, count, Points, spec.InputDim);
        var u = Gaussian(g, count, Points, 1, spec.InputDim);
        var v = Gaussian(g, count, Points, 1, spec.InputDim);

        var (_, ju) = Jacobians.TangentPropagation(net, x, u);
        var (_, jv) = Jacobians.TangentPropagation(net, x, v);
        var (_, jw) = Jacobians.TangentPropagation(net, x, a * u + b * v);
        AssertClose(a * ju + b * jv, jw, 1e-12, "J(a u + b v) = a J u + b J v");

        // The same with all three tangents in one call: each row depends on its own tangent only.
        var (_, together) = Jacobians.TangentPropagation(net, x, cat([u, v, a * u + b * v], 2));
        AssertClose(ju, together.narrow(2, 0, 1), 1e-12, "row 0 of a joint call");
        AssertClose(jv, together.narrow(2, 1, 1), 1e-12, "row 1 of a joint call");
        AssertClose(a * together.narrow(2, 0, 1) + b * together.narrow(2, 1, 1), together.narrow(2, 2, 1), 1e-12, "linearity in a joint call");

        // J(0) = 0 and J(c u) = c J u.
        var (_, jzero) = Jacobians.TangentPropagation(net, x, zeros_like(u));
        Assert.Equal(0.0, MaxAbs(jzero));
        var (_, jscaled) = Jacobians.TangentPropagation(net, x, -3.0 * u);
        AssertClose(-3.0 * ju, jscaled, 1e-12, "homogeneity");
    }

    // ----- helpers -----

    private static (NetworkSpec Spec, int Count) Setup(string widths, string mode)
    {
        int[] w = widths.Split(',').Select(int.Parse).ToArray();
        return mode switch
        {
            "no-bias" => (new NetworkSpec(w, InitScheme.He, Bias: false), 1),
            "zero-bias" => (new NetworkSpec(w, InitScheme.He, Bias: true, BiasVariance: 0.0), 1),
            "bias" => (new NetworkSpec(w, InitScheme.He, BiasVariance: 0.5), 1),
            "ensemble" => (new NetworkSpec(w, InitScheme.He, BiasVariance: 0.5), 4),
            _ => throw new ArgumentException(mode),
        };
    }

    private static Tensor Gaussian(Generator g, params long[] shape) => empty(shape, float64).normal_(0, 1, g);

    /// <summary>
    /// J·U from the explicit Jacobian: J = W_L D_{L-1} W_{L-1} ... D_1 W_1 built per network and point with
    /// einsum from the raw weights, D_l the 0/1 mask of the pre-activation at x. Shares no code with the library.
    /// </summary>
    private static Tensor ExplicitJU(Mlp net, Tensor x, Tensor u)
    {
        using var noGrad = no_grad();
        long count = x.shape[0], points = x.shape[1], n0 = x.shape[2];
        var h = x;
        var jacobian = eye(n0, dtype: ScalarType.Float64).expand(count, points, n0, n0);
        int depth = net.Weights.Count;
        for (int l = 0; l < depth; l++)
        {
            var w = net.Weights[l].detach();
            var z = einsum("kij,kbj->kbi", w, h);
            if (net.Biases[l] is Tensor bias) z = z + bias.detach().unsqueeze(1);
            jacobian = einsum("kij,kbjm->kbim", w, jacobian);
            if (l < depth - 1)
            {
                var mask = z.gt(0).to(ScalarType.Float64);
                h = z * mask;
                jacobian = jacobian * mask.unsqueeze(-1);
            }
            else h = z;
        }
        return einsum("kbom,kbjm->kbjo", jacobian, u);
    }

    private static double MaxAbs(Tensor t) => t.abs().max().item<double>();

    /// <summary>max |a - b| relative to the larger of max |a| and max |b|.</summary>
    private static void AssertClose(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = MaxAbs(expected - actual);
        double scale = Math.Max(MaxAbs(expected), MaxAbs(actual));
        double relative = scale == 0 ? diff : diff / scale;
        Assert.True(relative <= tolerance, $"{what}: relative difference {relative:E3} > {tolerance:E1} (max abs {scale:E3})");
    }
}
