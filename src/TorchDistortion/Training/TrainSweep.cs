using System.Globalization;
using System.Text.Json.Serialization;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;

namespace TorchDistortion.Training;

/// <summary>
/// A training sweep, from a JSON file (schema version 1) or from train's list-valued options: the runs are the product
/// of the lists (a <see cref="Grid"/>, as for measurement sweeps), the seeds innermost. C_W varies only the init schemes
/// that take one; with a single scheme it goes to that scheme, which refuses it if it takes none. A value given twice
/// in one list is refused. Each run is a <see cref="TrainSettings"/>, whose id is the hash of its settings, so a
/// single-valued declaration gives the runs and ids train always gave.
/// </summary>
public sealed record TrainSweep
{
    [JsonRequired] public int SchemaVersion { get; init; }
    public List<string> Task { get; init; } = ["spirals"];
    /// <summary>Input dimension of the mixture, sines and teacher tasks; null: 10 for mixture, 4 otherwise (2 for the planar tasks).</summary>
    public int? N0 { get; init; }
    public int Classes { get; init; } = 2;
    public int TrainSize { get; init; } = 2000;
    public int TestSize { get; init; } = 1000;
    public double? Noise { get; init; }
    public int TeacherWidth { get; init; } = 32;
    public int TeacherDepth { get; init; } = 3;
    public long DataSeed { get; init; }
    public List<int> Width { get; init; } = [64];
    public List<int> Depth { get; init; } = [6];
    public List<string> Activation { get; init; } = ["relu"];
    public List<string> Init { get; init; } = ["he"];
    public List<double>? CW { get; init; }
    public bool Bias { get; init; } = true;
    public List<string> Optimizer { get; init; } = ["adam"];
    public List<double> Lr { get; init; } = [3e-3];
    public double Momentum { get; init; } = 0.9;
    public double WeightDecay { get; init; }
    public List<int> BatchSize { get; init; } = [64];
    public int Epochs { get; init; } = 40;
    public int ProbeSteps { get; init; }
    public int Probes { get; init; } = 16;
    public int PatchPoints { get; init; } = 8;
    public int DataProbes { get; init; }
    public List<long> Seeds { get; init; } = [0];
    [JsonPropertyName("dtype")] public string DType { get; init; } = "float32";

    /// <summary>Reads a training-sweep file; its runs are validated when it is expanded.</summary>
    public static TrainSweep Parse(string path) => ExperimentJson.ReadDeclaration<TrainSweep>(path);

    /// <summary>
    /// The runs, each validated, before any is trained. <paramref name="source"/>: the file's name, which then prefixes
    /// every error with the field ("file.json: cw: ..."); null: errors are <see cref="SettingException"/>s for the caller to name.
    /// </summary>
    public IReadOnlyList<TrainSettings> Expand(string? source = null, long maxRuns = SweepSpec.DefaultMaxRuns)
    {
        if (source is null) return Runs("train", maxRuns);
        ExperimentJson.CheckSchemaVersion(source, SchemaVersion);
        foreach (var (field, list) in new (string, System.Collections.IList?)[] { ("task", Task), ("width", Width), ("depth", Depth), ("activation", Activation),
                     ("init", Init), ("optimizer", Optimizer), ("lr", Lr), ("batch_size", BatchSize), ("seeds", Seeds) })
        {
            if (list is null) throw new ArgumentException($"{source}: {field}: must be a list, not null");
            if (list.Cast<object?>().Any(item => item is null)) throw new ArgumentException($"{source}: {field}: has a null entry");
        }
        return ExperimentJson.InFile(source, () => Runs(source, maxRuns));
    }

    private List<TrainSettings> Runs(string source, long maxRuns)
    {
        var inits = Init.Select(i => i.ToLowerInvariant()).ToList();
        if (CW is not null && inits.Count > 1 && !inits.Any(InitScheme.TakesWeightVariance))
            throw new SettingException("C_W", ": none of the init schemes takes C_W (variance, orthogonal)");
        var grid = new Grid(refuseDuplicates: true)
            .Add("task", Task.Select(TaskSpec.ParseKind).ToList())
            .Add("width", Width).Add("depth", Depth)
            .Add("activation", Activation.Select(a => Networks.Activation.Parse(a).Name).ToList())
            .Add("init", inits)
            .Add<double?, string>("C_W", CW?.Select(c => (double?)c).ToList() ?? [null], "init", i => InitScheme.TakesWeightVariance(i) || inits.Count == 1)
            .Add("optimizer", Optimizer.Select(o => o.ToLowerInvariant()).ToList())
            .Add("lr", Lr).Add("batch_size", BatchSize).Add("seeds", Seeds)
            .Cap(source, maxRuns);
        var tasks = new Dictionary<TaskKind, TaskSpec>();
        return [.. grid.Points().Select(p =>
        {
            var kind = p.Get<TaskKind>("task");
            if (!tasks.TryGetValue(kind, out var task)) tasks[kind] = task = new TaskSpec(kind, N0 ?? TaskSpec.DefaultInputDim(kind), Classes, TrainSize, TestSize, Noise, TeacherWidth, TeacherDepth).Validate();
            return new TrainSettings(task, DataSeed, p.Get<int>("width"), p.Get<int>("depth"), p.Get<string>("init"), p.Applies("C_W") ? p.Get<double?>("C_W") : null,
                Bias, p.Get<string>("optimizer"), p.Get<double>("lr"), Momentum, WeightDecay, p.Get<int>("batch_size"), Epochs, ProbeSteps, Probes, PatchPoints,
                p.Get<long>("seeds"), DType, TrainSettings.ActivationField(p.Get<string>("activation")), DataProbes).Validate();
        })];
    }

    /// <summary>Whether the run belongs to <paramref name="shard"/>: by the hash at the end of its id, as measurement runs.</summary>
    public static bool InShard(TrainSettings run, Shard shard) => shard.Contains(run.RunId()[^12..]);

    /// <summary>The settings a sweep varies, in one line (--list).</summary>
    public static string Describe(TrainSettings run) => string.Create(CultureInfo.InvariantCulture,
        $"task={run.Task.Kind.ToString().ToLowerInvariant()} width={run.Width} depth={run.Depth} activation={run.Activation ?? "relu"} init={run.Init}" +
        $"{(run.CW is double c ? $" cw={c}" : "")} optimizer={run.Optimizer} lr={run.LearningRate} batch_size={run.BatchSize} seed={run.Seed}");
}
