using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchDistortion.Output;
using Spectre.Console;
using TorchDistortion.Networks;
using TorchDistortion.Measurement;

namespace TorchDistortion.Cli;

/// <summary>The three output formats of `measure`: a table for people, JSON and CSV for programs.</summary>
internal static class Reports
{
    /// <summary>The document types of `measure` (random networks, a saved network or run folder, a TorchScript model).</summary>
    internal const string MeasureDocument = "measure", CheckpointDocument = "measure_checkpoint", ModelDocument = "measure_model";

    /// <summary>The settings of a measurement, as they appear in its JSON report and in every row of its CSV report.</summary>
    private static object SettingsOf(Measurement.Measurement m)
    {
        var s = m.Settings;
        return new
        {
            Widths = s.Network.Widths,
            Activation = s.Network.Activation.Name,
            Init = s.Network.Init.ToString(),
            CW = m.Theory.CW,
            COut = m.Theory.COut,
            CB = s.Network.BiasVariance,
            Bias = s.Network.Bias,
            LayerVariances = s.Network.LayerVariances(),
            Geometry = s.Geometry.Kind,
            s.Geometry.K,
            s.Geometry.Points,
            Nodes = s.Geometry.NodeCount,
            s.Geometry.Size,
            s.Geometry.Exact,
            s.Networks,
            s.Seed,
            Dtype = s.DType.ToString().ToLowerInvariant(),
            Device = m.DeviceUsed,
            s.Method,
            Moments = s.MaxMoment,
            Quantiles = s.Quantiles ?? Summary.DefaultQuantiles,
        };
    }

    /// <summary>One statistic beside its exact value: a row of the JSON report's theory.rows and of the CSV report.</summary>
    private sealed record StatisticRow(string Statistic, double Value, double? StdErr = null, double? Theory = null, string? Relation = null,
        double? Ratio = null, double? RatioStdErr = null, double? Z = null, double? ExactStdErr = null, double? ZExact = null,
        double? LogValue = null, double? LogStdErr = null, double? LogTheory = null, double? LogExactStdErr = null)
    {
        internal static StatisticRow Of(TheoryRow r) => new(r.Statistic, r.Measured, r.StdErr, r.Theory, r.Relation, r.Ratio, r.RatioStdErr, r.Z,
            r.ExactStdErr, r.ZExact, r.LogMeasured, r.LogStdErr, r.LogTheory, r.LogExactStdErr);
    }

    private static readonly IReadOnlyList<Column<StatisticRow>> StatisticColumns = Column<StatisticRow>.Of();

    internal static string Json(Measurement.Measurement m, RuntimeInfo info)
    {
        var s = m.Settings;
        var document = new
        {
            Settings = SettingsOf(m),
            Environment = info,
            Quantity = s.Geometry.IsCurve ? "length distortion" : $"{s.Geometry.K}-volume distortion",
            m.Summary,
            QuadratureErrorEstimate = m.QuadratureError,
            QuadratureErrorReference = m.QuadratureError is null ? null : s.Geometry.Exact ? "exact length" : "half the nodes",
            RegionsPerUnitLength = m.Regions,
            Theory = new
            {
                m.Theory.Exact,
                m.Theory.Note,
                CW = m.Theory.CW,
                COut = m.Theory.COut,
                HeThreshold = s.Network.Activation is PiecewiseLinearActivation ? s.Network.Activation.CriticalVariance : (double?)null,
                m.Theory.Regime,
                m.Theory.MeanBound,
                m.Theory.LogMeanBound,
                m.Theory.MeanAsymptotic,
                m.Theory.LogMeanAsymptotic,
                Rows = Output.Json.Rows(StatisticColumns, m.Theory.Rows.Select(StatisticRow.Of)),
            },
            Notes = Notes(m),
            ElapsedSeconds = m.Elapsed.TotalSeconds,
        };
        return Output.Json.Document(MeasureDocument, document);
    }

    /// <summary>
    /// Tidy CSV: one row per statistic, the settings (seed included) in every row, the exact theory beside it where there
    /// is one, and the logs of every value that can leave the double range. An undefined or out-of-range value is an empty cell.
    /// </summary>
    internal static string Csv(Measurement.Measurement m)
    {
        var s = m.Settings;
        var rows = m.Theory.Rows.Select(StatisticRow.Of).ToList();
        void Plain(string name, double value, double? log = null) => rows.Add(new StatisticRow(name, value, LogValue: log));
        Plain("std", m.Summary.Std, m.Summary.LogStd);
        Plain("median", m.Summary.Median, m.Summary.LogMedian);
        foreach (var q in m.Summary.Quantiles) Plain($"q{q.Probability.ToString(CultureInfo.InvariantCulture)}", q.Value, q.LogValue);
        Plain("mean_log", m.Summary.MeanLog);
        Plain("std_log", m.Summary.StdLog);
        if (m.QuadratureError is double e) Plain(s.Geometry.Exact ? "quadrature_error_vs_exact" : "quadrature_error", e);
        if (m.Regions is { } regions)
            rows.Add(new StatisticRow("regions_per_length", regions.Mean, regions.StdErr, LogValue: regions.LogMean, LogStdErr: regions.LogStdErr));
        return Output.Csv.Write(Column<StatisticRow>.WithSettings(SettingsOf(m), StatisticColumns), rows);
    }

    /// <summary>
    /// One line per kind of statistic that is undefined or beyond the double range (null in JSON, empty in CSV), saying why.
    /// Empty when every number is an ordinary one.
    /// </summary>
    internal static List<string> Notes(Measurement.Measurement m)
    {
        var outOfRange = new List<string>();
        var undefined = new List<string>();
        void Check(string name, double value, double log)
        {
            if (double.IsFinite(value)) return;
            (double.IsFinite(log) ? outOfRange : undefined).Add(name);
        }
        foreach (var r in m.Theory.Rows)
        {
            Check(r.Statistic, r.Measured, r.LogMeasured);
            Check($"s.e. of {r.Statistic}", r.StdErr, r.LogStdErr);
            // No law for this statistic (the theory line says why): its theory columns are empty, not undefined.
            if (double.IsNaN(r.LogTheory)) continue;
            Check($"exact {r.Statistic}", r.Theory, r.LogTheory);
            if (!double.IsNaN(r.LogExactStdErr)) Check($"exact s.e. of {r.Statistic}", r.ExactStdErr, r.LogExactStdErr);
            Check($"ratio of {r.Statistic}", r.Ratio, r.LogMeasured - r.LogTheory);
            Check($"ratio s.e. of {r.Statistic}", r.RatioStdErr, r.LogStdErr - r.LogTheory);
            Check($"z of {r.Statistic}", r.Z, double.NaN);
            if (!double.IsNaN(r.LogExactStdErr)) Check($"z (exact s.e.) of {r.Statistic}", r.ZExact, double.NaN);
        }
        Check("std", m.Summary.Std, m.Summary.LogStd);
        Check("median", m.Summary.Median, m.Summary.LogMedian);
        foreach (var q in m.Summary.Quantiles) Check($"q{q.Probability.ToString(CultureInfo.InvariantCulture)}", q.Value, q.LogValue);
        Check("mean log D", m.Summary.MeanLog, double.NaN);
        Check("std log D", m.Summary.StdLog, double.NaN);
        var notes = new List<string>();
        int zeros = m.Summary.Zeros, n = m.Summary.Count;
        if (zeros > 0)
            notes.Add((zeros == n ? $"every one of the {n} networks has" : $"{zeros} of {n} networks have") +
                $" distortion exactly 0 (a hidden layer with fewer than k = {m.Settings.Geometry.K} active neurons): log D is -infinity" +
                (zeros == n ? ", standard errors are 0 and z is undefined" : ""));
        else if (n == 1) notes.Add("one network: standard errors and spreads are undefined");
        if (outOfRange.Count > 0) notes.Add($"beyond the double range (null in JSON, empty in CSV; the log fields hold them): {string.Join(", ", outOfRange)}");
        if (undefined.Count > 0) notes.Add($"undefined (null in JSON, empty in CSV): {string.Join(", ", undefined)}");
        return notes;
    }

    internal static string Table(Measurement.Measurement m, RuntimeInfo info, bool toConsole)
    {
        var writer = new StringWriter();
        var console = toConsole ? AnsiConsole.Console : PlainConsole(writer, 120);
        if (toConsole && Console.IsOutputRedirected) console.Profile.Width = 120; // no terminal to fit
        var s = m.Settings;
        string quantity = s.Geometry.IsCurve ? "length distortion" : $"{s.Geometry.K}-volume distortion";
        console.MarkupLine($"[bold]{quantity}[/] of {s.Networks} random networks");
        console.WriteLine($"network: {s.Network}");
        console.WriteLine($"geometry: {s.Geometry}");
        console.WriteLine($"run: {s.DType.ToString().ToLowerInvariant()} on {m.DeviceUsed}, {info.Threads} thread(s), seed {s.Seed}, {m.Elapsed.TotalSeconds:F2} s");

        var table = new Table().Title("measured vs exact theory")
            .AddColumns("statistic", "measured", "± s.e.", "", "exact", "ratio", "± s.e.", "z", "exact s.e.", "z (exact s.e.)");
        foreach (var r in m.Theory.Rows)
            table.AddRow(Markup.Escape(r.Statistic), FromLog(r.LogMeasured), FromLog(r.LogStdErr), Markup.Escape(r.Relation), FromLog(r.LogTheory),
                Fixed(r.Ratio, "F4"), Fixed(r.RatioStdErr, "F4"), r.Relation == "=" ? Fixed(r.Z, "F2") : "bound",
                FromLog(r.LogExactStdErr), r.Relation == "=" ? Fixed(r.ZExact, "F2") : "bound");
        console.Write(table);

        var spread = new Table().Title("spread over networks").AddColumns("std", "median", "quantiles", "mean log D", "zeros");
        spread.AddRow(FromLog(m.Summary.LogStd), FromLog(m.Summary.LogMedian),
            string.Join("  ", m.Summary.Quantiles.Select(q => $"q{q.Probability.ToString(CultureInfo.InvariantCulture)}={FromLog(q.LogValue)}")),
            Fixed(m.Summary.MeanLog, "G6"), m.Summary.Zeros.ToString(CultureInfo.InvariantCulture));
        console.Write(spread);

        console.MarkupLine($"theory: {Markup.Escape(m.Theory.Note)}");
        if (m.Theory.Exact)
            console.WriteLine("exact s.e.: the spread the exact law gives the sample mean; where it exceeds the sample s.e. the tail is heavy and z (exact s.e.) is the fair test.");
        console.MarkupLine($"regime: {Markup.Escape(m.Theory.Regime)}");
        if (!double.IsNaN(m.Theory.LogMeanBound))
            console.WriteLine(s.Geometry.K > 1 ? $"sqrt(E[vol^2]) = {FromLog(m.Theory.LogMeanBound)}"
                : s.Network.Activation is SmoothActivation ? $"mean-field sqrt(E[D^2]) = {FromLog(m.Theory.LogMeanBound)} (an upper bound on the mean by Jensen)"
                : $"mean bound sqrt(E[D^2]) = {FromLog(m.Theory.LogMeanBound)}; large-width approximation {FromLog(m.Theory.LogMeanAsymptotic)}");
        if (m.QuadratureError is double e)
            console.WriteLine(s.Geometry.Exact
                ? $"{s.Geometry.Points}-node quadrature error against the exact length (mean relative): {G(e)}"
                : $"quadrature error estimate (vs half the nodes, mean relative): {G(e)}");
        if (m.Regions is { } regions)
            console.WriteLine($"linear regions crossed per unit input length: {G(regions.Mean)} ± {G(regions.StdErr)} (median {G(regions.Median)})");
        foreach (var note in Notes(m)) console.WriteLine($"note: {note}");
        return writer.ToString();
    }

    /// <summary>A console that renders tables as plain text (no colour, no escape codes) into <paramref name="writer"/>.</summary>
    internal static IAnsiConsole PlainConsole(TextWriter writer, int width)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = width;
        return console;
    }

    private static string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
    /// <summary>A table cell: "-" for an undefined value (the notes below the table say why).</summary>
    private static string Fixed(double v, string format) => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    /// <summary>Formats e^logValue with 6 significant digits, also beyond the double range (e.g. 1.2345E-400).</summary>
    internal static string FromLog(double logValue)
    {
        if (double.IsNegativeInfinity(logValue)) return "0";
        if (!double.IsFinite(logValue)) return "-";
        double value = Math.Exp(logValue);
        if (value > 1e-300 && value < 1e300) return G(value);
        double decimalLog = logValue / Math.Log(10);
        double exponent = Math.Floor(decimalLog);
        double mantissa = Math.Pow(10, decimalLog - exponent);
        return $"{mantissa.ToString("F5", CultureInfo.InvariantCulture)}E{exponent.ToString("+0;-0", CultureInfo.InvariantCulture)}";
    }
}
