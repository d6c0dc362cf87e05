using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

/// <summary>
/// The ziggurat generator draws N(0, 1) and U(a, b) (checked against the normal CDF computed here independently, and against
/// values of it to 17 digits), and networks from it depend on (seed, i) alone, like those of the torch generator.
/// </summary>
public sealed class WeightGeneratorTests
{
    private static double[] Gaussians(int count, ulong seed)
    {
        using var random = WeightRandom.Create(WeightGenerator.Ziggurat, seed);
        using var t = empty([count], float64);
        random.Normal(t, 1.0);
        return t.data<double>().ToArray();
    }

    /// <summary>Phi(x) = P(N(0,1) &lt;= x) to 17 digits (mpmath), at points inside layers, at R and in the tail.</summary>
    public static TheoryData<double, double> NormalCdf => new()
    {
        { -5, 2.8665157187919391e-7 }, { -4, 3.1671241833119921e-5 }, { -3.654152885361009, 0.00012901624382695045 },
        { -3, 0.0013498980316300945 }, { -2.5, 0.0062096653257761352 }, { -2, 0.022750131948179207 },
        { -1.5, 0.066807201268858066 }, { -1, 0.15865525393145705 }, { -0.5, 0.3085375387259869 },
        { -0.1, 0.46017216272297102 }, { 0, 0.5 }, { 0.05, 0.51993880583837246 }, { 0.3, 0.61791142218895263 },
        { 0.7, 0.75803634777692697 }, { 1.2, 0.88493032977829172 }, { 1.9, 0.97128344018399819 },
        { 2.7, 0.99653302619695933 }, { 3.3, 0.99951657585761622 }, { 4.2, 0.99998665425098409 },
    };

    private static readonly Lazy<double[]> Many = new(() => Gaussians(1 << 24, 12345));

    [Theory]
    [MemberData(nameof(NormalCdf))]
    public void FractionBelowEachPointIsPhiWithinFiveStandardErrors(double x, double phi)
    {
        var samples = Many.Value;
        long below = samples.LongCount(v => v <= x);
        double n = samples.Length, sd = Math.Sqrt(n * phi * (1 - phi));
        Assert.True(Math.Abs(below - n * phi) < 5 * sd + 1, $"P(Z <= {x}): {below / n:G8} of {n} against {phi:G8} ({(below - n * phi) / sd:F2} s.d.)");
    }

    [Fact]
    public void MomentsAreThoseOfTheStandardNormal()
    {
        var samples = Many.Value;
        double n = samples.Length;
        double m1 = samples.Average(), m2 = samples.Average(v => v * v), m3 = samples.Average(v => v * v * v), m4 = samples.Average(v => v * v * v * v);
        // Standard errors of the sample moments of N(0, 1): sqrt(Var(Z^p) / n) with Var = 1, 2, 15, 96.
        Assert.True(Math.Abs(m1) < 5 * Math.Sqrt(1 / n), $"mean {m1}");
        Assert.True(Math.Abs(m2 - 1) < 5 * Math.Sqrt(2 / n), $"E[Z^2] {m2}");
        Assert.True(Math.Abs(m3) < 5 * Math.Sqrt(15 / n), $"E[Z^3] {m3}");
        Assert.True(Math.Abs(m4 - 3) < 5 * Math.Sqrt(96 / n), $"E[Z^4] {m4}");
    }

    [Fact]
    public void KolmogorovSmirnovDistanceToTheNormalIsSmall()
    {
        // Phi by Simpson's rule on the density, step 1/1024 over [-9, 9]: independent of the sampler's tables, accurate to 1e-12.
        const int perUnit = 1024;
        const double lo = -9;
        int cells = 18 * perUnit;
        var cdf = new double[cells + 1];
        const double h = 1.0 / perUnit;
        static double density(double t) => Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI);
        for (int i = 0; i < cells; i++)
        {
            double a = lo + i * h;
            cdf[i + 1] = cdf[i] + h / 6 * (density(a) + 4 * density(a + h / 2) + density(a + h));
        }
        double Phi(double x)
        {
            double pos = Math.Clamp((x - lo) * perUnit, 0, cells - 1e-9);
            int i = (int)pos;
            double a = lo + i * h, t = x - a;
            // Within a cell: the integral of the density from a to x by Simpson's rule (linear interpolation would be off by 1e-7).
            return cdf[i] + t / 6 * (density(a) + 4 * density(a + t / 2) + density(x));
        }
        var samples = Gaussians(1 << 20, 777);
        Array.Sort(samples);
        double n = samples.Length, d = 0;
        for (int i = 0; i < samples.Length; i++)
        {
            double f = Phi(samples[i]);
            d = Math.Max(d, Math.Max(f - i / n, (i + 1) / n - f));
        }
        // The Kolmogorov distribution: P(sqrt(n) D > 1.95) = 0.001 and P(sqrt(n) D > 2.7) is about 1e-6.
        Assert.True(Math.Sqrt(n) * d < 2.7, $"sqrt(n) D = {Math.Sqrt(n) * d:F3}");
    }

    [Fact]
    public void TailBeyondTheBaseLayerHasTheNormalShape()
    {
        const double r = 3.654152885361009, tail = 0.00012901624382695045, beyond42 = 1 - 0.99998665425098409;
        var samples = Many.Value;
        double n = samples.Length;
        long outside = samples.LongCount(v => Math.Abs(v) > r), far = samples.LongCount(v => Math.Abs(v) > 4.2);
        double expected = 2 * tail * n;
        Assert.True(Math.Abs(outside - expected) < 5 * Math.Sqrt(expected), $"{outside} beyond R, expected {expected:F0}");
        // Given |Z| > R, P(|Z| > 4.2) = 0.1034: the tail draws are shaped, not just counted.
        double p = beyond42 / tail;
        Assert.True(Math.Abs(far - outside * p) < 5 * Math.Sqrt(outside * p * (1 - p)), $"{far} of {outside} beyond 4.2, expected {outside * p:F0}");
        Assert.True(samples.Max() < 7 && samples.Min() > -7, "no draw is out of any reasonable range");
    }

    [Fact]
    public void UniformDrawsFillTheIntervalEvenly()
    {
        using var random = WeightRandom.Create(WeightGenerator.Ziggurat, 5);
        using var t = empty([1 << 20], float64);
        random.Uniform(t, -0.25, 0.75);
        var u = t.data<double>().ToArray();
        Assert.True(u.Min() >= -0.25 && u.Max() < 0.75, $"range [{u.Min()}, {u.Max()}]");
        double n = u.Length;
        for (double q = 0.1; q < 1; q += 0.2)
        {
            long below = u.LongCount(v => v < -0.25 + q);
            Assert.True(Math.Abs(below - n * q) < 5 * Math.Sqrt(n * q * (1 - q)), $"{below} below the {q} quantile");
        }
    }

    [Fact]
    public void SameSeedSameNumbersAndSeedsAreIndependent()
    {
        Assert.Equal(Gaussians(1000, 42), Gaussians(1000, 42));
        var a = Gaussians(100_000, 1);
        var b = Gaussians(100_000, 2);
        double correlation = a.Zip(b, (x, y) => x * y).Average();
        Assert.True(Math.Abs(correlation) < 5 / Math.Sqrt(a.Length), $"correlation of neighbouring seeds {correlation}");
    }

    private static bool Same(Tensor a, Tensor b) => a.detach().eq(b.detach()).all().item<bool>();

    public static TheoryData<string, double?, double> Schemes => new()
    {
        { "he", null, 0.0 }, { "lecun", null, 0.3 }, { "glorot-uniform", null, 0.0 }, { "orthogonal", 1.5, 0.0 }, { "variance", 3.0, 0.5 },
    };

    [Theory]
    [MemberData(nameof(Schemes))]
    public void ZigguratNetworksDependOnSeedAndIndexAloneAndHaveTheSchemesVariance(string init, double? cW, double cB)
    {
        var spec = new NetworkSpec([24, 48, 48, 12], InitScheme.Parse(init, cW), BiasVariance: cB, Generator: WeightGenerator.Ziggurat);
        using var together = Mlp.Create(spec, count: 6, seed: 9, firstIndex: 4);
        for (int i = 0; i < 6; i++)
        {
            using var alone = Mlp.Create(spec, count: 1, seed: 9, firstIndex: 4 + i);
            for (int l = 0; l < spec.Depth; l++)
            {
                Assert.True(Same(together.Weights[l][i], alone.Weights[l][0]), $"{init}: network {i}, layer {l}");
                if (spec.Bias) Assert.True(Same(together.Biases[l]![i], alone.Biases[l]![0]), $"{init}: bias of network {i}, layer {l}");
            }
        }
        using var torchNets = Mlp.Create(spec with { Generator = WeightGenerator.Torch }, count: 6, seed: 9, firstIndex: 4);
        Assert.False(Same(together.Weights[0], torchNets.Weights[0]), "the two generators draw different networks from one seed");

        var scheme = spec.ResolvedInit;
        for (int l = 0; l < spec.Depth; l++)
        {
            int fanIn = spec.Widths[l], fanOut = spec.Widths[l + 1];
            var w = together.Weights[l].detach();
            double n = w.numel(), expected = scheme.Variance(fanIn, fanOut) / fanIn;
            double variance = w.square().mean().item<double>();
            if (init == "orthogonal")
            {
                // Orthonormal rows or columns, scaled by sqrt(C_W): W W^T (or W^T W) is C_W I for every network.
                var gram = fanOut <= fanIn ? w.matmul(w.transpose(1, 2)) : w.transpose(1, 2).matmul(w);
                var identity = eye(Math.Min(fanIn, fanOut), dtype: float64).mul(cW!.Value).expand_as(gram);
                Assert.True(gram.allclose(identity, rtol: 0, atol: 1e-12), $"layer {l}: not orthogonal");
                continue;
            }
            // The variance of a sample second moment is 2 sigma^4 / n for Gaussians and 0.8 sigma^4 / n for uniforms.
            double se = expected * Math.Sqrt((init == "glorot-uniform" ? 0.8 : 2.0) / n);
            Assert.True(Math.Abs(variance - expected) < 5 * se, $"{init} layer {l}: variance {variance:G6}, expected {expected:G6}");
            if (init == "glorot-uniform")
                Assert.True(w.abs().max().item<double>() < Math.Sqrt(6.0 / (fanIn + fanOut)), $"layer {l}: a uniform draw beyond its bound");
            if (cB > 0)
            {
                var b = together.Biases[l]!.detach();
                double bv = b.square().mean().item<double>();
                Assert.True(Math.Abs(bv - cB) < 5 * cB * Math.Sqrt(2.0 / b.numel()), $"bias variance {bv}, expected {cB}");
            }
        }
    }

    [Theory]
    [InlineData("he", null, 0.0)]
    [InlineData("he", 0.7, 0.3)]          // C_out rescales the last layer after its draw; biases drawn after each layer's weights
    [InlineData("glorot-normal", 1.3, 0.0)]
    public void NetworksDrawnInPlaceEqualTheDrawLayerByLayer(string init, double? cOut, double cB)
    {
        // The definition written out independently: one generator per network, per layer a tensor filled by Normal, the
        // output layer rescaled, then the bias.
        var spec = new NetworkSpec([12, 40, 24, 40, 5], InitScheme.Parse(init), OutputVariance: cOut, BiasVariance: cB, Generator: WeightGenerator.Ziggurat);
        using var net = Mlp.Create(spec, count: 4, seed: 21, firstIndex: 6);
        var scheme = spec.ResolvedInit;
        for (int i = 0; i < 4; i++)
        {
            using var random = WeightRandom.Create(WeightGenerator.Ziggurat, Seeds.Derive(21, 6 + i, Seeds.Stream.Weights));
            for (int l = 0; l < spec.Depth; l++)
            {
                int fanIn = spec.Widths[l], fanOut = spec.Widths[l + 1];
                using var w = empty([fanOut, fanIn], float64);
                random.Normal(w, Math.Sqrt(scheme.Variance(fanIn, fanOut) / fanIn));
                if (l == spec.Depth - 1 && cOut is double c) w.mul_(Math.Sqrt(c / scheme.Variance(fanIn, fanOut)));
                Assert.True(Same(net.Weights[l][i], w), $"network {i}, layer {l}");
                using var b = zeros([fanOut], float64);
                if (cB > 0) random.Normal(b, Math.Sqrt(cB));
                Assert.True(Same(net.Biases[l]![i], b), $"bias of network {i}, layer {l}");
            }
        }
    }

    [Fact]
    public void GeneratorNamesParseAndUnknownOnesAreRefusedByName()
    {
        Assert.Equal(WeightGenerator.Torch, WeightGenerators.Parse("torch"));
        Assert.Equal(WeightGenerator.Ziggurat, WeightGenerators.Parse("Ziggurat"));
        foreach (var g in Enum.GetValues<WeightGenerator>()) Assert.Equal(g, WeightGenerators.Parse(g.Name()));
        var error = Assert.Throws<SettingException>(() => WeightGenerators.Parse("mt"));
        Assert.Equal("generator", error.Setting);
        Assert.Contains("unknown generator 'mt'; allowed: torch, ziggurat", error.Message);
    }
}
