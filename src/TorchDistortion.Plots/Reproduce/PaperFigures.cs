using System.Globalization;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using TorchDistortion.Theory;

namespace TorchDistortion.Plots;

/// <summary>Quick (default, a few minutes on 2 cores), Full (publication), Smoke (tiny, for the test suite).</summary>
public enum Scale
{
    /// <summary>A few minutes on two cores (the default).</summary>
    Quick,
    /// <summary>Publication scale: more networks per point.</summary>
    Full,
    /// <summary>Tiny, for the test suite.</summary>
    Smoke,
}

/// <summary>One claim of the paper: the sweep that tests it, how to draw it, and which rows are compared with the exact law.</summary>
internal sealed record PaperFigure(
    string Name,
    string Title,
    string Claim,
    Func<Scale, SweepSpec> Sweep,
    Func<ResultSet, string, IReadOnlyList<(string File, Figure Figure)>> Draw,
    Func<ResultRow, bool> Checked);

/// <summary>The figures of `reproduce`. Quick scale finishes in a few minutes on two cores.</summary>
internal static class PaperFigures
{
    private static readonly int[] Depths = [1, 2, 4, 8, 16, 32, 64];

    internal static IReadOnlyList<PaperFigure> All { get; } =
    [
        new("fig1_mean_vs_depth", "Mean length distortion vs depth",
            "Under He initialization the expected length distortion does not grow with depth; it shrinks slightly, and stays below sqrt(C_out nL/n0) = 1.",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig1", Width = [8, 16, 32, 64, 128], Depth = [.. Depths], COut = [1.0],
                Geometry = ["segment"], Points = [8], Networks = [Count(scale, 250, 2000)], Seed = 1, Moments = 2,
            },
            DrawMeanVsDepth, row => row.Statistic == "mean"),

        new("fig2_moments_vs_depth", "Higher moments vs depth (pointwise, width 32)",
            "E[D^2] is exactly constant in depth while E[D^3] and E[D^4] grow with sum 1/n_l: the spread grows, the mean does not.",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig2", Width = [32], Depth = [.. Depths], COut = [1.0], Geometry = ["segment"], Points = [1],
                Networks = [Count(scale, 3000, 50000)], Seed = 2, Moments = 4,
            },
            DrawMomentsVsDepth, row => row.Statistic is "mean" or "E[D^2]" or "E[D^3]" or "E[D^4]"),

        new("fig3_initialization", "Initialization schemes: decay, flat, growth",
            "Mean distortion decays exponentially for C_W < 2, stays flat at C_W = 2 (He) and grows exponentially for C_W > 2, as (C_W/2)^((L-1)/2).",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig3", Width = [32], Depth = [.. Depths], Init = ["variance", "lecun", "glorot-normal", "orthogonal"],
                CW = [1.0, 1.5, 2.0, 2.5, 4.0], Geometry = ["segment"], Points = [8], Networks = [Count(scale, 200, 2000)], Seed = 3, Moments = 2,
            },
            DrawInitialization, row => row.Statistic == "mean" && row.Init != "orthogonal"),

        new("fig4_volume_vs_depth", "k-volume distortion vs depth (width 32)",
            "The mean k-dimensional volume distortion obeys the same law: no growth with depth under He initialization, for k = 1, 2, 3.",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig4", Width = [32], Depth = [.. Depths], COut = [1.0], Geometry = ["patch"], K = [1, 2, 3],
                Points = [2], Networks = [Count(scale, 300, 2000)], Seed = 4, Moments = 2,
            },
            DrawVolumeVsDepth, row => row.Statistic == "mean"),

        new("fig5_distribution", "Distribution at depth comparable to width (width 16, depth 16)",
            "At depth comparable to width the distortion is heavy-tailed: its law, exactly known, has a long right tail that makes the sample mean converge slowly.",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig5", Width = [16], Depth = [16], COut = [1.0], Geometry = ["segment"], Points = [1],
                Networks = [Count(scale, 20000, 200000)], Seed = 5, Moments = 4,
            },
            DrawDistribution, row => row.Statistic is "mean" or "E[D^2]"),

        new("fig6_dimensions_and_curves", "Input/output dimensions and curve kinds",
            "E[D^2] = C_out nL/n0 exactly, so the mean follows sqrt(nL/n0) up to the width correction; and the expectation is the same for every curve.",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig6", Width = [32], Depth = [8], N0 = [4, 16, 64], NL = [4, 16, 64], COut = [1.0],
                Geometry = ["segment", "circle", "fourier"], Points = [16], Networks = [Count(scale, 300, 2000)], Seed = 6, Moments = 2,
            },
            DrawDimensionsAndCurves, row => row.Statistic == "mean"),

        new("fig7_linear_regions", "Linear regions crossed per unit length (exact breakpoints)",
            "Along a segment the number of linear regions crossed grows with the number of neurons, not with depth: at a fixed " +
            "total of 256 hidden neurons it stays about constant as depth grows (Hanin & Rolnick 2019). The exact length's mean equals E[D].",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig7",
                Widths = [.. RegionShapes()], COut = [1.0], Geometry = ["segment"], Exact = [true], Points = [1],
                Networks = [Count(scale, 60, 1000)], Seed = 7, Moments = 2,
            },
            DrawRegions, row => row.Statistic == "mean"),

        new("fig8_activations", "Beyond ReLU: piecewise-linear activations vs tanh",
            "At their critical C_W = 2 / (a^2 + b^2) (He), leaky ReLU and abs keep the mean length distortion bounded with depth, " +
            "exactly as their law says, like ReLU. Below the critical C_W every activation shrinks lengths exponentially; above it " +
            "they grow exponentially. For tanh at sigma_w^2 = 4 (the chaotic phase of Poole et al. 2016) lengths grow exponentially: " +
            "the regime behind the belief in exponential growth (Raghu et al. 2017), which the exact law shows does not carry over to " +
            "ReLU-like networks at He initialization. The piecewise-linear runs are tested against their exact law; tanh is shown " +
            "beside its mean-field prediction (an approximation, not tested).",
            scale => new SweepSpec
            {
                SchemaVersion = 1, Name = "fig8", Width = [32], Depth = [.. Depths], Activation = ["relu", "leaky-relu:0.2", "abs", "tanh"],
                Init = ["he", "variance"], CW = [0.5, 4.0], Geometry = ["segment"], Points = [8], Networks = [Count(scale, 200, 2000)],
                Seed = 7, Moments = 2,
            },
            DrawActivations, row => row.Statistic == "mean" && row.Relation == "="),
    ];

    /// <summary>n0 = nL = 16; 256 hidden neurons spread over 1..16 layers, and 32 neurons per layer for 1..16 layers.</summary>
    private static IEnumerable<List<int>> RegionShapes()
    {
        foreach (int layers in new[] { 1, 2, 4, 8, 16 })
        {
            yield return [16, .. Enumerable.Repeat(256 / layers, layers), 16];
            if (256 / layers != 32) yield return [16, .. Enumerable.Repeat(32, layers), 16];
        }
    }

    private static int Count(Scale scale, int quick, int full) => scale switch
    {
        Scale.Quick => quick,
        Scale.Full => full,
        _ => Math.Max(quick / 25, 8),
    };

    private static IEnumerable<ResultRow> Stat(ResultSet set, string statistic) => set.Rows.Where(r => r.Statistic == statistic);

    private static Series Measured(string title, IEnumerable<ResultRow> rows, Func<ResultRow, double> x, int group)
    {
        var list = rows.OrderBy(x).ToList();
        return new Series(title, list.Select(x).ToArray(), list.Select(r => r.Value).ToArray(), SeriesStyle.Points,
            list.Select(r => r.StdErr ?? 0).ToArray(), group);
    }

    /// <summary>The exact E[D^m] at every depth 1..64 for a shape family, drawn dashed.</summary>
    private static Series ExactVsDepth(Func<int, NetworkSpec> network, int k, double m, int group, string? title = null)
    {
        var depths = Enumerable.Range(1, Depths[^1]).ToArray();
        var values = depths.Select(d => { var n = network(d); return ExactTheory.Moment(n.Widths, n.LayerVariances(), k, m); }).ToArray();
        return new Series(title, depths.Select(d => (double)d).ToArray(), values, SeriesStyle.Dashed, Group: group);
    }

    private static NetworkSpec HeShape(int width, int depth, double? cOut = 1.0, InitScheme? init = null) =>
        new(NetworkSpec.Shorthand(width, depth), init ?? InitScheme.He, cOut);

    private static IReadOnlyList<(string, Figure)> DrawMeanVsDepth(ResultSet set, string folder)
    {
        var series = new List<Series>();
        int group = 0;
        foreach (var byWidth in Stat(set, "mean").GroupBy(r => r.Width).OrderBy(g => g.Key))
        {
            int width = byWidth.Key;
            series.Add(Measured($"width {width}", byWidth, r => r.Depth, group));
            series.Add(ExactVsDepth(d => HeShape(width, d), 1, 1, group++));
        }
        series.Add(new Series("bound sqrt(C_out nL/n0)", [1, Depths[^1]], [1, 1], SeriesStyle.Dotted, Group: 7));
        series.Add(new Series("exact E[D] (dashed)", [], [], SeriesStyle.Dashed, Group: 7));
        return [("fig1_mean_vs_depth", new Figure("Mean length distortion vs depth, He initialization", "depth L (weight layers)",
            "mean length distortion", series, LogX: true, Subtitle: "n0 = nL = width, C_W = 2, C_out = 1; error bars: 1 standard error"))];
    }

    private static IReadOnlyList<(string, Figure)> DrawMomentsVsDepth(ResultSet set, string folder)
    {
        var series = new List<Series>();
        for (int m = 1; m <= 4; m++)
        {
            string statistic = m == 1 ? "mean" : $"E[D^{m}]";
            series.Add(Measured(m == 1 ? "E[D]" : statistic, Stat(set, statistic), r => r.Depth, m - 1));
            series.Add(ExactVsDepth(d => HeShape(32, d), 1, m, m - 1));
        }
        series.Add(new Series("exact (dashed)", [], [], SeriesStyle.Dashed, Group: 7));
        var std = Stat(set, "std").OrderBy(r => r.Depth).ToList();
        var spread = new List<Series>
        {
            new("std of D", std.Select(r => (double)r.Depth).ToArray(), std.Select(r => r.Value).ToArray(), SeriesStyle.Points, Group: 1),
            new("exact std", std.Select(r => (double)r.Depth).ToArray(), std.Select(r => r.Theory ?? double.NaN).ToArray(), SeriesStyle.Dashed, Group: 1),
            Measured("mean E[D]", Stat(set, "mean"), r => r.Depth, 0),
            ExactVsDepth(d => HeShape(32, d), 1, 1, 0, "exact mean"),
        };
        return
        [
            ("fig2_moments_vs_depth", new Figure("Moments E[D^m] of the pointwise distortion vs depth", "depth L", "E[D^m]", series,
                LogX: true, LogY: true, Subtitle: "width 32, He, C_out = 1; the m = 2 moment is exactly 1 at every depth")),
            ("fig2b_spread_vs_depth", new Figure("The spread grows with depth; the mean does not grow (it shrinks)", "depth L", "distortion", spread,
                LogX: true, Subtitle: "width 32, He, C_out = 1; pointwise distortion D = ||J u||")),
        ];
    }

    private static string InitLabel(ResultRow r) => r.Init switch
    {
        "variance" => $"C_W = {r.CW.ToString("G3", CultureInfo.InvariantCulture)}",
        "orthogonal" => $"orthogonal (C_W = {r.CW.ToString("G3", CultureInfo.InvariantCulture)})",
        var name => name,
    };

    /// <summary>The network of a result row at another depth: its width, init (C_W where the scheme takes one) and activation.</summary>
    private static NetworkSpec Shape(ResultRow r, int depth) =>
        new(NetworkSpec.Shorthand(r.Width, depth), InitScheme.Parse(r.Init, InitScheme.TakesWeightVariance(r.Init) ? r.CW : null),
            Nonlinearity: Activation.Parse(r.Activation));

    /// <summary>
    /// The law's mean vs depth for each group: exact for the piecewise-linear family (dashed), the mean-field
    /// sqrt(E[D^2]) for smooth activations (dotted; an approximate upper bound on the mean).
    /// </summary>
    private static Series LawVsDepth(ResultRow sample, int group)
    {
        var depths = Enumerable.Range(1, Depths[^1]).ToArray();
        bool exact = Activation.Parse(sample.Activation).IsPiecewiseLinear;
        var values = depths.Select(d =>
        {
            var law = Measurement.TheoryLaw.For(Shape(sample, d), 1);
            return Math.Exp(exact ? law.LogMoment(1) : 0.5 * law.LogMoment(2));
        }).ToArray();
        return new Series(null, depths.Select(d => (double)d).ToArray(), values, exact ? SeriesStyle.Dashed : SeriesStyle.Dotted, Group: group);
    }

    private static IReadOnlyList<(string, Figure)> DrawActivations(ResultSet set, string folder)
    {
        string Label(ResultRow r) => r.Init == "he" ? $"{r.Activation} (He, C_W = {r.CW.ToString("G3", CultureInfo.InvariantCulture)})"
            : $"{r.Activation}, C_W = {r.CW.ToString("G3", CultureInfo.InvariantCulture)}";
        (string, Figure) Panel(string file, string title, string subtitle, Func<ResultRow, bool> keep)
        {
            var series = new List<Series>();
            int group = 0;
            foreach (var byGroup in Stat(set, "mean").Where(keep).GroupBy(Label).OrderBy(g => g.First().CW).ThenBy(g => g.Key))
            {
                series.Add(Measured(byGroup.Key, byGroup, r => r.Depth, group));
                series.Add(LawVsDepth(byGroup.First(), group++));
            }
            series.Add(new Series("exact law (dashed)", [], [], SeriesStyle.Dashed, Group: 15));
            series.Add(new Series("tanh mean field (dotted)", [], [], SeriesStyle.Dotted, Group: 15));
            return (file, new Figure(title, "depth L", "mean length distortion (log scale)", series, LogX: true, LogY: true, Subtitle: subtitle));
        }
        return
        [
            Panel("fig8_activations_critical", "Mean length distortion at the critical C_W of each activation",
                "width 32, C_out = C_W, zero biases; tanh's critical C_W is 1 (mean field, C_b = 0)", r => r.Init == "he"),
            Panel("fig8b_activations_off_critical", "Below (C_W = 0.5) and above (C_W = 4) the critical variance",
                "width 32: exponential decay below, exponential growth above, for every activation; tanh at C_W = 4 is chaotic", r => r.Init != "he"),
        ];
    }

    private static IReadOnlyList<(string, Figure)> DrawInitialization(ResultSet set, string folder)
    {
        var series = new List<Series>();
        int group = 0;
        // Orthogonal runs exist at every C_W of the sweep; the figure shows the He one beside the Gaussian schemes.
        foreach (var byInit in Stat(set, "mean").Where(r => r.Init != "orthogonal" || r.CW == ExactTheory.HeVariance).GroupBy(InitLabel).OrderBy(g => g.First().Init != "variance").ThenBy(g => g.First().CW))
        {
            var sample = byInit.First();
            series.Add(Measured(byInit.Key, byInit, r => r.Depth, group));
            series.Add(ExactVsDepth(d => Shape(sample, d), 1, 1, group++));
        }
        series.Add(new Series("exact (dashed)", [], [], SeriesStyle.Dashed, Group: 9));
        var deepest = Stat(set, "mean").Where(r => r.Init == "variance" && r.Depth == Depths[^1]).OrderBy(r => r.CW).ToList();
        var grid = Enumerable.Range(0, 61).Select(i => 0.8 + i * 0.06).ToArray();
        var versusCw = new List<Series>
        {
            Measured($"measured, depth {Depths[^1]}", deepest, r => r.CW, 0),
            new("exact", grid, grid.Select(c => ExactTheory.Moment(NetworkSpec.Shorthand(32, Depths[^1]),
                new NetworkSpec(NetworkSpec.Shorthand(32, Depths[^1]), InitScheme.WithVariance(c)).LayerVariances(), 1, 1)).ToArray(), SeriesStyle.Dashed, Group: 0),
        };
        return
        [
            ("fig3_initialization", new Figure("Mean length distortion vs depth by initialization", "depth L", "mean length distortion (log scale)",
                series, LogX: true, LogY: true, Subtitle: "width 32, C_out = C_W; lecun and glorot-normal equal C_W = 1 on square layers; orthogonal is not Gaussian (its dashed curve is He's)")),
            ("fig3b_he_threshold", new Figure($"Mean distortion at depth {Depths[^1]} vs weight variance", "C_W (Var W = C_W / fan_in)",
                "mean length distortion (log scale)", versusCw, LogY: true, Markers: [new Marker(ExactTheory.HeVariance, " He threshold C_W = 2")],
                Subtitle: "width 32: exponential decay below C_W = 2, exponential growth above")),
        ];
    }

    private static IReadOnlyList<(string, Figure)> DrawVolumeVsDepth(ResultSet set, string folder)
    {
        var series = new List<Series>();
        foreach (var byK in Stat(set, "mean").GroupBy(r => r.K).OrderBy(g => g.Key))
        {
            series.Add(Measured($"k = {byK.Key}", byK, r => r.Depth, byK.Key - 1));
            series.Add(ExactVsDepth(d => HeShape(32, d), byK.Key, 1, byK.Key - 1));
        }
        series.Add(new Series("exact (dashed)", [], [], SeriesStyle.Dashed, Group: 7));
        return [("fig4_volume_vs_depth", new Figure("Mean k-volume distortion vs depth, He initialization", "depth L",
            "mean k-volume distortion", series, LogX: true, Subtitle: "width 32, C_out = 1, patches of side 1 with 2^k nodes"))];
    }

    private static IReadOnlyList<(string, Figure)> DrawDistribution(ResultSet set, string folder)
    {
        var logs = SweepRunner.LoadRuns(folder).FirstOrDefault()?.LogDistortions ?? [];
        var spec = HeShape(16, 16);
        var exact = ExactTheory.SampleLog(spec.Widths, spec.LayerVariances(), 1, 400_000, seed: 5);
        const double low = -4, high = 2;
        const int bins = 60;
        (double[] X, double[] Y) Histogram(double[] values)
        {
            var counts = new double[bins];
            foreach (var v in values)
            {
                double x = v / Math.Log(10);
                int b = (int)Math.Floor((x - low) / (high - low) * bins);
                if (b >= 0 && b < bins) counts[b]++;
            }
            double width = (high - low) / bins;
            var xs = new List<double>();
            var ys = new List<double>();
            for (int b = 0; b < bins; b++)
            {
                xs.Add(low + b * width); ys.Add(counts[b] / values.Length / width);
                xs.Add(low + (b + 1) * width); ys.Add(counts[b] / values.Length / width);
            }
            return (xs.ToArray(), ys.ToArray());
        }
        var measured = Histogram(logs);
        var law = Histogram(exact);
        double mean = Stat(set, "mean").First().Value, median = Stat(set, "median").First().Value;
        return [("fig5_distribution", new Figure("Distribution of the distortion, width 16, depth 16", "log10 D", "density of log10 D (log scale)",
            [
                new Series($"measured ({logs.Length} networks)", measured.X, measured.Y, SeriesStyle.Line, Group: 0),
                new Series("exact law (sampled)", law.X, law.Y, SeriesStyle.Dashed, Group: 1),
            ],
            LogY: true,
            Markers: [new Marker(Math.Log10(median), "median"), new Marker(Math.Log10(mean), "mean", 0.9)],
            Subtitle: "pointwise D = ||J u||, He, C_out = 1; the long right tail pulls the mean above the median"))];
    }

    private static IReadOnlyList<(string, Figure)> DrawRegions(ResultSet set, string folder)
    {
        var regions = Stat(set, "regions_per_length").ToList();
        int Neurons(ResultRow r) => r.Widths.Split(';').Select(int.Parse).Skip(1).SkipLast(1).Sum();
        var fixedTotal = regions.Where(r => Neurons(r) == 256).ToList();
        var perLayer = regions.Where(r => r.Width == 32).ToList();
        // One constant per neuron, fitted on all runs (regions per unit length = c x hidden neurons).
        double c = regions.Sum(r => r.Value) / regions.Sum(r => (double)Neurons(r));
        var layers = Enumerable.Range(1, 16).Select(l => (double)l).ToArray();
        var series = new List<Series>
        {
            Measured("256 hidden neurons in total", fixedTotal, r => r.Depth - 1, 0),
            new("c x 256", [1, 16], [c * 256, c * 256], SeriesStyle.Dotted, Group: 0),
            Measured("32 neurons per hidden layer", perLayer, r => r.Depth - 1, 1),
            new("c x 32 x layers", layers, layers.Select(l => c * 32 * l).ToArray(), SeriesStyle.Dotted, Group: 1),
        };
        return [("fig7_linear_regions", new Figure("Linear regions crossed per unit input length", "hidden layers",
            "regions per unit length", series, LogX: true, LogY: true,
            Subtitle: $"exact breakpoints along unit segments, He, n0 = nL = 16; dotted: c x hidden neurons with one fitted c = {c:F3}"))];
    }

    private static IReadOnlyList<(string, Figure)> DrawDimensionsAndCurves(ResultSet set, string folder)
    {
        var means = Stat(set, "mean").ToList();
        var segment = means.Where(r => r.Geometry == "segment").OrderBy(r => (double)r.NL / r.N0).ToList();
        var ratios = segment.Select(r => (double)r.NL / r.N0).Distinct().Order().ToArray();
        var dims = new List<Series>
        {
            new("measured (segment)", segment.Select(r => (double)r.NL / r.N0).ToArray(), segment.Select(r => r.Value).ToArray(),
                SeriesStyle.Points, segment.Select(r => r.StdErr ?? 0).ToArray(), 0),
            new("exact E[D] for each (n0, nL)", segment.Select(r => (double)r.NL / r.N0).ToArray(), segment.Select(r => r.Theory ?? double.NaN).ToArray(), SeriesStyle.Marks, Group: 1),
            new("sqrt(C_out nL/n0)", ratios, ratios.Select(Math.Sqrt).ToArray(), SeriesStyle.Dotted, Group: 2),
        };
        var kinds = new[] { "segment", "circle", "fourier" };
        var square = means.Where(r => r.N0 == 16 && r.NL == 16).ToList();
        var curves = new List<Series>();
        for (int i = 0; i < kinds.Length; i++)
        {
            int position = i + 1;
            curves.Add(Measured(kinds[i], square.Where(r => r.Geometry == kinds[i]), _ => position, i));
        }
        double exactMean = square.First().Theory ?? double.NaN;
        curves.Add(new Series("exact E[D], any curve", [0.5, kinds.Length + 0.5], [exactMean, exactMean], SeriesStyle.Dashed, Group: 7));
        return
        [
            ("fig6_dimensions", new Figure("Mean distortion vs output/input dimension ratio", "nL / n0", "mean length distortion", dims,
                LogX: true, LogY: true, Subtitle: "width 32, depth 8, He hidden layers, C_out = 1; n0, nL in {4, 16, 64}")),
            ("fig6b_curve_kinds", new Figure("The expectation is the same for every curve", "curve kind",
                "mean length distortion", curves, Subtitle: "width 32, depth 8, n0 = nL = 16, He, C_out = 1; error bars: 1 standard error",
                XTickLabels: kinds)),
        ];
    }
}
