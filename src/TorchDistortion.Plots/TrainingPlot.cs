using System.Globalization;
using System.Text;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Plots;

/// <summary>
/// The training comparison figure of runs (TrainingComparison), its data (summary.csv) and the list of the runs drawn
/// (runs.txt, so that `plot` can draw the folder again): written by `train` at the end of a call and by `plot` from run folders.
/// </summary>
public static class TrainingPlot
{
    public const string Figure = "training", Summary = "summary.csv";

    // Legend names of the settings; a setting not named here keeps its snake_case name. The order is the legend's.
    private static readonly (string Field, string Name)[] Names =
    [
        ("task.kind", "task"), ("task.input_dim", "n0"), ("task.classes", "classes"), ("task.train_size", "train"), ("task.test_size", "test"),
        ("task.noise", "noise"), ("task.teacher_width", "teacher width"), ("task.teacher_depth", "teacher depth"), ("data_seed", "data seed"),
        ("activation", "activation"), ("init", "init"), ("cw", "C_W"), ("width", "width"), ("depth", "depth"), ("bias", "bias"),
        ("optimizer", "optimizer"), ("learning_rate", "lr"), ("momentum", "momentum"), ("weight_decay", "weight decay"), ("batch_size", "batch"),
        ("epochs", "epochs"), ("probe_steps", "probe steps"), ("probes", "probes"), ("patch_points", "patch points"), ("data_probes", "data probes"),
        ("d_type", "dtype"),
    ];

    /// <summary>
    /// A run as the figure reads it: every constructor setting but the seed (so a setting added later is grouped on too),
    /// leaving out those that do not apply (momentum of Adam, the teacher of other tasks, an unset C_W or noise).
    /// </summary>
    internal static TrainingRun ToRun(TrainingResult result)
    {
        var s = result.Settings;
        var fields = new Dictionary<string, string>();
        Flatten(s, "");
        fields.Remove("seed");
        if (s.Optimizer == "adam") fields.Remove("momentum");
        if (s.Task.Kind != TaskKind.Teacher) { fields.Remove("task.teacher_width"); fields.Remove("task.teacher_depth"); }
        if (!s.Task.IsClassification) fields.Remove("task.classes");
        fields["activation"] = s.Activation ?? "relu";
        var settings = Names.Where(n => fields.ContainsKey(n.Field)).Select(n => (n.Name, fields[n.Field]))
            .Concat(fields.Where(f => !Names.Any(n => n.Field == f.Key)).Select(f => (f.Key, f.Value))).ToList();

        var history = Trainer.HistoryColumns(s).ToDictionary(
            c => c.Name == $"train_{s.Task.MetricName}" ? "train_metric" : c.Name == $"test_{s.Task.MetricName}" ? "test_metric" : c.Name,
            c => result.History.Select(row => c.Value(row) is { } v ? Convert.ToDouble(v, CultureInfo.InvariantCulture) : (double?)null).ToArray());
        return new TrainingRun(settings, s.Seed, history, s.Task.LossName, s.Task.MetricName, result.TheoryLength, result.TheoryVolume, result.Failure is not null);

        void Flatten(object value, string prefix)
        {
            var constructor = value.GetType().GetConstructors().MaxBy(c => c.GetParameters().Length)!;
            foreach (var parameter in constructor.GetParameters())
            {
                object? v = value.GetType().GetProperty(parameter.Name!)!.GetValue(value);
                string name = prefix + System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(parameter.Name!);
                if (v is TaskSpec task) Flatten(task, name + ".");
                else if (v is not null)
                    fields[name] = v switch
                    {
                        double d => d.ToString("G4", CultureInfo.InvariantCulture),
                        bool b => b ? "yes" : "no",
                        Enum e => e.ToString().ToLowerInvariant(),
                        _ => Convert.ToString(v, CultureInfo.InvariantCulture)!,
                    };
            }
        }
    }

    /// <summary>
    /// Draws <paramref name="folder"/>/training.png and .svg from the runs with a history, and writes summary.csv (mean and sd
    /// across seeds per group, step and column) and runs.txt (the run folders, relative to <paramref name="folder"/>).
    /// </summary>
    public static IReadOnlyList<TrainingGroup> Write(IReadOnlyList<TrainingResult> results, string folder, string option)
    {
        var drawn = results.Where(r => r.History.Count > 0).ToList();
        if (drawn.Count == 0) return [];
        var groups = TrainingComparison.Group(drawn.Select(ToRun).ToList());
        try
        {
            TrainingComparison.Save(groups, Path.Combine(folder, Figure));
            Files.WriteAtomically(Path.Combine(folder, Summary), TrainingComparison.SummaryCsv(groups));
            string full = Path.GetFullPath(folder);
            Files.WriteAtomically(Path.Combine(folder, RunFolders.ListFile),
                string.Concat(drawn.Select(r => Path.GetRelativePath(full, Path.GetFullPath(r.Folder)) + "\n").Distinct()));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option}: cannot write '{folder}': {Files.Reason(folder, e)}");
        }
        return groups;
    }

    /// <summary>`plot` of run folders: finds the runs under <paramref name="paths"/> and draws them into <paramref name="output"/>.</summary>
    public static string Redraw(IReadOnlyList<string> paths, string output, bool force)
    {
        var folders = RunFolders.Find(paths);
        if (folders.Count == 0)
            throw new ArgumentException($"plot: no reproduce output, sweep results (results.json) or training runs ({RunFolders.HistoryFile}) in '{string.Join("', '", paths)}'");
        if (File.Exists(output)) throw new ArgumentException($"--output: '{output}' is a file; give a folder");
        foreach (var (extension, signature) in new[] { (".png", "\x89PNG"), (".svg", "<svg") })
            OutputGuard.Check(Path.Combine(output, Figure + extension), "--output", "plot",
                f => Encoding.Latin1.GetString(File.ReadAllBytes(f).Take(1024).ToArray()).Contains(signature), force);
        OutputGuard.Check(Path.Combine(output, Summary), "--output", "plot", f => SummaryRow.IsHeader(OutputGuard.FirstLine(f)), force);
        OutputGuard.Check(Path.Combine(output, RunFolders.ListFile), "--output", "plot",
            f => File.ReadAllLines(f).All(l => l.Length == 0 || File.Exists(Path.Combine(output, l, RunFolders.HistoryFile))), force);
        Files.EnsureWritableFolder(output, "--output");
        var groups = Write(folders.Select(RunFolders.Read).ToList(), output, "--output");
        return $"drew {folders.Count} run{(folders.Count == 1 ? "" : "s")} in {groups.Count} group{(groups.Count == 1 ? "" : "s")}: {Path.Combine(output, Figure)}.png (and .svg), {Path.Combine(output, Summary)}";
    }
}
