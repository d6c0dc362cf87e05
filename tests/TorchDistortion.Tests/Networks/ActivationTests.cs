using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

/// <summary>Every activation against libtorch's own functions and autograd, and through the engine against reverse mode.</summary>
public class ActivationTests
{
    public static TheoryData<string> AllNames() =>
        new("relu", "leaky-relu", "leaky-relu:0.2", "abs", "abrelu:-0.5,1.5", "tanh", "gelu", "silu", "softplus", "sigmoid");

    /// <summary>The same function written with libtorch's functional ops, sharing no code with <see cref="Activation"/>.</summary>
    private static Tensor Reference(string name, Tensor z) => name switch
    {
        "relu" => nn.functional.relu(z),
        "leaky-relu" => nn.functional.leaky_relu(z, 0.01),
        "leaky-relu:0.2" => nn.functional.leaky_relu(z, 0.2),
        "abs" => z.abs(),
        "abrelu:-0.5,1.5" => where(z.gt(0), z * 1.5, z * -0.5),
        "tanh" => z.tanh(),
        "gelu" => z * 0.5 * (1 + special.erf(z / Math.Sqrt(2))),
        "silu" => z * z.sigmoid(),
        "softplus" => (1 + z.exp()).log(),
        "sigmoid" => 1 / (1 + (-z).exp()),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(AllNames))]
    public void ForwardValueAndSlopeAgreeWithLibtorchAndAutograd(string name)
    {
        using var scope = NewDisposeScope();
        var activation = Activation.Parse(name);
        // Away from 0, where the piecewise-linear slope is not defined.
        var z = randn(2000, float64, generator: new Generator(5)).mul_(3);
        z = z.masked_fill(z.abs().lt(1e-6), 0.5);
        Assert.True((activation.Forward(z) - Reference(name, z)).abs().max().item<double>() < 1e-12, "forward");

        var input = z.detach().requires_grad_(true);
        var gradient = autograd.grad([Reference(name, input).sum()], [input])[0];
        var applied = z.clone();
        var slope = activation.ApplyInPlace(applied);
        Assert.True((applied - Reference(name, z)).abs().max().item<double>() < 1e-12, "in-place value");
        Assert.True((slope - gradient).abs().max().item<double>() < 1e-12, "slope vs autograd");

        var values = z.data<double>().ToArray();
        var expectedValues = Reference(name, z).data<double>().ToArray();
        var expectedSlopes = gradient.data<double>().ToArray();
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal(expectedValues[i], activation.Value(values[i]), 1e-12);
            Assert.Equal(expectedSlopes[i], activation.Slope(values[i]), 1e-12);
        }
        Assert.Equal(activation, Activation.Parse(activation.Name));
    }

    [Theory]
    [MemberData(nameof(AllNames))]
    public void TangentPropagationDoubleVjpAndReverseModeAgree(string name)
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 16, 16, 16, 4], InitScheme.WithVariance(1.5), BiasVariance: 0.3, Nonlinearity: Activation.Parse(name));
        using var net = Mlp.Create(spec, 3, seed: 2);
        var g = new Generator(3);
        var x = randn([3, 40, 5], float64, generator: g);
        var u = randn([3, 40, 2, 5], float64, generator: g);
        var propagated = Jacobians.Apply(net, JacobianMethod.TangentPropagation, x, u);
        var reverse = Jacobians.Apply(net, JacobianMethod.Reverse, x, u);
        var doubleVjp = Jacobians.Apply(net, JacobianMethod.DoubleVjp, x, u);
        double scale = reverse.abs().max().item<double>();
        Assert.True(scale > 0);
        Assert.True((propagated - reverse).abs().max().item<double>() < 1e-12 * scale, "tangent vs reverse");
        Assert.True((doubleVjp - reverse).abs().max().item<double>() < 1e-12 * scale, "double-VJP vs reverse");
        var (output, _) = Jacobians.TangentPropagation(net, x, u);
        Assert.True((output - net.forward(x)).abs().max().item<double>() < 1e-12, "engine output vs forward");
    }

    [Theory]
    [InlineData("leaky-relu:0.2")]
    [InlineData("abs")]
    [InlineData("abrelu:-0.5,1.5")]
    public void ExactLengthIsTheLimitOfTheQuadrature(string name)
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([4, 12, 12, 12, 3], InitScheme.He, BiasVariance: 0.2, Nonlinearity: Activation.Parse(name));
        using var net = Mlp.Create(spec, 1, seed: 8);
        double[] start = [0.3, -1.0, 0.5, 2.0], end = [-1.2, 0.7, 1.5, -0.4];
        var pieces = PiecewiseLinear.Segment(net, 0, start, end);
        Assert.True(pieces.Pieces > 3, "the segment crosses several regions");
        // Midpoint rule with exact J v: only the cells holding a breakpoint err, each by at most max speed / N.
        const int n = 20000;
        var t = (arange(n, float64) + 0.5) / n;
        var a = tensor(start, float64);
        var direction = tensor(end, float64) - a;
        var points = a.unsqueeze(0) + t.unsqueeze(1) * direction.unsqueeze(0);
        var tangents = direction.expand(n, 4).unsqueeze(1);
        var speeds = Jacobians.Apply(net, JacobianMethod.TangentPropagation, points, tangents).squeeze(1).square().sum(-1L).sqrt();
        double quadrature = speeds.mean().item<double>(), maxSpeed = speeds.max().item<double>();
        Assert.True(Math.Abs(quadrature - pieces.OutputLength) <= 2 * pieces.Pieces * maxSpeed / n,
            $"quadrature {quadrature:G12} vs exact {pieces.OutputLength:G12} over {pieces.Pieces} pieces");
        // Each piece's slope is J (b - a) at its midpoint.
        for (int j = 0; j < pieces.Pieces; j += Math.Max(1, pieces.Pieces / 5))
        {
            double mid = 0.5 * (pieces.Breakpoints[j] + pieces.Breakpoints[j + 1]);
            var x = (a + direction * mid).unsqueeze(0);
            var slope = Jacobians.Apply(net, JacobianMethod.Reverse, x, direction.reshape(1, 1, 4)).reshape(-1).data<double>().ToArray();
            for (int i = 0; i < slope.Length; i++) Assert.Equal(slope[i], pieces.Slopes[j][i], 1e-10);
        }
    }

    [Theory]
    [InlineData("relu", 2.0)]
    [InlineData("leaky-relu:0.2", 2.0 / 1.04)]
    [InlineData("leaky-relu", 2.0 / 1.0001)]
    [InlineData("abs", 1.0)]
    [InlineData("abrelu:-0.5,1.5", 2.0 / 2.5)]
    public void HeMeansTheCriticalVarianceOfTheActivation(string name, double expected)
    {
        // PyTorch: calculate_gain('leaky_relu', a)^2 = 2 / (1 + a^2).
        var spec = new NetworkSpec([64, 256, 256, 8], InitScheme.He, Nonlinearity: Activation.Parse(name));
        Assert.Equal(expected, spec.LayerVariances()[0], 12);
        Assert.Equal(expected, spec.LayerVariances()[^1], 12);
        using var net = Mlp.Create(spec, 1, seed: 4);
        // The drawn weights have that variance: 65536 entries give a relative standard error of 0.55%.
        double sampleVariance = net.Weights[1].detach().var().item<double>() * 256;
        Assert.True(Math.Abs(sampleVariance / expected - 1) < 0.025, $"sample C_W {sampleVariance:G5}, expected {expected:G5}");
    }

    [Fact]
    public void HeForTanhIsTheEdgeOfChaosOfItsZeroFixedPoint()
    {
        // tanh is odd with phi'(0) = 1 its largest slope: at C_b = 0 the edge of chaos is C_W = 1 exactly (Poole et al. 2016).
        Assert.True(Math.Abs(SmoothActivation.Tanh.CriticalVariance - 1) < 1e-9, $"{SmoothActivation.Tanh.CriticalVariance:R}");
        var spec = new NetworkSpec([16, 16, 16], InitScheme.He, Nonlinearity: SmoothActivation.Tanh);
        Assert.Equal(SmoothActivation.Tanh.CriticalVariance, spec.LayerVariances()[0]);
    }

    [Theory]
    [InlineData("swish", "unknown activation 'swish'")]
    [InlineData("relu:2", "unknown activation")]
    [InlineData("leaky-relu:abc", "leaky-relu takes one number")]
    [InlineData("abrelu:1", "abrelu takes 2 numbers")]
    [InlineData("abrelu:0,0", "identically zero")]
    [InlineData("leaky-relu:nan", "must be a finite number")]
    public void BadNamesAreRefusedNamingTheProblem(string name, string message)
    {
        var error = Assert.Throws<SettingException>(() => Activation.Parse(name));
        Assert.Equal("activation", error.Setting);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void ExactBreakpointsNeedAPiecewiseLinearActivation()
    {
        var spec = new NetworkSpec([4, 8, 8, 2], InitScheme.He, Nonlinearity: SmoothActivation.Tanh);
        var settings = new MeasureSettings(spec, new GeometrySpec(GeometryKind.Segment, Points: 1, Exact: true), Networks: 2);
        var error = Assert.Throws<SettingException>(() => settings.Validate());
        Assert.Equal("exact", error.Setting);
        Assert.StartsWith("exact needs a piecewise-linear activation", error.Message);
    }
}
