using System.CommandLine;
using System.Globalization;
using TorchDistortion.Experiments;

namespace TorchDistortion.Cli;

/// <summary>`sweep`: a <see cref="SweepSpec"/> from a file or from list-valued options, listed or run (resumable, shardable).</summary>
internal static class SweepCommand
{
    private static readonly RuntimeOptions Runtime = RuntimeOptions.Measuring();
    private static readonly NetworkOptions Network = new(width: null, depth: null, cw: 2.0);
    private static readonly GeometryOptions Geometry = new();
    private static readonly Argument<string?> File = new("file") { Description = "Sweep declaration (JSON, schema_version 1); or use the options below", Arity = ArgumentArity.ZeroOrOne };
    private static readonly Option<string?> Output = OutputOptions.Output("Output folder", "results/sweep");
    private static readonly Option<string?> ShardOption = new("--shard") { Description = "Run part i of n (0-based, i/n); default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT" };
    private static readonly Option<bool> List = new("--list") { Description = "Print the expanded runs and exit" };
    private static readonly Option<string> Name = new("--name") { Description = "Sweep name", DefaultValueFactory = _ => "sweep" };
    private static readonly Option<string> Networks = new("--networks") { Description = "Networks per run, comma separated", DefaultValueFactory = _ => "200" };
    private static readonly Option<long> Seed = new("--seed") { Description = "Master seed", DefaultValueFactory = _ => 0 };
    internal static readonly Option<long> MaxRuns = new("--max-runs") { Description = "Refuse sweeps of more runs than this", DefaultValueFactory = _ => SweepSpec.DefaultMaxRuns };

    internal static Command Create()
    {
        var command = new Command("sweep", "Run a sweep over depth, width and initialization; resumable, shardable. Every setting takes a comma-separated list.") { File };
        foreach (var option in Declared.Concat([Output, ShardOption, List, Runtime.Device, Runtime.Threads, Runtime.NoProgress, MaxRuns]))
            command.Options.Add(option);
        command.SetAction(Run);
        return command;
    }

    /// <summary>The options that declare a sweep, which a sweep file replaces.</summary>
    private static IEnumerable<Option> Declared => Network.All.Concat(Geometry.Sweep).Concat([Networks, Seed, Runtime.DType, Name]);

    internal static long MaxRunsOf(ParseResult parse)
    {
        long n = parse.GetValue(MaxRuns);
        return n > 0 ? n : throw new ArgumentException($"--max-runs: must be a positive number, got {n}");
    }

    private static int Run(ParseResult parse)
    {
        long maxRuns = MaxRunsOf(parse);
        string? path = parse.GetValue(File);
        var declared = Declared.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false });
        if (path is not null && declared is not null) throw new ArgumentException($"{declared.Name}: give either a sweep file or sweep options, not both");
        var spec = path is not null ? SweepSpec.Parse(path) : FromOptions(parse); // expanded (and validated) below, once
        string source = path is not null ? Path.GetFileName(path) : "sweep";
        var part = Shard.Parse(parse.GetValue(ShardOption));
        if (parse.GetValue(List)) return Print(spec, source, part, maxRuns);
        var runs = spec.Expand(source, maxRuns);
        Runtime.ApplyThreads(parse);
        string folder = parse.GetValue(Output)!;
        var device = Runtime.DeviceOf(parse);
        int computed = 0;
        SweepProgress.Show(Runtime.Progress(parse), progress => computed = SweepRunner.Run(spec, folder, part, device, progress, maxRuns: maxRuns));
        int finished = SweepRunner.Finished(spec, folder, maxRuns);
        Console.WriteLine($"sweep {spec.SweepId(runs)} shard {part}: computed {computed} run(s); {finished} of {runs.Count} finished in {folder}" +
            (finished == runs.Count ? $"; results in {Path.Combine(folder, "results.csv")}" : "; merge the shard folders when all are done"));
        return 0;
    }

    private static SweepSpec FromOptions(ParseResult parse) => new()
    {
        SchemaVersion = SweepSpec.CurrentSchemaVersion, Name = parse.GetValue(Name)!,
        Widths = parse.GetValue(Network.Widths) is string w ? w.Split(';').Select(s => Cli.Ints(s, "--widths")).ToList() : null,
        Width = NetworkOptions.Ints(parse, Network.Width), Depth = NetworkOptions.Ints(parse, Network.Depth),
        N0 = NetworkOptions.Ints(parse, Network.N0)?.Select(v => (int?)v).ToList(), NL = NetworkOptions.Ints(parse, Network.NL)?.Select(v => (int?)v).ToList(),
        Activation = TorchDistortion.Networks.Activation.SplitList(parse.GetValue(Network.Activation)!), Init = parse.GetValue(Network.Init)!.Split(',').ToList(),
        CW = NetworkOptions.Doubles(parse, Network.CW)!, COut = NetworkOptions.Doubles(parse, Network.COut)?.Select(v => (double?)v).ToList() ?? [null],
        CB = Cli.Doubles(parse.GetValue(Network.CB)!, "--cb"), Bias = !parse.GetValue(Network.NoBias),
        Geometry = parse.GetValue(Geometry.Kind)!.Split(',').ToList(), K = Cli.Ints(parse.GetValue(Geometry.K)!, "--k"),
        Points = NetworkOptions.Ints(parse, Geometry.Points), Exact = [parse.GetValue(Geometry.Exact)],
        Networks = Cli.Ints(parse.GetValue(Networks)!, "--networks"), Seed = parse.GetValue(Seed), DType = parse.GetValue(Runtime.DType)!,
        Generator = parse.GetValue(Network.Generator)!,
    };

    /// <summary>--list: each run as it is expanded, so a large sweep lists without first being held in memory.</summary>
    private static int Print(SweepSpec spec, string source, Shard part, long maxRuns)
    {
        var expanding = spec.Runs(source, maxRuns); // the fields and the size are checked here, before any output
        Console.WriteLine($"{"run id",-12}  {"shard",-5}  {"seed",-19}  settings");
        var ids = new List<string>();
        int inShard = 0;
        foreach (var run in expanding)
        {
            string id = run.Id(spec.Seed);
            ids.Add(id);
            if (part.Contains(id)) inShard++;
            Console.WriteLine($"{id,-12}  {(part.Contains(id) ? "yes" : "-"),-5}  {run.Seed(spec.Seed).ToString(CultureInfo.InvariantCulture),-19}  {run}");
        }
        Console.WriteLine($"{ids.Count} runs, {inShard} in shard {part}; sweep id {SweepSpec.SweepIdOf(ids)}");
        return 0;
    }
}
