using TorchDistortion.Networks;

namespace TorchDistortion.Theory;

/// <summary>
/// Large-width (mean-field) theory for smooth activations (Poole et al. 2016; DESIGN.md 2b). The pre-activation variance
/// follows q_l = C_{l+1} E[phi(sqrt(q_{l-1}) z)^2] + C_b from q_0 = C_1 ||x||^2/n0 + C_b, a hidden layer stretches
/// squared lengths by chi_l = C_l E[phi'(sqrt(q_{l-1}) z)^2] (z ~ N(0,1)), and
/// E||J u||^2 ~ (C_out nL/n0) prod_{l&lt;L} chi_l. Not exact at finite width; for piecewise-linear phi use
/// <see cref="PiecewiseLinearLaw"/>. Gaussian expectations by <see cref="GaussianMean"/>.
/// </summary>
public static class MeanField
{
    /// <summary>Where a network's initialization sits: nearby inputs converge (ordered), stay apart at the edge of chaos (critical), or decorrelate (chaotic).</summary>
    public enum Phase { Ordered, Critical, Chaotic }

    /// <summary>
    /// E[f(sqrt(q) z)], z ~ N(0,1), by the midpoint rule on a grid symmetric about 0 with step h = 0.15/max(1, sqrt(q)) over
    /// |z| &lt;= 13, normalised by the weights' own sum. For an integrand analytic in a strip |Im z| &lt; d the error is
    /// ~exp(-2 pi d/h); tanh(sqrt(q) z) has d = pi/(2 sqrt(q)), so the step shrinks with sqrt(q) and the error stays below
    /// 1e-14 at every q (measured; Gauss-Hermite with 96 nodes is off by 1e-5 at q = 4 and 1e-2 at q = 25, because its
    /// nodes do not follow the 1/sqrt(q) scale). No node sits at 0 and the two halves carry equal weight, so a
    /// piecewise-linear phi gets the exact (a^2+b^2)/2.
    /// </summary>
    public static double GaussianMean(Func<double, double> f, double q)
    {
        if (!double.IsFinite(q) || q < 0) throw new ArgumentException($"variance must be finite and >= 0, got {q}");
        double root = Math.Sqrt(q), step = 0.15 / Math.Max(1, root), sum = 0, weights = 0;
        int half = (int)Math.Ceiling(13 / step);
        for (int i = 0; i < half; i++)
        {
            double z = (i + 0.5) * step, w = Math.Exp(-0.5 * z * z);
            sum += w * (f(root * z) + f(-root * z));
            weights += 2 * w;
        }
        return sum / weights;
    }

    /// <summary>One step of the variance map: C_W E[phi(sqrt(q) z)^2] + C_b.</summary>
    public static double NextVariance(Activation activation, double weightVariance, double biasVariance, double q) =>
        weightVariance * GaussianMean(z => Square(activation.Value(z)), q) + biasVariance;

    /// <summary>The stretch of squared lengths by one layer at pre-activation variance q: C_W E[phi'(sqrt(q) z)^2].</summary>
    public static double Stretch(Activation activation, double weightVariance, double q) =>
        weightVariance * GaussianMean(z => Square(activation.Slope(z)), q);

    /// <summary>
    /// log of the predicted E||J u||^2 = (C_out nL/n0) prod_{l&lt;L} chi_l for an input with ||x||^2/n0 =
    /// <paramref name="inputMeanSquare"/>. <paramref name="layerVariances"/> holds C_1..C_L as in <see cref="ExactTheory"/>.
    /// </summary>
    public static double LogSecondMoment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, double biasVariance,
        double inputMeanSquare, Activation activation)
    {
        if (widths.Count < 2 || widths.Any(n => n < 1)) throw new ArgumentException("widths must hold at least two positive entries");
        if (layerVariances.Count != widths.Count - 1)
            throw new ArgumentException($"need one variance per layer ({widths.Count - 1}), got {layerVariances.Count}");
        if (layerVariances.Any(v => !double.IsFinite(v) || v <= 0)) throw new ArgumentException("layer variances must be finite and > 0");
        if (!double.IsFinite(biasVariance) || biasVariance < 0) throw new ArgumentException($"bias variance must be >= 0, got {biasVariance}");
        if (!double.IsFinite(inputMeanSquare) || inputMeanSquare < 0)
            throw new ArgumentException($"input mean square must be >= 0, got {inputMeanSquare}");
        int depth = widths.Count - 1;
        double total = Math.Log(layerVariances[depth - 1] * widths[depth] / widths[0]);
        double q = layerVariances[0] * inputMeanSquare + biasVariance;
        for (int l = 1; l < depth; l++)
        {
            total += Math.Log(Stretch(activation, layerVariances[l - 1], q));
            q = NextVariance(activation, layerVariances[l], biasVariance, q);
        }
        return total;
    }

    /// <summary>
    /// The fixed point q* that the variance map reaches from <paramref name="start"/> (iterated until it moves by less than
    /// 1e-13 relative, or <paramref name="maxIterations"/> steps: at a critical point it approaches q* only like 1/l),
    /// and chi* = C_W E[phi'(sqrt(q*) z)^2] there.
    /// </summary>
    public static (double Q, double Chi) FixedPoint(Activation activation, double weightVariance, double biasVariance,
        double start = 1, int maxIterations = 100_000)
    {
        if (!double.IsFinite(weightVariance) || weightVariance <= 0) throw new ArgumentException($"C_W must be > 0, got {weightVariance}");
        if (!double.IsFinite(biasVariance) || biasVariance < 0) throw new ArgumentException($"C_b must be >= 0, got {biasVariance}");
        double q = start;
        for (int i = 0; i < maxIterations; i++)
        {
            double next = NextVariance(activation, weightVariance, biasVariance, q);
            if (!double.IsFinite(next)) throw new ArgumentException($"the variance map diverges for {activation.Name} at C_W={weightVariance}");
            bool done = Math.Abs(next - q) <= 1e-13 * Math.Max(next, 1e-300);
            q = next;
            if (done) break;
        }
        return (q, Stretch(activation, weightVariance, q));
    }

    /// <summary>Ordered (chi* &lt; 1, lengths shrink exponentially), chaotic (chi* &gt; 1, they grow), critical within tolerance.</summary>
    public static Phase Classify(double chi, double tolerance = 1e-6) =>
        Math.Abs(chi - 1) <= tolerance ? Phase.Critical : chi < 1 ? Phase.Ordered : Phase.Chaotic;

    /// <summary>
    /// The C_W at which chi* = 1 (the edge of chaos) for bias variance <paramref name="biasVariance"/>, by bisection on
    /// log C_W in [1e-3, 1e3]: what He initialization means for a smooth activation. chi* grows with C_W.
    /// </summary>
    public static double CriticalVariance(Activation activation, double biasVariance)
    {
        double low = Math.Log(1e-3), high = Math.Log(1e3);
        // An odd phi (tanh) has the fixed point q* = 0, whose stability decides the phase: started near 0, chi is about
        // C_W phi'(0)^2 whether or not the map has converged (near the edge it leaves 0, or reaches it, only slowly). Other
        // activations start from the scale of the inputs measured (||x||^2 / n0 = 1). q is capped at 1e4: beyond it a
        // ReLU-like phi has reached its large-q stretch, and the quadrature's cost grows with sqrt(q).
        bool odd = activation.Value(0) == 0 && Math.Abs(activation.Value(-1) + activation.Value(1)) < 1e-15;
        double ChiMinusOne(double logCw)
        {
            double cW = Math.Exp(logCw), q = odd ? 1e-14 : cW + biasVariance;
            for (int i = 0; i < 1000 && q < 1e4; i++) q = NextVariance(activation, cW, biasVariance, q);
            return Stretch(activation, cW, Math.Min(q, 1e4)) - 1;
        }
        if (ChiMinusOne(low) > 0 || ChiMinusOne(high) < 0)
            throw new ArgumentException($"{activation.Name}: no critical weight variance in [1e-3, 1e3] at C_b = {biasVariance}");
        for (int i = 0; i < 60 && high - low > 1e-12; i++)
        {
            double middle = 0.5 * (low + high);
            if (ChiMinusOne(middle) < 0) low = middle; else high = middle;
        }
        return Math.Exp(0.5 * (low + high));
    }

    private static double Square(double v) => v * v;
}
