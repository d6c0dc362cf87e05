using TorchDistortion.Theory;

namespace TorchDistortion.Tests.Theory;

/// <summary>
/// Tests of <see cref="ExactTheory"/> against oracles computed here by independent means: the telescoped
/// closed form of E[vol^2], the binomial/chi-square moment polynomials summed with a ratio recurrence
/// (no log-gamma), a Monte Carlo of the law itself, Jensen's inequality and the He scale invariance.
/// </summary>
public class ExactTheoryTests
{
    // ---------------------------------------------------------------------------------------------
    // Independent helpers (none of them calls ExactTheory).
    // ---------------------------------------------------------------------------------------------

    /// <summary>Layer variances C_1..C_L: C_W for every hidden layer, C_out for the output layer.</summary>
    private static double[] Variances(int depth, double cW, double cOut)
    {
        var c = new double[depth];
        Array.Fill(c, cW);
        c[^1] = cOut;
        return c;
    }

    /// <summary>
    /// Widths [n0, n1, ..., nL] with n0 != nL and unequal hidden widths, deterministic in <paramref name="seed"/>.
    /// </summary>
    private static int[] MixedWidths(int depth, int n0, int nL, int seed, int[] hiddenPool)
    {
        var w = new int[depth + 1];
        w[0] = n0;
        w[depth] = nL;
        for (int l = 1; l < depth; l++) w[l] = hiddenPool[(l * 7 + seed * 3) % hiddenPool.Length];
        return w;
    }

    /// <summary>
    /// E[vol^2] = (C_out nL/n0)^k (C_W/2)^{k(L-1)} prod_{l=1..L} prod_{j&lt;k} (1 - j/n_l), written out as a plain
    /// product in double precision.
    /// </summary>
    private static double SecondMomentFormula(int[] widths, double cW, double cOut, int k)
    {
        int depth = widths.Length - 1;
        double value = Math.Pow(cOut * widths[depth] / widths[0], k) * Math.Pow(cW / 2, k * (depth - 1));
        for (int l = 1; l <= depth; l++)
            for (int j = 0; j < k; j++)
                value *= 1.0 - (double)j / widths[l];
        return value;
    }

    /// <summary>E[(chi2_d)^p] = d (d+2) ... (d+2p-2) for integer p; 0 for d &lt;= 0.</summary>
    private static double ChiSquareMomentPolynomial(int d, int p)
    {
        if (d <= 0) return 0;
        double v = 1;
        for (int i = 0; i < p; i++) v *= d + 2.0 * i;
        return v;
    }

    /// <summary>E[prod_{j&lt;k} (chi2_{d-j})^p] for independent factors and integer p.</summary>
    private static double ChiSquareProductMoment(int d, int k, int p)
    {
        double v = 1;
        for (int j = 0; j < k; j++) v *= ChiSquareMomentPolynomial(d - j, p);
        return v;
    }

    /// <summary>
    /// log E[prod_{j&lt;k} (chi2_{B-j})^p], B ~ Binomial(n, 1/2), integer p. The pmf comes from the ratio
    /// recurrence pmf(b+1)/pmf(b) = (n-b)/(b+1), run outwards from the mode with w(mode) = 1 (so nothing
    /// underflows where it matters) and normalised by the sum of the weights. Only Math.Log is used.
    /// </summary>
    private static double LogBinomialChiSquareMoment(int n, int k, int p)
    {
        var w = new double[n + 1];
        int mode = n / 2;
        w[mode] = 1;
        for (int b = mode; b < n; b++) w[b + 1] = w[b] * (n - b) / (b + 1);
        for (int b = mode; b > 0; b--) w[b - 1] = w[b] * b / (n - b + 1);
        double sum = 0, weighted = 0;
        for (int b = 0; b <= n; b++)
        {
            sum += w[b];
            weighted += w[b] * ChiSquareProductMoment(b, k, p);
        }
        return Math.Log(weighted) - Math.Log(sum);
    }

    /// <summary>log E[vol^m] for even m from the independent pieces above.</summary>
    private static double IndependentLogMoment(int[] widths, double[] c, int k, int m)
    {
        int depth = widths.Length - 1, p = m / 2;
        double total = 0;
        for (int l = 1; l < depth; l++)
            total += k * p * Math.Log(c[l - 1] / widths[l - 1]) + LogBinomialChiSquareMoment(widths[l], k, p);
        total += k * p * Math.Log(c[depth - 1] / widths[depth - 1]) + Math.Log(ChiSquareProductMoment(widths[depth], k, p));
        return total;
    }

    /// <summary>Standard normals by Box–Muller from a seeded <see cref="Random"/>.</summary>
    private sealed class Sampler(int seed)
    {
        private readonly Random _rng = new(seed);
        private double _spare;
        private bool _hasSpare;

        public double Normal()
        {
            if (_hasSpare) { _hasSpare = false; return _spare; }
            double u1 = 1.0 - _rng.NextDouble(); // (0, 1]
            double u2 = _rng.NextDouble();
            double r = Math.Sqrt(-2.0 * Math.Log(u1));
            _spare = r * Math.Sin(2 * Math.PI * u2);
            _hasSpare = true;
            return r * Math.Cos(2 * Math.PI * u2);
        }

        /// <summary>chi2_d as the sum of d squared standard normals; 0 for d &lt;= 0.</summary>
        public double ChiSquare(int d)
        {
            double s = 0;
            for (int i = 0; i < d; i++) { double z = Normal(); s += z * z; }
            return s;
        }

        /// <summary>Binomial(n, 1/2) as n fair 0/1 coin flips.</summary>
        public int Binomial(int n)
        {
            int b = 0;
            for (int i = 0; i < n; i++) b += _rng.Next(2);
            return b;
        }
    }

    /// <summary>One draw of vol^2 from the law: hidden factors (C_l/n_{l-1})^k prod_j chi2_{B_l-j}, output likewise with nL.</summary>
    private static double SampleVolumeSquared(Sampler s, int[] widths, double[] c, int k)
    {
        int depth = widths.Length - 1;
        double v = 1;
        for (int l = 1; l <= depth; l++)
        {
            int dof = l < depth ? s.Binomial(widths[l]) : widths[l];
            v *= Math.Pow(c[l - 1] / widths[l - 1], k);
            for (int j = 0; j < k; j++) v *= s.ChiSquare(dof - j);
        }
        return v;
    }

    private static void AssertRelClose(double expected, double actual, double rel, string what)
    {
        double err = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(err <= rel, $"{what}: expected {expected:R}, actual {actual:R}, relative error {err:E3} > {rel:E1}");
    }

    private static void AssertAbsClose(double expected, double actual, double abs, string what)
    {
        double err = Math.Abs(actual - expected);
        Assert.True(err <= abs, $"{what}: expected {expected:R}, actual {actual:R}, absolute error {err:E3} > {abs:E1}");
    }

    private static string Show(IEnumerable<int> widths) => "[" + string.Join(",", widths) + "]";

    // ---------------------------------------------------------------------------------------------
    // 1. Second moment: LogMoment(m=2) = closed form = the telescoped product.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void SecondMoment_MatchesClosedFormAndWrittenOutProduct()
    {
        int[] pool = [16, 33, 64, 5, 128, 9, 250];
        var endpoints = new (int n0, int nL)[] { (7, 3), (10, 10), (3, 40), (64, 5) };
        int cases = 0;
        for (int depth = 1; depth <= 30; depth++)
            for (int e = 0; e < endpoints.Length; e++)
            {
                var widths = MixedWidths(depth, endpoints[e].n0, endpoints[e].nL, seed: depth + e, pool);
                foreach (double cW in new[] { 1.0, 2.0, 3.0 })
                    foreach (double cOut in new[] { 1.0, 2.0, 0.5 })
                        foreach (int k in new[] { 1, 2, 3 })
                        {
                            var c = Variances(depth, cW, cOut);
                            double log = ExactTheory.LogMoment(widths, c, k, 2);
                            double closed = ExactTheory.LogSecondMomentClosedForm(widths, c, k);
                            double formula = SecondMomentFormula(widths, cW, cOut, k);
                            string what = $"widths {Show(widths)} C_W={cW} C_out={cOut} k={k}";
                            AssertRelClose(formula, Math.Exp(log), 1e-10, "LogMoment(m=2) vs formula, " + what);
                            AssertRelClose(formula, Math.Exp(closed), 1e-10, "closed form vs formula, " + what);
                            AssertAbsClose(closed, log, 1e-10, "LogMoment(m=2) vs LogSecondMomentClosedForm, " + what);
                            cases++;
                        }
            }
        Assert.Equal(30 * 4 * 27, cases);
    }

    [Fact]
    public void SecondMoment_PerLayerVariances_MatchProductOfLayerFactors()
    {
        // Non-constant C_l: E[vol^2] = (nL/n0)^k prod_{l<L} (C_l/2)^k * C_L^k * prod_l prod_j (1 - j/n_l).
        var widths = new[] { 6, 11, 4, 30, 8, 5 };
        var c = new[] { 0.7, 2.5, 1.3, 3.1, 0.9 };
        foreach (int k in new[] { 1, 2, 3, 4 })
        {
            double expected = Math.Pow((double)widths[^1] / widths[0], k);
            for (int l = 1; l <= 5; l++)
            {
                expected *= Math.Pow(l < 5 ? c[l - 1] / 2 : c[l - 1], k);
                for (int j = 0; j < k; j++) expected *= 1.0 - (double)j / widths[l];
            }
            AssertRelClose(expected, ExactTheory.Moment(widths, c, k, 2), 1e-10, $"k={k} LogMoment");
            AssertRelClose(expected, Math.Exp(ExactTheory.LogSecondMomentClosedForm(widths, c, k)), 1e-10, $"k={k} closed form");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 2. Fourth moment of the length distortion (k = 1, m = 4).
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void FourthMoment_KEqualsOne_MatchesBinomialChiSquareProduct()
    {
        // Hidden: E[((C/n_{l-1}) chi2_B)^2] = (C/n_{l-1})^2 E[B(B+2)] = (C/n_{l-1})^2 (n_l^2 + 5 n_l)/4,
        // since E[B] = n/2 and E[B^2] = n/4 + n^2/4. Output: (C_out/n_{L-1})^2 nL (nL + 2).
        var nets = new (int[] widths, double cW, double cOut)[]
        {
            ([4096, 4096, 4096], 2.0, 2.0),
            ([4096, 4096, 4096, 4096, 4096, 4096], 2.0, 1.0),
            ([100, 4096, 1000, 4096, 50], 1.5, 0.5),
            ([3, 2048, 7, 4096, 1], 3.0, 2.0),
            ([1, 1, 1], 2.0, 1.0),
            ([12, 2, 3, 4096], 1.0, 3.0),
            ([4096, 17], 2.0, 1.0),
        };
        foreach (var (widths, cW, cOut) in nets)
        {
            int depth = widths.Length - 1;
            double expected = 1;
            for (int l = 1; l < depth; l++)
            {
                double n = widths[l], s = cW / widths[l - 1];
                expected *= s * s * (n * n + 5 * n) / 4;
            }
            double so = cOut / widths[depth - 1], nL = widths[depth];
            expected *= so * so * nL * (nL + 2);
            double actual = ExactTheory.Moment(widths, Variances(depth, cW, cOut), 1, 4);
            AssertRelClose(expected, actual, 1e-10, $"E[D^4] widths {Show(widths)} C_W={cW} C_out={cOut}");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 3. Even moments up to 8 at widths up to 4096 by an independent binomial sum.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void EvenMoments_MatchIndependentBinomialSum()
    {
        var nets = new (int[] widths, double[] c)[]
        {
            ([4096, 4096, 4096], [2.0, 2.0]),
            ([4096, 4096, 4096, 4096, 4096], [2.0, 2.0, 2.0, 1.0]),
            ([64, 4096, 512, 4096, 10], [1.0, 2.5, 3.0, 0.5]),
            ([5, 7, 3, 6], [2.0, 1.5, 2.0]),
            ([9, 300, 4], [2.0, 1.0]),
        };
        foreach (var (widths, c) in nets)
            foreach (int k in new[] { 1, 2, 3 })
                foreach (int m in new[] { 2, 4, 6, 8 })
                {
                    string what = $"widths {Show(widths)} C={string.Join(",", c)} k={k} m={m}";
                    double expected = IndependentLogMoment(widths, c, k, m);
                    Assert.True(double.IsFinite(expected), what);
                    AssertAbsClose(expected, ExactTheory.LogMoment(widths, c, k, m), 1e-9, "log E[vol^m], " + what);
                }

        // The per-layer binomial sum on its own, at the widths where underflow would bite a naive 2^-n start.
        foreach (int n in new[] { 1, 2, 3, 10, 1000, 1075, 2048, 4095, 4096 })
            foreach (int k in new[] { 1, 2, 3 })
                foreach (int p in new[] { 1, 2, 3, 4 })
                {
                    if (n < k) continue;
                    AssertAbsClose(LogBinomialChiSquareMoment(n, k, p), ExactTheory.LogHiddenFactor(n, k, p), 1e-9,
                        $"LogHiddenFactor n={n} k={k} p={p}");
                }
    }

    // ---------------------------------------------------------------------------------------------
    // 4. Monte Carlo of the law itself (including the odd moments, which go through log-gamma).
    // ---------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(new[] { 3, 4, 5, 2 }, new[] { 2.0, 1.5, 0.8 }, 1, 11)]
    [InlineData(new[] { 3, 4, 5, 2 }, new[] { 2.0, 1.5, 0.8 }, 2, 12)]
    [InlineData(new[] { 5, 8, 8, 8, 3 }, new[] { 2.0, 2.0, 2.0, 2.0 }, 1, 13)]
    [InlineData(new[] { 5, 8, 8, 8, 3 }, new[] { 2.0, 2.0, 2.0, 2.0 }, 2, 14)]
    public void OddAndFirstMoments_AgreeWithMonteCarloOfTheLaw(int[] widths, double[] c, int k, int seed)
    {
        const int samples = 200_000;
        var sampler = new Sampler(seed);
        double s1 = 0, s1sq = 0, s3 = 0, s3sq = 0;
        for (int i = 0; i < samples; i++)
        {
            double vol = Math.Sqrt(SampleVolumeSquared(sampler, widths, c, k));
            double v3 = vol * vol * vol;
            s1 += vol; s1sq += vol * vol;
            s3 += v3; s3sq += v3 * v3;
        }
        foreach (var (m, sum, sumSq) in new[] { (1, s1, s1sq), (3, s3, s3sq) })
        {
            double mean = sum / samples;
            double variance = (sumSq - samples * mean * mean) / (samples - 1);
            double se = Math.Sqrt(variance / samples);
            double exact = ExactTheory.Moment(widths, c, k, m);
            Assert.True(Math.Abs(mean - exact) <= 4 * se,
                $"widths {Show(widths)} k={k} m={m}: Monte Carlo {mean:R} +- {se:E3}, exact {exact:R}, " +
                $"{Math.Abs(mean - exact) / se:F2} standard errors apart");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 5. Mean: Jensen bound and large-width asymptotic.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void MeanBound_IsAtLeastTheMean()
    {
        int[] pool = [1, 2, 5, 16, 33, 100, 1024];
        var endpoints = new (int n0, int nL)[] { (1, 1), (7, 3), (3, 40), (256, 256) };
        for (int depth = 1; depth <= 20; depth++)
            for (int e = 0; e < endpoints.Length; e++)
            {
                var widths = MixedWidths(depth, endpoints[e].n0, endpoints[e].nL, seed: depth * 5 + e, pool);
                foreach (double cW in new[] { 0.5, 1.0, 2.0, 3.0 })
                    foreach (double cOut in new[] { 0.5, 1.0, 2.0 })
                    {
                        var c = Variances(depth, cW, cOut);
                        double mean = ExactTheory.Moment(widths, c, 1, 1);
                        double bound = ExactTheory.MeanBound(widths, c);
                        // The bound itself must be sqrt(E[D^2]) (independent formula), and E[D] <= it.
                        AssertRelClose(Math.Sqrt(SecondMomentFormula(widths, cW, cOut, 1)), bound, 1e-10,
                            $"MeanBound widths {Show(widths)} C_W={cW} C_out={cOut}");
                        Assert.True(mean <= bound * (1 + 1e-12),
                            $"Jensen violated: widths {Show(widths)} C_W={cW} C_out={cOut}: E[D]={mean:R} > bound {bound:R}");
                    }
            }
    }

    [Fact]
    public void MeanAsymptotic_AgreesWithExactMeanAtLargeWidth()
    {
        // First order in 1/n: the relative error is O(sum_l 1/n_l^2). Measured: about 0.34 depth/n^2 for uniform
        // width (5.2e-5 at n = 256, depth 10), so 2e-3 holds with a wide margin; the sharper check below uses
        // coefficient 1. Dropping the correction would be off by up to (5/8) * 9/256 ~ 2e-2.
        int[] pool = [256, 300, 512, 1024, 4096];
        var endpoints = new (int n0, int nL)[] { (256, 256), (1000, 300), (256, 4096) };
        double worst = 0;
        for (int depth = 1; depth <= 10; depth++)
            for (int e = 0; e < endpoints.Length; e++)
            {
                var widths = MixedWidths(depth, endpoints[e].n0, endpoints[e].nL, seed: depth + 2 * e, pool);
                var uniform = NetworkSpecWidths(256, depth);
                foreach (var w in new[] { widths, uniform })
                    foreach (double cW in new[] { 1.0, 2.0, 3.0 })
                    {
                        var c = Variances(depth, cW, 2.0);
                        double exact = ExactTheory.Moment(w, c, 1, 1);
                        double asym = ExactTheory.MeanAsymptotic(w, c);
                        double err = Math.Abs(asym - exact) / exact;
                        worst = Math.Max(worst, err);
                        Assert.True(err <= 2e-3, $"widths {Show(w)} C_W={cW}: asymptotic {asym:R}, exact {exact:R}, rel {err:E3}");
                        double secondOrder = w.Skip(1).Sum(n => 1.0 / ((double)n * n));
                        Assert.True(err <= secondOrder,
                            $"widths {Show(w)} C_W={cW}: rel error {err:E3} above the second-order size sum 1/n_l^2 = {secondOrder:E3}");
                    }
            }
        // The asymptotic must be sharper than the uncorrected bound at width 256, depth 10.
        var deep = NetworkSpecWidths(256, 10);
        var cc = Variances(10, 2.0, 2.0);
        double e0 = ExactTheory.Moment(deep, cc, 1, 1);
        Assert.True(Math.Abs(ExactTheory.MeanAsymptotic(deep, cc) - e0) < 0.1 * Math.Abs(ExactTheory.MeanBound(deep, cc) - e0),
            $"worst relative error {worst:E3}");
    }

    /// <summary>[width, ..., width] with depth weight layers (what NetworkSpec.Shorthand gives).</summary>
    private static int[] NetworkSpecWidths(int width, int depth) => Enumerable.Repeat(width, depth + 1).ToArray();

    // ---------------------------------------------------------------------------------------------
    // 6. The He threshold.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void HeThreshold_MeanIsNearlyFlatAtHeAndScalesByPowerOfCwOverTwo()
    {
        const int width = 64;
        double Mean(int depth, double cW) =>
            ExactTheory.Moment(NetworkSpecWidths(width, depth), Variances(depth, cW, 2.0), 1, 1);

        double heRatio = Mean(30, 2.0) / Mean(1, 2.0);
        // At C_W = 2 nothing grows or decays exponentially: E[D^2] = C_out nL/n0 = 2 at every depth, and the mean
        // only loses the Jensen gap, about exp(-(5/8) * 29/64) ~ 0.75 at width 64. Compare with that prediction.
        double predicted = Math.Exp(-5.0 / 8.0 * 29 / width);
        AssertRelClose(predicted, heRatio, 0.02, "He ratio E[D](L=30)/E[D](L=1) vs exp(-(5/8)(L-1)/n)");
        Assert.InRange(heRatio, 0.7, 1.0);
        // At larger width the He mean is flat to within 5% over depths 1..30.
        double wideRatio = ExactTheory.Moment(NetworkSpecWidths(1024, 30), Variances(30, 2.0, 2.0), 1, 1)
                         / ExactTheory.Moment(NetworkSpecWidths(1024, 1), Variances(1, 2.0, 2.0), 1, 1);
        Assert.InRange(wideRatio, 0.95, 1.05);

        foreach (double cW in new[] { 1.0, 3.0 })
        {
            double ratio = Mean(30, cW) / Mean(1, cW);
            double growth = Math.Pow(cW / 2, 29.0 / 2);
            if (cW < 2) Assert.True(ratio < 1e-2, $"C_W={cW}: mean should decay exponentially, ratio {ratio:R}");
            else Assert.True(ratio > 1e2, $"C_W={cW}: mean should grow exponentially, ratio {ratio:R}");
            AssertRelClose(heRatio, ratio / growth, 0.10, $"C_W={cW}: ratio / (C_W/2)^(29/2) vs He ratio");
            // sqrt((C_W/n) chi2_B) = sqrt(C_W/2) sqrt((2/n) chi2_B): the C_W dependence factors out exactly.
            AssertRelClose(heRatio, ratio / growth, 1e-9, $"C_W={cW}: exact scaling by (C_W/2)^(29/2)");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // 7. Bad input.
    // ---------------------------------------------------------------------------------------------

    public static TheoryData<string, Action> BadInputs() => new()
    {
        { "k = 0", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], 0, 2) },
        { "k = -1", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], -1, 2) },
        { "m = 0", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], 1, 0) },
        { "m = -2", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], 1, -2) },
        { "m = NaN", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], 1, double.NaN) },
        { "m = +inf", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0], 1, double.PositiveInfinity) },
        { "Moment m = NaN", () => ExactTheory.Moment([4, 5, 3], [2.0, 1.0], 1, double.NaN) },
        { "too few variances", () => ExactTheory.LogMoment([4, 5, 3], [2.0], 1, 2) },
        { "too many variances", () => ExactTheory.LogMoment([4, 5, 3], [2.0, 1.0, 1.0], 1, 2) },
        { "hidden width 0", () => ExactTheory.LogMoment([4, 0, 3], [2.0, 1.0], 1, 2) },
        { "input width 0", () => ExactTheory.LogMoment([0, 5, 3], [2.0, 1.0], 1, 2) },
        { "output width 0", () => ExactTheory.LogMoment([4, 5, 0], [2.0, 1.0], 1, 2) },
        { "single width", () => ExactTheory.LogMoment([4], [], 1, 2) },
        { "closed form k = 0", () => ExactTheory.LogSecondMomentClosedForm([4, 5, 3], [2.0, 1.0], 0) },
        { "closed form wrong variances", () => ExactTheory.LogSecondMomentClosedForm([4, 5, 3], [2.0], 1) },
        { "closed form width 0", () => ExactTheory.LogSecondMomentClosedForm([4, 0, 3], [2.0, 1.0], 1) },
        { "MeanBound wrong variances", () => ExactTheory.MeanBound([4, 5, 3], [2.0, 1.0, 1.0]) },
        { "MeanBound width 0", () => ExactTheory.MeanBound([4, 0, 3], [2.0, 1.0]) },
        { "MeanAsymptotic wrong variances", () => ExactTheory.MeanAsymptotic([4, 5, 3], [2.0]) },
        { "MeanAsymptotic width 0", () => ExactTheory.MeanAsymptotic([4, 0, 3], [2.0, 1.0]) },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInput_Throws(string what, Action call)
    {
        Assert.False(string.IsNullOrEmpty(what));
        Assert.ThrowsAny<ArgumentException>(call);
    }

    // ---------------------------------------------------------------------------------------------
    // 8. k larger than a width: the volume is 0 almost surely.
    // ---------------------------------------------------------------------------------------------

    [Fact]
    public void KLargerThanOutputOrHiddenWidth_GivesZeroVolume()
    {
        // k > nL: the output factor prod_{j<k} chi2_{nL-j} contains chi2_0 = 0.
        foreach (double m in new[] { 0.5, 1.0, 2.0, 3.0, 8.0 })
        {
            Assert.Equal(double.NegativeInfinity, ExactTheory.LogMoment([10, 20, 2], [2.0, 1.0], 3, m));
            Assert.Equal(double.NegativeInfinity, ExactTheory.LogMoment([6, 2], [1.0], 5, m));
            Assert.Equal(0.0, ExactTheory.Moment([10, 20, 2], [2.0, 1.0], 3, m));
            // k > a hidden width (but <= nL): every binomial term has B < k.
            Assert.Equal(double.NegativeInfinity, ExactTheory.LogMoment([10, 2, 10], [2.0, 1.0], 3, m));
        }
        Assert.Equal(double.NegativeInfinity, ExactTheory.LogSecondMomentClosedForm([10, 20, 2], [2.0, 1.0], 3));
        Assert.Equal(double.NegativeInfinity, ExactTheory.LogSecondMomentClosedForm([10, 2, 10], [2.0, 1.0], 3));
        // k = nL is still a positive volume.
        Assert.True(double.IsFinite(ExactTheory.LogMoment([10, 20, 3], [2.0, 1.0], 3, 2)));
    }
}
