using MathNet.Numerics;
using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using TorchSharp;
using static TorchSharp.torch;
using Xunit.Abstractions;

namespace TorchDistortion.Tests.Measurement;

/// <summary>
/// k-volumes of narrow, deep networks, where the tangent frame collapses numerically unless it is re-orthonormalised:
/// the pointwise law of vol(J U) (one node per patch) is known exactly, zeros included.
/// </summary>
public class VolumeTests(ITestOutputHelper output)
{
    private static MeasureSettings Pointwise(int width, int depth, int k, int networks, long seed,
        ScalarType dtype = ScalarType.Float64, JacobianMethod method = JacobianMethod.TangentPropagation) =>
        new(new NetworkSpec(NetworkSpec.Shorthand(width, depth), InitScheme.He), new GeometrySpec(GeometryKind.Patch, Points: 1, K: k),
            Networks: networks, Seed: seed, DType: dtype, Method: method);

    /// <summary>P(some hidden layer has fewer than k active neurons), each layer's count Binomial(n, 1/2).</summary>
    private static double ZeroProbability(IReadOnlyList<int> widths, int k)
    {
        double logAllAtLeastK = 0;
        for (int l = 1; l < widths.Count - 1; l++)
        {
            double below = Enumerable.Range(0, k).Sum(b => Math.Exp(SpecialFunctions.BinomialLn(widths[l], b) - widths[l] * Math.Log(2)));
            logAllAtLeastK += Math.Log(1 - below);
        }
        return -SpecialFunctions.ExponentialMinusOne(logAllAtLeastK);
    }

    [Theory]
    [InlineData(16, 100, 3, 5000, 11)] // the reported case: 2214 zeros where the law expects about 936
    [InlineData(8, 50, 2, 4000, 12)]
    [InlineData(12, 80, 3, 4000, 13)]
    public void ZeroVolumesOccurAsOftenAsTheLawSays(int width, int depth, int k, int networks, long seed)
    {
        var settings = Pointwise(width, depth, k, networks, seed);
        var result = Distortion.Measure(settings);
        double p = ZeroProbability(settings.Network.Widths, k);
        double expected = networks * p, z = (result.Summary.Zeros - expected) / Math.Sqrt(networks * p * (1 - p));
        output.WriteLine($"width {width} depth {depth} k {k}: {result.Summary.Zeros} zeros, law {expected:F1}, z = {z:F2}");
        Assert.True(Math.Abs(z) < 4, $"{result.Summary.Zeros} zero volumes, the law expects {expected:F1} (z = {z:F2})");
    }

    [Theory]
    [InlineData(16, 100, 3, 4000, 21)]
    [InlineData(16, 50, 2, 4000, 22)]
    [InlineData(12, 60, 2, 4000, 23)]
    public void LogVolumeQuantilesAgreeWithAMonteCarloOfTheLaw(int width, int depth, int k, int networks, long seed)
    {
        var settings = Pointwise(width, depth, k, networks, seed);
        var measured = Distortion.Measure(settings).LogDistortions.Order().ToArray();
        const int draws = 20_000;
        var law = ExactTheory.SampleLog(settings.Network.Widths, settings.Network.LayerVariances(), k, draws, (int)seed).Order().ToArray();
        // Distribution-free: the sample p-quantile lies between the law's quantiles at p -+ 4 standard errors of an
        // empirical CDF value (both samples' spread), unless the code measures another distribution.
        foreach (double p in new[] { 0.25, 0.5, 0.75 })
        {
            double m = measured[(int)(p * (networks - 1))];
            double delta = 4 * Math.Sqrt(p * (1 - p) * (1.0 / networks + 1.0 / draws));
            double low = law[(int)((p - delta) * (draws - 1))], high = law[(int)((p + delta) * (draws - 1))];
            double zQuantile = (EmpiricalCdf(law, m) - p) / Math.Sqrt(p * (1 - p) * (1.0 / networks + 1.0 / draws));
            output.WriteLine($"p = {p}: measured log vol {m:F4}, law {law[(int)(p * (draws - 1))]:F4} [{low:F4}, {high:F4}], z = {zQuantile:F2}");
            Assert.InRange(m, low, high);
        }
        // Two-sample Kolmogorov-Smirnov at the 0.1% level over the whole distribution, zeros (-inf) included.
        double ks = 0;
        foreach (double v in measured.Concat(law).Where(double.IsFinite))
            ks = Math.Max(ks, Math.Abs(EmpiricalCdf(measured, v) - EmpiricalCdf(law, v)));
        double critical = 1.95 * Math.Sqrt((double)(networks + draws) / ((double)networks * draws));
        output.WriteLine($"KS distance {ks:F4}, critical {critical:F4}");
        Assert.True(ks < critical, $"KS distance {ks:F4} >= {critical:F4}");
    }

    /// <summary>Fraction of a sorted sample at or below v.</summary>
    private static double EmpiricalCdf(double[] sorted, double v)
    {
        int low = 0, high = sorted.Length;
        while (low < high) { int mid = (low + high) / 2; if (sorted[mid] <= v) low = mid + 1; else high = mid; }
        return (double)low / sorted.Length;
    }

    [Fact]
    public void Float32Float64AndDoubleVjpAgreeOnLogVolumes()
    {
        // Width 16, depth 100, k = 3: the columns of J U spread by about e^40 before the frame is renormalised.
        var f64 = Distortion.Measure(Pointwise(16, 100, 3, 300, 31)).LogDistortions;
        var f32 = Distortion.Measure(Pointwise(16, 100, 3, 300, 31, ScalarType.Float32)).LogDistortions;
        Assert.Equal(f64.Select(double.IsNegativeInfinity), f32.Select(double.IsNegativeInfinity));
        var finite = Enumerable.Range(0, f64.Length).Where(i => double.IsFinite(f64[i])).ToArray();
        var gaps32 = finite.Select(i => Math.Abs(f64[i] - f32[i])).Order().ToArray();
        output.WriteLine($"float32 vs float64: median |d log vol| {gaps32[gaps32.Length / 2]:E2}, max {gaps32[^1]:E2} over {finite.Length}");
        // float32 rounding along 100 layers moves log vol by ~1e-5; a pre-activation within rounding of 0 may flip one
        // neuron's state in a rare network, so the bound holds for all but 2%.
        Assert.True(gaps32[(int)(0.98 * gaps32.Length)] < 1e-3, $"98th percentile of |float32 - float64| = {gaps32[(int)(0.98 * gaps32.Length)]:E2}");

        // The double-VJP forms J U whole: it can only agree where J U is well-conditioned in float64 (depth 30 here).
        var tangent = Distortion.Measure(Pointwise(16, 30, 3, 300, 32)).LogDistortions;
        var vjp = Distortion.Measure(Pointwise(16, 30, 3, 300, 32, method: JacobianMethod.DoubleVjp)).LogDistortions;
        var gaps = Enumerable.Range(0, tangent.Length).Where(i => double.IsFinite(tangent[i])).Select(i => Math.Abs(tangent[i] - vjp[i])).ToArray();
        output.WriteLine($"double-VJP vs tangent at depth 30: max |d log vol| {gaps.Max():E2} over {gaps.Length}");
        Assert.True(gaps.Max() < 1e-8, $"double-VJP vs tangent propagation: {gaps.Max():E2}");
    }

    [Fact]
    public void Float32LengthsTakeTheUnscaledPathWithoutLosingRangeOrDigits()
    {
        // The float32 length path squares in float64 without scaling; the scaled path (float64 input) is the reference.
        // Entries from 1e-38 to 3e38 cover float32's normal range, where an unscaled float32 square would leave it.
        using var scope = NewDisposeScope();
        var magnitudes = tensor(new[] { 1e-38, 1e-20, 1e-3, 1.0, 1e3, 1e20, 3e38 }, float64).view(7, 1, 1, 1);
        var rows = randn([7, 5, 1, 64], float64, generator: new Generator(3)).mul(magnitudes).clamp(-3.4e38, 3.4e38).to(float32);
        var fast = Distortion.LogVolumes(rows);
        var reference = Distortion.LogVolumes(rows.to(float64));
        Assert.True(fast.isfinite().all().item<bool>(), "a float32 length left the range");
        double gap = (fast - reference).abs().max().item<double>();
        Assert.True(gap < 1e-13, $"float32 path vs scaled float64 path: {gap:E2}");
    }
}
