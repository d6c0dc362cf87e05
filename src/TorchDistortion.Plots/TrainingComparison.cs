using System.Globalization;
using System.Text;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using TorchDistortion.Output;

namespace TorchDistortion.Plots;

/// <summary>
/// One training run as the comparison figure reads it.
/// </summary>
/// <param name="Settings">Every setting but the seed, in a stable order, as they should read in a legend; a setting that
/// does not apply (e.g. C_W of He) is left out.</param>
/// <param name="Seed">The seed of the run's initial weights and batch order.</param>
/// <param name="History">One value per evaluation for each column (named as in history.csv, with "step" and "epoch";
/// "train_metric" and "test_metric" for the task's metric); null where it was not measured.</param>
/// <param name="TheoryLength">Exact E[length distortion] at initialization, where the law applies.</param>
/// <param name="TheoryVolume">Exact E[2-volume distortion] at initialization, where the law applies.</param>
/// <param name="Stopped">The run stopped early (diverged).</param>
public sealed record TrainingRun(
    IReadOnlyList<(string Name, string Value)> Settings,
    long Seed,
    IReadOnlyDictionary<string, double?[]> History,
    string LossName = "loss",
    string MetricName = "metric",
    double? TheoryLength = null,
    double? TheoryVolume = null,
    bool Stopped = false);

/// <summary>
/// The runs that share every setting but the seed. <see cref="Name"/> names all the settings that vary between groups;
/// <see cref="Legend"/> those that are not the panel's <see cref="Facet"/>; groups of one legend entry share a colour.
/// </summary>
public sealed record TrainingGroup(string Name, string Legend, string Facet, int Colour, IReadOnlyList<TrainingRun> Runs);

/// <summary>Mean and sample sd across the seeds of a group, at every step that all its runs reached.</summary>
public sealed record AcrossSeeds(long[] Step, double[] Epoch, double[] Mean, double[] Sd, int[] Count);

/// <summary>
/// A line of summary.csv: a group (named by the settings that vary between groups), a history column (<paramref name="Quantity"/>)
/// at one step, and its mean and sample sd over the <paramref name="Seeds"/> runs with a finite value there.
/// </summary>
public sealed record SummaryRow(string Group, int Seeds, long Step, double Epoch, string Quantity, double Mean, double Sd)
{
    /// <summary>The columns of summary.csv, declared once (by the record); the CSV writer puts schema_version first.</summary>
    public static readonly IReadOnlyList<Column<SummaryRow>> Columns = Column<SummaryRow>.Of();

    /// <summary>The header of summary.csv before schema_version 1 (`plot` still replaces such a file).</summary>
    internal const string UnversionedHeader = "group,seeds,step,epoch,quantity,mean,sd";

    /// <summary>Whether a line is the header of summary.csv, of this format or the unversioned one.</summary>
    public static bool IsHeader(string line) =>
        line == Csv.Header(Columns) || line == UnversionedHeader;
}

/// <summary>
/// The comparison figure of training runs: runs grouped by every setting but the seed, each group drawn as its mean with
/// a band of ± 1 sd across seeds, for loss, metric, length, 2-volume and data-segment distortion and linear regions
/// against epoch, with the exact E[D] at initialization marked. Varying settings name the legend entries, fixed ones the
/// title; more than <see cref="MaxGroupsPerPanel"/> groups are split into small multiples.
/// </summary>
public static class TrainingComparison
{
    /// <summary>Groups in one panel beyond which the panels are split by a setting into small multiples.</summary>
    public const int MaxGroupsPerPanel = 6;

    private const int PanelWidth = 640, PanelHeight = 420, HeaderHeight = 96;

    private sealed record Line(string Column, SeriesStyle Style);

    private sealed record Quantity(string Title, string YLabel, bool LogY, Line[] Lines, Func<TrainingRun, double?>? Theory = null);

    /// <summary>Groups runs by every setting but the seed, in a stable order (settings compared as numbers where they are).</summary>
    public static IReadOnlyList<TrainingGroup> Group(IReadOnlyList<TrainingRun> runs, int maxGroupsPerPanel = MaxGroupsPerPanel)
    {
        if (runs.Count == 0) return [];
        // Every setting name once, each after the one it follows in the runs that have it (C_W after init, though He has none).
        var names = new List<string>();
        foreach (var run in runs)
            for (int i = 0; i < run.Settings.Count; i++)
                if (!names.Contains(run.Settings[i].Name))
                    names.Insert(i == 0 ? 0 : names.IndexOf(run.Settings[i - 1].Name) + 1, run.Settings[i].Name);
        string Value(TrainingRun run, string name) => run.Settings.FirstOrDefault(s => s.Name == name).Value ?? "";
        var byKey = runs.GroupBy(r => string.Join("\n", names.Select(n => Value(r, n)))).Select(g => g.OrderBy(r => r.Seed).ToList()).ToList();
        var varying = names.Where(n => byKey.Select(g => Value(g[0], n)).Distinct().Count() > 1).ToList();

        // Small multiples: facet by the varying settings with the fewest values (the first declared on a tie) until a
        // panel holds at most maxGroupsPerPanel groups; one varying setting always stays in the legend.
        var facets = new List<string>();
        int PerPanel() => byKey.GroupBy(g => Key(g[0], facets)).Max(f => f.Count());
        foreach (var name in varying.OrderBy(n => byKey.Select(g => Value(g[0], n)).Distinct().Count()).ThenBy(varying.IndexOf))
        {
            if (PerPanel() <= maxGroupsPerPanel || facets.Count == varying.Count - 1) break;
            facets.Add(name);
        }
        var legend = varying.Where(n => !facets.Contains(n)).ToList();
        string Key(TrainingRun run, List<string> keys) =>
            string.Join(", ", keys.Where(k => Value(run, k).Length > 0).Select(k => $"{k}={Value(run, k)}"));

        var ordered = byKey.OrderBy(g => g[0], By(facets)).ThenBy(g => g[0], By(legend)).ToList();
        var colours = ordered.Select(g => Key(g[0], legend)).Distinct().ToList();
        // Still crowded (one setting of many values): the panel's groups in parts of at most maxGroupsPerPanel, in order.
        var parts = ordered.GroupBy(g => Key(g[0], facets)).ToDictionary(f => f.Key, f => f.ToList());
        string Facet(List<TrainingRun> g)
        {
            var panel = parts[Key(g[0], facets)];
            int count = (panel.Count + maxGroupsPerPanel - 1) / maxGroupsPerPanel;
            string part = count > 1 ? $"part {panel.IndexOf(g) / maxGroupsPerPanel + 1} of {count}" : "";
            return string.Join(", ", new[] { Key(g[0], facets), part }.Where(p => p.Length > 0));
        }
        return ordered.Select(g => new TrainingGroup(Key(g[0], varying) is { Length: > 0 } name ? name : "all runs",
            Key(g[0], legend) is { Length: > 0 } label ? label : "all runs", Facet(g), colours.IndexOf(Key(g[0], legend)), g)).ToList();

        // Setting by setting; numbers compare as numbers (width 32 before 128), other values as text.
        IComparer<TrainingRun> By(List<string> keys) => Comparer<TrainingRun>.Create((a, b) =>
        {
            foreach (var key in keys)
            {
                string x = Value(a, key), y = Value(b, key);
                int order = double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out double dx)
                    && double.TryParse(y, NumberStyles.Float, CultureInfo.InvariantCulture, out double dy) ? dx.CompareTo(dy) : string.CompareOrdinal(x, y);
                if (order != 0) return order;
            }
            return 0;
        });
    }

    /// <summary>Mean and sample sd (n - 1) across the runs, over the finite values at every step all runs reached.</summary>
    public static AcrossSeeds Across(IReadOnlyList<TrainingRun> runs, string column)
    {
        var steps = runs.Select(r => r.History["step"].Select(s => (long)s!.Value).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; }).Order().ToList();
        var (step, epoch, mean, sd, count) = (new List<long>(), new List<double>(), new List<double>(), new List<double>(), new List<int>());
        foreach (long s in steps)
        {
            var values = new List<double>();
            double at = 0;
            foreach (var run in runs)
            {
                int i = Array.FindIndex(run.History["step"], v => (long)v!.Value == s);
                at = run.History["epoch"][i]!.Value;
                if (run.History.TryGetValue(column, out var values_) && values_[i] is double v && double.IsFinite(v)) values.Add(v);
            }
            if (values.Count == 0) continue;
            double m = values.Average();
            step.Add(s); epoch.Add(at); mean.Add(m); count.Add(values.Count);
            sd.Add(values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - m) * (v - m)) / (values.Count - 1)) : 0);
        }
        return new AcrossSeeds([.. step], [.. epoch], [.. mean], [.. sd], [.. count]);
    }

    /// <summary>The figure's data as CSV (summary.csv): per group, column and step, the mean and sd across seeds.</summary>
    public static string SummaryCsv(IReadOnlyList<TrainingGroup> groups) => Csv.Write(SummaryRow.Columns, SummaryRows(groups));

    /// <summary>The rows of summary.csv, group by group, each history column (but step and epoch) step by step.</summary>
    public static IEnumerable<SummaryRow> SummaryRows(IReadOnlyList<TrainingGroup> groups)
    {
        foreach (var group in groups)
            foreach (var column in group.Runs.SelectMany(r => r.History.Keys).Distinct().Where(c => c is not ("step" or "epoch")))
            {
                var across = Across(group.Runs, column);
                for (int i = 0; i < across.Step.Length; i++)
                    yield return new SummaryRow(group.Name, across.Count[i], across.Step[i], across.Epoch[i], column, across.Mean[i], across.Sd[i]);
            }
    }

    /// <summary>Writes <paramref name="basePath"/>.png and .svg.</summary>
    public static void Save(IReadOnlyList<TrainingGroup> groups, string basePath)
    {
        var (cells, width, height) = Layout(groups);
        FigureExporter.SaveComposite(cells, width, height, basePath);
    }

    /// <summary>The panels of every quantity that some run measured, per facet.</summary>
    internal static IReadOnlyList<Figure> Panels(IReadOnlyList<TrainingGroup> groups, string facet)
    {
        var runs = groups.SelectMany(g => g.Runs).ToList();
        bool Has(string column) => runs.Any(r => r.History.TryGetValue(column, out var v) && v.Any(x => x is double d && double.IsFinite(d)));
        string Common(Func<TrainingRun, string> name) => string.Join(" / ", runs.Select(name).Distinct());
        string metric = Common(r => r.MetricName);
        bool byClass = Has("data_same_length_distortion");
        var quantities = new List<Quantity>
        {
            new("Loss", $"{Common(r => r.LossName)} (train solid, test dashed)", true, [new("train_loss", SeriesStyle.Line), new("test_loss", SeriesStyle.Dashed)]),
            new(metric.Length > 0 ? char.ToUpperInvariant(metric[0]) + metric[1..] : "Metric", $"{metric} (train solid, test dashed)", false,
                [new("train_metric", SeriesStyle.Line), new("test_metric", SeriesStyle.Dashed)]),
            new("Length distortion", "mean over probe segments", true, [new("length_distortion", SeriesStyle.Line)], r => r.TheoryLength),
            new("2-volume distortion", "mean over probe patches", true, [new("volume_distortion", SeriesStyle.Line)], r => r.TheoryVolume),
            byClass
                ? new("Data-segment length distortion", "test pairs: same class solid, different dashed", true,
                    [new("data_same_length_distortion", SeriesStyle.Line), new("data_different_length_distortion", SeriesStyle.Dashed)], r => r.TheoryLength)
                : new("Data-segment length distortion", "between two training inputs", true, [new("data_length_distortion", SeriesStyle.Line)], r => r.TheoryLength),
            new("Linear regions", "pieces per unit length on probe segments", false, [new("regions_per_length", SeriesStyle.Line)]),
        };
        var panels = new List<Figure>();
        foreach (var q in quantities.Where(q => q.Lines.Any(l => Has(l.Column))))
        {
            var series = new List<Series>();
            foreach (var group in groups.Where(g => g.Facet == facet))
            {
                foreach (var line in q.Lines)
                {
                    var across = Across(group.Runs, line.Column);
                    if (across.Step.Length == 0) continue;
                    if (group.Runs.Count > 1) series.Add(new Series(null, across.Epoch, across.Mean, SeriesStyle.Band, across.Sd, group.Colour));
                    series.Add(new Series(null, across.Epoch, across.Mean, line.Style, Group: group.Colour, Marked: line.Style == SeriesStyle.Line));
                }
                if (q.Theory?.Invoke(group.Runs[0]) is double t) series.Add(new Series(null, [0.0], [t], SeriesStyle.Marks, Group: group.Colour));
            }
            bool positive = series.All(s => s.Y.All(y => y > 0));
            panels.Add(new Figure(facet.Length > 0 ? $"{q.Title}, {facet}" : q.Title, "epoch", q.YLabel, series, LogY: q.LogY && positive));
        }
        return panels;
    }

    /// <summary>
    /// Header (title: what is compared, and every fixed setting), panels (a row of quantities, or with facets a column per
    /// facet) and one legend for all panels on the right.
    /// </summary>
    internal static (List<FigureExporter.Cell> Cells, int Width, int Height) Layout(IReadOnlyList<TrainingGroup> groups)
    {
        if (groups.Count == 0) throw new ArgumentException("no training runs to draw");
        var facets = groups.Select(g => g.Facet).Distinct().ToList();
        var panels = facets.Select(f => Panels(groups, f)).ToList();
        int quantities = panels.Max(p => p.Count);
        // Without facets, three panels a row; with facets, a row per quantity and a column per facet.
        int columns = facets.Count > 1 ? facets.Count : Math.Min(3, quantities);
        int rows = facets.Count > 1 ? quantities : (quantities + columns - 1) / columns;
        // The legend column as wide as its longest entry needs (about 7.6 px a character at 13 pt, and the line sample).
        int legendWidth = Math.Clamp(groups.Max(g => g.Legend.Length) * 8 + 130, 320, 560);
        int width = columns * PanelWidth + legendWidth, height = HeaderHeight + rows * PanelHeight;
        var cells = new List<FigureExporter.Cell> { new(Header(groups, width), 0, 0, width, HeaderHeight) };
        for (int f = 0; f < facets.Count; f++)
            for (int i = 0; i < panels[f].Count; i++)
            {
                var model = FigureExporter.Build(panels[f][i], PanelWidth);
                model.IsLegendVisible = false;
                // A little room left of epoch 0, so the exact value at initialization is not hidden by the axis.
                model.Axes.First(a => a.Position == AxisPosition.Bottom).MinimumPadding = 0.025;
                var (column, row) = facets.Count > 1 ? (f, i) : (i % columns, i / columns);
                cells.Add(new(model, column * PanelWidth, HeaderHeight + row * PanelHeight, PanelWidth, PanelHeight));
            }
        cells.Add(new(Legend(groups, legendWidth), columns * PanelWidth, HeaderHeight, legendWidth, rows * PanelHeight));
        return (cells, width, height);
    }

    /// <summary>One entry per colour: the line and marker of the group's runs, and how many seeds it holds.</summary>
    internal static PlotModel Legend(IReadOnlyList<TrainingGroup> groups, int width)
    {
        var series = new List<Series>();
        foreach (var entry in groups.GroupBy(g => g.Colour))
        {
            var seeds = entry.Select(g => g.Runs.Count).Distinct().ToList();
            int stopped = entry.Sum(g => g.Runs.Count(r => r.Stopped));
            string count = seeds.Count == 1 ? $"{seeds[0]} seed{(seeds[0] == 1 ? "" : "s")}" : $"{seeds.Min()}-{seeds.Max()} seeds";
            series.Add(new Series($"{entry.First().Legend} ({count}{(stopped > 0 ? $", {stopped} stopped" : "")})", [], [], SeriesStyle.Line,
                Group: entry.Key, Marked: true));
        }
        series.Add(new Series("exact E[D] at initialization", [], [], SeriesStyle.Marks, Group: FigureExporter.NeutralGroup));
        var model = FigureExporter.Build(new Figure("", "", "", series), width);
        foreach (var axis in model.Axes) axis.IsAxisVisible = false;
        model.PlotAreaBorderThickness = new OxyThickness(0);
        model.PlotMargins = new OxyThickness(0);
        var legend = (Legend)model.Legends[0];
        legend.LegendPlacement = LegendPlacement.Inside;
        legend.LegendPosition = LegendPosition.TopLeft;
        legend.LegendOrientation = LegendOrientation.Vertical;
        legend.LegendMaxWidth = width - 20;
        legend.LegendFontSize = 13;
        legend.LegendBorder = OxyColors.Transparent;
        return model;
    }

    /// <summary>Title: the number of groups and seeds; subtitle: the fixed settings (wrapped) and how to read the lines.</summary>
    private static PlotModel Header(IReadOnlyList<TrainingGroup> groups, int width)
    {
        var runs = groups.SelectMany(g => g.Runs).ToList();
        var fixedSettings = runs[0].Settings.Where(s => runs.All(r => r.Settings.Contains(s))).Select(s => $"{s.Name}={s.Value}").ToList();
        var lines = new List<string>();
        var line = new StringBuilder("fixed: ");
        int perLine = width / 8; // characters of about 7.5 px at 13 pt
        foreach (var setting in fixedSettings)
        {
            if (line.Length + setting.Length + 2 > perLine) { lines.Add(line.ToString().TrimEnd()); line.Clear().Append("   "); }
            line.Append(setting).Append(", ");
        }
        lines.Add(line.ToString().TrimEnd(' ', ','));
        lines.Add("lines: mean over seeds; bands: ± 1 sd across seeds; solid: train (or same-class pairs), dashed: test (or different-class pairs)");
        int seeds = runs.Select(r => r.Seed).Distinct().Count();
        string facets = groups.Any(g => g.Facet.Length > 0) ? $"; panels split by {string.Join(", ", groups[0].Facet.Split(", ").Select(f => f.StartsWith("part ") ? "parts" : f.Split('=')[0]))}" : "";
        var model = new PlotModel
        {
            Title = $"Training comparison: {groups.Count} group{(groups.Count == 1 ? "" : "s")} of settings, {runs.Count} run{(runs.Count == 1 ? "" : "s")} ({seeds} seed{(seeds == 1 ? "" : "s")}){facets}",
            Subtitle = string.Join("\n", lines.Take(3)),
            DefaultFont = "DejaVu Sans", TitleFontSize = 17, SubtitleFontSize = 13, Background = OxyColors.White,
            PlotAreaBorderThickness = new OxyThickness(0), IsLegendVisible = false,
        };
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Bottom, IsAxisVisible = false });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, IsAxisVisible = false });
        return model;
    }
}
