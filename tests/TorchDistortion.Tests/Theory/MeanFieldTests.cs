using MathNet.Numerics.Integration;
using TorchDistortion.Theory;
using TorchDistortion.Networks;
using Slopes = TorchDistortion.Theory.PiecewiseLinearLaw.Slopes;

namespace TorchDistortion.Tests.Theory;

/// <summary>
/// Tests of <see cref="MeanField"/>: the Gaussian rule against exact polynomial moments and an independent quadrature
/// (MathNet's double-exponential rule), the maps against Monte Carlo, piecewise-linear activations against the exact law,
/// and tanh's known order-to-chaos line.
/// </summary>
public class MeanFieldTests
{
    private static readonly Activation[] Smooth =
        [SmoothActivation.Tanh, SmoothActivation.Sigmoid, SmoothActivation.Softplus, SmoothActivation.SiLU, SmoothActivation.GELU];

    private static Activation PiecewiseLinear(double a, double b) => Activation.ABReLU(a, b);

    /// <summary>E[f(sqrt(q) z)] by MathNet's double-exponential rule on each half-line (independent of the midpoint grid).</summary>
    private static double Reference(Func<double, double> f, double q)
    {
        double root = Math.Sqrt(q);
        double Density(double z) => Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);
        return DoubleExponentialTransformation.Integrate(z => (f(root * z) + f(-root * z)) * Density(z), 0, 40, 1e-15);
    }

    [Fact]
    public void GaussianMean_IntegratesPolynomialsExactly()
    {
        foreach (double q in new[] { 0.01, 0.5, 1.0, 3.0, 50.0, 1e4 })
            for (int k = 0; k <= 20; k++)
            {
                // E[(sqrt(q) z)^{2k}] = q^k (2k-1)!!; odd powers vanish by symmetry.
                double doubleFactorial = 1;
                for (int i = 1; i < 2 * k; i += 2) doubleFactorial *= i;
                double expected = Math.Pow(q, k) * doubleFactorial;
                int power = 2 * k;
                double actual = MeanField.GaussianMean(x => Math.Pow(x, power), q);
                Assert.True(Math.Abs(actual - expected) <= 1e-13 * expected, $"q={q} E[x^{power}]: {actual:R} vs {expected:R}");
                Assert.True(Math.Abs(MeanField.GaussianMean(x => Math.Pow(x, power + 1), q)) <= 1e-13 * expected * Math.Sqrt(q) + 1e-300);
            }
    }

    [Fact]
    public void GaussianMean_MatchesIndependentQuadrature_ForSmoothActivations()
    {
        // The midpoint step follows 1/sqrt(q), so even the steep tanh(10 z) and its sech^4 stretch stay exact.
        foreach (var act in Smooth)
            foreach (double q in new[] { 0.01, 0.3, 1.0, 4.0, 25.0, 100.0 })
            {
                double phi2 = MeanField.GaussianMean(z => act.Value(z) * act.Value(z), q);
                double dphi2 = MeanField.GaussianMean(z => act.Slope(z) * act.Slope(z), q);
                double refPhi2 = Reference(z => act.Value(z) * act.Value(z), q);
                double refDphi2 = Reference(z => act.Slope(z) * act.Slope(z), q);
                Assert.True(Math.Abs(phi2 - refPhi2) <= 1e-10 * refPhi2, $"{act.Name} q={q} E[phi^2]: {phi2:R} vs {refPhi2:R}");
                Assert.True(Math.Abs(dphi2 - refDphi2) <= 1e-10 * refDphi2, $"{act.Name} q={q} E[phi'^2]: {dphi2:R} vs {refDphi2:R}");
            }
    }

    [Fact]
    public void Derivatives_MatchFiniteDifferences()
    {
        foreach (var act in Smooth)
            foreach (double z in new[] { -30.0, -4.0, -1.0, -0.3, 0.0, 0.2, 1.5, 6.0, 30.0 })
            {
                const double h = 1e-5;
                double fd = (act.Value(z + h) - act.Value(z - h)) / (2 * h);
                Assert.True(Math.Abs(fd - act.Slope(z)) <= 1e-8, $"{act.Name} at {z}: phi' {act.Slope(z):R}, difference {fd:R}");
                Assert.True(double.IsFinite(act.Value(800)) && double.IsFinite(act.Value(-800)), $"{act.Name} overflows");
            }
    }

    [Fact]
    public void PiecewiseLinear_StretchIsExactlyCwTimesHalfSquareSum()
    {
        foreach (var (a, b) in new[] { (0.0, 1.0), (0.01, 1.0), (-1.0, 1.0), (-0.5, 1.5) })
        {
            var act = PiecewiseLinear(a, b);
            foreach (double cW in new[] { 0.5, 2.0, 3.7 })
                foreach (double q in new[] { 1e-6, 0.3, 1.0, 2.0, 1e4 })
                {
                    double half = (a * a + b * b) / 2;
                    double stretch = MeanField.Stretch(act, cW, q);
                    Assert.True(Math.Abs(stretch - cW * half) <= 1e-14 * cW * half, $"a={a} b={b} C_W={cW} q={q}: chi = {stretch:R}");
                    // E[phi(sqrt(q) z)^2] = q (a^2+b^2)/2, so the variance map is linear.
                    double expected = cW * q * half + 0.1;
                    Assert.True(Math.Abs(MeanField.NextVariance(act, cW, 0.1, q) - expected) <= 1e-14 * expected, $"a={a} b={b} q={q}");
                }
        }
    }

    [Fact]
    public void PiecewiseLinear_SecondMomentEqualsTheExactLaw()
    {
        // For phi with slopes (a, b) and zero biases the mean-field prediction is exact: (C_out nL/n0) prod C_l (a^2+b^2)/2.
        int[] widths = [7, 30, 12, 50, 3];
        double[] c = [1.5, 2.5, 0.8, 1.2];
        foreach (var (a, b) in new[] { (0.0, 1.0), (0.2, 1.0), (-1.0, 1.0) })
            Assert.Equal(PiecewiseLinearLaw.LogVolumeSecondMoment(widths, c, new Slopes(a, b), 1),
                MeanField.LogSecondMoment(widths, c, 0, 1.7, PiecewiseLinear(a, b)), 12);
    }

    [Fact]
    public void Tanh_OrderToChaosLine()
    {
        var tanh = SmoothActivation.Tanh;
        // sigma_b = 0: q* = 0 is the stable fixed point for C_W <= 1, with chi* = C_W tanh'(0)^2 = C_W.
        foreach (double cW in new[] { 0.3, 0.5, 0.9 })
        {
            var (q, chi) = MeanField.FixedPoint(tanh, cW, 0);
            Assert.True(q < 1e-100, $"C_W={cW}: q* = {q:R}");
            Assert.Equal(cW, chi, 12);
            Assert.Equal(MeanField.Phase.Ordered, MeanField.Classify(chi));
        }
        Assert.Equal(1.0, MeanField.Stretch(tanh, 1.0, 0), 14);
        // At C_W = 1 the map creeps to 0 like 1/l: chi* approaches 1 from below (the critical point).
        var critical = MeanField.FixedPoint(tanh, 1.0, 0);
        Assert.True(critical.Chi < 1 && critical.Chi > 1 - 1e-4, $"C_W=1: chi* = {critical.Chi:R}");
        Assert.Equal(MeanField.Phase.Critical, MeanField.Classify(critical.Chi, 1e-4));
        // Above 1 a nonzero fixed point appears and is chaotic.
        foreach (double cW in new[] { 1.5, 4.0 })
            foreach (double cB in new[] { 0.0, 0.05 })
            {
                var (q, chi) = MeanField.FixedPoint(tanh, cW, cB);
                Assert.True(q > 0.1, $"C_W={cW} C_b={cB}: q* = {q:R}");
                // It is a fixed point of the map computed by the independent quadrature.
                double next = cW * Reference(z => Math.Tanh(z) * Math.Tanh(z), q) + cB;
                Assert.True(Math.Abs(next - q) <= 1e-10 * q, $"C_W={cW}: map(q*) = {next:R} vs q* = {q:R}");
                if (cW == 4.0) Assert.Equal(MeanField.Phase.Chaotic, MeanField.Classify(chi));
            }
        // With bias the line moves: C_b = 0.05 makes C_W = 1.5 ordered but C_W = 4 stays chaotic.
        Assert.Equal(MeanField.Phase.Ordered, MeanField.Classify(MeanField.FixedPoint(tanh, 1.5, 0.05).Chi));
        Assert.Equal(MeanField.Phase.Chaotic, MeanField.Classify(MeanField.FixedPoint(tanh, 1.5, 0).Chi));
    }

    [Theory]
    [InlineData(0.2, 41)]
    [InlineData(1.0, 42)]
    [InlineData(6.0, 43)]
    public void Maps_AgreeWithMonteCarlo(double q, int seed)
    {
        const int samples = 400_000;
        var rng = new Random(seed);
        foreach (var act in Smooth)
        {
            double s1 = 0, s1sq = 0, s2 = 0, s2sq = 0;
            for (int i = 0; i < samples; i++)
            {
                double z = Math.Sqrt(q) * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
                double v = act.Value(z) * act.Value(z), d = act.Slope(z) * act.Slope(z);
                s1 += v; s1sq += v * v; s2 += d; s2sq += d * d;
            }
            foreach (var (what, sum, sumSq, exact) in new[]
            {
                ("q map", s1, s1sq, MeanField.NextVariance(act, 1.0, 0, q)),
                ("stretch", s2, s2sq, MeanField.Stretch(act, 1.0, q)),
            })
            {
                double mean = sum / samples, se = Math.Sqrt((sumSq / samples - mean * mean) / (samples - 1));
                Assert.True(Math.Abs(mean - exact) <= 3 * se,
                    $"{act.Name} q={q} {what}: Monte Carlo {mean:R} +- {se:E3}, quadrature {exact:R}, {Math.Abs(mean - exact) / se:F2} s.e.");
            }
        }
    }

    [Fact]
    public void LogSecondMoment_ComposesTheMaps()
    {
        // Written out: q_0 = C_1 |x|^2/n0 + C_b, chi_l = Stretch(C_l, q_{l-1}), q_l = NextVariance(C_{l+1}, q_{l-1}).
        int[] widths = [10, 40, 40, 40, 5];
        double[] c = [1.2, 2.0, 0.7, 1.5];
        foreach (var act in Smooth)
        {
            double q = c[0] * 0.8 + 0.1, expected = Math.Log(c[3] * 5 / 10.0);
            for (int l = 1; l < 4; l++)
            {
                expected += Math.Log(MeanField.Stretch(act, c[l - 1], q));
                q = MeanField.NextVariance(act, c[l], 0.1, q);
            }
            Assert.Equal(expected, MeanField.LogSecondMoment(widths, c, 0.1, 0.8, act), 13);
        }
    }

    public static TheoryData<string, Action> BadInputs() => new()
    {
        { "negative q", () => MeanField.GaussianMean(Math.Tanh, -1) },
        { "NaN q", () => MeanField.GaussianMean(Math.Tanh, double.NaN) },
        { "C_W = 0", () => MeanField.FixedPoint(SmoothActivation.Tanh, 0, 0) },
        { "C_b < 0", () => MeanField.FixedPoint(SmoothActivation.Tanh, 1, -0.1) },
        { "variances count", () => MeanField.LogSecondMoment([3, 4, 5], [1.0], 0, 1, SmoothActivation.Tanh) },
        { "negative input", () => MeanField.LogSecondMoment([3, 4, 5], [1.0, 1.0], 0, -1, SmoothActivation.Tanh) },
        { "width 0", () => MeanField.LogSecondMoment([3, 0, 5], [1.0, 1.0], 0, 1, SmoothActivation.Tanh) },
        { "diverging map", () => MeanField.FixedPoint(SmoothActivation.Create("exp", z => z.exp(), z => z.exp(), Math.Exp, Math.Exp), 3, 0) },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInput_ThrowsOneLineArgumentException(string what, Action call)
    {
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.False(e.Message.Contains('\n'), what);
    }
}
