using MathNet.Numerics;

namespace TorchDistortion.Theory;

/// <summary>
/// The exact law of the pointwise distortion of a random ReLU network with Gaussian weights
/// (Var(W_l) = C_l / n_{l-1}) and zero or symmetric biases. Each neuron is on with probability 1/2,
/// independently of the weight magnitudes, so for a k-frame U (orthonormal rows):
///   vol(JU)^2 =d prod_{l&lt;L} (C_l/n_{l-1})^k prod_{j&lt;k} chi2_{B_l - j}  *  (C_L/n_{L-1})^k prod_{j&lt;k} chi2_{nL - j},
/// B_l ~ Binomial(n_l, 1/2), all factors independent (Bartlett). k = 1 is the length distortion.
/// Every sum runs in log space (log-gamma, log-sum-exp), so widths in the thousands and high
/// moments stay exact to rounding.
/// </summary>
public static class ExactTheory
{
    /// <summary>The He value of C_W: below it the mean distortion decays exponentially with depth, above it grows.</summary>
    public const double HeVariance = 2.0;

    /// <summary>
    /// log E[vol^m] of the pointwise k-volume distortion. <paramref name="layerVariances"/> holds C_1..C_L
    /// (C_L is the output layer's C_out). Returns -infinity when the volume is 0 almost surely (k &gt; nL).
    /// </summary>
    public static double LogMoment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k, double m)
    {
        Check(widths, layerVariances, k);
        if (!double.IsFinite(m) || m <= 0) throw new ArgumentException($"moment order must be a finite number > 0, got {m}");
        int depth = widths.Count - 1;
        double p = m / 2, total = 0;
        for (int l = 1; l < depth; l++)
            total += k * p * Math.Log(layerVariances[l - 1] / widths[l - 1]) + LogHiddenFactor(widths[l], k, p);
        total += k * p * Math.Log(layerVariances[depth - 1] / widths[depth - 1]) + LogChiSquareProduct(widths[depth], k, p);
        return total;
    }

    /// <summary>E[vol^m]; may overflow to infinity where <see cref="LogMoment"/> does not.</summary>
    public static double Moment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k, double m) =>
        Math.Exp(LogMoment(widths, layerVariances, k, m));

    /// <summary>
    /// The closed form E[vol^2] = prod_l C_l^k (n_l/n_{l-1})^k 2^{-k} (hidden) ... telescoped:
    /// (C_out nL/n0)^k (C_W/2)^{k(L-1)} prod_{l=1..L} prod_{j&lt;k} (1 - j/n_l) for constant C_W.
    /// </summary>
    public static double LogSecondMomentClosedForm(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k)
    {
        Check(widths, layerVariances, k);
        int depth = widths.Count - 1;
        double total = k * Math.Log((double)widths[depth] / widths[0]);
        for (int l = 1; l <= depth; l++)
        {
            total += k * Math.Log(l < depth ? layerVariances[l - 1] / 2 : layerVariances[l - 1]);
            for (int j = 0; j < k; j++)
            {
                if (widths[l] <= j) return double.NegativeInfinity;
                total += Math.Log(1.0 - (double)j / widths[l]);
            }
        }
        return total;
    }

    /// <summary>
    /// The paper's upper bound on the mean: sqrt(E[D^2]) = sqrt(C_out nL/n0) prod (C_l/2)^{1/2} (k = 1; Jensen).
    /// </summary>
    public static double MeanBound(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances) =>
        Math.Exp(0.5 * LogSecondMomentClosedForm(widths, layerVariances, 1));

    /// <summary>
    /// Large-width approximation of E[D]: the bound times exp(-(5/8) sum_{l&lt;L} 1/n_l - 1/(4 nL)),
    /// from E[sqrt X] ~ 1 - Var(X)/8 per layer (Var = 5/n_l for a hidden layer, 2/nL for the output).
    /// </summary>
    public static double MeanAsymptotic(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances)
    {
        double correction = 0;
        for (int l = 1; l < widths.Count - 1; l++) correction += 5.0 / (8.0 * widths[l]);
        correction += 1.0 / (4.0 * widths[^1]);
        return MeanBound(widths, layerVariances) * Math.Exp(-correction);
    }

    /// <summary>
    /// Samples log vol from the exact law itself (binomial activity, scaled chi-squares): the whole distribution,
    /// for comparing histograms and quantiles, not only moments. -infinity where the volume is 0.
    /// </summary>
    public static double[] SampleLog(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k, int count, int seed)
    {
        Check(widths, layerVariances, k);
        var random = new MathNet.Numerics.Random.MersenneTwister(seed);
        int depth = widths.Count - 1;
        var samples = new double[count];
        for (int s = 0; s < count; s++)
        {
            double logVolSquared = 0;
            for (int l = 1; l <= depth && !double.IsNegativeInfinity(logVolSquared); l++)
            {
                int degrees = l < depth ? MathNet.Numerics.Distributions.Binomial.Sample(random, 0.5, widths[l]) : widths[l];
                logVolSquared += k * Math.Log(layerVariances[l - 1] / widths[l - 1]);
                for (int j = 0; j < k; j++)
                    logVolSquared += degrees - j > 0
                        ? Math.Log(MathNet.Numerics.Distributions.ChiSquared.Sample(random, degrees - j)) : double.NegativeInfinity;
            }
            samples[s] = 0.5 * logVolSquared;
        }
        return samples;
    }

    /// <summary>log E[prod_{j&lt;k} (chi2_{B-j})^p], B ~ Binomial(n, 1/2); terms with B &lt; k are 0.</summary>
    internal static double LogHiddenFactor(int n, int k, double p)
    {
        double logHalfPower = -n * Math.Log(2);
        double max = double.NegativeInfinity;
        var terms = new double[n + 1];
        for (int b = 0; b <= n; b++)
        {
            terms[b] = b < k ? double.NegativeInfinity
                : SpecialFunctions.BinomialLn(n, b) + logHalfPower + LogChiSquareProduct(b, k, p);
            max = Math.Max(max, terms[b]);
        }
        return LogSumExp(terms, max);
    }

    /// <summary>log E[prod_{j&lt;k} (chi2_{d-j})^p] with independent factors; -infinity when d &lt; k.</summary>
    internal static double LogChiSquareProduct(int d, int k, double p)
    {
        double total = 0;
        for (int j = 0; j < k; j++)
        {
            if (d - j <= 0) return double.NegativeInfinity;
            double half = (d - j) / 2.0;
            total += p * Math.Log(2) + SpecialFunctions.GammaLn(half + p) - SpecialFunctions.GammaLn(half);
        }
        return total;
    }

    internal static double LogSumExp(IReadOnlyList<double> values, double max)
    {
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (var v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    private static void Check(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k)
    {
        if (widths.Count < 2 || widths.Any(n => n < 1))
            throw new ArgumentException("widths must hold at least two positive entries");
        if (layerVariances.Count != widths.Count - 1)
            throw new ArgumentException($"need one variance per layer ({widths.Count - 1}), got {layerVariances.Count}");
        if (k < 1) throw new ArgumentException($"k must be at least 1, got {k}");
    }
}
