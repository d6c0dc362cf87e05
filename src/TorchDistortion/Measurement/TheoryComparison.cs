using TorchDistortion.Geometry;
using TorchDistortion.Networks;
using TorchDistortion.Theory;

namespace TorchDistortion.Measurement;

/// <summary>
/// One measured statistic beside its exact value, all kept as logs so that values beyond the double range
/// still compare. Relation "=" means the expectations are equal; "<=" means the theory value is an upper
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
        var widths = network.Widths;
        var variances = network.LayerVariances();
        int k = geometry.K;
        bool pointwise = geometry.NodeCount == 1 && !geometry.Exact;
        bool exact = network.Init.IsGaussian;
        var rows = summary.Moments.Select(moment =>
        {
            double logTheory = ExactTheory.LogMoment(widths, variances, k, moment.Order);
            string name = moment.Order == 1 ? "mean" : $"E[D^{moment.Order}]";
            // "~": the weights are not Gaussian, so the law is a comparison, not an identity.
            string relation = !exact ? "~" : moment.Order == 1 || pointwise ? "=" : "<=";
            // Var(D^m) = E[D^2m] - E[D^m]^2, in log space.
            double logSecond = ExactTheory.LogMoment(widths, variances, k, 2 * moment.Order);
            double logVariance = logSecond + Math.Log(-double.ExpM1(2 * logTheory - logSecond));
            return new TheoryRow(name, moment.LogValue, moment.LogStdErr, logTheory, relation, 0.5 * (logVariance - Math.Log(summary.Count)));
        }).ToArray();

        string note = exact
            ? "exact law: Gaussian weights, " + (network.Bias && network.BiasVariance > 0 ? "symmetric (Gaussian) biases" : "zero biases")
            : $"approximate: {network.Init.Name} weights are not Gaussian, the law is exact only for Gaussian weights (same variance used)";
        double cW = variances.Length > 1 ? variances[0] : double.NaN;
        string regime = double.IsNaN(cW) ? "no hidden layer"
            : Math.Abs(cW - ExactTheory.HeVariance) < 1e-12 ? "C_W = 2 (He): the mean stays bounded with depth"
            : cW < ExactTheory.HeVariance ? $"C_W = {cW:G4} < 2: the mean decays like (C_W/2)^((L-1)/2)"
            : $"C_W = {cW:G4} > 2: the mean grows like (C_W/2)^((L-1)/2)";
        double logBound = 0.5 * ExactTheory.LogSecondMomentClosedForm(widths, variances, k);
        return new TheoryComparison(rows, exact, note, cW, variances[^1],
            logBound, k == 1 ? logBound + AsymptoticCorrection(widths) : double.NaN,
            regime);
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
