using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;
using TorchDistortion.Measurement;

namespace TorchDistortion.Cli;

/// <summary>The three output formats of `measure`: a table for people, JSON and CSV for programs.</summary>
internal static class Reports
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Infinite or undefined statistics (e.g. the mean log of a network with zero distortion) stay visible.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    internal static string Json(Measurement.Measurement m, RuntimeInfo info)
    {
        var s = m.Settings;
        var document = new
        {
            Tool = "torchdistortion",
            Settings = new
            {
                Widths = s.Network.Widths,
                Init = s.Network.Init.ToString(),
                LayerVariances = s.Network.LayerVariances(),
                Bias = s.Network.Bias,
                BiasVariance = s.Network.BiasVariance,
                Geometry = s.Geometry.Kind,
                s.Geometry.K,
                s.Geometry.Points,
                Nodes = s.Geometry.NodeCount,
                s.Geometry.Size,
                s.Networks,
                s.Seed,
                DType = s.DType.ToString().ToLowerInvariant(),
                Device = m.DeviceUsed,
                s.Method,
            },
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
                m.Theory.CW,
                m.Theory.COut,
                HeThreshold = Theory.ExactTheory.HeVariance,
                m.Theory.Regime,
                m.Theory.MeanBound,
                m.Theory.MeanAsymptotic,
                Rows = m.Theory.Rows.Select(r => new { r.Statistic, r.Measured, r.StdErr, r.Theory, r.Relation, r.Ratio, r.RatioStdErr, r.Z, r.ExactStdErr, r.ZExact, r.LogMeasured, r.LogStdErr, r.LogTheory, r.LogExactStdErr }),
            },
            ElapsedSeconds = m.Elapsed.TotalSeconds,
        };
        return JsonSerializer.Serialize(document, JsonOptions) + "\n";
    }

    /// <summary>Tidy CSV: one row per statistic, the exact theory beside it where there is one.</summary>
    internal static string Csv(Measurement.Measurement m)
    {
        var s = m.Settings;
        var csv = new StringBuilder("statistic,measured,stderr,theory,relation,ratio,ratio_stderr,z,exact_stderr,z_exact\n");
        foreach (var r in m.Theory.Rows)
            csv.AppendLine(string.Join(",", r.Statistic, F(r.Measured), F(r.StdErr), F(r.Theory), r.Relation, F(r.Ratio), F(r.RatioStdErr), F(r.Z), F(r.ExactStdErr), F(r.ZExact)));
        void Plain(string name, double value) => csv.AppendLine($"{name},{F(value)},,,,,,,,");
        Plain("std", m.Summary.Std);
        Plain("median", m.Summary.Median);
        foreach (var q in m.Summary.Quantiles) Plain($"q{q.Probability.ToString(CultureInfo.InvariantCulture)}", q.Value);
        Plain("mean_log", m.Summary.MeanLog);
        Plain("std_log", m.Summary.StdLog);
        if (m.QuadratureError is double e) Plain(s.Geometry.Exact ? "quadrature_error_vs_exact" : "quadrature_error", e);
        if (m.Regions is { } regions)
            csv.AppendLine($"regions_per_length,{F(regions.Mean)},{F(regions.StdErr)},,,,,,,");
        return csv.ToString();
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
                r.Ratio.ToString("F4", CultureInfo.InvariantCulture), r.RatioStdErr.ToString("F4", CultureInfo.InvariantCulture), r.Relation == "=" ? r.Z.ToString("F2", CultureInfo.InvariantCulture) : "bound",
                FromLog(r.LogExactStdErr), r.Relation == "=" ? r.ZExact.ToString("F2", CultureInfo.InvariantCulture) : "bound");
        console.Write(table);

        var spread = new Table().Title("spread over networks").AddColumns("std", "median", "quantiles", "mean log D", "zeros");
        spread.AddRow(G(m.Summary.Std), G(m.Summary.Median),
            string.Join("  ", m.Summary.Quantiles.Select(q => $"q{q.Probability.ToString(CultureInfo.InvariantCulture)}={G(q.Value)}")),
            G(m.Summary.MeanLog), m.Summary.Zeros.ToString(CultureInfo.InvariantCulture));
        console.Write(spread);

        console.MarkupLine($"theory: {Markup.Escape(m.Theory.Note)}");
        console.WriteLine("exact s.e.: the spread the exact law gives the sample mean; where it exceeds the sample s.e. the tail is heavy and z (exact s.e.) is the fair test.");
        console.MarkupLine($"regime: {Markup.Escape(m.Theory.Regime)}; He threshold C_W = {Theory.ExactTheory.HeVariance}");
        console.WriteLine(s.Geometry.K == 1
            ? $"mean bound sqrt(E[D^2]) = {G(m.Theory.MeanBound)}; large-width approximation {G(m.Theory.MeanAsymptotic)}"
            : $"sqrt(E[vol^2]) = {G(m.Theory.MeanBound)}");
        if (m.QuadratureError is double e)
            console.WriteLine(s.Geometry.Exact
                ? $"{s.Geometry.Points}-node quadrature error against the exact length (mean relative): {G(e)}"
                : $"quadrature error estimate (vs half the nodes, mean relative): {G(e)}");
        if (m.Regions is { } regions)
            console.WriteLine($"linear regions crossed per unit input length: {G(regions.Mean)} ± {G(regions.StdErr)} (median {G(regions.Median)})");
        return writer.ToString();
    }

    /// <summary>A console that renders tables as plain text (no colour, no escape codes) into <paramref name="writer"/>.</summary>
    internal static IAnsiConsole PlainConsole(TextWriter writer, int width)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = width;
        return console;
    }

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>Formats e^logValue with 6 significant digits, also beyond the double range (e.g. 1.2345E-400).</summary>
    internal static string FromLog(double logValue)
    {
        if (double.IsNaN(logValue)) return "NaN";
        if (double.IsNegativeInfinity(logValue)) return "0";
        if (double.IsPositiveInfinity(logValue)) return "Infinity";
        double value = Math.Exp(logValue);
        if (value > 1e-300 && value < 1e300) return G(value);
        double decimalLog = logValue / Math.Log(10);
        double exponent = Math.Floor(decimalLog);
        double mantissa = Math.Pow(10, decimalLog - exponent);
        return $"{mantissa.ToString("F5", CultureInfo.InvariantCulture)}E{exponent.ToString("+0;-0", CultureInfo.InvariantCulture)}";
    }
}
