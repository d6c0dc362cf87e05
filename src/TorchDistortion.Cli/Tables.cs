using System.Globalization;
using Spectre.Console;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>
/// The tables of `measure`, for people. JSON and CSV are the library's (<see cref="MeasureResult.ToJson"/>,
/// <see cref="CheckpointMeasurement.ToJson"/>, <see cref="ModelMeasurement.ToJson"/> and their ToCsv).
/// </summary>
internal static class Tables
{
    /// <summary>Random networks: the statistics beside the exact theory, the spread, the theory's notes.</summary>
    internal static string Measure(MeasureResult m, RuntimeInfo info, bool toConsole)
    {
        var writer = new StringWriter();
        var console = toConsole ? AnsiConsole.Console : PlainConsole(writer, 120);
        if (toConsole && Console.IsOutputRedirected) console.Profile.Width = 120; // no terminal to fit
        var s = m.Settings;
        console.MarkupLine($"[bold]{s.Geometry.Quantity}[/] of {s.Networks} random networks");
        console.WriteLine($"network: {s.Network}");
        console.WriteLine($"geometry: {s.Geometry}");
        console.WriteLine($"run: {DTypes.Name(s.DType)} on {m.DeviceUsed}, {info.Threads} thread(s), seed {s.Seed}, {m.Elapsed.TotalSeconds:F2} s");

        var table = new Table().Title("measured vs exact theory")
            .AddColumns("statistic", "measured", "± s.e.", "", "exact", "ratio", "± s.e.", "z", "exact s.e.", "z (exact s.e.)");
        foreach (var r in m.Theory.Rows)
            table.AddRow(Markup.Escape(r.Statistic), FromLog(r.LogMeasured), FromLog(r.LogStdErr), Markup.Escape(r.Relation), FromLog(r.LogTheory),
                Fixed(r.Ratio, "F4"), Fixed(r.RatioStdErr, "F4"), r.Relation == "=" ? Fixed(r.Z, "F2") : "bound",
                FromLog(r.LogExactStdErr), r.Relation == "=" ? Fixed(r.ZExact, "F2") : "bound");
        console.Write(table);

        var spread = new Table().Title("spread over networks").AddColumns("std", "median", "quantiles", "mean log D", "zeros");
        spread.AddRow(FromLog(m.Summary.LogStd), FromLog(m.Summary.LogMedian),
            string.Join("  ", m.Summary.Quantiles.Select(q => $"{q.Label()}={FromLog(q.LogValue)}")),
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
        foreach (var note in m.Notes()) console.WriteLine($"note: {note}");
        return writer.ToString();
    }

    /// <summary>A saved network or run folder: one line per checkpoint.</summary>
    internal static string Checkpoint(CheckpointMeasurement m)
    {
        var writer = new StringWriter();
        var console = PlainConsole(writer, 140);
        console.WriteLine($"{m.Quantity} of {m.Geometries} random {m.Geometry} on {(m.IsRun ? "each checkpoint of a run" : "one saved network")}");
        console.WriteLine($"network: {(m.EstimatedCW is null ? m.Spec.ToString() : $"[{string.Join(",", m.Spec.Widths)}] (foreign state_dict: init unknown)")}");
        var table = new Table().AddColumns("checkpoint", "epoch", "mean", "± s.e.", "std", "median", "q5 .. q95");
        if (m.Rows.Any(r => r.Regions is not null)) table.AddColumn("regions per unit length");
        foreach (var r in m.Rows)
        {
            var cells = new List<string>
            {
                Markup.Escape(r.Checkpoint), r.Epoch?.ToString("0.##", CultureInfo.InvariantCulture) ?? "-", G(r.Distortion.Mean), G(r.Distortion.StdErr),
                G(r.Distortion.Std), G(r.Distortion.Median),
                $"{G(r.Distortion.Quantiles.First().Value)} .. {G(r.Distortion.Quantiles.Last().Value)}",
            };
            if (r.Regions is { } regions) cells.Add($"{G(regions.Mean)} ± {G(regions.StdErr)}");
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
        console.WriteLine($"theory: {m.TheoryNote}");
        return writer.ToString();
    }

    /// <summary>A TorchScript model: its distortion's summary; no law stands beside it.</summary>
    internal static string Model(ModelMeasurement m)
    {
        var writer = new StringWriter();
        var console = PlainConsole(writer, 120);
        var summary = m.Distortion;
        console.WriteLine($"{m.Geometry.Quantity} of {m.Geometries} random {m.Geometry} through {Path.GetFileName(m.Path)} (TorchScript, {m.DType.ToString().ToLowerInvariant()}, double-VJP)");
        console.WriteLine($"input dimension: {m.InputDim}{(m.InputDimInferred ? " (inferred by probing the model)" : "")}; seed {m.Seed}");
        var table = new Table().AddColumns("mean", "± s.e.", "std", "median", "quantiles", "mean log");
        table.AddRow(G(summary.Mean), G(summary.StdErr), G(summary.Std), G(summary.Median),
            string.Join("  ", summary.Quantiles.Select(q => $"{q.Label()}={G(q.Value)}")), G(summary.MeanLog));
        console.Write(table);
        console.WriteLine($"theory: {ModelMeasurement.NoLaw}");
        return writer.ToString();
    }

    /// <summary>A console that renders tables as plain text (no colour, no escape codes) into <paramref name="writer"/>.</summary>
    internal static IAnsiConsole PlainConsole(TextWriter writer, int width)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = width;
        return console;
    }

    /// <summary>A table cell with 6 significant digits; "-" for an undefined value (the notes below the table say why).</summary>
    private static string G(double v) => Fixed(v, "G6");
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
