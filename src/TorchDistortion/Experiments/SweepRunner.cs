using System.Diagnostics;
using System.Text.Json;
using TorchDistortion.Measurement;

namespace TorchDistortion.Experiments;

/// <summary>A part of a sweep: runs whose identifier hashes to <see cref="Index"/> modulo <see cref="Count"/>.</summary>
public sealed record Shard(int Index, int Count)
{
    public static Shard All { get; } = new(0, 1);

    /// <summary>"i/n" with 0 &lt;= i &lt; n; null or empty: from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, else the whole sweep.</summary>
    public static Shard Parse(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            string? id = Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_ID"), count = Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_COUNT");
            if (id is null || count is null) return All;
            // Arrays may start anywhere and step (--array=1-16, --array=0-30:2): the shard is the task's position.
            long.TryParse(Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_MIN"), out long min);
            long step = long.TryParse(Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_STEP"), out long s) && s > 0 ? s : 1;
            text = long.TryParse(id, out long task) ? $"{(task - min) / step}/{count}" : $"{id}/{count}";
        }
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new ArgumentException($"--shard: expected i/n with 0 <= i < n (e.g. 0/3), got '{text}'");
        return new Shard(i, n);
    }

    public bool Contains(string runId) => Convert.ToUInt64(runId, 16) % (ulong)Count == (ulong)Index;

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>
/// Runs a sweep into a folder: sweep.json (the declaration and its id), runs/&lt;run_id&gt;.json (each finished run,
/// written atomically), and, when every run is there, results.csv / results.json. A killed run is simply started
/// again: finished runs are skipped.
/// </summary>
public static class SweepRunner
{
    /// <summary>Reports progress: the run about to start (index within this shard, count), and networks done within it.</summary>
    public interface IProgress
    {
        void RunStarted(int index, int count, RunSpec run);
        void NetworksDone(int done, int total);
    }

    public static string SweepFile(string folder) => Path.Combine(folder, "sweep.json");

    /// <summary>
    /// Runs this shard's unfinished runs. Returns the number of runs computed now. Writes the merged result set when
    /// the folder holds every run of the sweep.
    /// </summary>
    public static int Run(SweepSpec sweep, string folder, Shard shard, string device, IProgress? progress = null, CancellationToken cancel = default)
    {
        var runs = sweep.Expand();
        string sweepId = sweep.SweepId(runs);
        Files.EnsureWritableFolder(folder, "--output");
        string sweepFile = SweepFile(folder);
        if (File.Exists(sweepFile))
        {
            var existing = SweepSpec.Load(sweepFile);
            string existingId = existing.SweepId();
            if (existingId != sweepId)
                throw new ArgumentException($"--output: '{folder}' holds a different sweep ({existingId}, this one is {sweepId}); use another folder");
        }
        else Files.WriteAtomically(sweepFile, JsonSerializer.Serialize(sweep, SweepSpec.JsonOptions));
        Directory.CreateDirectory(Path.Combine(folder, "runs"));

        var mine = runs.Where(r => shard.Contains(r.Id(sweep.Seed))).ToList();
        int computed = 0;
        for (int i = 0; i < mine.Count; i++)
        {
            cancel.ThrowIfCancellationRequested();
            var run = mine[i];
            string runId = run.Id(sweep.Seed);
            string path = RunPath(folder, runId);
            if (ReadRun(path) is { } done && done.SweepId == sweepId) continue;
            progress?.RunStarted(i, mine.Count, run);
            var settings = run.ToSettings(sweep.Seed, device);
            var measurement = Distortion.Measure(settings, n => progress?.NetworksDone(n, settings.Networks), cancel);
            var file = new RunFile(sweepId, runId, run, settings.Seed, measurement.Elapsed.TotalSeconds,
                Provenance.Current(measurement.DeviceUsed, run.DType), ResultRow.FromMeasurement(sweepId, runId, run, settings.Seed, measurement),
                measurement.LogDistortions);
            Files.WriteAtomically(path, JsonSerializer.Serialize(file, ResultSet.Json));
            computed++;
        }
        if (runs.All(r => File.Exists(RunPath(folder, r.Id(sweep.Seed))))) Merge([folder], folder);
        return computed;
    }

    /// <summary>
    /// Combines the finished runs of one sweep from several folders (shards) into one result set in
    /// <paramref name="output"/>. Refuses folders of a different sweep; duplicates (the same run id) are kept once.
    /// Returns the number of runs merged and the number the sweep declares.
    /// </summary>
    public static (int Runs, int Expected) Merge(IReadOnlyList<string> folders, string output)
    {
        if (folders.Count == 0) throw new ArgumentException("merge: give at least one sweep folder");
        SweepSpec? sweep = null;
        string? sweepId = null;
        var files = new SortedDictionary<string, RunFile>(StringComparer.Ordinal);
        foreach (string folder in folders)
        {
            string sweepFile = SweepFile(folder);
            if (!File.Exists(sweepFile)) throw new ArgumentException($"merge: '{folder}' is not a sweep folder (no sweep.json)");
            var spec = SweepSpec.Load(sweepFile);
            string id = spec.SweepId();
            if (sweepId is not null && id != sweepId)
                throw new ArgumentException($"merge: '{folder}' holds sweep {id}, not {sweepId}; refusing to mix sweeps");
            (sweep, sweepId) = (spec, id);
            string runs = Path.Combine(folder, "runs");
            if (!Directory.Exists(runs)) continue; // a shard that has not finished a run yet
            foreach (string path in Directory.EnumerateFiles(runs, "*.json"))
            {
                var run = ReadRun(path) ?? throw new ArgumentException($"merge: '{path}' is not a finished run file");
                if (run.SweepId != sweepId) throw new ArgumentException($"merge: '{path}' belongs to sweep {run.SweepId}, not {sweepId}");
                files.TryAdd(run.RunId, run);
            }
        }
        Files.EnsureWritableFolder(output, "--output");
        if (File.Exists(SweepFile(output)) && SweepSpec.Load(SweepFile(output)).SweepId() != sweepId)
            throw new ArgumentException($"--output: '{output}' holds a different sweep; refusing to overwrite its results");
        if (!File.Exists(SweepFile(output))) Files.WriteAtomically(SweepFile(output), JsonSerializer.Serialize(sweep, SweepSpec.JsonOptions));
        // Rows in the sweep's declared order, so merged shards equal the unsharded run row for row.
        var order = sweep!.Expand().Select((r, i) => (Id: r.Id(sweep.Seed), i)).ToDictionary(x => x.Id, x => x.i);
        var rows = files.Values.OrderBy(f => order.GetValueOrDefault(f.RunId, int.MaxValue)).SelectMany(f => f.Rows).ToList();
        var provenance = files.Values.FirstOrDefault()?.Provenance ?? Provenance.Current("cpu", sweep.DType);
        new ResultSet(sweepId!, provenance, rows).Write(output);
        return (files.Count, order.Count);
    }

    /// <summary>The finished runs present in a folder, by id.</summary>
    public static int Finished(SweepSpec sweep, string folder) =>
        sweep.Expand().Count(r => File.Exists(RunPath(folder, r.Id(sweep.Seed))));

    /// <summary>The finished run files of a sweep folder.</summary>
    public static IReadOnlyList<RunFile> LoadRuns(string folder) =>
        Directory.Exists(Path.Combine(folder, "runs"))
            ? Directory.EnumerateFiles(Path.Combine(folder, "runs"), "*.json").Order().Select(ReadRun).OfType<RunFile>().ToList() : [];

    private static string RunPath(string folder, string runId) => Path.Combine(folder, "runs", runId + ".json");

    private static RunFile? ReadRun(string path)
    {
        if (!File.Exists(path)) return null;
        try { return JsonSerializer.Deserialize<RunFile>(File.ReadAllText(path), ResultSet.Json); }
        catch (JsonException) { return null; }
    }
}
