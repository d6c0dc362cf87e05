using System.CommandLine;
using System.Globalization;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using TorchDistortion.Plots;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>`train`: toy tasks, distortion probed at every evaluation, checkpoints, history and figures.</summary>
internal static class TrainCommand
{
    internal const int DivergedExitCode = 3;

    private static readonly RuntimeOptions Runtime = RuntimeOptions.Training();
    private static readonly NetworkOptions Network = new(width: 64, depth: 6);
    private static readonly Option<string?> Output = OutputOptions.Output("Folder for the figure and the summary across runs", Path.Combine("results", "train"));
    /// <summary>The name of -o/--output before it was spelled like every other command's; kept, hidden.</summary>
    private static readonly Option<string?> Out = new("--out") { Hidden = true };

    private static readonly Option<string> Task = new("--task") { Description = $"Toy task: {string.Join(", ", TaskSpec.KindNames)} (comma separated: one run each)", DefaultValueFactory = _ => "spirals" };
    private static readonly Option<int?> InputDim = new("--n0") { Description = "Input dimension (mixture, sines, teacher; the 2-D tasks have 2)" };
    private static readonly Option<int> Classes = new("--classes") { Description = "Classes of the mixture task", DefaultValueFactory = _ => 2 };
    private static readonly Option<int> TrainSize = new("--train-size") { Description = "Training examples", DefaultValueFactory = _ => 2000 };
    private static readonly Option<int> TestSize = new("--test-size") { Description = "Test examples", DefaultValueFactory = _ => 1000 };
    private static readonly Option<double?> Noise = new("--noise") { Description = "Input noise, cluster spread or target noise (default: the task's own)" };
    private static readonly Option<int> TeacherWidth = new("--teacher-width") { Description = "Hidden width of the teacher (teacher task)", DefaultValueFactory = _ => 32 };
    private static readonly Option<int> TeacherDepth = new("--teacher-depth") { Description = "Weight layers of the teacher (teacher task)", DefaultValueFactory = _ => 3 };
    private static readonly Option<long> DataSeed = new("--data-seed") { Description = "Seed of the data and the probe geometry", DefaultValueFactory = _ => 0 };
    private static readonly Option<string> Optimizer = new("--optimizer") { Description = "adam or sgd (with --momentum); comma separated: one run each", DefaultValueFactory = _ => "adam" };
    private static readonly Option<string> LearningRate = new("--lr") { Description = "Learning rate; comma separated: one run each", DefaultValueFactory = _ => "0.003" };
    private static readonly Option<double> Momentum = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
    private static readonly Option<double> WeightDecay = new("--weight-decay") { Description = "Weight decay", DefaultValueFactory = _ => 0.0 };
    private static readonly Option<string> BatchSize = new("--batch-size") { Description = "Examples per step; comma separated: one run each", DefaultValueFactory = _ => "64" };
    private static readonly Option<int> Epochs = new("--epochs") { Description = "Passes over the training split", DefaultValueFactory = _ => 40 };
    private static readonly Option<int> ProbeSteps = new("--probe-steps") { Description = "Evaluate, probe and checkpoint every N steps (0 = every epoch)", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> Probes = new("--probes") { Description = "Probe segments and k = 2 patches", DefaultValueFactory = _ => 16 };
    private static readonly Option<int> PatchPoints = new("--patch-points") { Description = "Quadrature nodes per side of a probe patch", DefaultValueFactory = _ => 8 };
    private static readonly Option<string> SeedList = new("--seeds") { Description = "Seeds of the initial weights and batch order, comma separated (one run each)", DefaultValueFactory = _ => "0" };
    private static readonly Option<string> CheckpointRoot = new("--checkpoints") { Description = "Folder of the run folders (checkpoints, history)", DefaultValueFactory = _ => "checkpoints" };
    private static readonly Option<string?> Resume = new("--resume") { Description = "Continue the run in this run folder from its last complete checkpoint" };
    private static readonly Option<int> DataProbes = new("--data-probes") { Description = "Segments between N pairs of test inputs of the same class and N of different classes, measured at every evaluation", DefaultValueFactory = _ => 0 };
    private static readonly Option<string?> ExportData = new("--export-data") { Description = "Write the task's train and test splits as CSV into this folder, and stop" };
    private static readonly Option<string> Keep = new("--keep") { Description = "Checkpoints kept: all, last or every:N (default: every evaluation up to 50, then thinned; the last always)" };
    private static readonly Option<string?> TensorBoard = new("--tensorboard") { Description = "Write every evaluation's scalars as TensorBoard event files, one subfolder per run" };
    private static readonly Option<bool> NoEnsemble = new("--no-ensemble") { Description = "Train the runs one after another, not runs of one shape (seeds, inits) together as one batched network" };
    private static readonly Option<string?> SweepFile = new("--sweep") { Description = "Training-sweep declaration (JSON, schema_version 1) instead of the settings' options" };
    private static readonly Option<bool> List = new("--list") { Description = "Print the runs (id and settings) and exit" };
    private static readonly Option<string?> ShardOption = new("--shard") { Description = "Train part i of n of the runs (0-based, i/n); default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT" };

    /// <summary>The options that declare the runs, which a sweep file replaces.</summary>
    private static Option[] Declared =>
    [
        Task, InputDim, Classes, TrainSize, TestSize, Noise, TeacherWidth, TeacherDepth, DataSeed, Network.Width, Network.Depth, Network.Activation,
        Network.Init, Network.CW, Network.NoBias, Optimizer, LearningRate, Momentum, WeightDecay, BatchSize, Epochs, ProbeSteps, Probes, PatchPoints,
        DataProbes, SeedList, Runtime.DType,
    ];

    internal static Command Create()
    {
        var command = new Command("train", "Train networks on a toy task and track their length and volume distortion at every epoch. --task, --width, --depth, --activation, --init, --cw, --optimizer, --lr, --batch-size and --seeds take comma-separated lists: the runs are their product (or declare them in a --sweep file).");
        foreach (var option in Declared.Concat([Runtime.Device, Runtime.Threads, Runtime.OpThreads!, CheckpointRoot, Output, Out, Resume, Runtime.NoProgress, ExportData, Keep, TensorBoard,
                     NoEnsemble, SweepFile, List, ShardOption, SweepCommand.MaxRuns]))
            command.Options.Add(option);
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        Runtime.ApplyThreads(parse);
        var device = Runtime.DeviceOf(parse);
        string output = parse.GetValue(Out) ?? parse.GetValue(Output)!;
        var results = new List<TrainingResult>();
        bool progress = Runtime.Progress(parse);
        var keep = parse.GetValue(Keep) is string k ? Retention.Parse(k) : Retention.Thinned;
        string? tensorboard = parse.GetValue(TensorBoard);
        if (parse.GetValue(Resume) is string folder)
        {
            var kept = new Option[] { Resume, Runtime.NoProgress, Runtime.Device, Runtime.Threads, Runtime.OpThreads!, Output, Out, Keep, TensorBoard };
            var given = parse.CommandResult.Children.OfType<System.CommandLine.Parsing.OptionResult>()
                .Where(o => !o.Implicit && !kept.Contains(o.Option)).Select(o => o.Option.Name).ToList();
            if (given.Count > 0) throw new ArgumentException($"--resume: the run keeps the settings it was started with; drop {given[0]}");
            if (!Directory.Exists(folder)) throw new ArgumentException($"--resume: folder '{folder}' does not exist");
            EnsureOutputFolders((output, "--output"), (tensorboard, "--tensorboard"));
            string? runLog = tensorboard is null ? null : Path.Combine(tensorboard, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
            TrainProgress.Show(progress, 1, p => results.Add(Trainer.Resume(folder, device, p, warn: Warn, keep: keep, tensorboard: runLog)));
        }
        else
        {
            var runs = Settings(parse);
            var part = Shard.Parse(parse.GetValue(ShardOption));
            if (parse.GetValue(List)) return Print(runs, part);
            runs = runs.Where(run => TrainSweep.InShard(run, part)).ToList();
            if (runs.Count == 0)
            {
                Console.WriteLine($"shard {part}: no runs");
                return 0;
            }
            if (parse.GetValue(ExportData) is string export)
            {
                var written = ToyTasks.Export(runs[0].Task, runs[0].DataSeed, export);
                Console.WriteLine($"data: {string.Join(", ", written)}");
                return 0;
            }
            EnsureOutputFolders((parse.GetValue(CheckpointRoot)!, "--checkpoints"), (output, "--output"), (tensorboard, "--tensorboard"));
            var logNames = RunLabels.For(runs);
            TrainProgress.Show(progress, runs.Count, p => results.AddRange(Trainer.RunAll(runs, parse.GetValue(CheckpointRoot)!, device, p, warn: Warn, keep: keep,
                tensorboard: logNames.Select(name => tensorboard is null ? null : Path.Combine(tensorboard, name)).ToList(), ensemble: !parse.GetValue(NoEnsemble))));
        }
        Console.Write(TrainReport.Table(results));
        TrainingPlot.Write(results, output, "--output");
        Console.WriteLine($"history: {string.Join(", ", results.Select(r => Path.Combine(r.Folder, "history.csv")).Distinct())}");
        Console.WriteLine($"figure: {Path.Combine(output, TrainingPlot.Figure)}.png (and .svg); across runs: {Path.Combine(output, TrainingPlot.Summary)}");
        var failed = results.Where(r => r.Failure is not null).ToList();
        foreach (var r in failed) Console.Error.WriteLine($"error: run {r.RunId} stopped: {r.Failure}");
        return failed.Count > 0 ? DivergedExitCode : 0;
    }

    /// <summary>Checks every output folder before creating any, so a call refused for one leaves none of them behind.</summary>
    private static void EnsureOutputFolders(params (string? Folder, string Option)[] folders)
    {
        foreach (var (folder, option) in folders)
            if (folder is not null) Files.CheckWritableFolder(folder, option);
        foreach (var (folder, option) in folders)
            if (folder is not null) Files.EnsureWritableFolder(folder, option);
    }

    private static void Warn(string line) => Console.Error.WriteLine($"warning: {line}");

    /// <summary>The runs: of the sweep file, or the product of the list-valued options (one declaration either way).</summary>
    private static List<TrainSettings> Settings(ParseResult parse)
    {
        long maxRuns = SweepCommand.MaxRunsOf(parse);
        if (parse.GetValue(SweepFile) is string path)
        {
            if (Declared.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is { } declared)
                throw new ArgumentException($"{declared.Name}: give either a sweep file (--sweep) or the settings' options, not both");
            return [.. TrainSweep.Parse(path).Expand(Path.GetFileName(path), maxRuns)];
        }
        return [.. new TrainSweep
        {
            SchemaVersion = SweepSpec.CurrentSchemaVersion,
            Task = NetworkOptions.Names(parse, Task), N0 = parse.GetValue(InputDim), Classes = parse.GetValue(Classes), TrainSize = parse.GetValue(TrainSize),
            TestSize = parse.GetValue(TestSize), Noise = parse.GetValue(Noise), TeacherWidth = parse.GetValue(TeacherWidth), TeacherDepth = parse.GetValue(TeacherDepth),
            DataSeed = parse.GetValue(DataSeed), Width = NetworkOptions.Ints(parse, Network.Width)!, Depth = NetworkOptions.Ints(parse, Network.Depth)!,
            Activation = Activation.SplitList(parse.GetValue(Network.Activation)!), Init = NetworkOptions.Names(parse, Network.Init),
            CW = NetworkOptions.Doubles(parse, Network.CW), Bias = !parse.GetValue(Network.NoBias), Optimizer = NetworkOptions.Names(parse, Optimizer),
            Lr = Cli.Doubles(parse.GetValue(LearningRate)!, "--lr"), Momentum = parse.GetValue(Momentum), WeightDecay = parse.GetValue(WeightDecay),
            BatchSize = Cli.Ints(parse.GetValue(BatchSize)!, "--batch-size"), Epochs = parse.GetValue(Epochs), ProbeSteps = parse.GetValue(ProbeSteps),
            Probes = parse.GetValue(Probes), PatchPoints = parse.GetValue(PatchPoints), DataProbes = parse.GetValue(DataProbes),
            Seeds = Cli.ParseList(parse.GetValue(SeedList)!, "--seeds", s => long.Parse(s, CultureInfo.InvariantCulture)), DType = Runtime.DTypeName(parse),
        }.Expand(maxRuns: maxRuns)];
    }

    /// <summary>--list: one line per run, its id, whether it is in the shard, and its settings.</summary>
    private static int Print(List<TrainSettings> runs, Shard part)
    {
        Console.WriteLine($"{"run id",-40}  {"shard",-5}  settings");
        foreach (var run in runs)
            Console.WriteLine($"{run.RunId(),-40}  {(TrainSweep.InShard(run, part) ? "yes" : "-"),-5}  {TrainSweep.Describe(run)}");
        Console.WriteLine($"{runs.Count} runs, {runs.Count(run => TrainSweep.InShard(run, part))} in shard {part}");
        return 0;
    }
}
