using System.Globalization;
using System.Text;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Plots;

/// <summary>The figure of a train command: loss, metric and distortion against epoch, a mean and band across seeds per init scheme.</summary>
public static class TrainingFigures
{
    private sealed record Quantity(string Title, string YLabel, Func<HistoryRow, double?> Value, bool LogY = false);

    /// <summary>Writes training.png/.svg and summary.csv into <paramref name="folder"/>.</summary>
    public static void Write(IReadOnlyList<TrainingResult> results, string folder)
    {
        var withHistory = results.Where(r => r.History.Count > 0).ToList();
        if (withHistory.Count == 0) return;
        var task = withHistory[0].Settings.Task;
        var groups = withHistory.GroupBy(r => (r.Settings.Activation is null ? "" : r.Settings.Activation + " ") + r.Settings.Init + (r.Settings.CW is double c ? $"(C_W={c:G3})" : "")).ToList();
        var quantities = new List<Quantity>
        {
            new("Loss", $"{task.LossName} (train solid, test dashed)", r => r.TrainLoss, LogY: true),
            new(task.IsClassification ? "Accuracy" : "R²", $"{task.MetricName} (train solid, test dashed)", r => r.TrainMetric),
            new("Length distortion", "mean over probe segments (exact)", r => r.Length, LogY: true),
            new("Length distortion of the data segment", "exact, between two training inputs", r => r.DataLength, LogY: true),
            new("Linear regions", "pieces per unit length on probe segments", r => r.RegionsPerLength),
        };
        if (withHistory[0].History[0].Volume is not null)
            quantities.Insert(3, new Quantity("2-volume distortion", "mean over probe patches", r => r.Volume, LogY: true));
        var tests = new Dictionary<string, Func<HistoryRow, double?>> { ["Loss"] = r => r.TestLoss, [quantities[1].Title] = r => r.TestMetric };

        var panels = new List<Figure>();
        var summary = new StringBuilder("group,seeds,step,epoch,quantity,mean,sd\n");
        foreach (var q in quantities)
        {
            var series = new List<Series>();
            for (int g = 0; g < groups.Count; g++)
            {
                var runs = groups[g].ToList();
                int stopped = runs.Count(r => r.Failure is not null);
                string label = groups[g].Key + (runs.Count > 1 ? $" ({runs.Count} seeds)" : "") + (stopped > 0 ? $", {stopped} stopped (diverged)" : "");
                AddAcrossSeeds(series, summary, runs, groups[g].Key, q.Title, q.Value, label, SeriesStyle.Line, g);
                if (tests.TryGetValue(q.Title, out var test))
                    AddAcrossSeeds(series, summary, runs, groups[g].Key, q.Title + " (test)", test, null, SeriesStyle.Dashed, g);
                double? theory = q.Title switch
                {
                    "Length distortion" or "Length distortion of the data segment" => runs[0].TheoryLength,
                    "2-volume distortion" => runs[0].TheoryVolume,
                    _ => null,
                };
                if (theory is double t) series.Add(new Series($"{groups[g].Key}: exact E at init", [0.0], [t], SeriesStyle.Marks, Group: g));
            }
            panels.Add(new Figure(q.Title, "epoch", q.YLabel, series, LogY: q.LogY && series.All(s => s.Y.All(v => v > 0))));
        }
        string subtitle = groups.Any(g => g.Count() > 1) ? "lines: mean over seeds; bands: ± 1 sd across seeds" : "one run per line";
        panels[0] = panels[0] with { Subtitle = subtitle };
        try
        {
            FigureExporter.SaveGrid(panels, Path.Combine(folder, "training"), columns: 3);
            Files.WriteAtomically(Path.Combine(folder, "summary.csv"), summary.ToString());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write '{folder}': {Files.Reason(folder, e)}; the runs and their checkpoints are complete");
        }
    }

    /// <summary>Mean (and, with several seeds, a ± 1 sd band) of a quantity at every step all runs of the group reached.</summary>
    private static void AddAcrossSeeds(List<Series> series, StringBuilder summary, List<TrainingResult> runs, string group, string quantity,
        Func<HistoryRow, double?> value, string? label, SeriesStyle style, int colour)
    {
        var steps = runs.Select(r => r.History.Select(h => h.Step).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; }).Order().ToList();
        var x = new List<double>();
        var mean = new List<double>();
        var sd = new List<double>();
        foreach (var step in steps)
        {
            var rows = runs.Select(r => r.History.First(h => h.Step == step)).ToList();
            var values = rows.Select(value).Where(v => v is double d && double.IsFinite(d)).Select(v => v!.Value).ToList();
            if (values.Count == 0) continue;
            double m = values.Average();
            double s = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - m) * (v - m)) / (values.Count - 1)) : 0;
            x.Add(rows[0].Epoch); mean.Add(m); sd.Add(s);
            summary.Append(string.Create(CultureInfo.InvariantCulture, $"{group},{values.Count},{step},{rows[0].Epoch:R},{quantity},{m:R},{s:R}\n"));
        }
        if (runs.Count > 1) series.Add(new Series(null, x.ToArray(), mean.ToArray(), SeriesStyle.Band, sd.ToArray(), colour));
        series.Add(new Series(label, x.ToArray(), mean.ToArray(), style, Group: colour));
    }
}
