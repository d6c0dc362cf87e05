using TorchDistortion.Geometry;
using TorchDistortion.Networks;
using TorchDistortion.Theory;

namespace TorchDistortion.Measurement;

/// <summary>
/// One measured statistic beside its exact value, all kept as logs so that values beyond the double range
/// still compare. Relation "=" means the expectations are equal; "&lt;=" means the theory value is an upper
/// bound (higher moments of a curve's length ratio, by Jensen along the curve).
/// </summary>
/// <param name="LogExactStdErr">
/// log of the standard error the exact law gives the sample mean of D^m, sqrt((E[D^2m] - E[D^m]^2) / N). Heavy tails make
/// the sample standard error underestimate it; for a curve's length (m = 1) it is an upper bound, so z against it is conservative.
/// </param>
public sealed record TheoryRow(string Statistic, double LogMeasured, double LogStdErr, double LogTheory, string Relation, double LogExactStdErr)
{
    // Plain values are NaN where they leave the double range or are undefined (0 / 0); the logs hold them.
    public double Measured => Summary.ExpInRange(LogMeasured);
    public double StdErr => Summary.ExpInRange(LogStdErr);
    public double Theory => Summary.ExpInRange(LogTheory);
    /// <summary>Measured / theory.</summary>
    public double Ratio => Summary.ExpInRange(LogMeasured - LogTheory);
    /// <summary>Standard error of <see cref="Ratio"/>.</summary>
    public double RatioStdErr => Summary.ExpInRange(LogStdErr - LogTheory);
    /// <summary>(measured - theory) / standard error; NaN where the standard error is 0 (every distortion 0) or undefined.</summary>
    public double Z => Finite((Ratio - 1) / RatioStdErr);
    public double ExactStdErr => Summary.ExpInRange(LogExactStdErr);
    /// <summary>(measured - theory) / the exact law's standard error: valid however heavy the tail.</summary>
    public double ZExact => Finite((Ratio - 1) / Summary.ExpInRange(LogExactStdErr - LogTheory));

    private static double Finite(double v) => double.IsFinite(v) ? v : double.NaN;
}

/// <summary>The exact theory for a measurement's settings, and how the measurement compares.</summary>
public sealed record TheoryComparison(
    IReadOnlyList<TheoryRow> Rows,
    bool Exact,
    string Note,
    double CW,
    double COut,
    double LogMeanBound,
    double LogMeanAsymptotic,
    string Regime)
{
    /// <summary>sqrt(E[D^2]) (sqrt(E[vol^2]) for k &gt; 1); NaN beyond the double range.</summary>
    public double MeanBound => Summary.ExpInRange(LogMeanBound);
    /// <summary>Large-width approximation of E[D] (k = 1; NaN otherwise or beyond the double range).</summary>
    public double MeanAsymptotic => Summary.ExpInRange(LogMeanAsymptotic);

    internal static TheoryComparison Build(NetworkSpec network, GeometrySpec geometry, Summary summary)
    {
        var law = TheoryLaw.For(network, geometry.K);
        bool pointwise = geometry.NodeCount == 1 && !geometry.Exact;
        var rows = summary.Moments.Select(moment =>
        {
            string name = moment.Order == 1 ? "mean" : $"E[D^{moment.Order}]";
            double logTheory = law.LogMoment(moment.Order);
            if (double.IsNaN(logTheory))
                return new TheoryRow(name, moment.LogValue, moment.LogStdErr, double.NaN, "", double.NaN);
            // "~": an approximation (weights not Gaussian, or a mean-field law), a comparison rather than an identity.
            string relation = !law.Exact ? "~" : moment.Order == 1 || pointwise ? "=" : "<=";
            // Var(D^m) = E[D^2m] - E[D^m]^2, in log space.
            double logSecond = law.LogMoment(2 * moment.Order);
            double logVariance = logSecond + Math.Log(-double.ExpM1(2 * logTheory - logSecond));
            return new TheoryRow(name, moment.LogValue, moment.LogStdErr, logTheory, relation, 0.5 * (logVariance - Math.Log(summary.Count)));
        }).ToArray();
        var variances = network.LayerVariances();
        double cW = variances.Length > 1 ? variances[0] : double.NaN;
        double logBound = 0.5 * law.LogMoment(2);
        bool relu = network.Activation == Activation.ReLU;
        return new TheoryComparison(rows, law.Exact, law.Note, cW, variances[^1],
            logBound, relu && geometry.K == 1 ? logBound + AsymptoticCorrection(network.Widths) : double.NaN,
            law.Regime);
    }

    /// <summary>
    /// log(E[D] approximation / bound): depends on the widths only, so it is taken at He variances, where neither
    /// value leaves the double range whatever the depth.
    /// </summary>
    private static double AsymptoticCorrection(IReadOnlyList<int> widths)
    {
        var he = Enumerable.Repeat(ExactTheory.HeVariance, widths.Count - 1).ToArray();
        return Math.Log(ExactTheory.MeanAsymptotic(widths, he) / ExactTheory.MeanBound(widths, he));
    }
}
