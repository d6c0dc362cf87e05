using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

/// <summary>
/// Reproducibility, chunk invariance, the statistics of every init scheme, option parsing and validation,
/// and the forward pass of <see cref="Mlp"/> against a per-network reference loop.
/// </summary>
public class NetworkTests
{
    // ----- biases and depth -----

    [Fact]
    public void BiasSampleVarianceIsCbAtEveryFanIn()
    {
        // Biases are N(0, C_b), not N(0, C_b / fan_in): the layers with fan-in 4 and 300 must both give C_b.
        using var scope = NewDisposeScope();
        const double cB = 0.7;
        using var net = Mlp.Create(new NetworkSpec([4, 300, 200], InitScheme.He, BiasVariance: cB), count: 20, seed: 5);
        int[] fanIns = [4, 300];
        foreach (int l in new[] { 0, 1 })
        {
            var b = net.Biases[l]!;
            long count = b.numel();
            double variance = b.var().item<double>();
            // The sample variance of N Gaussians has standard deviation C_b sqrt(2 / (N - 1)).
            Assert.True(Math.Abs(variance / cB - 1) < 4 * Math.Sqrt(2.0 / (count - 1)), $"layer {l + 1} (fan-in {fanIns[l]}): variance {variance}, C_b {cB}");
            Assert.True(Math.Abs(b.mean().item<double>()) < 4 * Math.Sqrt(cB / count), $"layer {l + 1}: mean {b.mean().item<double>()}");
        }
    }

    [Fact]
    public void DepthCountsWeightLayers()
    {
        // --depth 20: 20 weight layers, 19 hidden layers, widths n0, n1..n19, nL (21 entries).
        Assert.Equal([3, .. Enumerable.Repeat(32, 19), 5], NetworkSpec.Shorthand(32, 20, inputDim: 3, outputDim: 5));
        Assert.Equal(Enumerable.Repeat(32, 21), NetworkSpec.Shorthand(32, 20));
        Assert.Equal([7, 1], NetworkSpec.Shorthand(9, 1, inputDim: 7, outputDim: 1));
        var spec = new NetworkSpec(NetworkSpec.Shorthand(32, 20), InitScheme.WithVariance(3));
        Assert.Equal(20, spec.Depth);
        using (var net = Mlp.Create(spec)) Assert.Equal(20, net.Weights.Count);

        // The CLI and the theory agree: E[D^2] at a point = (C_out nL / n0) (C_W / 2)^(L - 1) = 3 * 1.5^19 for L = 20
        // (one layer more or less changes it by 1.5x).
        string file = Path.Combine(Path.GetTempPath(), $"torchdist-depth-{Guid.NewGuid():N}.json");
        try
        {
            var result = TorchDistortion.Tests.Cli.CliRunner.RunInProcess("measure", "--width", "32", "--depth", "20", "--init", "variance", "--cw", "3",
                "--networks", "2", "--points", "1", "--format", "json", "-o", file);
            Assert.True(result.ExitCode == 0, result.Stderr);
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
            var root = document.RootElement;
            Assert.Equal(21, root.GetProperty("settings").GetProperty("widths").GetArrayLength());
            Assert.Equal(20, root.GetProperty("settings").GetProperty("layer_variances").GetArrayLength());
            var second = root.GetProperty("theory").GetProperty("rows")[1];
            Assert.Equal("E[D^2]", second.GetProperty("statistic").GetString());
            Assert.Equal(1.0, second.GetProperty("theory").GetDouble() / (3 * Math.Pow(1.5, 19)), 12);
        }
        finally { File.Delete(file); }
    }

    // ----- seeds and chunks -----

    [Fact]
    public void SameSeedGivesIdenticalWeightsAndDifferentSeedDifferentWeights()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([8, 16, 16, 4], InitScheme.He, BiasVariance: 0.3);
        using var a = Mlp.Create(spec, 3, seed: 42);
        using var b = Mlp.Create(spec, 3, seed: 42);
        using var c = Mlp.Create(spec, 3, seed: 43);
        for (int l = 0; l < spec.Depth; l++)
        {
            Assert.True(TorchEqual(a.Weights[l], b.Weights[l]), $"layer {l + 1}: same seed, different weights");
            Assert.True(BitwiseEqual(a.Weights[l], b.Weights[l]), $"layer {l + 1}: same seed, weights differ in some bit");
            Assert.True(BitwiseEqual(a.Biases[l]!, b.Biases[l]!), $"layer {l + 1}: same seed, different biases");
            Assert.False(TorchEqual(a.Weights[l], c.Weights[l]), $"layer {l + 1}: different seeds, equal weights");
            Assert.False(TorchEqual(a.Biases[l]!, c.Biases[l]!), $"layer {l + 1}: different seeds, equal biases");
            // No two networks of one ensemble coincide either.
            Assert.False(TorchEqual(a.Weights[l][0], a.Weights[l][1]), $"layer {l + 1}: networks 0 and 1 coincide");
        }
    }

    [Fact]
    public void ChunksReproduceTheWholeEnsembleBitForBit()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([6, 10, 10, 3], InitScheme.He, BiasVariance: 0.5);
        using var whole = Mlp.Create(spec, count: 10, seed: 7);
        using var first = Mlp.Create(spec, count: 4, seed: 7, firstIndex: 0);
        using var second = Mlp.Create(spec, count: 6, seed: 7, firstIndex: 4);
        Assert.Equal(10, whole.Count);
        for (int l = 0; l < spec.Depth; l++)
        {
            Assert.True(BitwiseEqual(whole.Weights[l], cat([first.Weights[l], second.Weights[l]], 0)), $"weight {l + 1}");
            Assert.True(BitwiseEqual(whole.Biases[l]!, cat([first.Biases[l]!, second.Biases[l]!], 0)), $"bias {l + 1}");
            Assert.True(MaxAbs(whole.Biases[l]!) > 0, $"bias {l + 1} is zero although C_b > 0");
        }
        // A single network drawn on its own is the same as its slice of the ensemble.
        using var seventh = Mlp.Create(spec, count: 1, seed: 7, firstIndex: 6);
        for (int l = 0; l < spec.Depth; l++)
            Assert.True(BitwiseEqual(whole.Weights[l][6], seventh.Weights[l][0]), $"network 6, weight {l + 1}");
    }

    [Fact]
    public void ZeroBiasVarianceGivesZeroBiasesAndNoBiasGivesNone()
    {
        using var scope = NewDisposeScope();
        using var zero = Mlp.Create(new NetworkSpec([4, 8, 2], InitScheme.He), 2, seed: 1);
        using var none = Mlp.Create(new NetworkSpec([4, 8, 2], InitScheme.He, Bias: false), 2, seed: 1);
        for (int l = 0; l < 2; l++)
        {
            Assert.Equal(0.0, MaxAbs(zero.Biases[l]!));
            Assert.Null(none.Biases[l]);
            // The weights do not depend on whether biases exist.
            Assert.True(BitwiseEqual(zero.Weights[l], none.Weights[l]));
        }
    }

    // ----- init schemes -----

    public static IEnumerable<object[]> Schemes() =>
    [
        ["he"], ["lecun"], ["glorot-normal"], ["glorot-uniform"], ["orthogonal"], ["variance"],
    ];

    private static InitScheme SchemeByKey(string key) => key switch
    {
        "he" => InitScheme.He,
        "lecun" => InitScheme.LeCun,
        "glorot-normal" => InitScheme.GlorotNormal,
        "glorot-uniform" => InitScheme.GlorotUniform,
        "orthogonal" => InitScheme.Orthogonal(2),
        "variance" => InitScheme.WithVariance(3),
        _ => throw new ArgumentException(key),
    };

    [Theory]
    [MemberData(nameof(Schemes))]
    public void InitSchemeVarianceMatchesItsDeclaredValue(string key)
    {
        using var scope = NewDisposeScope();
        var scheme = SchemeByKey(key);
        // An expanding, a square and a contracting layer.
        var spec = new NetworkSpec([128, 256, 256, 128], scheme);
        const int count = 8;
        using var net = Mlp.Create(spec, count, seed: 2718);
        for (int l = 0; l < spec.Depth; l++)
        {
            int fanIn = spec.Widths[l], fanOut = spec.Widths[l + 1];
            var w = net.Weights[l].detach();
            Assert.Equal(new long[] { count, fanOut, fanIn }, w.shape);
            var (mean, meanSe, secondMoment, secondMomentSe, kurtosis) = Moments(w);
            double declared = scheme.Variance(fanIn, fanOut);
            Assert.Equal(declared, spec.LayerVariances()[l]);
            Assert.True(Math.Abs(mean) <= 5 * meanSe, $"{scheme} layer {l + 1}: mean {mean:E3} (se {meanSe:E3})");
            Assert.True(Math.Abs(secondMoment * fanIn - declared) <= 5 * secondMomentSe * fanIn,
                $"{scheme} layer {l + 1}: Var*fan_in = {secondMoment * fanIn:G6}, declared {declared:G6} (se {secondMomentSe * fanIn:E3})");

            if (scheme.IsGaussian)
                Assert.True(Math.Abs(kurtosis - 3) < 0.1, $"{scheme} layer {l + 1}: kurtosis {kurtosis:G4}, Gaussian 3");
            if (scheme == InitScheme.GlorotUniform)
            {
                double a = Math.Sqrt(6.0 / (fanIn + fanOut));
                Assert.True(Math.Abs(kurtosis - 1.8) < 0.05, $"glorot-uniform layer {l + 1}: kurtosis {kurtosis:G4}, uniform 1.8");
                double largest = MaxAbs(w);
                Assert.True(largest <= a && largest > 0.99 * a, $"glorot-uniform layer {l + 1}: max |w| {largest:G6}, bound {a:G6}");
            }
        }
    }

    [Fact]
    public void ExpectedVariancesOfTheSchemes()
    {
        // Independent of the sampling: the formulas each scheme is documented to follow.
        Assert.Equal(2.0, InitScheme.He.Variance(100, 7));
        Assert.Equal(1.0, InitScheme.LeCun.Variance(100, 7));
        Assert.Equal(2.0 * 100 / 300, InitScheme.GlorotNormal.Variance(100, 200), 15);
        Assert.Equal(2.0 * 100 / 300, InitScheme.GlorotUniform.Variance(100, 200), 15);
        Assert.Equal(3.0, InitScheme.WithVariance(3).Variance(5, 9));
        Assert.Equal(2.0, InitScheme.Orthogonal(2).Variance(64, 64));
        Assert.Equal(2.0 * 64 / 128, InitScheme.Orthogonal(2).Variance(64, 128), 15);
        Assert.Equal(2.0, InitScheme.Orthogonal(2).Variance(128, 64));
        Assert.True(InitScheme.He.IsGaussian && InitScheme.GlorotNormal.IsGaussian && InitScheme.WithVariance(3).IsGaussian);
        Assert.False(InitScheme.GlorotUniform.IsGaussian);
        Assert.False(InitScheme.Orthogonal(2).IsGaussian);
    }

    [Fact]
    public void OrthogonalWeightsAreScaledOrthogonalMatrices()
    {
        using var scope = NewDisposeScope();
        const double cW = 2.0;
        var spec = new NetworkSpec([48, 96, 96, 48], InitScheme.Orthogonal(cW));
        const int count = 4;
        using var net = Mlp.Create(spec, count, seed: 31);
        for (int i = 0; i < count; i++)
        {
            var expanding = net.Weights[0][i].detach();   // [96, 48]: orthonormal columns
            var square = net.Weights[1][i].detach();      // [96, 96]
            var contracting = net.Weights[2][i].detach(); // [48, 96]: orthonormal rows
            AssertCloseAbs(cW * eye(96, dtype: ScalarType.Float64), square.mm(square.t()), 1e-10, $"W W^T, network {i}");
            AssertCloseAbs(cW * eye(96, dtype: ScalarType.Float64), square.t().mm(square), 1e-10, $"W^T W, network {i}");
            AssertCloseAbs(cW * eye(48, dtype: ScalarType.Float64), expanding.t().mm(expanding), 1e-10, $"expanding W^T W, network {i}");
            AssertCloseAbs(cW * eye(48, dtype: ScalarType.Float64), contracting.mm(contracting.t()), 1e-10, $"contracting W W^T, network {i}");
        }
        Assert.False(TorchEqual(net.Weights[1][0], net.Weights[1][1]));
    }

    [Fact]
    public void OutputVarianceRescalesOnlyTheLastLayer()
    {
        using var scope = NewDisposeScope();
        int[] widths = [128, 256, 256, 256];
        const int count = 8;
        const double cOut = 1.0;
        foreach (var scheme in new[] { InitScheme.He, InitScheme.Orthogonal(2) })
        {
            var plainSpec = new NetworkSpec(widths, scheme);
            var scaledSpec = plainSpec with { OutputVariance = cOut };
            using var plain = Mlp.Create(plainSpec, count, seed: 9);
            using var scaled = Mlp.Create(scaledSpec, count, seed: 9);
            int last = scaledSpec.Depth - 1;
            for (int l = 0; l < last; l++)
                Assert.True(BitwiseEqual(plain.Weights[l], scaled.Weights[l]), $"{scheme}: hidden layer {l + 1} changed");

            int fanIn = widths[last];
            double factor = Math.Sqrt(cOut / scheme.Variance(fanIn, widths[last + 1]));
            AssertCloseAbs(plain.Weights[last].detach() * factor, scaled.Weights[last].detach(), 1e-14, $"{scheme}: output layer scale");

            var (_, _, secondMoment, se, _) = Moments(scaled.Weights[last].detach());
            Assert.True(Math.Abs(secondMoment * fanIn - cOut) <= 5 * se * fanIn,
                $"{scheme}: output Var*fan_in = {secondMoment * fanIn:G6}, C_out {cOut}");
            Assert.Equal(cOut, scaledSpec.LayerVariances()[last]);

            if (scheme is { Name: "orthogonal" })
                for (int i = 0; i < count; i++)
                {
                    var w = scaled.Weights[last][i].detach();
                    AssertCloseAbs(cOut * eye(fanIn, dtype: ScalarType.Float64), w.mm(w.t()), 1e-10, $"orthogonal output W W^T = C_out I, network {i}");
                }
        }
    }

    // ----- parsing and validation -----

    [Fact]
    public void ParseAcceptsTheKnownNames()
    {
        Assert.Same(InitScheme.He, InitScheme.Parse("he"));
        Assert.Same(InitScheme.He, InitScheme.Parse("HE"));
        Assert.Same(InitScheme.He, InitScheme.Parse("kaiming"));
        Assert.Same(InitScheme.LeCun, InitScheme.Parse("lecun"));
        Assert.Same(InitScheme.GlorotNormal, InitScheme.Parse("glorot-normal"));
        Assert.Same(InitScheme.GlorotNormal, InitScheme.Parse("xavier-normal"));
        Assert.Same(InitScheme.GlorotUniform, InitScheme.Parse("glorot-uniform"));
        Assert.Same(InitScheme.GlorotUniform, InitScheme.Parse("xavier-uniform"));
        Assert.Equal(InitScheme.Orthogonal(2), InitScheme.Parse("orthogonal"));
        Assert.Equal(1.5, InitScheme.Parse("orthogonal", 1.5).Variance(10, 10));
        Assert.Equal(InitScheme.WithVariance(3), InitScheme.Parse("variance", 3));
        Assert.Equal(3.0, InitScheme.Parse("variance", 3).Variance(10, 20));

        foreach (var name in InitScheme.Names)
        {
            var scheme = InitScheme.Parse(name, name is "variance" or "orthogonal" ? 2.5 : null);
            Assert.Equal(name, scheme.Name);
        }
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("")]
    [InlineData("he-normal")]
    public void ParseRejectsUnknownNamesListingTheAllowedOnes(string name)
    {
        var e = Assert.Throws<SettingException>(() => InitScheme.Parse(name));
        Assert.Equal("init", e.Setting);
        foreach (var allowed in InitScheme.Names)
            Assert.Contains(allowed, e.Message);
        if (name.Length > 0) Assert.Contains(name, e.Message);
    }

    [Theory]
    [InlineData("he")]
    [InlineData("lecun")]
    [InlineData("glorot-normal")]
    [InlineData("glorot-uniform")]
    public void ParseRejectsAWeightVarianceForFixedSchemes(string name)
    {
        var e = Assert.Throws<SettingException>(() => InitScheme.Parse(name, 2.0));
        Assert.Equal("C_W", e.Setting);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void ParseRejectsAMissingOrInvalidWeightVariance(double? cW)
    {
        var e = Assert.Throws<SettingException>(() => InitScheme.Parse("variance", cW));
        Assert.Equal("C_W", e.Setting);
        Assert.StartsWith("C_W ", e.Message);
        if (cW is not null) Assert.Equal("C_W", Assert.Throws<SettingException>(() => InitScheme.Parse("orthogonal", cW)).Setting);
    }

    public static IEnumerable<object[]> InvalidSpecs()
    {
        yield return [new NetworkSpec([5], InitScheme.He), "widths"];
        yield return [new NetworkSpec([], InitScheme.He), "widths"];
        yield return [new NetworkSpec([5, 0, 3], InitScheme.He), "widths"];
        yield return [new NetworkSpec([5, 8, -2], InitScheme.He), "widths"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, BiasVariance: -0.5), "C_b"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, BiasVariance: double.NaN), "C_b"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, BiasVariance: double.PositiveInfinity), "C_b"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, Bias: false, BiasVariance: 0.5), "C_b"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, OutputVariance: 0.0), "C_out"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, OutputVariance: -1.0), "C_out"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, OutputVariance: double.PositiveInfinity), "C_out"];
        yield return [new NetworkSpec([5, 8, 3], InitScheme.He, OutputVariance: double.NaN), "C_out"];
    }

    [Theory]
    [MemberData(nameof(InvalidSpecs))]
    public void ValidateRejectsInvalidSpecs(NetworkSpec spec, string setting)
    {
        var e = Assert.Throws<SettingException>(() => spec.Validate());
        Assert.Equal(setting, e.Setting);
        Assert.Equal(setting, Assert.Throws<SettingException>(() => Mlp.Create(spec)).Setting);
    }

    [Fact]
    public void ValidateAcceptsValidSpecs()
    {
        var spec = new NetworkSpec([5, 3], InitScheme.He, OutputVariance: 1.0, BiasVariance: 0.0);
        Assert.Same(spec, spec.Validate());
        new NetworkSpec([1, 1, 1], InitScheme.LeCun, Bias: false).Validate();
        new NetworkSpec([5, 8, 3], InitScheme.He, BiasVariance: 2.0).Validate();
        Assert.Equal("networks", Assert.Throws<SettingException>(() => Mlp.Create(spec, count: 0)).Setting);
    }

    // ----- forward -----

    [Fact]
    public void ForwardOfASingleNetworkTakesBatchesWithAndWithoutTheEnsembleAxis()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 9, 9, 3], InitScheme.He, BiasVariance: 0.5);
        using var net = Mlp.Create(spec, 1, seed: 4);
        var x = Gaussian(new Generator(1), 7, 5);
        using var noGrad = no_grad();
        var y = net.forward(x);
        Assert.Equal(new long[] { 7, 3 }, y.shape);
        AssertCloseAbs(Reference(net, 0, x), y, 1e-12, "single network vs reference loop");
        var y3 = net.forward(x.unsqueeze(0));
        Assert.Equal(new long[] { 1, 7, 3 }, y3.shape);
        AssertCloseAbs(y, y3.squeeze(0), 1e-12, "[B, n0] vs [1, B, n0]");
    }

    [Fact]
    public void ForwardOfAnEnsembleEvaluatesEachNetworkOnItsOwnSlice()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 9, 9, 3], InitScheme.He, BiasVariance: 0.5);
        const int count = 4;
        using var net = Mlp.Create(spec, count, seed: 4);
        var x = Gaussian(new Generator(2), count, 7, 5);
        using var noGrad = no_grad();
        var y = net.forward(x);
        Assert.Equal(new long[] { count, 7, 3 }, y.shape);
        for (int i = 0; i < count; i++)
        {
            AssertCloseAbs(Reference(net, i, x[i]), y[i], 1e-12, $"network {i} vs reference loop");
            using var alone = Mlp.Create(spec, 1, seed: 4, firstIndex: i);
            AssertCloseAbs(alone.forward(x[i]), y[i], 1e-12, $"network {i} vs the same network created alone");
        }
    }

    [Fact]
    public void ForwardRejectsInputsOfTheWrongShape()
    {
        using var scope = NewDisposeScope();
        var spec = new NetworkSpec([5, 9, 3], InitScheme.He);
        using var single = Mlp.Create(spec, 1, seed: 4);
        using var ensemble = Mlp.Create(spec, 3, seed: 4);
        var g = new Generator(3);
        using var noGrad = no_grad();

        Assert.Throws<ArgumentException>(() => single.forward(Gaussian(g, 7, 4)));
        Assert.Throws<ArgumentException>(() => single.forward(Gaussian(g, 7, 6)));
        Assert.Throws<ArgumentException>(() => single.forward(Gaussian(g, 5)));
        Assert.Throws<ArgumentException>(() => single.forward(Gaussian(g, 2, 7, 5)));
        Assert.Throws<ArgumentException>(() => single.forward(Gaussian(g, 1, 1, 7, 5)));

        Assert.Throws<ArgumentException>(() => ensemble.forward(Gaussian(g, 7, 5)));
        Assert.Throws<ArgumentException>(() => ensemble.forward(Gaussian(g, 2, 7, 5)));
        Assert.Throws<ArgumentException>(() => ensemble.forward(Gaussian(g, 4, 7, 5)));
        Assert.Throws<ArgumentException>(() => ensemble.forward(Gaussian(g, 3, 7, 4)));
        Assert.Throws<ArgumentException>(() => ensemble.forward(Gaussian(g, 3, 7, 6)));
    }

    // ----- helpers -----

    private static Tensor Gaussian(Generator g, params long[] shape) => empty(shape, float64).normal_(0, 1, g);

    /// <summary>Network i evaluated layer by layer with mm on its own weights: relu(h W^T + b), linear last layer.</summary>
    private static Tensor Reference(Mlp net, int i, Tensor x)
    {
        var h = x;
        int depth = net.Weights.Count;
        for (int l = 0; l < depth; l++)
        {
            h = h.mm(net.Weights[l][i].detach().t());
            if (net.Biases[l] is Tensor b) h = h + b[i].detach();
            if (l < depth - 1) h = h.clamp_min(0);
        }
        return h;
    }

    /// <summary>
    /// torch.equal in TorchSharp 0.107 is the element-wise comparison (a Bool tensor) and broadcasts, so the
    /// shapes are compared first and the element-wise result reduced with all().
    /// </summary>
    private static bool TorchEqual(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && torch.equal(a.detach(), b.detach()).all().item<bool>();

    /// <summary>Same shape, dtype and IEEE bit pattern of every element.</summary>
    private static bool BitwiseEqual(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape) || a.dtype != ScalarType.Float64 || b.dtype != ScalarType.Float64) return false;
        var x = a.detach().contiguous().data<double>().ToArray();
        var y = b.detach().contiguous().data<double>().ToArray();
        return x.Select(BitConverter.DoubleToInt64Bits).SequenceEqual(y.Select(BitConverter.DoubleToInt64Bits))
               && TorchEqual(a, b);
    }

    private static double MaxAbs(Tensor t) => t.detach().abs().max().item<double>();

    private static void AssertCloseAbs(Tensor expected, Tensor actual, double tolerance, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double diff = MaxAbs(expected - actual);
        Assert.True(diff <= tolerance, $"{what}: max abs difference {diff:E3} > {tolerance:E1}");
    }

    /// <summary>
    /// Sample mean and its standard error, the second moment about zero (the variance, the mean being 0)
    /// and its standard error sqrt((m4 - m2^2) / N), and the kurtosis m4 / m2^2.
    /// </summary>
    private static (double Mean, double MeanSe, double SecondMoment, double SecondMomentSe, double Kurtosis) Moments(Tensor w)
    {
        var flat = w.flatten();
        double n = flat.shape[0];
        double mean = flat.mean().item<double>();
        double m2 = flat.pow(2).mean().item<double>();
        double m4 = flat.pow(4).mean().item<double>();
        return (mean, Math.Sqrt(m2 / n), m2, Math.Sqrt((m4 - m2 * m2) / n), m4 / (m2 * m2));
    }
}
