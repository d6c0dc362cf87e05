using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Output;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>The report of `measure --checkpoint`: a table, JSON or CSV, one row per checkpoint.</summary>
internal static class CheckpointReport
{
    internal static string Format(CheckpointMeasurement m, string format)
    {
        var settings = SettingsOf(m);
        switch (format)
        {
            case "csv":
                return Output.Csv.Write(Column<(CheckpointRow Row, double Theory)>.WithSettings(settings, CsvColumns), m.Rows.Select(r => (r, m.Theory)));
            case "json":
                var document = new
                {
                    Settings = settings,
                    Quantity = m.Quantity,
                    EstimatedCW = m.EstimatedCW,
                    EstimatedCB = m.EstimatedCB,
                    TheoryNote = m.TheoryNote,
                    TheoryAtInit = m.Theory,
                    Checkpoints = m.Rows.Select(r => new { r.Checkpoint, r.Step, r.Epoch, r.Distortion, RegionsPerLength = r.Regions }),
                };
                return Output.Json.Document(Reports.CheckpointDocument, document);
            default:
                var writer = new StringWriter();
                var console = Reports.PlainConsole(writer, 140);
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
    }


    /// <summary>What a checkpoint report was measured with: the network as loaded, the geometries, the seed and the run settings.</summary>
    private static object SettingsOf(CheckpointMeasurement m)
    {
        var s = m.Settings;
        return new
        {
            m.Spec.Widths,
            Activation = m.Spec.Activation.Name,
            Init = m.EstimatedCW is null ? m.Spec.Init.ToString() : null,
            Geometry = s.Geometry.Kind,
            s.Geometry.K,
            s.Geometry.Points,
            s.Geometry.Size,
            s.Geometry.Exact,
            s.Geometries,
            s.Seed,
            DType = s.DType.ToString().ToLowerInvariant(),
            Device = s.Device.ToString(),
            s.Moments,
            s.Quantiles,
        };
    }

    /// <summary>One checkpoint's line of the CSV report.</summary>
    private static readonly IReadOnlyList<Column<(CheckpointRow Row, double Theory)>> CsvColumns =
    [
        new("checkpoint", r => r.Row.Checkpoint), new("step", r => r.Row.Step), new("epoch", r => r.Row.Epoch),
        new("mean", r => r.Row.Distortion.Mean), new("std_err", r => r.Row.Distortion.StdErr), new("std", r => r.Row.Distortion.Std),
        new("median", r => r.Row.Distortion.Median), new("mean_log", r => r.Row.Distortion.MeanLog),
        new("regions_per_length", r => r.Row.Regions?.Mean), new("regions_std_err", r => r.Row.Regions?.StdErr), new("theory_at_init", r => r.Theory),
    ];

    private static string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
