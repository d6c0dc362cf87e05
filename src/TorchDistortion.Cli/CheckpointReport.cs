using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>The report of `measure --checkpoint`: a table, JSON or CSV, one row per checkpoint.</summary>
internal static class CheckpointReport
{
    internal static string Format(CheckpointMeasurement m, string format)
    {
        static string F(double? v) => Numbers.Csv(v);
        switch (format)
        {
            case "csv":
                var csv = new StringBuilder("checkpoint,step,epoch,geometries,mean,stderr,std,median,mean_log,regions_per_length,regions_stderr,theory_at_init\n");
                foreach (var r in m.Rows)
                    csv.AppendLine(string.Join(",", r.Checkpoint, r.Step?.ToString(CultureInfo.InvariantCulture) ?? "", F(r.Epoch), m.Geometries.ToString(CultureInfo.InvariantCulture),
                        F(r.Distortion.Mean), F(r.Distortion.StdErr), F(r.Distortion.Std), F(r.Distortion.Median), F(r.Distortion.MeanLog),
                        F(r.Regions?.Mean), F(r.Regions?.StdErr), F(m.Theory)));
                return csv.ToString();
            case "json":
                var document = new
                {
                    Tool = "torchdistortion",
                    Format = Reports.MeasureFormat,
                    Quantity = m.Quantity,
                    Widths = m.Spec.Widths,
                    Init = m.EstimatedCW is null ? m.Spec.Init.ToString() : null,
                    EstimatedCw = m.EstimatedCW,
                    EstimatedCb = m.EstimatedCB,
                    TheoryNote = m.TheoryNote,
                    Geometry = m.Geometry.ToString(),
                    Geometries = m.Geometries,
                    TheoryAtInit = m.Theory,
                    Checkpoints = m.Rows.Select(r => new { r.Checkpoint, r.Step, r.Epoch, r.Distortion, RegionsPerLength = r.Regions }),
                };
                return JsonSerializer.Serialize(document, new JsonSerializerOptions(TrainSettings.Json) { Converters = { new Numbers.FiniteConverter() } }) + "\n";
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


    private static string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
}
