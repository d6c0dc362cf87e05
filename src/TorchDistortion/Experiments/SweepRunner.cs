using System.Diagnostics;
using System.Text.Json;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchSharp;

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
            throw new SettingException("shard", $": expected i/n with 0 <= i < n (e.g. 0/3), got '{text}'");
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
    /// the folder holds every run of the sweep. Refuses sweeps of more than <paramref name="maxRuns"/> runs.
    /// </summary>
    public static int Run(SweepSpec sweep, string folder, Shard shard, DeviceSpec device, IProgress? progress = null, CancellationToken cancel = default,
        long maxRuns = SweepSpec.DefaultMaxRuns) =>
        Run([(sweep, folder)], shard, device, progress, cancel, maxRuns);

    /// <summary>
    /// Several sweeps, each into its own folder, as one pool of runs (as `reproduce` runs its figures): the workers never
    /// wait at the end of one sweep while another has runs left. Otherwise as the single-sweep form.
    /// </summary>
    public static int Run(IReadOnlyList<(SweepSpec Sweep, string Folder)> sweeps, Shard shard, DeviceSpec device, IProgress? progress = null,
        CancellationToken cancel = default, long maxRuns = SweepSpec.DefaultMaxRuns)
    {
        var prepared = sweeps.Select(s => Prepare(s.Sweep, s.Folder, shard, maxRuns)).ToList();
        // Longest first (by a cost model), so the last runs to finish are short ones and no worker idles long at the end.
        var pending = prepared.SelectMany((p, s) => p.Pending.Select(i => (Sweep: s, Run: p.Mine[i])))
            .OrderByDescending(w => EstimatedCost(w.Run)).ToList();
        int finishedBefore = prepared.Sum(p => p.Mine.Count - p.Pending.Count), total = prepared.Sum(p => p.Mine.Count);
        // Parallelism.Threads workers take whole runs: most runs of a sweep are one chunk of networks, which chunk workers could
        // not share. With fewer runs left than threads, each run gets the spare threads as chunk workers. A run's numbers do not
        // depend on either. (A GPU runs one thing at a time anyway.)
        int threads = device.Resolve().type == DeviceType.CPU ? Parallelism.Threads : 1;
        int concurrent = Math.Max(1, Math.Min(threads, pending.Count)), chunkWorkers = Math.Max(1, threads / concurrent);
        int computed = 0, started = finishedBefore;
        var progressGate = new object();
        Parallelism.ForEach(pending.Count, concurrent, new StageTimes(), (j, _) =>
        {
            var (s, run) = pending[j];
            var (sweep, folder) = sweeps[s];
            string sweepId = prepared[s].Id, runId = run.Id(sweep.Seed);
            if (progress is not null) lock (progressGate) progress.RunStarted(started++, total, run);
            var settings = run.ToSettings(sweep.Seed, device);
            Action<int>? networksDone = progress is null ? null : n => { lock (progressGate) progress.NetworksDone(n, settings.Networks); };
            var measurement = Distortion.Measure(settings, networksDone, cancel, chunkWorkers);
            var file = new RunFile(sweepId, runId, run, settings.Seed, measurement.Elapsed.TotalSeconds,
                Provenance.Current(measurement.DeviceUsed, DTypes.Name(run.DType)), ResultRow.FromMeasurement(sweepId, runId, run, settings.Seed, measurement),
                measurement.LogDistortions);
            Files.WriteAtomically(RunPath(folder, runId), file.ToJson());
            Interlocked.Increment(ref computed);
        }, cancel);
        for (int s = 0; s < sweeps.Count; s++)
        {
            var (sweep, folder) = sweeps[s];
            var (runs, sweepId) = (prepared[s].Runs, prepared[s].Id);
            if (runs.All(r => File.Exists(RunPath(folder, r.Id(sweep.Seed)))))
            {
                var files = new Dictionary<string, (RunFile File, string Folder)>();
                Collect(folder, sweepId, files);
                WriteResults(sweep, sweepId, runs, files.Values.Select(f => f.File), folder);
            }
        }
        return computed;
    }

    /// <summary>One sweep's folder checked (or started), its runs, its id, this shard's runs and the indices of those not finished yet.</summary>
    private sealed record Prepared(IReadOnlyList<RunSpec> Runs, string Id, List<RunSpec> Mine, List<int> Pending);

    private static Prepared Prepare(SweepSpec sweep, string folder, Shard shard, long maxRuns)
    {
        var runs = sweep.Expand("sweep", maxRuns);
        string sweepId = sweep.SweepId(runs);
        Files.EnsureWritableFolder(folder, "--output");
        string sweepFile = SweepFile(folder);
        if (File.Exists(sweepFile))
        {
            var (existing, _, existingId) = ReadSweep(folder, maxRuns);
            if (existingId != sweepId)
            {
                // The likeliest cause after an upgrade: a folder started before generators existed holds torch's networks.
                string? ours = sweep.ForFolder().Generator;
                string hint = existing.Generator != ours && (existing with { Generator = ours }).SweepId() == sweepId
                    ? $" (its networks come from the {existing.Generator} generator: set \"generator\": \"{existing.Generator}\" or --generator {existing.Generator} to continue it)" : "";
                throw new SettingException("output", $": '{folder}' holds a different sweep ({existingId}, this one is {sweepId}){hint}; use another folder");
            }
        }
        else Files.WriteAtomically(sweepFile, JsonSerializer.Serialize(sweep.ForFolder(), SweepSpec.JsonOptions));
        Directory.CreateDirectory(Path.Combine(folder, "runs"));

        var mine = runs.Where(r => shard.Contains(r.Id(sweep.Seed))).ToList();
        RemoveLeftovers(folder, mine.Select(r => r.Id(sweep.Seed)).ToHashSet());
        var pending = Enumerable.Range(0, mine.Count)
            .Where(i => !(ReadRun(RunPath(folder, mine[i].Id(sweep.Seed))) is { } done && done.SweepId == sweepId)).ToList();
        return new Prepared(runs, sweepId, mine, pending);
    }

    /// <summary>
    /// A run's relative cost, only to order the work: per network, drawing its weights (nanoseconds per float64 Gaussian
    /// by its generator) and pushing (1 + k) rows per node through them (about 1 ns per multiply-add with the small matmuls' overheads).
    /// </summary>
    private static double EstimatedCost(RunSpec run)
    {
        long weights = 0;
        for (int l = 1; l < run.Widths.Count; l++) weights += (long)run.Widths[l - 1] * run.Widths[l];
        // An exact segment visits about one piece per hidden neuron; a patch has Points^k nodes.
        var geometry = run.Geometry;
        double nodes = (geometry.Exact ? run.Widths.Skip(1).SkipLast(1).Sum() : 0) + Math.Pow(geometry.Points, geometry.Kind == Geometry.GeometryKind.Patch ? geometry.K : 1);
        double draw = run.Network.Generator.SecondsPerGaussian() * 1e9;
        return (double)run.Networks * weights * (draw + nodes * (1 + geometry.K));
    }

    /// <summary>Temporary files older than this are leftovers of a killed write, not a write in progress elsewhere.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Removes the temporary files that killed writes left behind. A run's file is only ever written by the process
    /// computing that run (its shard), so this shard's are removed outright; sweep.json and the results may be being
    /// written right now by another shard sharing the folder, so theirs are removed only once stale.
    /// </summary>
    private static void RemoveLeftovers(string folder, IReadOnlySet<string> mine)
    {
        foreach (string temp in Directory.EnumerateFiles(Path.Combine(folder, "runs"), ".*.tmp"))
        {
            // .<run_id>.json.<guid>.tmp, as Files.WriteAtomically names it.
            string inner = Path.GetFileName(temp)[1..^4];
            if (inner.LastIndexOf('.') is int dot and > 0 && Path.GetFileNameWithoutExtension(inner[..dot]) is var runId && mine.Contains(runId))
                File.Delete(temp);
        }
        foreach (string temp in Directory.EnumerateFiles(folder, ".*.tmp"))
            if (File.GetLastWriteTimeUtc(temp) < DateTime.UtcNow - StaleAfter) File.Delete(temp);
    }

    /// <summary>
    /// Combines the finished runs of one sweep from several folders (shards) into one result set in
    /// <paramref name="output"/>, which must not be one of them. Refuses folders of a different sweep, duplicates (the same run id) that
    /// disagree in any measured value, and, unless <paramref name="allowPartial"/>, a sweep with runs missing.
    /// Returns the number of runs merged and the number the sweep declares.
    /// </summary>
    public static (int Runs, int Expected) Merge(IReadOnlyList<string> folders, string output, bool allowPartial = false,
        long maxRuns = SweepSpec.DefaultMaxRuns)
    {
        if (folders.Count == 0) throw new ArgumentException("merge: give at least one sweep folder");
        static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        // Results written into a shard folder would no longer match the runs it holds.
        if (folders.FirstOrDefault(f => Full(f) == Full(output)) is string input)
            throw new SettingException("output", $": '{output}' is one of the folders being merged ('{input}'); merge into another folder");
        SweepSpec? sweep = null;
        IReadOnlyList<RunSpec> runs = [];
        string? sweepId = null;
        var files = new Dictionary<string, (RunFile File, string Folder)>(StringComparer.Ordinal);
        foreach (string folder in folders)
        {
            string sweepFile = SweepFile(folder);
            if (!File.Exists(sweepFile)) throw new ArgumentException($"merge: '{folder}' is not a sweep folder (no sweep.json)");
            var read = ReadSweep(folder, maxRuns);
            if (sweepId is not null && read.Id != sweepId)
                throw new ArgumentException($"merge: '{folder}' holds sweep {read.Id}, not {sweepId}; refusing to mix sweeps");
            (sweep, runs, sweepId) = read;
            Collect(folder, sweepId, files);
        }
        var missing = runs.Select(r => r.Id(sweep!.Seed)).Where(id => !files.ContainsKey(id)).ToList();
        if (missing.Count > 0 && !allowPartial)
            throw new ArgumentException($"merge: {missing.Count} of {runs.Count} runs are missing (e.g. {missing[0]}); run their shards, or pass --allow-partial");
        Files.EnsureWritableFolder(output, "--output");
        if (File.Exists(SweepFile(output)) && ReadSweep(output, maxRuns).Id != sweepId)
            throw new SettingException("output", $": '{output}' holds a different sweep; refusing to overwrite its results");
        if (!File.Exists(SweepFile(output))) Files.WriteAtomically(SweepFile(output), JsonSerializer.Serialize(sweep!.ForFolder(), SweepSpec.JsonOptions));
        WriteResults(sweep!, sweepId!, runs, files.Values.Select(f => f.File), output);
        return (files.Count, runs.Count);
    }

    /// <summary>The sweep a folder holds, its runs and its id (one expansion).</summary>
    private static (SweepSpec Spec, IReadOnlyList<RunSpec> Runs, string Id) ReadSweep(string folder, long maxRuns)
    {
        string file = SweepFile(folder);
        var spec = SweepSpec.Parse(file).FromFolder();
        var runs = spec.Expand(file, maxRuns);
        return (spec, runs, spec.SweepId(runs));
    }

    /// <summary>Adds the finished runs of one folder; a run already there (from another folder) must agree in every measured value.</summary>
    private static void Collect(string folder, string sweepId, Dictionary<string, (RunFile File, string Folder)> files)
    {
        string runs = Path.Combine(folder, "runs");
        if (!Directory.Exists(runs)) return; // a shard that has not finished a run yet
        foreach (string path in Directory.EnumerateFiles(runs, "*.json").Order(StringComparer.Ordinal))
        {
            var run = ReadRun(path) ?? throw new ArgumentException($"merge: '{path}' is not a finished run file");
            if (run.SweepId != sweepId) throw new ArgumentException($"merge: '{path}' belongs to sweep {run.SweepId}, not {sweepId}");
            if (!files.TryAdd(run.RunId, (run, folder)) && Difference(files[run.RunId].File, run) is string what)
                throw new ArgumentException($"merge: run {run.RunId} differs between '{files[run.RunId].Folder}' and '{folder}' ({what}); " +
                    "keep one of them and merge again");
        }
    }

    /// <summary>The first measured value in which two files of the same run differ (time and provenance aside); null when equal.</summary>
    private static string? Difference(RunFile a, RunFile b)
    {
        if (a.Rows.Count != b.Rows.Count) return "number of statistics";
        for (int i = 0; i < a.Rows.Count; i++)
            if (!a.Rows[i].Equals(b.Rows[i])) return a.Rows[i].Statistic;
        return a.LogDistortions.AsSpan().SequenceEqual(b.LogDistortions) ? null : "log distortions";
    }

    /// <summary>results.csv and results.json, rows in the sweep's declared order, so merged shards equal the unsharded run row for row.</summary>
    private static void WriteResults(SweepSpec sweep, string sweepId, IReadOnlyList<RunSpec> runs, IEnumerable<RunFile> files, string output)
    {
        var order = runs.Select((r, i) => (Id: r.Id(sweep.Seed), i)).ToDictionary(x => x.Id, x => x.i);
        var sorted = files.OrderBy(f => order.GetValueOrDefault(f.RunId, int.MaxValue)).ToList();
        var provenance = sorted.FirstOrDefault()?.Provenance ?? Provenance.Current("cpu", sweep.DType);
        new ResultSet(sweepId, provenance, sorted.SelectMany(f => f.Rows).ToList()).Write(output);
    }

    /// <summary>The finished runs present in a folder, by id.</summary>
    public static int Finished(SweepSpec sweep, string folder, long maxRuns = SweepSpec.DefaultMaxRuns) =>
        sweep.Expand("sweep", maxRuns).Count(r => File.Exists(RunPath(folder, r.Id(sweep.Seed))));

    /// <summary>The finished run files of a sweep folder.</summary>
    public static IReadOnlyList<RunFile> LoadRuns(string folder) =>
        Directory.Exists(Path.Combine(folder, "runs"))
            ? Directory.EnumerateFiles(Path.Combine(folder, "runs"), "*.json").Order().Select(ReadRun).OfType<RunFile>().ToList() : [];

    private static string RunPath(string folder, string runId) => Path.Combine(folder, "runs", runId + ".json");

    private static RunFile? ReadRun(string path)
    {
        if (!File.Exists(path)) return null;
        try { return RunFile.Parse(File.ReadAllText(path)); }
        catch (JsonException) { return null; }
    }
}
