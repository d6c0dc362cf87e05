using System.Text;
using System.Text.Json.Nodes;
using TorchDistortion.Tests.Cli;
using TorchDistortion.Training;

namespace TorchDistortion.Tests.Training;

/// <summary>Files that lie about themselves and runs whose checkpoints are damaged: one line, exit 2, nothing on disk changed.</summary>
public class CheckpointEdgeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-ckpt-edges").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A safetensors file written by hand: 8-byte little-endian header length, the JSON header, then the data.</summary>
    private string Safetensors(string name, string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data]);
        return path;
    }

    private string MeasureError(string path)
    {
        var before = MessageTests.Snapshot(_root);
        var result = CliRunner.RunInProcess("measure", "--checkpoint", path, "--geometries", "3");
        CliRunner.AssertOneLineError(result, $"--checkpoint: '{path}'");
        Assert.Equal(before, MessageTests.Snapshot(_root));
        Assert.DoesNotContain("alloc", result.Stderr);
        return result.Stderr.TrimEnd('\n');
    }

    [Fact]
    public void TheLibraryNamesTheSettingAndTheCliNamesItsOption()
    {
        var settings = new CheckpointMeasureSettings(new global::TorchDistortion.Geometry.GeometrySpec(), 3, 0, TorchSharp.torch.ScalarType.Float64, DeviceSpec.Cpu, null, 4,
            global::TorchDistortion.Measurement.Summary.DefaultQuantiles);
        var error = Assert.Throws<SettingException>(() => CheckpointMeasure.Measure(_root, settings));
        Assert.Equal(("checkpoint", $"checkpoint: folder '{_root}' holds no complete checkpoint"), (error.Setting, error.Message));
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("measure", "--checkpoint", _root), $"error: --checkpoint: folder '{_root}' holds");
        string missing = Path.Combine(_root, "none.pt");
        var noModel = Assert.Throws<SettingException>(() => global::TorchDistortion.Networks.ScriptedModel.Load(missing));
        Assert.Equal(("model", $"model: no such file '{missing}'"), (noModel.Setting, noModel.Message));
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("measure", "--model", missing), $"error: --model: no such file '{missing}'");
    }

    [Theory]
    // The header of the report: 10^16 doubles announced, 32 bytes given; it must never reach libtorch's allocator.
    [InlineData("""{"0.weight":{"dtype":"F64","shape":[100000000,100000000],"data_offsets":[0,32]}}""", 32,
        "tensor '0.weight' of shape [100000000,100000000] (F64) needs 80000000000000000 bytes but its data_offsets span 32")]
    [InlineData("""{"0.weight":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,32]}}""", 32,
        "tensor '0.weight' of shape [4611686018427387904,4] (F64) would need more bytes than any file holds")]
    [InlineData("""{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[24,40]}}""", 40,
        "tensors '0.weight' and '0.bias' overlap")]
    [InlineData("""{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[32,64]}}""", 32,
        "tensor '0.weight' ends at byte 64 of the data, which has 32 bytes (truncated)")]
    [InlineData("""{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[16,0]}}""", 32,
        "tensor '0.weight' has data_offsets [16,0], not [begin,end] with 0 <= begin <= end")]
    [InlineData("""{"0.weight":{"dtype":"Q7","shape":[2,2],"data_offsets":[0,32]}}""", 32, "tensor '0.weight' has unknown dtype 'Q7'")]
    [InlineData("""{"0.weight":{"shape":[2,2],"data_offsets":[0,32]}}""", 32, "its header does not give every tensor a dtype, a shape and data_offsets as numbers")]
    public void SafetensorsHeadersAreCheckedAgainstTheFileBeforeAnythingIsAllocated(string header, int dataBytes, string problem)
    {
        string path = Safetensors("lie.safetensors", header, new byte[dataBytes]);
        Assert.Equal($"error: --checkpoint: '{path}' is not a valid safetensors file: {problem}", MeasureError(path));
    }

    [Fact]
    public void AHeaderLengthPastTheFileAndRandomBytesAreRefused()
    {
        string path = Path.Combine(_root, "long.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(1000UL), .. "{}"u8]);
        Assert.Equal($"error: --checkpoint: '{path}' is not a valid safetensors file: its header length 1000 runs past the end of the file (10 bytes)", MeasureError(path));

        string random = Path.Combine(_root, "random.pt");
        File.WriteAllBytes(random, Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Assert.Equal($"error: --checkpoint: '{random}' is not a PyTorch state_dict (zip) or safetensors file", MeasureError(random));
        // torch.save before PyTorch 1.6: a pickled magic number, named for what it is.
        string legacy = Path.Combine(_root, "legacy.pt");
        File.WriteAllBytes(legacy, [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, .. new byte[64]]);
        Assert.Contains("legacy (pre-1.6) format", MeasureError(legacy));
    }

    [Fact]
    public void AnHonestHandWrittenHeaderStillLoads()
    {
        // The checks must not refuse a valid file: a 2 -> 2 identity layer with zero bias, F64, measured as length distortion exactly 1.
        double[] values = [1, 0, 0, 1, 0, 0];
        byte[] data = values.SelectMany(BitConverter.GetBytes).ToArray();
        string path = Safetensors("identity.safetensors",
            """{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[32,48]}}""", data);
        var result = CliRunner.Run("measure", "--checkpoint", path, "--geometries", "5", "--format", "csv");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = result.Stdout.Split('\n');
        var row = lines[1].Split(',');
        Assert.Equal(1.0, double.Parse(row[Array.IndexOf(lines[0].Split(','), "mean")], System.Globalization.CultureInfo.InvariantCulture), 12);
    }

    private string[] Train(string checkpoints, params string[] more) =>
    [
        "train", "--task", "moons", "--train-size", "256", "--test-size", "64", "--depth", "3", "--probes", "4", "--patch-points", "3",
        "--epochs", "2", "--checkpoints", Path.Combine(_root, checkpoints), "--out", Path.Combine(_root, "out"), "--no-progress", .. more.Contains("--width") ? [] : new[] { "--width", "16" }, .. more,
    ];

    private string TrainedRun(string checkpoints, params string[] more)
    {
        var result = CliRunner.Run(Train(checkpoints, more));
        Assert.True(result.ExitCode == 0, result.Stderr);
        return Directory.GetDirectories(Path.Combine(_root, checkpoints)).Single();
    }

    private string ResumeError(string run)
    {
        var before = MessageTests.Snapshot(_root);
        var result = CliRunner.RunInProcess("train", "--resume", run, "--out", Path.Combine(_root, "out"), "--no-progress");
        CliRunner.AssertOneLineError(result, "error: --resume: ");
        Assert.Equal(before, MessageTests.Snapshot(_root));
        return result.Stderr.TrimEnd('\n');
    }

    [Fact]
    public void ResumePassesOverDamagedCheckpointsAndEndsWhereTheUninterruptedRunEnded()
    {
        string run = TrainedRun("damaged");
        // Sidecars carry the date they were written; everything else must come back identical.
        Dictionary<string, string> Files() => MessageTests.Snapshot(run).Where(f => !Checkpoints.IsCheckpointFile(f.Key, ".json")).ToDictionary();
        var finished = Files();
        // The last checkpoint altered (a flipped bit: it still parses), the one before it without its optimizer state.
        string weights = Path.Combine(run, "epoch-0002.safetensors");
        byte[] bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(weights, bytes);
        File.Delete(Path.Combine(run, "epoch-0001.optimizer"));

        var resumed = CliRunner.Run("train", "--resume", run, "--out", Path.Combine(_root, "out"), "--no-progress");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var lines = resumed.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("warning: --resume: skipped damaged checkpoint epoch-0002, epoch-0001 (", lines[0]);
        Assert.EndsWith("; resuming from epoch-0000", lines[0]);
        // Retrained from epoch 0, the run writes back, bit for bit, every file it had when it first finished.
        Assert.Equal(finished, Files());
        Assert.Equal(finished.Count + 3, Directory.GetFiles(run).Length);
    }

    [Fact]
    public void ResumeWithNoIntactCheckpointIsRefused()
    {
        string run = TrainedRun("none");
        foreach (var file in Directory.GetFiles(run, "epoch-*.safetensors")) File.WriteAllBytes(file, File.ReadAllBytes(file)[..100]);
        string line = ResumeError(run);
        Assert.StartsWith($"error: --resume: no intact checkpoint in '{run}' (epoch-0002, epoch-0001, epoch-0000: ", line);
        Assert.Contains("epoch-0002.safetensors' is corrupted or truncated", line);
    }

    [Fact]
    public void AnOptimizerStateOfAnotherShapeIsRefusedNamingTheFileAndResume()
    {
        string run = TrainedRun("shape");
        string other = TrainedRun("narrow", "--width", "8");
        // The other run's optimizer state, with a sidecar whose hash matches it: intact, but for another network.
        string state = Path.Combine(run, "epoch-0002.optimizer");
        File.Copy(Path.Combine(other, "epoch-0002.optimizer"), state, overwrite: true);
        string sidecar = Path.Combine(run, "epoch-0002.json");
        var info = JsonNode.Parse(File.ReadAllText(sidecar))!;
        info["optimizer_sha256"] = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(state)));
        File.WriteAllText(sidecar, info.ToJsonString());
        Assert.Equal($"error: --resume: optimizer state '{state}' does not fit this run: its tensors have other shapes than the network's parameters", ResumeError(run));
    }

    [Fact]
    public void CheckpointErrorsOfAResumeNameResume()
    {
        string run = TrainedRun("foreign");
        string other = TrainedRun("seed9", "--seeds", "9");
        foreach (var file in Directory.GetFiles(other, "epoch-0002.*")) File.Copy(file, Path.Combine(run, Path.GetFileName(file)), overwrite: true);
        string line = ResumeError(run);
        Assert.Contains($"epoch-0002.json' belongs to run {Path.GetFileName(other)}, not to {Path.GetFileName(run)}", line);
    }
}
