using TorchDistortion.Tests.Cli;
using TorchDistortion.Training;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Training;

/// <summary>Runs of one shape trained as one batched network reproduce the same runs trained one after another.</summary>
public class EnsembleTrainingTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-ensemble").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>
    /// Tolerance, relative to the largest magnitude of each compared quantity. A network in the ensemble differs from the same
    /// network alone only where bmm over K matrices sums a dot product of length n (n = 32 here: the width, or a batch) in
    /// another order than over one matrix: at most n ulps (n * 2^-53 ~ 4e-15) per product. Over 40 steps such differences add
    /// up (linearly while training is stable, ~2e-13), and the evaluations sum ~1000 terms more; 1e-10 leaves three orders of
    /// magnitude for growth and still catches any real mistake (another batch, seed or optimizer state moves the weights by
    /// ~1e-3 after one step). Measured on this machine (libtorch 2.10, CPU, 1 thread): spirals with Adam 0 (bitwise identical);
    /// sines with SGD 1.5e-16 on the weights and 3.2e-15 on the history. The cause is the single output column: libtorch
    /// multiplies one matrix by a one-column matrix with gemv, a batch of them with gemm (two and more round alike).
    /// </summary>
    private const double Tolerance = 1e-10;

    /// <summary>Eight runs: four seeds times two init schemes (He, and variance with <paramref name="cw"/>), float64.</summary>
    private static List<TrainSettings> Eight(TaskKind kind = TaskKind.Spirals, string optimizer = "adam", int epochs = 5, double lr = 1e-2, double cw = 1.5)
    {
        var task = new TaskSpec(kind, kind == TaskKind.Sines ? 3 : 2, TrainSize: 256, TestSize: 128);
        var runs = new List<TrainSettings>();
        foreach (var (init, c) in new[] { ("he", (double?)null), ("variance", cw) })
            for (long seed = 0; seed < 4; seed++)
                runs.Add(new TrainSettings(task, Width: 32, Depth: 3, Init: init, CW: c, Optimizer: optimizer, LearningRate: lr,
                    BatchSize: 32, Epochs: epochs, Probes: 4, PatchPoints: 3, Seed: seed, DType: "float64"));
        return runs;
    }

    [Theory]
    [InlineData(TaskKind.Spirals, "adam")]
    [InlineData(TaskKind.Sines, "sgd")]
    public void EightNetworksTrainedAsAnEnsembleReproduceEightRunsTrainedAlone(TaskKind kind, string optimizer)
    {
        var runs = Eight(kind, optimizer);
        var starts = new Recorder();
        var together = Trainer.RunAll(runs, Path.Combine(_root, "ensemble"), progress: starts);
        // All eight started before the first step was taken: they trained as one.
        Assert.Equal(8, starts.StartedBeforeFirstStep);
        var alone = runs.Select(r => Trainer.Run(r, Path.Combine(_root, "alone"))).ToList();

        double weights = 0, history = 0;
        for (int i = 0; i < runs.Count; i++)
        {
            var (a, b) = (together[i], alone[i]);
            Assert.Null(a.Failure);
            Assert.Equal(b.RunId, a.RunId);
            Assert.Equal(b.History.Select(h => h.Step), a.History.Select(h => h.Step));
            weights = Math.Max(weights, WeightDifference(a.Folder, b.Folder, a.History[^1].Step, a.Settings));
            var columns = Trainer.HistoryColumns(a.Settings);
            foreach (var (name, value) in columns)
            {
                double? Number(object? v) => v is null ? null : Convert.ToDouble(v, System.Globalization.CultureInfo.InvariantCulture);
                var x = a.History.Select(h => Number(value(h))).ToList();
                var y = b.History.Select(h => Number(value(h))).ToList();
                Assert.Equal(y.Select(v => v is null), x.Select(v => v is null));
                double scale = Math.Max(1e-300, y.Where(v => v is not null).Select(v => Math.Abs(v!.Value)).DefaultIfEmpty(0).Max());
                double difference = x.Zip(y).Where(p => p.First is not null).Select(p => Math.Abs(p.First!.Value - p.Second!.Value) / scale).DefaultIfEmpty(0).Max();
                Assert.True(difference <= Tolerance, $"run {i}: {name} differs by {difference:G3} (relative)");
                history = Math.Max(history, difference);
            }
        }
        output.WriteLine($"{kind}, {optimizer}: max relative difference ensemble vs alone: weights {weights:G3}, history {history:G3} (tolerance {Tolerance:G3})");
        // The runs really differ from one another (seeds and inits reach the ensemble's networks).
        Assert.Equal(8, together.Select(r => r.History[^1].TrainLoss).Distinct().Count());
    }

    [Fact]
    public void RunsThatDivergeLeaveTheEnsembleWhereTheyWouldStopAloneAndTheOthersGoOn()
    {
        // SGD with a step this large: some seeds overflow in a step (loss), one after a step (evaluated loss), the others train on.
        var runs = Eight(TaskKind.Sines, "sgd", epochs: 3, lr: 3, cw: 6);
        var together = Trainer.RunAll(runs, Path.Combine(_root, "ensemble"));
        var alone = runs.Select(r => Trainer.Run(r, Path.Combine(_root, "alone"))).ToList();
        Assert.Equal(alone.Select(r => r.Failure), together.Select(r => r.Failure));
        Assert.Contains(together, r => r.Failure is null);
        Assert.Contains(together, r => r.Failure?.StartsWith("the loss became") == true);
        Assert.Contains(together, r => r.Failure?.StartsWith("the evaluated loss became") == true);
        for (int i = 0; i < runs.Count; i++)
        {
            Assert.Equal(alone[i].History.Select(h => h.Step), together[i].History.Select(h => h.Step));
            var pairs = alone[i].History.Zip(together[i].History).ToList();
            double scale = pairs.Max(p => Math.Abs(p.First.TrainLoss));
            Assert.All(pairs, p => Assert.True(Math.Abs(p.First.TrainLoss - p.Second.TrainLoss) <= Tolerance * scale));
        }
    }

    [Fact]
    public void AnInterruptedEnsembleResumesToTheSameFilesAndRunsAtOtherStepsTrainApart()
    {
        var runs = Eight(epochs: 3);
        var reference = Trainer.RunAll(runs, Path.Combine(_root, "whole"));
        string folder = Path.Combine(_root, "cut");
        using (var cancel = new CancellationTokenSource())
            Assert.Throws<OperationCanceledException>(() => Trainer.RunAll(runs, folder, progress: new CancelAt(13, cancel), cancel: cancel.Token));
        // One run trained alone a little further: it resumes in an ensemble of its own, the other seven together.
        Assert.Throws<OperationCanceledException>(() =>
        {
            using var cancel = new CancellationTokenSource();
            Trainer.Run(runs[5], folder, progress: new CancelAt(17, cancel), cancel: cancel.Token);
        });
        var starts = new Recorder();
        var resumed = Trainer.RunAll(runs, folder, progress: starts);
        Assert.Equal(7, starts.StartedBeforeFirstStep);
        for (int i = 0; i < runs.Count; i++)
        {
            Assert.Equal(i == 5 ? 16 : 8, resumed[i].ResumedFromStep);
            Assert.Equal(File.ReadAllText(Path.Combine(reference[i].Folder, "history.csv")), File.ReadAllText(Path.Combine(resumed[i].Folder, "history.csv")));
            string last = Checkpoints.Name(runs[i], runs[i].TotalSteps) + ".safetensors";
            Assert.Equal(File.ReadAllBytes(Path.Combine(reference[i].Folder, last)), File.ReadAllBytes(Path.Combine(resumed[i].Folder, last)));
        }
    }

    [Fact]
    public void SigkillBetweenTheRunsCheckpointsThenTheSameCommandGivesTheUninterruptedFiles()
    {
        // A regression task: its single output column is where a lone network's bmm rounds apart from a batch's.
        string[] Args(string root) =>
        [
            "train", "--task", "sines", "--n0", "3", "--train-size", "256", "--test-size", "128", "--width", "16", "--depth", "3",
            "--batch-size", "32", "--epochs", "3", "--init", "he,variance", "--cw", "1.5", "--seeds", "0,1,2,3", "--probes", "2",
            "--patch-points", "2", "--dtype", "float64", "--checkpoints", Path.Combine(_root, root), "-o", Path.Combine(_root, "out-" + root), "--no-progress",
        ];
        var full = CliRunner.Run(Args("full"));
        Assert.True(full.ExitCode == 0, full.Stderr);
        // Killed while the second run's epoch-2 sidecar is written: the first run stands at epoch 2, the other seven at epoch 1.
        var killed = CliRunner.RunKilledAt(@"/epoch-0002\.json$", 2, Args("killed"));
        Assert.Equal(CliRunner.Killed, killed.ExitCode);
        var standing = Directory.GetDirectories(Path.Combine(_root, "killed")).Select(run => File.ReadAllLines(Path.Combine(run, "history.csv")).Length - 1).ToList();
        Assert.Equal(1, standing.Count(rows => rows == 3));
        Assert.Equal(7, standing.Count(rows => rows == 2));
        var again = CliRunner.Run(Args("killed"));
        Assert.True(again.ExitCode == 0, again.Stderr);
        foreach (var run in Directory.GetDirectories(Path.Combine(_root, "full")))
        {
            string other = Path.Combine(_root, "killed", Path.GetFileName(run));
            Assert.Equal(File.ReadAllText(Path.Combine(run, "history.csv")), File.ReadAllText(Path.Combine(other, "history.csv")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(run, "epoch-0003.safetensors")), File.ReadAllBytes(Path.Combine(other, "epoch-0003.safetensors")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(run, "epoch-0003.optimizer")), File.ReadAllBytes(Path.Combine(other, "epoch-0003.optimizer")));
        }
    }

    /// <summary>Largest difference between the two runs' weights at <paramref name="step"/>, relative to the largest weight.</summary>
    private static double WeightDifference(string a, string b, long step, TrainSettings settings)
    {
        string name = Checkpoints.Name(settings, step) + ".safetensors";
        var (x, _) = Checkpoints.LoadNetwork(Path.Combine(a, name), ScalarType.Float64);
        var (y, _) = Checkpoints.LoadNetwork(Path.Combine(b, name), ScalarType.Float64);
        using (x)
        using (y)
        {
            double difference = 0, scale = 0;
            foreach (var (p, q) in x.parameters().Zip(y.parameters()))
            {
                difference = Math.Max(difference, (p - q).abs().max().item<double>());
                scale = Math.Max(scale, q.abs().max().item<double>());
            }
            return difference / scale;
        }
    }

    private sealed class Recorder : Trainer.IProgress
    {
        private bool _stepped;
        internal int StartedBeforeFirstStep { get; private set; }
        public void Started(string runId, TrainSettings settings, long startStep) { if (!_stepped) StartedBeforeFirstStep++; }
        public void Stepped(long step) => _stepped = true;
        public void Evaluated(string runId, TrainSettings settings, HistoryRow row) { }
    }

    private sealed class CancelAt(long step, CancellationTokenSource cancel) : Trainer.IProgress
    {
        public void Started(string runId, TrainSettings settings, long startStep) { }
        public void Stepped(long at) { if (at == step) cancel.Cancel(); }
        public void Evaluated(string runId, TrainSettings settings, HistoryRow row) { }
    }
}
