using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Output;
using TorchDistortion.Theory;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>
/// One evaluation of a run: loss and metric on both splits, and the distortion of the fixed probes.
/// Length: mean exact length distortion over the probe segments (with its standard error over probes);
/// regions: linear pieces per unit input length along them; data: the exact length distortion of, and the pieces
/// along, the segment between two training inputs of different classes; volume: mean k = 2 volume distortion over
/// the probe patches (null where n0 or nL is below 2). With a smooth activation lengths come from a 64-node quadrature
/// and there are no pieces (null). DataSame/DataDifferent: with --data-probes, the mean length distortion of, and mean
/// pieces along, the segments between pairs of test inputs of the same class and of different classes.
/// </summary>
public sealed record HistoryRow(
    long Step,
    double Epoch,
    double TrainLoss,
    double TrainMetric,
    double TestLoss,
    double TestMetric,
    double Length,
    double LengthStdErr,
    double? RegionsPerLength,
    double DataLength,
    int? DataPieces,
    double? Volume,
    double? VolumeStdErr,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataSameLength = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataSamePieces = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataDifferentLength = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataDifferentPieces = null);

/// <summary>How a run ended.</summary>
/// <param name="Failure">Null when it finished; otherwise why it stopped (e.g. divergence), the last good checkpoint kept.</param>
/// <param name="TheoryLength">E[length distortion] at initialization, exact (null where the law is not available: see Trainer.InitTheory).</param>
/// <param name="TheoryVolume">E[2-volume distortion] at initialization, exact (null where it does not apply).</param>
public sealed record TrainingResult(
    string RunId,
    string Folder,
    TrainSettings Settings,
    IReadOnlyList<HistoryRow> History,
    long ResumedFromStep,
    string? Failure,
    double? TheoryLength,
    double? TheoryVolume);

/// <summary>Trains one network on a toy task, probing its distortion and checkpointing at every evaluation.</summary>
public static class Trainer
{
    private const ulong ShuffleStream = 4, ProbeStream = 5, DataProbeStream = 6;

    /// <summary>Receives a training run's progress: its start, every step, every evaluation.</summary>
    public interface IProgress
    {
        void Started(string runId, TrainSettings settings, long startStep);
        void Stepped(long step);
        void Evaluated(HistoryRow row);
    }

    /// <summary>
    /// Runs (or continues) the run that <paramref name="settings"/> define, in <paramref name="checkpointRoot"/>/run-id.
    /// A folder holding checkpoints of the same settings continues from its last intact checkpoint; a finished run returns at once.
    /// Damaged checkpoints passed over on the way are told to <paramref name="warn"/> in one line.
    /// </summary>
    /// <param name="keep">Which checkpoints stay on disk (default: <see cref="Retention.Thinned"/>).</param>
    /// <param name="tensorboard">A folder for this run's TensorBoard event files, or null.</param>
    public static TrainingResult Run(TrainSettings settings, string checkpointRoot, string device = "cpu", IProgress? progress = null,
        CancellationToken cancel = default, Action<string>? warn = null, Retention? keep = null, string? tensorboard = null)
    {
        settings.Validate();
        string runId = settings.RunId();
        string folder = Path.Combine(checkpointRoot, runId);
        Files.EnsureWritableFolder(folder, "--checkpoints");
        string runFile = Path.Combine(folder, Checkpoints.RunFile);
        if (!File.Exists(runFile)) Files.WriteAtomically(runFile, JsonSerializer.Serialize(new RunDescription(runId, settings), TrainSettings.Json));
        return Continue(folder, runId, settings, device, progress, cancel, "--checkpoints", warn, keep ?? Retention.Thinned, tensorboard);
    }

    /// <summary>
    /// Continues the run in <paramref name="folder"/> from its last intact checkpoint, with the settings it was started with;
    /// damaged later checkpoints are passed over (one line to <paramref name="warn"/>) and written again as the run gets there.
    /// </summary>
    public static TrainingResult Resume(string folder, string device = "cpu", IProgress? progress = null, CancellationToken cancel = default,
        Action<string>? warn = null, Retention? keep = null, string? tensorboard = null)
    {
        string runFile = Path.Combine(folder, Checkpoints.RunFile);
        if (!File.Exists(runFile)) throw new ArgumentException($"--resume: '{folder}' is not a run folder (no {Checkpoints.RunFile})");
        RunDescription? run;
        try { run = JsonSerializer.Deserialize<RunDescription>(File.ReadAllText(runFile), TrainSettings.Json); }
        catch (JsonException e) { throw new ArgumentException($"--resume: '{runFile}' is not readable ({e.Message.Split('.')[0]})"); }
        if (run?.Settings is null) throw new ArgumentException($"--resume: '{runFile}' holds no settings");
        try { run.Settings.Validate(); }
        catch (ArgumentException e) { throw new ArgumentException($"--resume: '{runFile}' holds invalid settings ({e.Message})"); }
        if (run.Settings.RunId() != run.RunId) throw new ArgumentException($"--resume: '{runFile}' was edited: its settings no longer give run id {run.RunId}");
        Files.EnsureWritableFolder(folder, "--resume");
        return Continue(folder, run.RunId, run.Settings, device, progress, cancel, "--resume", warn, keep ?? Retention.Thinned, tensorboard);
    }

    private sealed record RunDescription(string RunId, TrainSettings Settings);

    /// <summary>Checkpoint errors are phrased for --checkpoint (measure); here the folder came from <paramref name="option"/>.</summary>
    private static T Named<T>(string option, Func<T> load)
    {
        try { return load(); }
        catch (ArgumentException e) when (e.Message.StartsWith("--checkpoint: "))
        {
            throw new ArgumentException(option + e.Message["--checkpoint".Length..]);
        }
    }

    /// <param name="option">The option that named the folder (--resume, or --checkpoints for a rerun): checkpoint errors name it.</param>
    private static TrainingResult Continue(string folder, string runId, TrainSettings settings, string device, IProgress? progress, CancellationToken cancel,
        string option, Action<string>? warn, Retention keep, string? tensorboard)
    {
        var target = Distortion.ResolveDevice(device);
        var dtype = settings.ScalarType;
        var spec = settings.Network();
        using var data = ToyTasks.Generate(settings.Task, settings.DataSeed);
        using var scope = NewDisposeScope();
        var trainX = data.TrainX.to(dtype, target);
        var testX = data.TestX.to(dtype, target);
        var trainY = settings.Task.IsClassification ? data.TrainY.to(target) : data.TrainY.to(dtype, target);
        var testY = settings.Task.IsClassification ? data.TestY.to(target) : data.TestY.to(dtype, target);
        var probes = new Probes(settings, data, spec);
        var (theoryLength, theoryVolume) = InitTheory(spec, probes.HasPatches);

        // Temporary files of a write that a kill interrupted: never part of a checkpoint, safe to drop.
        foreach (var temp in Directory.EnumerateFiles(folder, ".*.tmp")) File.Delete(temp);
        var skipped = new List<(string Name, string Problem)>();
        var latest = Named(option, () => Checkpoints.LoadLatest(folder, settings, dtype, target, skipped));
        if (skipped.Count > 0)
        {
            string names = string.Join(", ", skipped.Select(c => c.Name));
            if (latest is null) throw new ArgumentException($"{option}: no intact checkpoint in '{folder}' ({names}: {skipped[0].Problem})");
            warn?.Invoke($"{option}: skipped damaged checkpoint {names} ({skipped[0].Problem}); resuming from {Path.GetFileNameWithoutExtension(latest.Value.Path)}");
        }
        Mlp net;
        var history = new List<HistoryRow>();
        long step = 0;
        if (latest is var (info, loaded, _, path))
        {
            if (info.RunId != runId) throw new ArgumentException($"{option}: checkpoint '{path}' belongs to run {info.RunId}, not {runId}");
            net = loaded;
            history.AddRange(info.History);
            step = info.Step;
        }
        else net = Mlp.Create(spec, 1, settings.Seed, 0, dtype, target);
        using var network = net;
        long resumedFrom = step;
        var optimizer = CreateOptimizer(settings, net);
        if (latest is var (saved, _, state, _)) Checkpoints.LoadOptimizer(optimizer, state, Path.Combine(folder, saved.OptimizerState), settings, option);

        // Event files follow the history: a resumed run writes its history so far into a new file and drops the old ones.
        TensorBoardLog? log = tensorboard is null ? null : new TensorBoardLog(tensorboard);
        if (log is not null)
        {
            foreach (var row in history) log.Write(row.Step, Scalars(row));
            log.DropEarlierFiles();
        }
        bool pruned = false;

        progress?.Started(runId, settings, step);
        string? failure = null;
        if (step == 0 && history.Count == 0) Record(Evaluate(0));
        Tensor? order = null;
        long orderEpoch = -1;
        while (step < settings.TotalSteps && failure is null)
        {
            cancel.ThrowIfCancellationRequested();
            long epoch = step / settings.StepsPerEpoch;
            if (epoch != orderEpoch)
            {
                // The batch order of an epoch depends only on (seed, epoch): a resumed run sees the same batches.
                order?.Dispose();
                using var generator = new Generator(Seeds.Derive(settings.Seed, epoch, ShuffleStream));
                order = randperm(settings.Task.TrainSize, generator: generator).to(target);
                orderEpoch = epoch;
            }
            long first = step % settings.StepsPerEpoch * settings.BatchSize;
            double loss = TrainStep(net, optimizer, settings, trainX, trainY, order!.narrow(0, first, Math.Min(settings.BatchSize, settings.Task.TrainSize - first)));
            if (!double.IsFinite(loss))
            {
                failure = Diverged($"the loss became {loss}", step + 1, epoch);
                break;
            }
            step++;
            progress?.Stepped(step);
            if (!settings.IsEvaluationStep(step)) continue;
            var row = Evaluate(step);
            // The step's update can make the weights non-finite although its own loss was finite: never checkpoint that.
            if (!double.IsFinite(row.TrainLoss) || !double.IsFinite(row.TestLoss) || !double.IsFinite(row.Length))
            {
                failure = Diverged($"the evaluated loss became {row.TrainLoss}", step, epoch);
                break;
            }
            Record(row);
        }
        order?.Dispose();
        WriteHistory(folder, runId, settings, history, failure, theoryLength, theoryVolume);
        return new TrainingResult(runId, folder, settings, history, resumedFrom, failure, theoryLength, theoryVolume);

        // Every recorded row was checkpointed, so the last row names the last good checkpoint.
        string Diverged(string what, long at, long epoch) =>
            $"{what} at step {at} (epoch {epoch + 1}); the last good checkpoint is {(history.Count == 0 ? "none" : Checkpoints.Name(settings, history[^1].Step))} (try a smaller --lr)";

        HistoryRow Evaluate(long at)
        {
            using var evaluation = NewDisposeScope();
            var (trainLoss, trainMetric) = Score(net, settings.Task, trainX, trainY);
            var (testLoss, testMetric) = Score(net, settings.Task, testX, testY);
            return probes.Measure(net, at, (double)at / settings.StepsPerEpoch, trainLoss, trainMetric, testLoss, testMetric);
        }

        void Record(HistoryRow row)
        {
            history.Add(row);
            Checkpoints.Save(folder, runId, settings, row.Step, net, optimizer, history, device);
            WriteHistory(folder, runId, settings, history, null, theoryLength, theoryVolume);
            Checkpoints.Prune(folder, settings, history, keep, everything: !pruned);
            pruned = true;
            log?.Write(row.Step, Scalars(row));
            progress?.Evaluated(row);
        }

        IEnumerable<(string, double)> Scalars(HistoryRow row) =>
            HistoryColumns(settings).Skip(1).Select(c => (c.Name, c.Value(row))).Where(c => c.Item2 is not null)
                .Select(c => (c.Name, Convert.ToDouble(c.Item2, CultureInfo.InvariantCulture)));
    }

    /// <summary>
    /// The exact E[length distortion] and E[2-volume distortion] of a freshly initialised network, where an exact law
    /// gives them (the piecewise-linear family; for k = 2 only ReLU has the mean in closed form); null elsewhere. The law
    /// is that of Gaussian weights, also drawn for other inits as a comparison.
    /// </summary>
    internal static (double? Length, double? Volume) InitTheory(NetworkSpec spec, bool patches)
    {
        double? Mean(int k)
        {
            var law = Measurement.TheoryLaw.For(spec, k);
            double log = law.LogMoment(1);
            return double.IsNaN(log) ? null : Math.Exp(log);
        }
        return (Mean(1), patches ? Mean(2) : null);
    }

    private static optim.Optimizer CreateOptimizer(TrainSettings settings, Mlp net) => settings.Optimizer switch
    {
        // PyTorch's defaults for Adam (TorchSharp's beta2 default differs).
        "adam" => optim.Adam(net.parameters(), settings.LearningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: settings.WeightDecay),
        _ => optim.SGD(net.parameters(), settings.LearningRate, momentum: settings.Momentum, weight_decay: settings.WeightDecay),
    };

    private static double TrainStep(Mlp net, optim.Optimizer optimizer, TrainSettings settings, Tensor x, Tensor y, Tensor batch)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        var loss = Loss(settings.Task, net.call(x.index_select(0, batch)), y.index_select(0, batch));
        double value = loss.to(float64).item<double>();
        if (!double.IsFinite(value)) return value;
        loss.backward();
        optimizer.step();
        return value;
    }

    private static Tensor Loss(TaskSpec task, Tensor output, Tensor target, nn.Reduction reduction = nn.Reduction.Mean) =>
        task.IsClassification ? nn.functional.cross_entropy(output, target, reduction: reduction) : nn.functional.mse_loss(output, target, reduction);

    /// <summary>Mean loss and the metric (accuracy, or R^2) over a whole split, in blocks so a large split fits in memory.</summary>
    internal static (double Loss, double Metric) Score(Mlp net, TaskSpec task, Tensor x, Tensor y)
    {
        using var noGrad = no_grad();
        long n = x.shape[0];
        double lossSum = 0, correct = 0;
        const long block = 65536;
        for (long first = 0; first < n; first += block)
        {
            using var scope = NewDisposeScope();
            long count = Math.Min(block, n - first);
            var output = net.call(x.narrow(0, first, count));
            var target = y.narrow(0, first, count);
            lossSum += Loss(task, output, target, nn.Reduction.Sum).to(float64).item<double>();
            if (task.IsClassification) correct += output.argmax(1).eq(target).sum().item<long>();
        }
        // mse_loss sums over the output coordinates too; with one output that is the mean squared error per example.
        double loss = lossSum / n;
        if (task.IsClassification) return (loss, correct / n);
        double variance = y.to(float64).var(unbiased: false).item<double>();
        return (loss, 1 - loss / variance);
    }

    internal static void WriteHistory(string folder, string runId, TrainSettings settings, IReadOnlyList<HistoryRow> history, string? failure,
        double? theoryLength, double? theoryVolume)
    {
        var columns = HistoryColumns(settings);
        Files.WriteAtomically(Path.Combine(folder, "history.csv"), HistoryCsv(settings, history));
        // The rows of history.json are those of history.csv, field for field; the run's id and settings (seed included) head it.
        var document = new { RunId = runId, Settings = settings, Failure = failure, TheoryLength = theoryLength, TheoryVolume = theoryVolume,
            History = Output.Json.Rows(columns, history) };
        Files.WriteAtomically(Path.Combine(folder, "history.json"), Output.Json.Document("training_history", document));
    }

    internal static string HistoryCsv(TrainSettings settings, IReadOnlyList<HistoryRow> history) => Csv.Write(HistoryColumns(settings), history);

    /// <summary>
    /// The columns of history.csv and the fields of history.json's rows, declared once; the TensorBoard scalars are all but
    /// the step.
    /// </summary>
    internal static IReadOnlyList<Column<HistoryRow>> HistoryColumns(TrainSettings settings)
    {
        string metric = settings.Task.MetricName;
        var columns = new List<Column<HistoryRow>>
        {
            new("step", r => r.Step), new("epoch", r => r.Epoch), new("train_loss", r => r.TrainLoss), new($"train_{metric}", r => r.TrainMetric),
            new("test_loss", r => r.TestLoss), new($"test_{metric}", r => r.TestMetric), new("length_distortion", r => r.Length),
            new("length_std_err", r => r.LengthStdErr), new("regions_per_length", r => r.RegionsPerLength), new("data_length_distortion", r => r.DataLength),
            new("data_pieces", r => r.DataPieces), new("volume_distortion", r => r.Volume), new("volume_std_err", r => r.VolumeStdErr),
        };
        if (settings.DataProbes > 0)
            columns.AddRange([new("data_same_length_distortion", r => r.DataSameLength), new("data_same_pieces", r => r.DataSamePieces),
                new("data_different_length_distortion", r => r.DataDifferentLength), new("data_different_pieces", r => r.DataDifferentPieces)]);
        return columns;
    }

    /// <summary>
    /// The fixed probes of a run: random segments and k = 2 patches (from the data seed), the data segment, and with
    /// --data-probes the segments between pairs of test inputs. Piecewise-linear networks are measured exactly along
    /// segments (with their pieces); smooth ones by a 64-node quadrature.
    /// </summary>
    internal sealed class Probes
    {
        private const int SmoothNodes = 64;
        private readonly TrainSettings _settings;
        private readonly long _seed;
        private readonly (double[] Start, double[] End) _dataSegment;
        private readonly GeometrySpec _segments;
        // A 2-volume needs two dimensions everywhere: in the input, the output and every hidden layer.
        private readonly GeometrySpec? _patches;
        private readonly List<(double[] Start, double[] End)> _same = [], _different = [];

        internal Probes(TrainSettings settings, ToyData data, NetworkSpec spec)
        {
            _settings = settings;
            _seed = (long)(Seeds.Derive(settings.DataSeed, 0, ProbeStream) >> 1);
            _dataSegment = data.DataSegment();
            bool exact = spec.Activation.IsPiecewiseLinear;
            _segments = new GeometrySpec(GeometryKind.Segment, Points: exact ? 1 : SmoothNodes, Size: 1.0, Exact: exact);
            _patches = spec.Widths.Min() >= 2 ? new GeometrySpec(GeometryKind.Patch, settings.PatchPoints, K: 2, Size: 1.0) : null;
            if (settings.DataProbes > 0) (_same, _different) = DataPairs(data, settings.DataProbes, settings.DataSeed);
        }

        internal bool HasPatches => _patches is not null;

        /// <summary>
        /// Pairs of test inputs fixed by the data seed: in a random order of the test split, the i-th input is paired with
        /// the next one (cyclically) of its class and the next one of another class.
        /// </summary>
        internal static (List<(double[], double[])> Same, List<(double[], double[])> Different) DataPairs(ToyData data, int count, long seed)
        {
            using var generator = new Generator(Seeds.Derive(seed, 0, DataProbeStream));
            using var permutation = randperm(data.Spec.TestSize, generator: generator);
            var order = permutation.data<long>().ToArray();
            var labels = data.TestY.data<long>().ToArray();
            var x = data.TestX.data<double>().ToArray();
            int n0 = data.Spec.InputDim;
            double[] Row(long i) => x[(int)(i * n0)..(int)((i + 1) * n0)];
            long Next(int from, Func<long, bool> accept)
            {
                for (int j = 1; j < order.Length; j++)
                    if (accept(order[(from + j) % order.Length])) return order[(from + j) % order.Length];
                throw new ArgumentException("--data-probes: the test split needs two inputs of some class and inputs of two classes; use a larger --test-size");
            }
            var same = new List<(double[], double[])>();
            var different = new List<(double[], double[])>();
            for (int i = 0; i < count; i++)
            {
                long a = order[i];
                same.Add((Row(a), Row(Next(i, b => labels[b] == labels[a]))));
                different.Add((Row(a), Row(Next(i, b => labels[b] != labels[a]))));
            }
            return (same, different);
        }

        internal HistoryRow Measure(Mlp net, long step, double epoch, double trainLoss, double trainMetric, double testLoss, double testMetric)
        {
            var lengths = Distortion.MeasureNetwork(net, _segments, _settings.Probes, _seed);
            var (length, lengthError) = MeanAndStdErr(lengths.LogDistortions);
            double? regions = lengths.LogRegionsPerLength?.Average(Math.Exp);
            var (dataLength, dataPieces) = Segment(net, _dataSegment.Start, _dataSegment.End);
            double? volume = null, volumeError = null;
            if (_patches is not null)
                (volume, volumeError) = MeanAndStdErr(Distortion.MeasureNetwork(net, _patches, _settings.Probes, _seed).LogDistortions);
            var (sameLength, samePieces) = Mean(net, _same);
            var (differentLength, differentPieces) = Mean(net, _different);
            return new HistoryRow(step, epoch, trainLoss, trainMetric, testLoss, testMetric, length, lengthError, regions,
                dataLength, dataPieces, volume, volumeError, sameLength, samePieces, differentLength, differentPieces);
        }

        /// <summary>Length distortion along one segment, with its linear pieces (exact), or by quadrature for a smooth network.</summary>
        private static (double Length, int? Pieces) Segment(Mlp net, double[] start, double[] end)
        {
            if (net.Spec.Activation.IsPiecewiseLinear)
            {
                var pieces = PiecewiseLinear.Segment(net, 0, start, end);
                return (pieces.LengthDistortion, pieces.Pieces);
            }
            var line = new GeometrySpec(GeometryKind.Polyline, SmoothNodes, PolylinePoints: [start, end]);
            return (Math.Exp(Distortion.MeasureNetwork(net, line, 1).LogDistortions[0]), null);
        }

        private static (double? Length, double? Pieces) Mean(Mlp net, List<(double[] Start, double[] End)> pairs)
        {
            if (pairs.Count == 0) return (null, null);
            var measured = pairs.Select(p => Segment(net, p.Start, p.End)).ToList();
            return (measured.Average(m => m.Length), measured[0].Pieces is null ? null : measured.Average(m => m.Pieces!.Value));
        }

        private static (double Mean, double StdErr) MeanAndStdErr(double[] logValues)
        {
            var values = logValues.Select(Math.Exp).ToArray();
            double mean = values.Average();
            double variance = values.Length > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1) : 0;
            return (mean, Math.Sqrt(variance / values.Length));
        }
    }
}
