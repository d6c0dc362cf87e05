using System.CommandLine;
using System.Globalization;
using System.Text;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using TorchDistortion.Plots;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>`train`: toy tasks, distortion probed at every evaluation, checkpoints, history and figures.</summary>
internal static class TrainCommand
{
    internal const int DivergedExitCode = 3;

    private static readonly Option<string> Task = new("--task") { Description = $"Toy task: {string.Join(", ", TaskSpec.KindNames)}", DefaultValueFactory = _ => "spirals" };
    private static readonly Option<int?> InputDim = new("--n0") { Description = "Input dimension (mixture, sines, teacher; the 2-D tasks have 2)" };
    private static readonly Option<int> Classes = new("--classes") { Description = "Classes of the mixture task", DefaultValueFactory = _ => 2 };
    private static readonly Option<int> TrainSize = new("--train-size") { Description = "Training examples", DefaultValueFactory = _ => 2000 };
    private static readonly Option<int> TestSize = new("--test-size") { Description = "Test examples", DefaultValueFactory = _ => 1000 };
    private static readonly Option<double?> Noise = new("--noise") { Description = "Input noise, cluster spread or target noise (default: the task's own)" };
    private static readonly Option<int> TeacherWidth = new("--teacher-width") { Description = "Hidden width of the teacher (teacher task)", DefaultValueFactory = _ => 32 };
    private static readonly Option<int> TeacherDepth = new("--teacher-depth") { Description = "Weight layers of the teacher (teacher task)", DefaultValueFactory = _ => 3 };
    private static readonly Option<long> DataSeed = new("--data-seed") { Description = "Seed of the data and the probe geometry", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> Width = new("--width") { Description = "Hidden width", DefaultValueFactory = _ => 64 };
    private static readonly Option<int> Depth = new("--depth") { Description = "Weight layers L", DefaultValueFactory = _ => 6 };
    private static readonly Option<string> ActivationName = new("--activation") { Description = $"Activation(s) after every hidden layer, comma separated: {string.Join(", ", Activation.Names)}", DefaultValueFactory = _ => "relu" };
    private static readonly Option<string> Init = new("--init") { Description = $"Init scheme(s), comma separated: {string.Join(", ", InitScheme.Names)}", DefaultValueFactory = _ => "he" };
    private static readonly Option<double?> CW = new("--cw") { Description = "C_W for --init variance or orthogonal" };
    private static readonly Option<bool> NoBias = new("--no-bias") { Description = "Layers without biases" };
    private static readonly Option<string> Optimizer = new("--optimizer") { Description = "adam or sgd (with --momentum)", DefaultValueFactory = _ => "adam" };
    private static readonly Option<double> LearningRate = new("--lr") { Description = "Learning rate", DefaultValueFactory = _ => 3e-3 };
    private static readonly Option<double> Momentum = new("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.9 };
    private static readonly Option<double> WeightDecay = new("--weight-decay") { Description = "Weight decay", DefaultValueFactory = _ => 0.0 };
    private static readonly Option<int> BatchSize = new("--batch-size") { Description = "Examples per step", DefaultValueFactory = _ => 64 };
    private static readonly Option<int> Epochs = new("--epochs") { Description = "Passes over the training split", DefaultValueFactory = _ => 40 };
    private static readonly Option<int> ProbeSteps = new("--probe-steps") { Description = "Evaluate, probe and checkpoint every N steps (0 = every epoch)", DefaultValueFactory = _ => 0 };
    private static readonly Option<int> Probes = new("--probes") { Description = "Probe segments and k = 2 patches", DefaultValueFactory = _ => 16 };
    private static readonly Option<int> PatchPoints = new("--patch-points") { Description = "Quadrature nodes per side of a probe patch", DefaultValueFactory = _ => 8 };
    private static readonly Option<string> SeedList = new("--seeds") { Description = "Seeds of the initial weights and batch order, comma separated (one run each)", DefaultValueFactory = _ => "0" };
    private static readonly Option<string> DType = new("--dtype") { Description = "float32 or float64", DefaultValueFactory = _ => "float32" };
    private static readonly Option<string> DeviceName = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "cpu" };
    private static readonly Option<int> Threads = new("--threads") { Description = "CPU threads (a resumed run repeats its history exactly with the same count)", DefaultValueFactory = _ => 1 };
    private static readonly Option<string> CheckpointRoot = new("--checkpoints") { Description = "Folder of the run folders (checkpoints, history)", DefaultValueFactory = _ => "checkpoints" };
    private static readonly Option<string> Output = new("--out") { Description = "Folder for the figure and the summary across runs", DefaultValueFactory = _ => Path.Combine("results", "train") };
    private static readonly Option<string?> Resume = new("--resume") { Description = "Continue the run in this run folder from its last complete checkpoint" };
    private static readonly Option<bool> NoProgress = new("--no-progress") { Description = "No progress display (a redirected output still gets one line per evaluation)" };
    private static readonly Option<int> DataProbes = new("--data-probes") { Description = "Segments between N pairs of test inputs of the same class and N of different classes, measured at every evaluation", DefaultValueFactory = _ => 0 };
    private static readonly Option<string?> ExportData = new("--export-data") { Description = "Write the task's train and test splits as CSV into this folder, and stop" };
    private static readonly Option<string> Keep = new("--keep") { Description = "Checkpoints kept: all, last or every:N (default: every evaluation up to 50, then thinned; the last always)" };
    private static readonly Option<string?> TensorBoard = new("--tensorboard") { Description = "Write every evaluation's scalars as TensorBoard event files, one subfolder per run" };

    internal static Command Create()
    {
        var command = new Command("train", "Train networks on a toy task and track their length and volume distortion at every epoch.")
        {
            Task, InputDim, Classes, TrainSize, TestSize, Noise, TeacherWidth, TeacherDepth, DataSeed, Width, Depth, ActivationName, Init, CW, NoBias,
            Optimizer, LearningRate, Momentum, WeightDecay, BatchSize, Epochs, ProbeSteps, Probes, PatchPoints, DataProbes, SeedList, DType,
            DeviceName, Threads, CheckpointRoot, Output, Resume, NoProgress, ExportData, Keep, TensorBoard,
        };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        MeasureCommand.SetThreads(parse.GetValue(Threads));
        string device = parse.GetValue(DeviceName)!;
        Measurement.Distortion.ResolveDevice(device);
        string output = parse.GetValue(Output)!;
        var results = new List<TrainingResult>();
        bool progress = SweepProgress.Enabled(parse.GetValue(NoProgress));
        var keep = parse.GetValue(Keep) is string k ? Retention.Parse(k) : Retention.Thinned;
        string? tensorboard = parse.GetValue(TensorBoard);
        if (parse.GetValue(Resume) is string folder)
        {
            var given = parse.CommandResult.Children.OfType<System.CommandLine.Parsing.OptionResult>()
                .Where(o => !o.Implicit && o.Option != Resume && o.Option != NoProgress && o.Option != DeviceName && o.Option != Threads && o.Option != Output
                    && o.Option != Keep && o.Option != TensorBoard)
                .Select(o => o.Option.Name).ToList();
            if (given.Count > 0) throw new ArgumentException($"--resume: the run keeps the settings it was started with; drop {given[0]}");
            if (!Directory.Exists(folder)) throw new ArgumentException($"--resume: folder '{folder}' does not exist");
            Files.EnsureWritableFolder(output, "--out");
            if (tensorboard is not null) Files.EnsureWritableFolder(tensorboard, "--tensorboard");
            string? runLog = tensorboard is null ? null : Path.Combine(tensorboard, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
            WithProgress(progress, 1, p => results.Add(Trainer.Resume(folder, device, p, warn: Warn, keep: keep, tensorboard: runLog)));
        }
        else
        {
            var runs = Settings(parse);
            if (parse.GetValue(ExportData) is string export)
            {
                var written = ToyTasks.Export(runs[0].Task, runs[0].DataSeed, export);
                Console.WriteLine($"data: {string.Join(", ", written)}");
                return 0;
            }
            Files.EnsureWritableFolder(parse.GetValue(CheckpointRoot)!, "--checkpoints");
            Files.EnsureWritableFolder(output, "--out");
            if (tensorboard is not null) Files.EnsureWritableFolder(tensorboard, "--tensorboard");
            var logNames = RunLabels(runs);
            WithProgress(progress, runs.Count, p =>
            {
                for (int i = 0; i < runs.Count; i++)
                    results.Add(Trainer.Run(runs[i], parse.GetValue(CheckpointRoot)!, device, p, warn: Warn, keep: keep,
                        tensorboard: tensorboard is null ? null : Path.Combine(tensorboard, logNames[i])));
            });
        }
        Console.Write(SummaryTable(results));
        TrainingPlot.Write(results, output, "--out");
        Console.WriteLine($"history: {string.Join(", ", results.Select(r => Path.Combine(r.Folder, "history.csv")).Distinct())}");
        Console.WriteLine($"figure: {Path.Combine(output, "training.png")} (and .svg); across runs: {Path.Combine(output, "summary.csv")}");
        var failed = results.Where(r => r.Failure is not null).ToList();
        foreach (var r in failed) Console.Error.WriteLine($"error: run {r.RunId} stopped: {r.Failure}");
        return failed.Count > 0 ? DivergedExitCode : 0;
    }

    private static void Warn(string line) => Console.Error.WriteLine($"warning: {line}");

    /// <summary>
    /// A name per run from the settings that vary between the runs ("activation=tanh,init=he,seed=1"); the run id where
    /// nothing varies. Settings are compared as they are stored (run.json), so a setting that becomes a list needs nothing here.
    /// </summary>
    internal static List<string> RunLabels(IReadOnlyList<TrainSettings> runs)
    {
        var flat = runs.Select(r => Flatten(System.Text.Json.JsonSerializer.SerializeToElement(r, TrainSettings.Json), "")).ToList();
        var keys = flat.SelectMany(f => f.Keys).Distinct().Where(key => flat.Select(f => f.GetValueOrDefault(key, "")).Distinct().Count() > 1).ToList();
        if (keys.Count == 0) return runs.Select(r => r.RunId()).ToList();
        // A field left out of the JSON has its default: ReLU for the activation, none otherwise.
        return flat.Select(f => string.Join(",", keys.Select(key => $"{key}={f.GetValueOrDefault(key) ?? (key == "activation" ? "relu" : "none")}")).Replace('/', '_')).ToList();

        static Dictionary<string, string> Flatten(System.Text.Json.JsonElement element, string prefix)
        {
            var values = new Dictionary<string, string>();
            foreach (var property in element.EnumerateObject())
            {
                if (property.Value.ValueKind == System.Text.Json.JsonValueKind.Object)
                    foreach (var (key, value) in Flatten(property.Value, property.Name + ".")) values[key] = value;
                else if (property.Value.ValueKind != System.Text.Json.JsonValueKind.Null)
                    values[prefix + property.Name] = property.Value.ValueKind == System.Text.Json.JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
            return values;
        }
    }

    /// <summary>One run per init scheme and seed.</summary>
    private static List<TrainSettings> Settings(ParseResult parse)
    {
        var kind = TaskSpec.ParseKind(parse.GetValue(Task)!);
        bool planar = kind is TaskKind.Spirals or TaskKind.Circles or TaskKind.Moons or TaskKind.Xor or TaskKind.Checkerboard;
        int n0 = parse.GetValue(InputDim) ?? (planar ? 2 : kind == TaskKind.Mixture ? 10 : 4);
        var task = new TaskSpec(kind, n0, parse.GetValue(Classes), parse.GetValue(TrainSize), parse.GetValue(TestSize), parse.GetValue(Noise),
            parse.GetValue(TeacherWidth), parse.GetValue(TeacherDepth)).Validate();
        var inits = Cli.ParseList(parse.GetValue(Init)!, "--init", s => s.ToLowerInvariant());
        // --cw belongs to the schemes that take one; with several schemes the others keep their own variance.
        double? CwFor(string init) => init is "variance" or "orthogonal" || inits.Count == 1 ? parse.GetValue(CW) : null;
        foreach (var init in inits) InitScheme.Parse(init, CwFor(init));
        if (parse.GetValue(CW) is not null && !inits.Any(i => i is "variance" or "orthogonal"))
            throw new ArgumentException("--cw: none of the --init schemes takes C_W (variance, orthogonal)");
        var seeds = Cli.ParseList(parse.GetValue(SeedList)!, "--seeds", s => long.Parse(s, CultureInfo.InvariantCulture));
        if (seeds.Distinct().Count() != seeds.Count || inits.Distinct().Count() != inits.Count)
            throw new ArgumentException("--seeds and --init: each value once");
        var activations = Activation.SplitList(parse.GetValue(ActivationName)!).Select(TrainSettings.ActivationField).ToList();
        if (activations.Distinct().Count() != activations.Count) throw new ArgumentException("--activation: each value once");
        string dtype = parse.GetValue(DType)!.ToLowerInvariant() switch
        {
            "float32" or "float" => "float32",
            "float64" or "double" => "float64",
            var other => throw new ArgumentException($"--dtype: unknown dtype '{other}'; allowed: float32, float64"),
        };
        var runs = new List<TrainSettings>();
        foreach (var activation in activations)
            foreach (var init in inits)
                foreach (var seed in seeds)
                    runs.Add(new TrainSettings(task, parse.GetValue(DataSeed), parse.GetValue(Width), parse.GetValue(Depth), init,
                        CwFor(init), !parse.GetValue(NoBias), parse.GetValue(Optimizer)!.ToLowerInvariant(),
                        parse.GetValue(LearningRate), parse.GetValue(Momentum), parse.GetValue(WeightDecay), parse.GetValue(BatchSize),
                        parse.GetValue(Epochs), parse.GetValue(ProbeSteps), parse.GetValue(Probes), parse.GetValue(PatchPoints), seed, dtype,
                        activation, parse.GetValue(DataProbes)).Validate());
        return runs;
    }

    private static void WithProgress(bool enabled, int runs, Action<Trainer.IProgress?> work)
    {
        // Redirected (a Slurm log, a pipe): one plain line per evaluation on stdout instead of the live display.
        if (Console.IsOutputRedirected || Console.IsErrorRedirected) { work(new LineProgress()); return; }
        if (!enabled) { work(null); return; }
        SweepProgress.OnStderr().Start(context => work(new TrainProgress(context.AddTask("runs", maxValue: runs), context.AddTask("steps", maxValue: 1))));
    }

    /// <summary>One line per evaluation: run, epoch, loss, metric and length distortion.</summary>
    private sealed class LineProgress : Trainer.IProgress
    {
        private TrainSettings? _settings;
        private string _run = "";

        public void Started(string runId, TrainSettings settings, long startStep) => (_settings, _run) = (settings, runId);

        public void Stepped(long step) { }

        public void Evaluated(HistoryRow row)
        {
            if (_settings is null) return;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {_run} epoch {row.Epoch:0.##}/{_settings.Epochs} step {row.Step} train loss {row.TrainLoss:G6} test {_settings.Task.MetricName} {row.TestMetric:F4} length D {row.Length:G6}"));
        }
    }

    /// <summary>Progress lines: runs done, and the current run's steps with its latest loss, metric and distortion.</summary>
    private sealed class TrainProgress(ProgressTask overall, ProgressTask current) : Trainer.IProgress
    {
        private TrainSettings? _settings;
        private string _run = "";
        private bool _started;

        public void Started(string runId, TrainSettings settings, long startStep)
        {
            if (_started) overall.Increment(1);
            _started = true;
            _settings = settings;
            _run = $"{(settings.Activation is null ? "" : settings.Activation + " ")}{settings.Init} seed {settings.Seed}";
            current.MaxValue = settings.TotalSteps;
            current.Value = startStep;
            current.Description = Markup.Escape($"{_run}: epoch {startStep / settings.StepsPerEpoch}/{settings.Epochs}" + (startStep > 0 ? " (resumed)" : ""));
        }

        public void Stepped(long step) => current.Value = step;

        public void Evaluated(HistoryRow row)
        {
            if (_settings is null) return;
            string metric = _settings.Task.MetricName;
            string volume = row.Volume is double v ? string.Create(CultureInfo.InvariantCulture, $"  2-vol D {v:F3}") : "";
            current.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"{_run}: epoch {row.Epoch:0.##}/{_settings.Epochs}  loss {row.TrainLoss:G3}  test {metric} {row.TestMetric:F3}  length D {row.Length:F3}{volume}"));
        }
    }

    private static string SummaryTable(IReadOnlyList<TrainingResult> results)
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
        var console = Reports.PlainConsole(writer, Console.IsOutputRedirected ? 200 : Math.Max(Console.WindowWidth, 120));
        console.Write(table);
        return writer.ToString();
    }
}
