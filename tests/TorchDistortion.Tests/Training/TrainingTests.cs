using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using TorchDistortion.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Training;

public class TrainingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-train").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    private static TrainSettings Small(TaskKind kind = TaskKind.Moons, int epochs = 2, string dtype = "float64") =>
        new(new TaskSpec(kind, TrainSize: 256, TestSize: 128), Width: 16, Depth: 3, Epochs: epochs, BatchSize: 32, Probes: 4, PatchPoints: 3, DType: dtype);

    [Theory]
    [InlineData(TaskKind.Spirals, 2)]
    [InlineData(TaskKind.Circles, 2)]
    [InlineData(TaskKind.Moons, 2)]
    [InlineData(TaskKind.Xor, 2)]
    [InlineData(TaskKind.Checkerboard, 2)]
    [InlineData(TaskKind.Mixture, 7)]
    [InlineData(TaskKind.Sines, 5)]
    [InlineData(TaskKind.Teacher, 6)]
    public void TasksAreSeededSplitAndBalanced(TaskKind kind, int n0)
    {
        var spec = new TaskSpec(kind, n0, Classes: kind == TaskKind.Mixture ? 3 : 2, TrainSize: 300, TestSize: 150);
        using var a = ToyTasks.Generate(spec, 7);
        using var b = ToyTasks.Generate(spec, 7);
        using var c = ToyTasks.Generate(spec, 8);
        Assert.True(Same(a.TrainX, b.TrainX) && Same(a.TrainY, b.TrainY) && Same(a.TestX, b.TestX) && Same(a.TestY, b.TestY));
        Assert.False(Same(a.TrainX, c.TrainX));
        Assert.Equal([300L, n0], a.TrainX.shape);
        Assert.Equal([150L, n0], a.TestX.shape);
        Assert.False(Same(a.TrainX.narrow(0, 0, 150), a.TestX), "the test split must be fresh draws");
        Assert.True(a.TrainX.isfinite().all().item<bool>() && a.TestX.isfinite().all().item<bool>());
        if (spec.IsClassification)
        {
            var counts = a.TrainY.bincount(null, 0).data<long>().ToArray();
            Assert.Equal(spec.OutputDim, counts.Length);
            Assert.True(counts.Max() - counts.Min() <= 1, "classes are balanced");
            // Labels must carry information: the class means of the inputs differ (or, for xor, the quadrant signs).
            if (kind is TaskKind.Xor)
            {
                var sign = (a.TrainX.select(1, 0) * a.TrainX.select(1, 1)).lt(0).to(int64);
                Assert.True(sign.eq(a.TrainY).all().item<bool>(), "xor: the label is whether the coordinates' signs differ");
            }
        }
        else
        {
            Assert.Equal([300L, 1], a.TrainY.shape);
            Assert.True(a.TrainY.std().item<double>() > 0.05, "the regression target varies");
        }
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void SafetensorsRoundTripIsBitwise(ScalarType dtype)
    {
        var spec = new NetworkSpec([3, 8, 8, 2], InitScheme.Parse("he"), BiasVariance: 0.1);
        using var net = Mlp.Create(spec, 1, seed: 11, dtype: dtype);
        string path = Path.Combine(_root, "net.safetensors");
        File.WriteAllBytes(path, StateDicts.SafetensorsBytes(net));
        using var loaded = StateDicts.Load(path, spec, dtype);
        using var x = randn([20, 3], dtype);
        using (no_grad()) Assert.True(Same(net.call(x), loaded.call(x)));
        using var inferred = StateDicts.Load(path, null, dtype);
        Assert.Equal(spec.Widths, inferred.Spec.Widths);
    }

    [Fact]
    public void StateDictLayersFollowNaturalKeyOrder()
    {
        var state = new Dictionary<string, Tensor>
        {
            ["net.fc10.weight"] = zeros(2, 5), ["net.fc2.weight"] = zeros(5, 4), ["net.fc1.weight"] = zeros(4, 3), ["net.fc1.bias"] = zeros(4),
        };
        var (widths, _, biases) = StateDicts.Layers(state, "x");
        Assert.Equal([3, 4, 5, 2], widths);
        Assert.All(biases, b => Assert.NotNull(b)); // missing biases become zeros when some layer has one
    }

    [Theory]
    [InlineData("extra", "bn.running_mean")]
    [InlineData("chain", "not a chain")]
    [InlineData("conv", "linear layers")]
    [InlineData("bias", "has shape")]
    [InlineData("none", "no '*.weight'")]
    [InlineData("nan-bias", "NaN or infinite")]
    [InlineData("unnumbered", "layer order")]
    public void StateDictsOfOtherModelsAreRefused(string defect, string message)
    {
        var state = new Dictionary<string, Tensor> { ["0.weight"] = zeros(4, 3), ["2.weight"] = zeros(2, 4) };
        switch (defect)
        {
            case "extra": state["bn.running_mean"] = zeros(4); break;
            case "chain": state["2.weight"] = zeros(2, 5); break;
            case "conv": state["0.weight"] = zeros(4, 3, 3, 3); break;
            case "bias": state["0.bias"] = zeros(3); break;
            case "none": state = new() { ["0.scale"] = zeros(3) }; break;
            case "nan-bias": state["0.bias"] = tensor(new[] { 0f, float.NaN, 0f, 0f }); break;
            // fc_in, fc_hidden, fc_out of equal shapes would chain in any order: names must number the layers.
            case "unnumbered": state = new() { ["fc_in.weight"] = zeros(4, 4), ["fc_hidden.weight"] = zeros(4, 4), ["fc_out.weight"] = zeros(4, 4) }; break;
        }
        var error = Assert.ThrowsAny<ArgumentException>(() => StateDicts.Layers(state, "model.pt"));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void TruncatedOrForeignFilesAreRefused()
    {
        var spec = new NetworkSpec([3, 8, 2], InitScheme.Parse("he"));
        using var net = Mlp.Create(spec, 1, seed: 1);
        byte[] bytes = StateDicts.SafetensorsBytes(net);
        string truncated = Path.Combine(_root, "cut.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length - 9)]);
        Assert.Contains("truncated", Assert.ThrowsAny<ArgumentException>(() => StateDicts.Read(truncated)).Message);
        string garbage = Path.Combine(_root, "garbage.pt");
        File.WriteAllBytes(garbage, [1, 2, 3, 4, 5]);
        Assert.Contains("garbage.pt", Assert.ThrowsAny<ArgumentException>(() => StateDicts.Read(garbage)).Message);
        string other = Path.Combine(_root, "other.safetensors");
        File.WriteAllBytes(other, bytes);
        var error = Assert.ThrowsAny<ArgumentException>(() => StateDicts.Load(other, new NetworkSpec([3, 9, 2], InitScheme.Parse("he")), ScalarType.Float64));
        Assert.Contains("different architecture", error.Message);
    }

    [Fact]
    public void TrainingIsBitwiseReproducibleAndAFinishedRunIsNotRepeated()
    {
        var settings = Small();
        var first = Trainer.Run(settings, Path.Combine(_root, "a"));
        var second = Trainer.Run(settings, Path.Combine(_root, "b"));
        Assert.Null(first.Failure);
        Assert.Equal(settings.Epochs + 1, first.History.Count);
        Assert.Equal(Trainer.HistoryCsv(settings, first.History), Trainer.HistoryCsv(settings, second.History));
        Assert.Equal(File.ReadAllBytes(Path.Combine(first.Folder, "epoch-0002.safetensors")), File.ReadAllBytes(Path.Combine(second.Folder, "epoch-0002.safetensors")));
        // The same command again finds the finished run and returns its history without training.
        var again = Trainer.Run(settings, Path.Combine(_root, "a"));
        Assert.Equal(settings.TotalSteps, again.ResumedFromStep);
        Assert.Equal(Trainer.HistoryCsv(settings, first.History), Trainer.HistoryCsv(settings, again.History));
        // Another seed is another run.
        var other = Trainer.Run(settings with { Seed = 1 }, Path.Combine(_root, "a"));
        Assert.NotEqual(first.RunId, other.RunId);
        Assert.NotEqual(first.History[^1].TrainLoss, other.History[^1].TrainLoss);
    }

    [Fact]
    public void ResumingFromAnEarlierCheckpointRepeatsTheHistoryExactly()
    {
        // SGD with momentum: the optimizer state must come back exactly too (Adam is covered by the kill test of the CLI).
        var settings = Small(epochs: 4) with { Optimizer = "sgd", LearningRate = 0.05, ProbeSteps = 5 };
        var full = Trainer.Run(settings, Path.Combine(_root, "full"));
        var partial = Trainer.Run(settings, Path.Combine(_root, "partial"));
        // Drop every checkpoint after step 15 (and its history): as if the run had died there.
        foreach (var (path, info) in Checkpoints.List(partial.Folder).Where(c => c.Info.Step > 15))
            foreach (var file in Directory.GetFiles(partial.Folder, Path.GetFileNameWithoutExtension(path) + ".*")) File.Delete(file);
        var resumed = Trainer.Resume(partial.Folder);
        Assert.Equal(15, resumed.ResumedFromStep);
        Assert.Equal(Trainer.HistoryCsv(settings, full.History), Trainer.HistoryCsv(settings, resumed.History));
    }

    [Fact]
    public void CorruptedOrIncompleteCheckpointsNeverLoad()
    {
        var run = Trainer.Run(Small(epochs: 1), _root);
        string weights = Path.Combine(run.Folder, "epoch-0001.safetensors");
        var (net, info) = Checkpoints.LoadNetwork(weights, ScalarType.Float64);
        net.Dispose();
        Assert.Equal(run.Settings.TotalSteps, info!.Step);

        byte[] original = File.ReadAllBytes(weights), bytes = (byte[])original.Clone();
        bytes[^3] ^= 0x40; // one flipped bit in a weight: the file still parses
        File.WriteAllBytes(weights, bytes);
        Assert.Contains("SHA-256", Assert.ThrowsAny<ArgumentException>(() => Checkpoints.LoadNetwork(weights, ScalarType.Float64)).Message);
        // A resume passes over it (one warning naming it), retrains from epoch 0 and writes the same weights again.
        var warnings = new List<string>();
        var resumed = Trainer.Resume(run.Folder, warn: warnings.Add);
        Assert.Equal(0, resumed.ResumedFromStep);
        Assert.Contains("epoch-0001 (", Assert.Single(warnings));
        Assert.Contains("SHA-256", warnings[0]);
        Assert.Equal(original, File.ReadAllBytes(weights));

        File.Delete(Path.Combine(run.Folder, "epoch-0001.json"));
        Assert.Contains("no sidecar", Assert.ThrowsAny<ArgumentException>(() => Checkpoints.LoadNetwork(weights, ScalarType.Float64)).Message);
    }

    [Fact]
    public void DivergenceStopsCleanlyAndKeepsTheLastGoodCheckpoint()
    {
        var settings = Small(TaskKind.Sines, epochs: 3, dtype: "float32") with { Optimizer = "sgd", LearningRate = 1e4 };
        var run = Trainer.Run(settings, _root);
        Assert.NotNull(run.Failure);
        Assert.Contains("loss became", run.Failure);
        var last = Checkpoints.List(run.Folder)[^1];
        var (net, _) = Checkpoints.LoadNetwork(Path.ChangeExtension(last.Path, ".safetensors"), ScalarType.Float64);
        using (net)
            Assert.True(net.parameters().All(p => p.isfinite().all().item<bool>()), "the kept checkpoint holds finite weights");
    }

    [Fact]
    public void NonFiniteWeightsAfterAStepAreNeverCheckpointed()
    {
        // One step per epoch with an absurd step size: the step's own loss is finite, the weights after it are not.
        var settings = new TrainSettings(new TaskSpec(TaskKind.Spirals, TrainSize: 100, TestSize: 20), Width: 8, Depth: 2, LearningRate: 1e30,
            BatchSize: 100, Epochs: 2, Probes: 2, PatchPoints: 2, DType: "float32");
        var run = Trainer.Run(settings, _root);
        Assert.NotNull(run.Failure);
        Assert.Contains("epoch-0000", run.Failure);
        Assert.All(run.History, row => Assert.True(double.IsFinite(row.TrainLoss) && double.IsFinite(row.Length)));
        Assert.Single(Checkpoints.List(run.Folder));
    }

    [Fact]
    public void CheckpointsOfAnotherRunAndStrayFilesAreTold()
    {
        var a = Trainer.Run(Small(epochs: 1), Path.Combine(_root, "a"));
        var b = Trainer.Run(Small(epochs: 1) with { Seed = 9 }, Path.Combine(_root, "b"));
        // A stray JSON whose name merely starts like a checkpoint's is not a sidecar.
        File.WriteAllText(Path.Combine(a.Folder, "epoch-0001-points.json"), "{}");
        Assert.Equal(2, Checkpoints.List(a.Folder).Count);
        foreach (var file in Directory.GetFiles(b.Folder, "epoch-0001.*")) File.Copy(file, Path.Combine(a.Folder, Path.GetFileName(file)), overwrite: true);
        var error = Assert.ThrowsAny<ArgumentException>(() => Checkpoints.LoadNetwork(Path.Combine(a.Folder, "epoch-0001.safetensors"), ScalarType.Float64));
        Assert.Contains($"belongs to run {b.RunId}", error.Message);
        Assert.Contains("not a network file", Assert.ThrowsAny<ArgumentException>(() => Checkpoints.LoadNetwork(Path.Combine(a.Folder, "epoch-0000.optimizer"), ScalarType.Float64)).Message);
        Assert.True(Checkpoints.IsRunFolder(a.Folder));
        Assert.False(Checkpoints.IsRunFolder(_root));
    }

    [Fact]
    public void TrainingLearnsTheTask()
    {
        var settings = new TrainSettings(new TaskSpec(TaskKind.Moons, TrainSize: 1000, TestSize: 500), Width: 32, Depth: 4, Epochs: 15, Probes: 4, PatchPoints: 3);
        var run = Trainer.Run(settings, _root);
        Assert.True(run.History[0].TestMetric < 0.9, "an untrained network does not already solve the task");
        Assert.True(run.History[^1].TestMetric > 0.97, $"test accuracy after training: {run.History[^1].TestMetric}");
        Assert.True(run.History[^1].TrainLoss < run.History[0].TrainLoss / 5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void OneNetworkManyGeometriesMatchesTheEnsemblePath(int k)
    {
        // MeasureNetwork evaluates all geometries as one batch of points on one network; Measure pairs network i with
        // geometry i. With one network both must give the same number up to rounding.
        var spec = new NetworkSpec([4, 16, 16, 3], InitScheme.Parse("he"), BiasVariance: 0.05);
        var geometry = k == 1 ? new GeometrySpec(GeometryKind.Segment, 32) : new GeometrySpec(GeometryKind.Patch, 5, K: 2);
        var ensemble = Distortion.Measure(new MeasureSettings(spec, geometry, Networks: 1, Seed: 5));
        using var net = Mlp.Create(spec, 1, seed: 5);
        var single = Distortion.MeasureNetwork(net, geometry, count: 3, seed: 5);
        Assert.Equal(3, single.LogDistortions.Length);
        Assert.Equal(ensemble.LogDistortions[0], single.LogDistortions[0], 1e-12);
        Assert.NotEqual(single.LogDistortions[0], single.LogDistortions[1]);
    }

    [Fact]
    public void ExactProbeLengthsAgreeWithQuadratureAndTheoryAtInit()
    {
        var spec = new NetworkSpec([2, 24, 24, 24, 2], InitScheme.Parse("he"));
        var exact = new GeometrySpec(GeometryKind.Segment, 1, Exact: true);
        using (var one = Mlp.Create(spec, 1, seed: 2))
        {
            double exactLog = Distortion.MeasureNetwork(one, exact, 1, 9).LogDistortions[0];
            double quadratureLog = Distortion.MeasureNetwork(one, new GeometrySpec(GeometryKind.Segment, 20000), 1, 9).LogDistortions[0];
            Assert.True(Math.Abs(Math.Exp(quadratureLog - exactLog) - 1) < 1e-3, $"exact {exactLog}, quadrature {quadratureLog}");
        }
        // At initialization the probe distortion averaged over networks is the exact law's mean.
        const int networks = 400;
        var values = new double[networks];
        for (int i = 0; i < networks; i++)
        {
            using var net = Mlp.Create(spec, 1, seed: 1000 + i);
            values[i] = Math.Exp(Distortion.MeasureNetwork(net, exact, 1, i).LogDistortions[0]);
        }
        double mean = values.Average();
        double stdErr = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (networks - 1) / networks);
        double theory = ExactTheory.Moment(spec.Widths, spec.LayerVariances(), 1, 1);
        Assert.True(Math.Abs(mean - theory) < 3.5 * stdErr, $"mean {mean} ± {stdErr}, exact {theory}");
    }
}
