using System.Globalization;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Tests.Cli;
using TorchDistortion.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Training;

/// <summary>TensorBoard logs, per-evaluation lines, data probes, data export, checkpoint retention and activations in training.</summary>
public class TrainLoggingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-trainlog").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static TrainSettings Small(int epochs = 2) =>
        new(new TaskSpec(TaskKind.Moons, TrainSize: 128, TestSize: 64), Width: 12, Depth: 3, Epochs: epochs, BatchSize: 32, Probes: 3, PatchPoints: 3, DType: "float64");

    // ---- An independent reader of TensorBoard event files: TFRecord framing, CRC32C, and the protobuf fields by hand. ----

    /// <summary>CRC32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit.</summary>
    private static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = ~0u;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ (0x82F63B78u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    private static uint Masked(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C(data);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    private sealed record Event(double WallTime, long Step, string? FileVersion, List<(string Tag, float Value)> Values);

    private static ulong Varint(byte[] b, ref int i)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte x = b[i++];
            value |= (ulong)(x & 0x7f) << shift;
            if (x < 0x80) return value;
        }
    }

    /// <summary>Every record of an event file, its two checksums verified.</summary>
    private static List<Event> ReadEvents(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var events = new List<Event>();
        for (int at = 0; at < bytes.Length;)
        {
            ulong length = BitConverter.ToUInt64(bytes, at);
            Assert.Equal(Masked(bytes.AsSpan(at, 8)), BitConverter.ToUInt32(bytes, at + 8));
            var data = bytes.AsSpan(at + 12, (int)length).ToArray();
            Assert.Equal(Masked(data), BitConverter.ToUInt32(bytes, at + 12 + (int)length));
            events.Add(Decode(data));
            at += 16 + (int)length;
        }
        return events;
    }

    /// <summary>Event: 1 wall_time (double), 2 step (varint), 3 file_version (string), 5 summary; Summary: 1 value; Value: 1 tag, 2 simple_value (float).</summary>
    private static Event Decode(byte[] b)
    {
        double wall = 0; long step = 0; string? version = null; var values = new List<(string, float)>();
        for (int i = 0; i < b.Length;)
        {
            ulong key = Varint(b, ref i);
            switch (key)
            {
                case (1 << 3) | 1: wall = BitConverter.ToDouble(b, i); i += 8; break;
                case (2 << 3) | 0: step = (long)Varint(b, ref i); break;
                case (3 << 3) | 2: { int n = (int)Varint(b, ref i); version = System.Text.Encoding.UTF8.GetString(b, i, n); i += n; break; }
                case (5 << 3) | 2:
                {
                    int end = (int)Varint(b, ref i) + i;
                    while (i < end)
                    {
                        Assert.Equal((1UL << 3) | 2, Varint(b, ref i));
                        int valueEnd = (int)Varint(b, ref i) + i;
                        string tag = ""; float simple = float.NaN;
                        while (i < valueEnd)
                        {
                            ulong field = Varint(b, ref i);
                            if (field == ((1 << 3) | 2)) { int n = (int)Varint(b, ref i); tag = System.Text.Encoding.UTF8.GetString(b, i, n); i += n; }
                            else if (field == ((2 << 3) | 5)) { simple = BitConverter.ToSingle(b, i); i += 4; }
                            else throw new InvalidDataException($"unexpected Summary.Value field {field}");
                        }
                        values.Add((tag, simple));
                    }
                    break;
                }
                default: throw new InvalidDataException($"unexpected Event field key {key}");
            }
        }
        return new Event(wall, step, version, values);
    }

    /// <summary>Steps and values of the event file equal history.csv, column by column (as float32, TensorBoard's precision).</summary>
    private static void AssertEventsMatchHistory(string eventFolder, string runFolder, double startedAt)
    {
        var events = ReadEvents(Directory.GetFiles(eventFolder, "events.out.tfevents.*").Single());
        Assert.Equal("brain.Event:2", events[0].FileVersion);
        var lines = File.ReadAllLines(Path.Combine(runFolder, "history.csv"));
        var header = lines[0].Split(',');
        var rows = lines[1..].Select(l => l.Split(',')).ToList();
        var scalars = events.Skip(1).ToList();
        Assert.Equal(rows.Select(r => long.Parse(r[1], CultureInfo.InvariantCulture)), scalars.Select(e => e.Step));
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.InRange(scalars[i].WallTime, startedAt - 5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0 + 5);
            var expected = header.Zip(rows[i]).Skip(2).Where(c => c.Second != "")
                .Select(c => (c.First, (float)double.Parse(c.Second, CultureInfo.InvariantCulture))).ToList();
            Assert.Equal(expected, scalars[i].Values);
        }
    }

    [Fact]
    public void Crc32CGivesTheStandardCheckValue() => Assert.Equal(0xE3069283u, Crc32C("123456789"u8));

    [Fact]
    public void TensorBoardEventsEqualTheHistoryAndRedirectedOutputHasOneLinePerEvaluation()
    {
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        string tensorboard = Path.Combine(_root, "tb"), checkpoints = Path.Combine(_root, "ck");
        var result = CliRunner.Run("train", "--task", "moons", "--train-size", "128", "--test-size", "64", "--width", "12", "--depth", "3",
            "--probes", "3", "--patch-points", "3", "--epochs", "2", "--seeds", "0,1", "--data-probes", "2", "--checkpoints", checkpoints,
            "--out", Path.Combine(_root, "out"), "--tensorboard", tensorboard);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(["seed=0", "seed=1"], Directory.GetDirectories(tensorboard).Select(Path.GetFileName).Order());
        foreach (var seed in new[] { 0, 1 })
        {
            string run = Directory.GetDirectories(checkpoints, $"moons-he-seed{seed}-*").Single();
            AssertEventsMatchHistory(Path.Combine(tensorboard, $"seed={seed}"), run, started);
            // stdout is a pipe here: one line per evaluation (init + 2 epochs) naming the run, with loss, metric and length distortion.
            var lines = result.Stdout.Split('\n').Where(l => l.StartsWith($"run {Path.GetFileName(run)} ")).ToList();
            Assert.Equal(3, lines.Count);
            var last = File.ReadAllLines(Path.Combine(run, "history.csv"))[^1].Split(',');
            Assert.Contains($"epoch 2/2 step {last[1]} train loss {double.Parse(last[3], CultureInfo.InvariantCulture).ToString("G6", CultureInfo.InvariantCulture)}", lines[2]);
            Assert.Contains($"length D {double.Parse(last[7], CultureInfo.InvariantCulture).ToString("G6", CultureInfo.InvariantCulture)}", lines[2]);
        }
    }

    [Fact]
    public void AResumedRunReplaysItsHistoryIntoOneEventFile()
    {
        string tensorboard = Path.Combine(_root, "tb-resume");
        var settings = Small(epochs: 3);
        double started = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var run = Trainer.Run(settings, Path.Combine(_root, "ck"), tensorboard: tensorboard);
        // As if killed before the last checkpoint: its sidecar gone, the run resumes from epoch 2.
        File.Delete(Path.Combine(run.Folder, "epoch-0003.json"));
        var resumed = Trainer.Resume(run.Folder, tensorboard: tensorboard);
        Assert.Equal(2 * settings.StepsPerEpoch, resumed.ResumedFromStep);
        AssertEventsMatchHistory(tensorboard, run.Folder, started);
    }

    [Fact]
    public void DataProbesMeasureSameAndDifferentClassPairsExactlyWithoutChangingTheRest()
    {
        var plain = Small();
        var probed = plain with { DataProbes = 5 };
        var a = Trainer.Run(plain, Path.Combine(_root, "a"));
        var b = Trainer.Run(probed, Path.Combine(_root, "b"));
        // The probes only read the network: every other column is the same, bit for bit.
        var plainCsv = File.ReadAllLines(Path.Combine(a.Folder, "history.csv"));
        var probedCsv = File.ReadAllLines(Path.Combine(b.Folder, "history.csv"));
        Assert.Equal(plainCsv[0] + ",data_same_length_distortion,data_same_pieces,data_different_length_distortion,data_different_pieces", probedCsv[0]);
        Assert.Equal(plainCsv[1..], probedCsv[1..].Select(l => string.Join(",", l.Split(',')[..14])));

        using var data = ToyTasks.Generate(probed.Task, probed.DataSeed);
        var (same, different) = Trainer.Probes.DataPairs(data, 5, probed.DataSeed);
        var x = data.TestX.data<double>().ToArray();
        var labels = data.TestY.data<long>().ToArray();
        long LabelOf(double[] point) => labels[Enumerable.Range(0, labels.Length).Single(i => x[(2 * i)..(2 * i + 2)].SequenceEqual(point))];
        Assert.All(same, p => Assert.Equal(LabelOf(p.Item1), LabelOf(p.Item2)));
        Assert.All(different, p => Assert.NotEqual(LabelOf(p.Item1), LabelOf(p.Item2)));

        // Exact breakpoints against a fine quadrature along the same pairs, on the saved network of every checkpoint.
        foreach (var (path, info) in Checkpoints.List(b.Folder))
        {
            var (net, _) = Checkpoints.LoadNetwork(path, ScalarType.Float64);
            using (net)
            {
                double Quadrature(List<(double[], double[])> pairs) => pairs.Average(p =>
                    Math.Exp(Distortion.MeasureNetwork(net, new GeometrySpec(GeometryKind.Polyline, 20000, PolylinePoints: [p.Item1, p.Item2]), 1).LogDistortions[0]));
                var row = info.History[^1];
                // The midpoint rule with N nodes misplaces at most 1/N of the curve around each breakpoint: a relative error
                // within a few times pieces / N (the speed varies between pieces by a small factor on these networks).
                Assert.Equal(Quadrature(same), row.DataSameLength!.Value, 3 * row.DataSamePieces!.Value / 20000 * row.DataSameLength.Value);
                Assert.Equal(Quadrature(different), row.DataDifferentLength!.Value, 3 * row.DataDifferentPieces!.Value / 20000 * row.DataDifferentLength.Value);
                Assert.True(row.DataSamePieces >= 1 && row.DataDifferentPieces >= 1);
            }
        }
    }

    [Fact]
    public void ExportedSplitsAreTheTrainingDataBitForBit()
    {
        var task = new TaskSpec(TaskKind.Sines, InputDim: 3, TrainSize: 50, TestSize: 20);
        var result = CliRunner.Run("train", "--task", "sines", "--n0", "3", "--train-size", "50", "--test-size", "20", "--data-seed", "7",
            "--export-data", Path.Combine(_root, "data"), "--checkpoints", Path.Combine(_root, "none"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_root, "none")), "exporting the data trains nothing");
        using var data = ToyTasks.Generate(task, 7);
        foreach (var (file, xs, ys) in new[] { ("train.csv", data.TrainX, data.TrainY), ("test.csv", data.TestX, data.TestY) })
        {
            var lines = File.ReadAllLines(Path.Combine(_root, "data", file));
            Assert.Equal("x0,x1,x2,y", lines[0]);
            var parsed = lines[1..].SelectMany(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture))).ToArray();
            var expected = cat([xs, ys], 1).data<double>().ToArray();
            Assert.Equal(expected, parsed);
        }
    }

    [Fact]
    public void RetentionKeepsTheRightCheckpointsAndAResumedRunStillRepeatsTheHistory()
    {
        // 2 steps per epoch, an evaluation every step: 61 evaluations.
        var settings = Small(epochs: 30) with { Task = new TaskSpec(TaskKind.Moons, TrainSize: 64, TestSize: 32), ProbeSteps = 1, Width = 6, Probes = 1 };
        var reference = Trainer.Run(settings, Path.Combine(_root, "all"), keep: Retention.All);
        Assert.Equal(61, Directory.GetFiles(reference.Folder, "*.json").Count(f => Checkpoints.IsCheckpointFile(Path.GetFileName(f), ".json")));

        long[] Kept(Retention keep, string root)
        {
            var run = Trainer.Run(settings, Path.Combine(_root, root), keep: keep);
            var steps = Checkpoints.List(run.Folder).Select(c => c.Info.Step).ToArray();
            // No stray weights or optimizer files of dropped checkpoints.
            Assert.Equal(steps.Length, Directory.GetFiles(run.Folder, "*.safetensors").Length);
            Assert.Equal(steps.Length, Directory.GetFiles(run.Folder, "*.optimizer").Length);
            Assert.Equal(File.ReadAllText(Path.Combine(reference.Folder, "history.csv")), File.ReadAllText(Path.Combine(run.Folder, "history.csv")));
            return steps;
        }
        Assert.Equal([60L], Kept(Retention.Last, "last"));
        Assert.Equal([0L, 7, 14, 21, 28, 35, 42, 49, 56, 60], Kept(Retention.Parse("every:7"), "every7"));
        var thinned = Kept(Retention.Thinned, "thinned");
        // The default: at most 50, the first and the last, evenly spaced by a power of two.
        Assert.InRange(thinned.Length, 2, 50);
        Assert.Equal(0, thinned[0]);
        Assert.Equal(60, thinned[^1]);
        long stride = thinned[1] - thinned[0];
        Assert.True(stride > 1 && (stride & (stride - 1)) == 0);
        Assert.All(thinned.Zip(thinned.Skip(1)), p => Assert.Equal(stride, p.Second - p.First));

        // Interrupted at step 23 with only the last checkpoint kept, then resumed: the same history and final weights.
        using var cancel = new CancellationTokenSource();
        string folder = Path.Combine(_root, "interrupted");
        Assert.Throws<OperationCanceledException>(() => Trainer.Run(settings, folder, progress: new CancelAt(23, cancel), cancel: cancel.Token, keep: Retention.Last));
        var resumed = Trainer.Resume(Path.Combine(folder, reference.RunId), keep: Retention.Last);
        Assert.Equal(23, resumed.ResumedFromStep);
        Assert.Equal(File.ReadAllText(Path.Combine(reference.Folder, "history.csv")), File.ReadAllText(Path.Combine(resumed.Folder, "history.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference.Folder, "epoch-0030.safetensors")), File.ReadAllBytes(Path.Combine(resumed.Folder, "epoch-0030.safetensors")));
    }

    private sealed class CancelAt(long step, CancellationTokenSource cancel) : Trainer.IProgress
    {
        public void Started(string runId, TrainSettings settings, long startStep) { }
        public void Stepped(long at) { }
        public void Evaluated(string runId, TrainSettings settings, HistoryRow row) { if (row.Step == step) cancel.Cancel(); }
    }

    [Fact]
    public void ActivationsAreSettingsThatRebuildTheNetworkAndReLURunIdsAreUnchanged()
    {
        Assert.Null(TrainSettings.ActivationField("ReLU"));
        Assert.Equal("leaky-relu:0.01", TrainSettings.ActivationField("leaky_relu"));
        // ReLU and no data probes leave no trace in the stored settings, so the ids of earlier runs still hold.
        string json = System.Text.Json.JsonSerializer.Serialize(Small(), TrainSettings.Json);
        Assert.DoesNotContain("activation", json);
        Assert.DoesNotContain("data_probes", json);
        Assert.Throws<SettingException>(() => (Small() with { Activation = "relu" }).Validate());

        // The exact law at initialization: ReLU and the other piecewise-linear activations, not smooth ones.
        foreach (var (name, law) in new[] { ((string?)null, true), ("tanh", false), ("leaky-relu:0.2", true) })
        {
            var settings = Small(epochs: 1) with { Activation = name, Init = "variance", CW = 1.5 };
            var run = Trainer.Run(settings, Path.Combine(_root, "act"));
            Assert.Null(run.Failure);
            Assert.Equal(law, run.TheoryLength is not null);
            // The checkpoint rebuilds the same function: its loss on the test split is the recorded one, bit for bit.
            var (net, info) = Checkpoints.LoadNetwork(Path.Combine(run.Folder, "epoch-0001.safetensors"), ScalarType.Float64);
            using (net)
            {
                Assert.Equal(name ?? "relu", net.Spec.Activation.Name);
                using var data = ToyTasks.Generate(settings.Task, settings.DataSeed);
                Assert.Equal(run.History[^1].TestLoss, Trainer.Score(net, settings.Task, data.TestX, data.TestY).Loss);
            }
            // Smooth networks have no pieces; piecewise-linear ones do.
            Assert.Equal(name != "tanh", run.History[0].DataPieces is not null);
        }
    }

    [Fact]
    public void BadKeepAndATensorBoardFileGetOneLineAndLoseNothing()
    {
        string file = Path.Combine(_root, "tb-file");
        File.WriteAllText(file, "keep me");
        string checkpoints = Path.Combine(_root, "bad-ck"), output = Path.Combine(_root, "bad-out");
        // Every output folder is checked before any is created: the refused call leaves no empty folder behind, neither
        // for a --tensorboard under a file nor for a -o under one.
        foreach (var (args, subject) in new[]
                 {
                     (new[] { "--tensorboard", Path.Combine(file, "tb"), "--out", output }, "--tensorboard"),
                     (new[] { "-o", Path.Combine(file, "out") }, "--output"),
                 })
        {
            var result = CliRunner.Run(["train", "--epochs", "1", "--checkpoints", checkpoints, .. args]);
            CliRunner.AssertOneLineError(result, subject);
            Assert.Contains("is a file", result.Stderr);
            Assert.False(Directory.Exists(checkpoints), "a refused train call created --checkpoints");
            Assert.False(Directory.Exists(output), "a refused train call created --output");
        }
        // The same for --resume: its -o is not created when its --tensorboard is refused.
        string resumed = Directory.CreateDirectory(Path.Combine(_root, "some-run")).FullName;
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--resume", resumed, "--tensorboard", file, "-o", output), "--tensorboard");
        Assert.False(Directory.Exists(output), "a refused train --resume created --output");
        Assert.Equal("keep me", File.ReadAllText(file));

        foreach (var keep in new[] { "every:0", "every:x", "some" })
            CliRunner.AssertOneLineError(CliRunner.Run("train", "--keep", keep, "--checkpoints", checkpoints), "--keep");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--activation", "bogus"), "--activation");
        CliRunner.AssertOneLineError(CliRunner.Run("train", "--task", "sines", "--data-probes", "2"), "--data-probes");
        Assert.Empty(Directory.Exists(checkpoints) ? Directory.GetDirectories(checkpoints) : []);
    }
}
