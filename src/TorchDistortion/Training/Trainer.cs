using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>
/// One evaluation of a run: loss and metric on both splits, and the distortion of the fixed probes.
/// Length: mean exact length distortion over the probe segments (with its standard error over probes);
/// regions: linear pieces per unit input length along them; data: the exact length distortion of, and the pieces
/// along, the segment between two training inputs of different classes; volume: mean k = 2 volume distortion over
/// the probe patches (null where n0 or nL is below 2).
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
    double RegionsPerLength,
    double DataLength,
    int DataPieces,
    double? Volume,
    double? VolumeStdErr);

/// <summary>How a run ended.</summary>
/// <param name="Failure">Null when it finished; otherwise why it stopped (e.g. divergence), the last good checkpoint kept.</param>
/// <param name="TheoryLength">E[length distortion] at initialization, exact.</param>
/// <param name="TheoryVolume">E[2-volume distortion] at initialization, exact (null where it does not apply).</param>
public sealed record TrainingResult(
    string RunId,
    string Folder,
    TrainSettings Settings,
    IReadOnlyList<HistoryRow> History,
    long ResumedFromStep,
    string? Failure,
    double TheoryLength,
    double? TheoryVolume);

/// <summary>Trains one network on a toy task, probing its distortion and checkpointing at every evaluation.</summary>
public static class Trainer
{
    private const ulong ShuffleStream = 4, ProbeStream = 5;

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
    public static TrainingResult Run(TrainSettings settings, string checkpointRoot, string device = "cpu", IProgress? progress = null,
        CancellationToken cancel = default, Action<string>? warn = null)
    {
        settings.Validate();
        string runId = settings.RunId();
        string folder = Path.Combine(checkpointRoot, runId);
        Files.EnsureWritableFolder(folder, "--checkpoints");
        string runFile = Path.Combine(folder, Checkpoints.RunFile);
        if (!File.Exists(runFile)) Files.WriteAtomically(runFile, JsonSerializer.Serialize(new RunDescription(runId, settings), TrainSettings.Json));
        return Continue(folder, runId, settings, device, progress, cancel, "--checkpoints", warn);
    }

    /// <summary>
    /// Continues the run in <paramref name="folder"/> from its last intact checkpoint, with the settings it was started with;
    /// damaged later checkpoints are passed over (one line to <paramref name="warn"/>) and written again as the run gets there.
    /// </summary>
    public static TrainingResult Resume(string folder, string device = "cpu", IProgress? progress = null, CancellationToken cancel = default,
        Action<string>? warn = null)
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
        return Continue(folder, run.RunId, run.Settings, device, progress, cancel, "--resume", warn);
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
        string option, Action<string>? warn)
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
        var (theoryLength, theoryVolume) = probes.Theory();

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
            progress?.Evaluated(row);
        }
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
        double theoryLength, double? theoryVolume)
    {
        Files.WriteAtomically(Path.Combine(folder, "history.csv"), HistoryCsv(settings.Task, history));
        var document = new { RunId = runId, Settings = settings, Failure = failure, TheoryLength = theoryLength, TheoryVolume = theoryVolume, History = history };
        Files.WriteAtomically(Path.Combine(folder, "history.json"), JsonSerializer.Serialize(document, TrainSettings.Json));
    }

    internal static string HistoryCsv(TaskSpec task, IReadOnlyList<HistoryRow> history)
    {
        var text = new StringBuilder();
        text.AppendLine($"step,epoch,train_loss,train_{task.MetricName},test_loss,test_{task.MetricName},length_distortion,length_stderr,regions_per_length,data_length_distortion,data_pieces,volume_distortion,volume_stderr");
        foreach (var r in history)
            text.AppendLine(string.Join(",", r.Step.ToString(CultureInfo.InvariantCulture), N(r.Epoch), N(r.TrainLoss), N(r.TrainMetric), N(r.TestLoss),
                N(r.TestMetric), N(r.Length), N(r.LengthStdErr), N(r.RegionsPerLength), N(r.DataLength), r.DataPieces.ToString(CultureInfo.InvariantCulture),
                N(r.Volume), N(r.VolumeStdErr)));
        return text.ToString();

        static string N(double? v) => v is double d ? d.ToString("R", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>The fixed probes of a run: random segments and k = 2 patches (from the data seed) and the data segment.</summary>
    private sealed class Probes(TrainSettings settings, ToyData data, NetworkSpec spec)
    {
        private readonly long _seed = (long)(Seeds.Derive(settings.DataSeed, 0, ProbeStream) >> 1);
        private readonly (double[] Start, double[] End) _dataSegment = data.DataSegment();
        private readonly GeometrySpec _segments = new(GeometryKind.Segment, Points: 1, Size: 1.0, Exact: true);
        // A 2-volume needs two dimensions everywhere: in the input, the output and every hidden layer.
        private readonly GeometrySpec? _patches = spec.Widths.Min() >= 2
            ? new GeometrySpec(GeometryKind.Patch, settings.PatchPoints, K: 2, Size: 1.0) : null;

        internal HistoryRow Measure(Mlp net, long step, double epoch, double trainLoss, double trainMetric, double testLoss, double testMetric)
        {
            var lengths = Distortion.MeasureNetwork(net, _segments, settings.Probes, _seed);
            var (length, lengthError) = MeanAndStdErr(lengths.LogDistortions);
            double regions = lengths.LogRegionsPerLength!.Average(Math.Exp);
            var dataPieces = PiecewiseLinear.Segment(net, 0, _dataSegment.Start, _dataSegment.End);
            double? volume = null, volumeError = null;
            if (_patches is not null)
                (volume, volumeError) = MeanAndStdErr(Distortion.MeasureNetwork(net, _patches, settings.Probes, _seed).LogDistortions);
            return new HistoryRow(step, epoch, trainLoss, trainMetric, testLoss, testMetric, length, lengthError, regions,
                dataPieces.LengthDistortion, dataPieces.Pieces, volume, volumeError);
        }

        /// <summary>The exact expected length and 2-volume distortion of a freshly initialised network of this shape and scheme.</summary>
        internal (double Length, double? Volume) Theory()
        {
            var variances = spec.LayerVariances();
            return (ExactTheory.Moment(spec.Widths, variances, 1, 1), _patches is null ? null : ExactTheory.Moment(spec.Widths, variances, 2, 1));
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
