using TorchDistortion.Networks;
using TorchDistortion.Theory;

namespace TorchDistortion.Measurement;

/// <summary>
/// Which law stands beside a measurement, chosen once from the network's activation and init: the exact law of the
/// piecewise-linear family (ReLU's own closed forms for ReLU), the large-width mean-field approximation for smooth
/// activations, or nothing where no law is known. Moments without a law are NaN, never another activation's values.
/// </summary>
/// <param name="LogMoment">log E[D^m] for the moment m (NaN where no law is known).</param>
/// <param name="Exact">Whether the law is exact (not an approximation).</param>
/// <param name="Note">Which law it is and why.</param>
/// <param name="Regime">Whether the network is below, at or above its critical variance.</param>
public sealed record TheoryLaw(Func<int, double> LogMoment, bool Exact, string Note, string Regime)
{
    /// <summary>The law of the k-volume distortion of <paramref name="network"/>.</summary>
    public static TheoryLaw For(NetworkSpec network, int k)
    {
        var widths = network.Widths;
        var variances = network.LayerVariances();
        double cW = variances.Length > 1 ? variances[0] : double.NaN;
        bool gaussian = network.Init.IsGaussian;
        string weights = gaussian
            ? "Gaussian weights, " + (network.Bias && network.BiasVariance > 0 ? "symmetric (Gaussian) biases" : "zero biases")
            : $"{network.Init.Name} weights are not Gaussian, the law is exact only for Gaussian weights (same variance used)";
        switch (network.Activation)
        {
            case PiecewiseLinearActivation { HasDeadSide: true, PositiveSlope: 1 }:
                return new(m => ExactTheory.LogMoment(widths, variances, k, m), gaussian,
                    (gaussian ? "exact law: " : "approximate: ") + weights, RegimeOf(cW, ExactTheory.HeVariance, "(C_W/2)^((L-1)/2)"));
            case PiecewiseLinearActivation pl:
            {
                var slopes = new PiecewiseLinearLaw.Slopes(pl.NegativeSlope, pl.PositiveSlope);
                double critical = pl.CriticalVariance;
                string regime = RegimeOf(cW, critical, $"(C_W/{critical:G4})^((L-1)/2)");
                if (k == 1)
                    return new(m => PiecewiseLinearLaw.LogMoment(widths, variances, slopes, m), gaussian,
                        (gaussian ? $"exact law of {pl.Name}: " : "approximate: ") + weights, regime);
                // For k >= 2 and a != 0 the per-layer factor is a weighted Wishart determinant with no product form;
                // only E[vol^2] is closed (Cauchy-Binet).
                return new(m => m == 2 ? PiecewiseLinearLaw.LogVolumeSecondMoment(widths, variances, slopes, k) : double.NaN, gaussian,
                    $"{pl.Name}, k = {k}: only E[vol^2] has a closed form (Cauchy-Binet); other k-volume moments of this activation have no known law", regime);
            }
            case SmoothActivation smooth:
            {
                // Inputs are N(0, I) points: ||x||^2 / n0 is about 1.
                double logSecond = k == 1
                    ? MeanField.LogSecondMoment(widths, variances, network.Bias ? network.BiasVariance : 0, 1.0, smooth) : double.NaN;
                string regime = "no hidden layer";
                if (variances.Length > 1)
                {
                    var (_, chi) = MeanField.FixedPoint(smooth, cW, network.Bias ? network.BiasVariance : 0, maxIterations: 5000);
                    regime = MeanField.Classify(chi, 1e-3) switch
                    {
                        MeanField.Phase.Ordered => $"ordered phase (chi* = {chi:G4} < 1): lengths shrink exponentially with depth",
                        MeanField.Phase.Chaotic => $"chaotic phase (chi* = {chi:G4} > 1): lengths grow exponentially with depth",
                        _ => $"edge of chaos (chi* = {chi:G4})",
                    };
                }
                return new(m => m == 2 ? logSecond : double.NaN, false,
                    k == 1 ? $"approximate (mean-field, large width) for {smooth.Name}: E[D^2] only; no exact law at finite width"
                        : $"{smooth.Name}, k = {k}: no law known for k-volumes of smooth activations", regime);
            }
            default:
                return new(_ => double.NaN, false, $"no law known for {network.Activation}", "");
        }
    }

    private static string RegimeOf(double cW, double critical, string rate) =>
        (double.IsNaN(cW) ? "no hidden layer"
        : Math.Abs(cW - critical) < 1e-12 * critical ? $"C_W = {cW:G4} (He): the mean stays bounded with depth"
        : cW < critical ? $"C_W = {cW:G4} < {critical:G4}: the mean decays like {rate}"
        : $"C_W = {cW:G4} > {critical:G4}: the mean grows like {rate}") + $"; He threshold C_W = {critical:G4}";
}
