using System.Text.Json;

namespace TorchDistortion.Training;

/// <summary>Finds training run folders on disk and reads their history back, so a figure can be redrawn without training.</summary>
public static class RunFolders
{
    public const string HistoryFile = "history.json";

    /// <summary>A file listing run folders (one path a line, relative to the file's folder): what `train` drew into its --out folder.</summary>
    public const string ListFile = "runs.txt";

    private const int MaxDepth = 6;

    private sealed record HistoryDocument(string RunId, TrainSettings Settings, string? Failure, double? TheoryLength, double? TheoryVolume, List<Dictionary<string, JsonElement>> History);

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

    /// <summary>The settings, history and exact law at initialization of the run in <paramref name="folder"/>, from its history.json.</summary>
    public static TrainingResult Read(string folder)
    {
        string file = Path.Combine(folder, HistoryFile);
        HistoryDocument? document;
        try { document = JsonSerializer.Deserialize<HistoryDocument>(File.ReadAllText(file), TrainSettings.Json); }
        catch (JsonException e) { throw new ArgumentException($"plot: '{file}' is not readable ({e.Message.Split('.')[0]})"); }
        if (document?.Settings?.Task is null || document.History is null) throw new ArgumentException($"plot: '{file}' holds no settings or history");
        var history = document.History.Select(row => Row(document.Settings, row)).ToList();
        return new TrainingResult(document.RunId, folder, document.Settings, history, 0, document.Failure, document.TheoryLength, document.TheoryVolume);
    }

    /// <summary>A row of history.json, whose fields are the columns of history.csv (train_accuracy or train_r2, length_distortion, ...).</summary>
    private static HistoryRow Row(TrainSettings settings, Dictionary<string, JsonElement> row)
    {
        string metric = settings.Task.MetricName;
        double? Value(string name) => !row.TryGetValue(name, out var v) ? null
            : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : v.ValueKind == JsonValueKind.String && double.TryParse(v.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d) ? d
            : null;
        double Number(string name) => Value(name) ?? double.NaN;
        return new HistoryRow((long)Number("step"), Number("epoch"), Number("train_loss"), Number($"train_{metric}"), Number("test_loss"), Number($"test_{metric}"),
            Number("length_distortion"), Number("length_std_err"), Value("regions_per_length"), Number("data_length_distortion"), (int?)Value("data_pieces"),
            Value("volume_distortion"), Value("volume_std_err"), Value("data_same_length_distortion"), Value("data_same_pieces"),
            Value("data_different_length_distortion"), Value("data_different_pieces"));
    }
}
