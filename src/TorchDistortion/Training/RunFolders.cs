using System.Text.Json;
using System.Text.Json.Nodes;

namespace TorchDistortion.Training;

/// <summary>Finds training run folders on disk and reads their history back, so a figure can be redrawn without training.</summary>
public static class RunFolders
{
    public const string HistoryFile = "history.json";

    /// <summary>A file listing run folders (one path a line, relative to the file's folder): what `train` drew into its --out folder.</summary>
    public const string ListFile = "runs.txt";

    private const int MaxDepth = 6;

    private sealed record RunDocument(string RunId, TrainSettings Settings);

    /// <summary>
    /// The run folders that <paramref name="paths"/> name: a run folder itself, a folder with a runs list (a train --out
    /// folder), or any folder holding run folders below it; each once, in a stable order.
    /// </summary>
    public static List<string> Find(IEnumerable<string> paths)
    {
        var found = new List<string>();
        void Walk(string folder, int depth)
        {
            if (File.Exists(Path.Combine(folder, HistoryFile))) { found.Add(Path.GetFullPath(folder)); return; }
            string list = Path.Combine(folder, ListFile);
            if (File.Exists(list))
                foreach (var line in File.ReadAllLines(list).Where(l => l.Trim().Length > 0))
                {
                    string run = Path.GetFullPath(Path.Combine(folder, line.Trim()));
                    if (!File.Exists(Path.Combine(run, HistoryFile))) throw new ArgumentException($"plot: '{list}' names '{line.Trim()}', which holds no {HistoryFile}");
                    found.Add(run);
                }
            if (depth < MaxDepth)
                foreach (var sub in Directory.EnumerateDirectories(folder).Order(StringComparer.Ordinal)) Walk(sub, depth + 1);
        }
        foreach (var path in paths) Walk(path, 0);
        return found.Distinct().ToList();
    }

    /// <summary>
    /// The settings (from run.json, the run's identity), history and exact law at initialization (from history.json, whose
    /// rows are those of history.csv) of the run in <paramref name="folder"/>.
    /// </summary>
    public static TrainingResult Read(string folder)
    {
        string runFile = Path.Combine(folder, Checkpoints.RunFile), file = Path.Combine(folder, HistoryFile);
        RunDocument? run;
        JsonObject? document;
        try
        {
            run = JsonSerializer.Deserialize<RunDocument>(File.ReadAllText(runFile), TrainSettings.Json);
            document = JsonNode.Parse(File.ReadAllText(file)) as JsonObject;
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new ArgumentException($"plot: the run in '{folder}' is not readable ({e.Message.Split('.')[0]})");
        }
        if (run?.Settings?.Task is null || document?["history"] is not JsonArray rows)
            throw new ArgumentException($"plot: '{folder}' holds no run settings or history");
        string metric = run.Settings.Task.MetricName;
        double? Number(JsonObject row, string name) => row[name] is JsonValue v && v.TryGetValue(out double d) ? d : null;
        var history = rows.OfType<JsonObject>().Select(r => new HistoryRow(
            (long)(Number(r, "step") ?? 0), Number(r, "epoch") ?? 0, Number(r, "train_loss") ?? double.NaN, Number(r, $"train_{metric}") ?? double.NaN,
            Number(r, "test_loss") ?? double.NaN, Number(r, $"test_{metric}") ?? double.NaN, Number(r, "length_distortion") ?? double.NaN,
            Number(r, "length_std_err") ?? double.NaN, Number(r, "regions_per_length"), Number(r, "data_length_distortion") ?? double.NaN,
            (int?)Number(r, "data_pieces"), Number(r, "volume_distortion"), Number(r, "volume_std_err"),
            Number(r, "data_same_length_distortion"), Number(r, "data_same_pieces"), Number(r, "data_different_length_distortion"),
            Number(r, "data_different_pieces"))).ToList();
        return new TrainingResult(run.RunId, folder, run.Settings, history, 0, document["failure"]?.GetValue<string>(),
            document["theory_length"] is JsonValue l && l.TryGetValue(out double length) ? length : null,
            document["theory_volume"] is JsonValue v && v.TryGetValue(out double volume) ? volume : null);
    }
}
