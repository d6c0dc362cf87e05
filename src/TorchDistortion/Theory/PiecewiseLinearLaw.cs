namespace TorchDistortion.Theory;

/// <summary>
/// The exact law of the pointwise distortion for a piecewise-linear activation phi(z) = b z (z &gt; 0), a z (z &lt; 0)
/// with Gaussian weights (Var(W_l) = C_l / n_{l-1}) and zero or symmetric biases (DESIGN.md 2b). Each neuron's slope
/// is b or a with probability 1/2, independently of the magnitudes, so
///   ||J u||^2 =d prod_{l&lt;L} (C_l/n_{l-1}) Z_l * (C_L/n_{L-1}) chi2_{nL},   Z_l = sum_{i&lt;=n_l} s_i g_i^2,
/// s_i uniform on {b^2, a^2}, g_i ~ N(0,1), all independent. ReLU (0, 1), leaky ReLU (alpha, 1), abs (-1, 1).
/// Moments of any real order are exact (docs/theory-activations.md): integer powers of Z by an expansion with
/// positive terms only, fractional ones by the integral Z^-q = (1/Gamma(q)) int s^{q-1} e^{-sZ} ds, whose
/// integrand is positive (nothing cancels) and smooth in log s (the trapezoid rule converges geometrically).
/// </summary>
public static class PiecewiseLinearLaw
{
    /// <summary>The two slopes of phi: a below zero, b above.</summary>
    public readonly record struct Slopes(double Negative, double Positive)
    {
        public static Slopes Relu => new(0, 1);
        public static Slopes Abs => new(-1, 1);
        public static Slopes Leaky(double alpha) => new(alpha, 1);

        /// <summary>a^2 + b^2: E[phi'(z)^2] = (a^2 + b^2)/2.</summary>
        public double SquareSum => Negative * Negative + Positive * Positive;
    }

    /// <summary>The C_W that keeps E[D^2] constant with depth: 2/(a^2 + b^2) (He for ReLU, PyTorch's gain^-2 times 1).</summary>
    public static double CriticalVariance(Slopes slopes)
    {
        CheckSlopes(slopes);
        return 2 / slopes.SquareSum;
    }

    /// <summary>
    /// log E[D^m] of the pointwise length distortion, any real m &gt;= 0. <paramref name="layerVariances"/> holds C_1..C_L
    /// (C_L is the output layer's C_out), as in <see cref="ExactTheory.LogMoment"/>.
    /// </summary>
    public static double LogMoment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, Slopes slopes, double m)
    {
        Check(widths, layerVariances, 1);
        CheckSlopes(slopes);
        if (!double.IsFinite(m) || m < 0) throw new ArgumentException($"moment order must be a finite number >= 0, got {m}");
        if (m == 0) return 0;
        int depth = widths.Count - 1;
        double p = m / 2, c = slopes.Positive * slopes.Positive, d = slopes.Negative * slopes.Negative, total = 0;
        for (int l = 1; l < depth; l++)
            total += p * Math.Log(layerVariances[l - 1] / widths[l - 1]) + LogLayerMoment(widths[l], c, d, p);
        // The output layer is the all-slopes-one case: chi2_{nL} (same routine, no log-gamma rounding at large nL).
        return total + p * Math.Log(layerVariances[depth - 1] / widths[depth - 1]) + LogLayerMoment(widths[depth], 1, 1, p);
    }

    /// <summary>E[D^m]; may overflow where <see cref="LogMoment"/> does not.</summary>
    public static double Moment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, Slopes slopes, double m) =>
        Math.Exp(LogMoment(widths, layerVariances, slopes, m));

    /// <summary>
    /// log E[vol^2] of the k-volume distortion in closed form. By Cauchy-Binet, det(G^T S^2 G) = sum over k-subsets I of
    /// prod_{i in I} s_i^2 det(G_I)^2 with E det(G_I)^2 = k!, so a layer contributes (C_l (a^2+b^2)/2)^k (n_l/n_{l-1})^k
    /// prod_{j&lt;k} (1 - j/n_l) (the output layer C_L^k (nL/n_{L-1})^k prod_j (1 - j/nL)). k = 1 is
    /// E[D^2] = (C_out nL/n0) prod_{l&lt;L} C_l (a^2+b^2)/2.
    /// </summary>
    public static double LogVolumeSecondMoment(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, Slopes slopes, int k)
    {
        Check(widths, layerVariances, k);
        CheckSlopes(slopes);
        int depth = widths.Count - 1;
        double total = k * Math.Log((double)widths[depth] / widths[0]);
        for (int l = 1; l <= depth; l++)
        {
            total += k * Math.Log(l < depth ? layerVariances[l - 1] * slopes.SquareSum / 2 : layerVariances[l - 1]);
            for (int j = 0; j < k; j++)
            {
                if (widths[l] <= j) return double.NegativeInfinity;
                total += Math.Log(1.0 - (double)j / widths[l]);
            }
        }
        return total;
    }

    /// <summary>
    /// Probability that the k-volume distortion of a ReLU network is exactly 0: some hidden layer has fewer than k active
    /// neurons, 1 - prod_{l&lt;L} P(B_l &gt;= k), or 1 when k &gt; nL. (With a != 0 every slope is nonzero and the
    /// probability is 0.)
    /// </summary>
    public static double ReluZeroVolumeProbability(IReadOnlyList<int> widths, int k)
    {
        if (widths.Count < 2 || widths.Any(n => n < 1)) throw new ArgumentException("widths must hold at least two positive entries");
        if (k < 1) throw new ArgumentException($"k must be at least 1, got {k}");
        if (k > widths[^1]) return 1;
        double logAllEnough = 0; // sum_l log P(B_l >= k) = sum_l log1p(-P(B_l < k)): exact when the tail is tiny
        for (int l = 1; l < widths.Count - 1; l++)
        {
            int n = widths[l];
            if (n < k) return 1;
            double below = 0, logTerm = -n * Math.Log(2); // P(B = 0) = 2^-n, then the ratio (n-b)/(b+1)
            for (int b = 0; b < k; b++)
            {
                below += Math.Exp(logTerm);
                logTerm += Math.Log((double)(n - b) / (b + 1));
            }
            logAllEnough += ExactMath.Log1P(-Math.Min(below, 1));
        }
        return -ExactMath.ExpM1(logAllEnough);
    }

    /// <summary>
    /// Monte Carlo of the k-volume law (no network): by rotation invariance a layer maps a k-frame to S G with G an n_l x k
    /// standard Gaussian block and S the random slopes, so vol^2 =d prod_l (C_l/n_{l-1})^k det(G_l^T S_l^2 G_l) (S = I in
    /// the output layer), all layers independent. Returns the sample mean of vol^m and its standard error. Seeded.
    /// </summary>
    public static (double Mean, double StandardError) SampleVolumeMoment(
        IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, Slopes slopes, int k, double m, int samples, int seed)
    {
        Check(widths, layerVariances, k);
        CheckSlopes(slopes);
        if (!double.IsFinite(m) || m <= 0) throw new ArgumentException($"moment order must be a finite number > 0, got {m}");
        if (samples < 2) throw new ArgumentException($"need at least 2 samples, got {samples}");
        var normal = new NormalSource(seed);
        int depth = widths.Count - 1;
        var logValues = new double[samples];
        var gram = new double[k, k];
        var g = new double[k];
        for (int s = 0; s < samples; s++)
        {
            double logVolSquared = 0;
            for (int l = 1; l <= depth && !double.IsNegativeInfinity(logVolSquared); l++)
            {
                Array.Clear(gram);
                int active = 0;
                for (int i = 0; i < widths[l]; i++)
                {
                    double slope = l == depth ? 1 : normal.Coin() ? slopes.Positive : slopes.Negative;
                    double w = slope * slope; // always draw g, so the stream does not depend on the slopes
                    for (int r = 0; r < k; r++) g[r] = normal.Next();
                    if (w == 0) continue;
                    active++;
                    for (int r = 0; r < k; r++)
                        for (int c = 0; c <= r; c++) gram[r, c] += w * g[r] * g[c];
                }
                logVolSquared = active < k ? double.NegativeInfinity
                    : logVolSquared + k * Math.Log(layerVariances[l - 1] / widths[l - 1]) + LogDetCholesky(gram, k);
            }
            logValues[s] = 0.5 * m * logVolSquared;
        }
        // Mean and spread of exp(logValues), scaled by the largest so deep networks do not overflow before the end.
        double max = logValues.Max();
        if (double.IsNegativeInfinity(max)) return (0, 0);
        double sum = 0, sumSq = 0;
        foreach (var v in logValues) { double x = Math.Exp(v - max); sum += x; sumSq += x * x; }
        double mean = sum / samples, variance = Math.Max(0, (sumSq - samples * mean * mean) / (samples - 1));
        double scale = Math.Exp(max);
        return (mean * scale, Math.Sqrt(variance / samples) * scale);
    }

    // ---------------------------------------------------------------------------------------------
    // The per-layer moment.
    // ---------------------------------------------------------------------------------------------

    /// <summary>Trapezoid step in u = log s; the integrand is analytic in |Im u| &lt; pi/2, error ~ exp(-pi^2/h) ~ 1e-34.</summary>
    private const double Step = 0.125;

    /// <summary>Where the walk outwards stops: the next term is below this fraction of the sum so far.</summary>
    private const double TailTolerance = 1e-20;

    /// <summary>
    /// log E[Z^p], Z = sum_{i&lt;=n} s_i g_i^2 with s_i uniform on {c, d}. Integer p: the exact moment. Otherwise, with
    /// j = ceil(p + 1/2) and q = j - p in [1/2, 3/2): Z^p = Z^j Z^-q, so
    ///   E[Z^p] = (1/Gamma(q)) int_0^inf s^{q-1} E[Z^j e^{-sZ}] ds,
    /// and E[Z^j e^{-sZ}] = L(s) E[Z_s^j], L the Laplace transform and Z_s the exponentially tilted sum (each neuron
    /// independently: weight c/(1+2sc) with probability prop. to (1+2sc)^-1/2, else d/(1+2sd)). Z is scaled to mean 1 so
    /// the integrand peaks near s = 1; the trapezoid rule in u = log s walks outwards until the terms are negligible.
    /// </summary>
    internal static double LogLayerMoment(int n, double c, double d, double p)
    {
        if (p == 0) return 0;
        double mean = n * (c + d) / 2, logScale = p * Math.Log(mean);
        c /= mean;
        d /= mean;
        if (p == Math.Floor(p)) return logScale + LogTiltedMoment(n, c, d, 0, (int)p);
        int j = (int)Math.Ceiling(p + 0.5);
        double q = j - p;
        double Term(double u)
        {
            double s = Math.Exp(u);
            return q * u + LogTiltedMoment(n, c, d, s, j);
        }
        // Log-sum-exp over the nodes, relative to the term at u = 0 (near the peak); walk left, then right.
        double reference = Term(0), sum = 1;
        foreach (int direction in new[] { -1, 1 })
            for (int i = 1; i < 4000; i++)
            {
                double t = Math.Exp(Term(direction * i * Step) - reference);
                sum += t;
                if (t < TailTolerance * sum && i > 8) break;
            }
        return logScale + reference + Math.Log(sum * Step) - MathNet.Numerics.SpecialFunctions.GammaLn(q);
    }

    /// <summary>
    /// log E[Z^j e^{-sZ}] = log L(s) + log E[Z_s^j]. E[S^j] for a sum S of n i.i.d. terms T is j! [t^j] (1 + U(t))^n,
    /// U(t) = sum_{r&gt;=1} E[T^r] t^r / r!, expanded as sum_k C(n,k) [t^j] U^k: every term is positive.
    /// Here E[T^r] = (2r-1)!! (pi c_s^r + (1-pi) d_s^r).
    /// </summary>
    private static double LogTiltedMoment(int n, double c, double d, double s, int j)
    {
        // L(s) = (A/2 + B/2)^n, A = (1+2sc)^-1/2. Near s = 0 through expm1/log1p so nothing is lost; far out in logs,
        // where A - 1 rounds to -1.
        double logA = -0.5 * ExactMath.Log1P(2 * s * c), logB = -0.5 * ExactMath.Log1P(2 * s * d);
        double half = 0.5 * (ExactMath.ExpM1(logA) + ExactMath.ExpM1(logB));
        double logLaplace = n * (half > -0.5 ? ExactMath.Log1P(half)
            : Math.Max(logA, logB) + Math.Log(0.5 * (1 + Math.Exp(-Math.Abs(logA - logB)))));
        if (j == 0) return logLaplace;
        double pi = 1 / (1 + Math.Exp(logB - logA)); // A/(A+B)
        double cs = c / (1 + 2 * s * c), ds = d / (1 + 2 * s * d);
        // u[r] = E[T^r] / r!
        var u = new double[j + 1];
        double doubleFactorial = 1, factorial = 1, cPower = 1, dPower = 1;
        for (int r = 1; r <= j; r++)
        {
            doubleFactorial *= 2 * r - 1;
            factorial *= r;
            cPower *= cs;
            dPower *= ds;
            u[r] = doubleFactorial * (pi * cPower + (1 - pi) * dPower) / factorial;
        }
        // power[t] = [t^i] U^k, updated k = 1..min(j, n); binomial = C(n, k).
        var power = new double[j + 1];
        var next = new double[j + 1];
        power[0] = 1;
        double coefficient = 0, binomial = 1;
        for (int k = 1; k <= Math.Min(j, n); k++)
        {
            Array.Clear(next);
            for (int i = k; i <= j; i++)
                for (int r = 1; r <= i - (k - 1); r++) next[i] += u[r] * power[i - r];
            (power, next) = (next, power);
            binomial *= (double)(n - k + 1) / k;
            coefficient += binomial * power[j];
        }
        return logLaplace + Math.Log(coefficient) + MathNet.Numerics.SpecialFunctions.FactorialLn(j);
    }

    // ---------------------------------------------------------------------------------------------

    private static double LogDetCholesky(double[,] a, int k)
    {
        // In place on the lower triangle; a non-positive pivot means a rank-deficient Gram (volume 0).
        double logDet = 0;
        for (int c = 0; c < k; c++)
        {
            double pivot = a[c, c];
            for (int i = 0; i < c; i++) pivot -= a[c, i] * a[c, i];
            if (pivot <= 0) return double.NegativeInfinity;
            double root = Math.Sqrt(pivot);
            a[c, c] = root;
            logDet += 2 * Math.Log(root);
            for (int r = c + 1; r < k; r++)
            {
                double v = a[r, c];
                for (int i = 0; i < c; i++) v -= a[r, i] * a[c, i];
                a[r, c] = v / root;
            }
        }
        return logDet;
    }

    /// <summary>Standard normals by Box-Muller and fair coins from one seeded <see cref="Random"/>.</summary>
    private sealed class NormalSource(int seed)
    {
        private readonly Random _random = new(seed);
        private double _spare;
        private bool _hasSpare;

        public bool Coin() => _random.Next(2) == 1;

        public double Next()
        {
            if (_hasSpare) { _hasSpare = false; return _spare; }
            double radius = Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())), angle = 2 * Math.PI * _random.NextDouble();
            _spare = radius * Math.Sin(angle);
            _hasSpare = true;
            return radius * Math.Cos(angle);
        }
    }

    private static void CheckSlopes(Slopes slopes)
    {
        if (!double.IsFinite(slopes.Negative) || !double.IsFinite(slopes.Positive) || slopes.SquareSum == 0)
            throw new ArgumentException($"slopes must be finite and not both 0, got a={slopes.Negative} b={slopes.Positive}");
    }

    private static void Check(IReadOnlyList<int> widths, IReadOnlyList<double> layerVariances, int k)
    {
        if (widths.Count < 2 || widths.Any(n => n < 1))
            throw new ArgumentException("widths must hold at least two positive entries");
        if (layerVariances.Count != widths.Count - 1)
            throw new ArgumentException($"need one variance per layer ({widths.Count - 1}), got {layerVariances.Count}");
        if (layerVariances.Any(v => !double.IsFinite(v) || v <= 0))
            throw new ArgumentException("layer variances must be finite and > 0");
        if (k < 1) throw new ArgumentException($"k must be at least 1, got {k}");
    }
}
