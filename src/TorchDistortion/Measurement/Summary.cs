using TorchDistortion.Theory;

namespace TorchDistortion.Measurement;

/// <summary>
/// An estimate of E[D^m] with the standard error of the sample mean of D^m. The log fields are exact even
/// where the plain values leave the double range (a volume of 1e-200 squared); there the plain value is NaN.
/// </summary>
public sealed record MomentEstimate(int Order, double LogValue, double LogStdErr)
{
    /// <summary>The estimate of E[D^m] (NaN beyond the double range).</summary>
    public double Value => Summary.ExpInRange(LogValue);
    /// <summary>Its standard error (NaN beyond the double range).</summary>
    public double StdErr => Summary.ExpInRange(LogStdErr);
}

/// <summary>A quantile of the distortion over networks (NaN where it leaves the double range; the log holds it).</summary>
public sealed record QuantileEstimate(double Probability, double LogValue)
{
    /// <summary>The quantile (NaN beyond the double range).</summary>
    public double Value => Summary.ExpInRange(LogValue);

    /// <summary>Its name in reports: q0.05 (a method, so that the JSON of a quantile keeps its two fields).</summary>
    public string Label() => "q" + Probability.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// Statistics of a distortion over networks, computed from log values so that distortions like 1e-200
/// or 1e+200 keep their digits. A network with zero distortion (every neuron of a layer off) has log -infinity.
/// A plain value that leaves the double range is NaN, never a silent infinity or 0: its log field holds it.
/// </summary>
public sealed record Summary(
    int Count,
    IReadOnlyList<QuantileEstimate> Quantiles,
    IReadOnlyList<MomentEstimate> Moments,
    double LogMedian,
    double MeanLog,
    double StdLog,
    int Zeros)
{
    /// <summary>The quantiles summarised unless others are asked for.</summary>
    public static readonly double[] DefaultQuantiles = [0.05, 0.25, 0.75, 0.95];

    /// <summary>The sample mean E[D] (NaN beyond the double range; <see cref="LogMean"/> holds it).</summary>
    public double Mean => Moments[0].Value;
    /// <summary>log of the sample mean.</summary>
    public double LogMean => Moments[0].LogValue;
    /// <summary>Standard error of the sample mean.</summary>
    public double StdErr => Moments[0].StdErr;
    /// <summary>log of the standard error of the sample mean.</summary>
    public double LogStdErr => Moments[0].LogStdErr;
    /// <summary>Sample standard deviation: the standard error times sqrt(n).</summary>
    public double Std => ExpInRange(LogStd);
    /// <summary>log of the sample standard deviation.</summary>
    public double LogStd => LogStdErr + 0.5 * Math.Log(Count);
    /// <summary>The sample median.</summary>
    public double Median => ExpInRange(LogMedian);

    /// <summary>e^log, or NaN where that leaves the range of normal doubles (overflow, or underflow of a nonzero value).</summary>
    public static double ExpInRange(double log)
    {
        if (double.IsNegativeInfinity(log)) return 0;
        double value = Math.Exp(log);
        return double.IsNormal(value) ? value : double.NaN;
    }

    /// <summary>Summarises log distortions: moments m = 1..<paramref name="maxMoment"/> and the given quantiles.</summary>
    public static Summary FromLog(IReadOnlyList<double> logValues, int maxMoment = 4, IReadOnlyList<double>? quantiles = null)
    {
        int n = logValues.Count;
        if (n == 0) throw new ArgumentException("no values to summarise");
        if (maxMoment < 1 || maxMoment > 16) throw new SettingException("moments", $"must be between 1 and 16, got {maxMoment}");
        quantiles ??= DefaultQuantiles;
        if (quantiles.Any(p => !(p >= 0 && p <= 1)))
            throw new SettingException("quantiles", ": every probability must lie in [0, 1]");

        var moments = new MomentEstimate[maxMoment];
        for (int m = 1; m <= maxMoment; m++) moments[m - 1] = Moment(logValues, m);

        var sorted = logValues.OrderBy(v => v).ToArray();
        double LogQuantile(double p)
        {
            // Linear interpolation between order statistics (type 7) on the distortion scale, done in log space:
            // log((1 - f) e^a + f e^b) with a <= b.
            double position = p * (n - 1);
            int lo = (int)Math.Floor(position), hi = Math.Min(lo + 1, n - 1);
            double a = sorted[lo], b = sorted[hi], f = position - lo;
            if (f == 0 || a == b) return a;
            return b + Math.Log(f + (1 - f) * Math.Exp(a - b));
        }

        int zeros = logValues.Count(double.IsNegativeInfinity);
        double meanLog = logValues.Average();
        double stdLog = n > 1 && zeros == 0
            ? Math.Sqrt(logValues.Sum(v => (v - meanLog) * (v - meanLog)) / (n - 1)) : double.NaN;
        return new Summary(n, quantiles.Select(p => new QuantileEstimate(p, LogQuantile(p))).ToArray(), moments, LogQuantile(0.5),
            meanLog, stdLog, zeros);
    }

    /// <summary>Sample mean of D^m and its standard error, scaled by the largest value to stay in range.</summary>
    private static MomentEstimate Moment(IReadOnlyList<double> logValues, int m)
    {
        int n = logValues.Count;
        double max = logValues.Max() * m;
        if (double.IsNegativeInfinity(max)) return new MomentEstimate(m, double.NegativeInfinity, double.NegativeInfinity);
        double mean = 0, sumSquares = 0;
        for (int i = 0; i < n; i++)
        {
            // Welford's update on the scaled values.
            double x = Math.Exp(m * logValues[i] - max), delta = x - mean;
            mean += delta / (i + 1);
            sumSquares += delta * (x - mean);
        }
        double logStdErr = n > 1 ? 0.5 * Math.Log(sumSquares / (n - 1) / n) + max : double.NaN;
        double logValue = max + Math.Log(mean);
        return new MomentEstimate(m, logValue, logStdErr);
    }
}
