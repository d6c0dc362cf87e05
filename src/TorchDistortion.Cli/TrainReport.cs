using System.Globalization;
using Spectre.Console;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>The table `train` prints when its runs end: one row per run, distortion at initialization and now.</summary>
internal static class TrainReport
{
    internal static string Table(IReadOnlyList<TrainingResult> results)
    {
        if (results.Count == 0) return "";
        var task = results[0].Settings.Task;
        var table = new Table().Border(TableBorder.Rounded).Title($"training on {Markup.Escape(task.ToString())}");
        foreach (var column in new[] { "run", "epoch", "train loss", $"test {task.MetricName}", "length D", "2-vol D", "exact E at init", "data pieces", "status" })
            table.AddColumn(Markup.Escape(column));
        foreach (var r in results)
        {
            if (r.History.Count == 0) continue;
            var (first, last) = (r.History[0], r.History[^1]);
            static string G(double? v) => v is double d ? d.ToString("G3", CultureInfo.InvariantCulture) : "-";
            table.AddRow(Markup.Escape(r.RunId), last.Epoch.ToString("0.##", CultureInfo.InvariantCulture), G(last.TrainLoss), last.TestMetric.ToString("F3", CultureInfo.InvariantCulture),
                $"{G(first.Length)} → {G(last.Length)}", first.Volume is null ? "-" : $"{G(first.Volume)} → {G(last.Volume)}",
                r.TheoryVolume is null ? G(r.TheoryLength) : $"{G(r.TheoryLength)} / {G(r.TheoryVolume)}",
                $"{first.DataPieces} → {last.DataPieces}",
                Markup.Escape(r.Failure is not null ? "stopped"
                    : r.ResumedFromStep == r.Settings.TotalSteps ? "already finished"
                    : r.ResumedFromStep > 0 ? $"resumed at step {r.ResumedFromStep}" : "done"));
        }
        table.Caption("D: mean distortion of the probes, at initialization → now; data pieces: linear pieces on the data segment");
        var writer = new StringWriter();
        var console = Tables.PlainConsole(writer, Console.IsOutputRedirected ? 200 : Math.Max(Console.WindowWidth, 120));
        console.Write(table);
        return writer.ToString();
    }
}
