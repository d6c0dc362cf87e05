using System.Text.Json;
using TorchDistortion.Measurement;

namespace TorchDistortion.Tests.Cli;

/// <summary>Options spelled the same way in every command: --nl beside --nL, -o/--output in train, cuda:N, doctor --format json.</summary>
public sealed class ConsistencyTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-consistency").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void LowerCaseNlIsTheSameOptionAsNL()
    {
        string[] Measure(string option) => ["measure", "--width", "8", "--depth", "3", option, "4", "--networks", "20", "--format", "json", "--no-progress"];
        var upper = CliRunner.RunInProcess(Measure("--nL"));
        var lower = CliRunner.RunInProcess(Measure("--nl"));
        Assert.Equal(0, upper.ExitCode);
        using var document = JsonDocument.Parse(lower.Stdout);
        Assert.Equal([8, 8, 8, 4], document.RootElement.GetProperty("settings").GetProperty("widths").EnumerateArray().Select(w => w.GetInt32()));
        // The same networks and numbers (the elapsed time aside).
        string Numbers(string json) => JsonDocument.Parse(json).RootElement.GetProperty("summary").GetRawText();
        Assert.Equal(Numbers(upper.Stdout), Numbers(lower.Stdout));

        var sweep = CliRunner.RunInProcess("sweep", "--width", "8", "--depth", "2", "--nl", "3,5", "--list");
        Assert.Equal(0, sweep.ExitCode);
        Assert.Contains("2 runs", sweep.Stdout);
    }

    [Theory]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:")]
    [InlineData("cuda:99999999999")]
    public void MalformedGpuIndexIsRefusedInOneLine(string device)
    {
        var result = CliRunner.RunInProcess("measure", "--device", device, "--networks", "2");
        CliRunner.AssertOneLineError(result, "--device");
        Assert.Contains("cuda:N", result.Stderr);
    }

    [Fact]
    public void GpuIndexParsesAndAnUnusableGpuSaysWhy()
    {
        Assert.Equal("cpu", DeviceSpec.Parse("CPU").Resolve().type.ToString().ToLowerInvariant());
        foreach (var device in new[] { "cuda", "cuda:0", "cuda:1", "CUDA:3" })
        {
            if (Backend.HasCuda() && TorchSharp.torch.cuda.is_available())
            {
                int count = TorchSharp.torch.cuda.device_count();
                int index = device.Contains(':') ? int.Parse(device[5..]) : 0;
                if (index < count) Assert.Equal(index, DeviceSpec.Parse(device).Resolve().index);
                else Assert.Contains($"there is no GPU {index}", Assert.Throws<ArgumentException>(() => DeviceSpec.Parse(device).Resolve()).Message);
                continue;
            }
            // A CPU build names the build as the reason, whether or not the machine has a GPU.
            string expected = Backend.HasCuda() ? "CUDA is not available" : "this build has no CUDA backend (see README)";
            var result = CliRunner.RunInProcess("measure", "--device", device, "--networks", "2");
            CliRunner.AssertOneLineError(result, expected);
            Assert.Contains($"--device {device.ToLowerInvariant()}", result.Stderr);
        }
    }

    [Fact]
    public void DoctorJsonNamesTheBackendAndAgreesWithTheTable()
    {
        var json = CliRunner.Run("doctor", "--format", "json");
        Assert.Equal(0, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(1, document.RootElement.GetProperty("schema_version").GetInt32());
        Assert.Equal("doctor", document.RootElement.GetProperty("document").GetString());
        var environment = document.RootElement.GetProperty("environment");
        string backend = environment.GetProperty("backend").GetString()!;
        Assert.Contains(backend, new[] { "CPU", "CUDA" });
        Assert.Equal(Backend.HasCuda() ? "CUDA" : "CPU", backend);
        Assert.StartsWith("2.10", environment.GetProperty("lib_torch_version").GetString());
        Assert.True(document.RootElement.GetProperty("self_test").GetBoolean());
        string cuda = document.RootElement.GetProperty("cuda").GetString()!;
        if (backend == "CPU") Assert.Equal("this build has no CUDA backend (see README)", cuda);

        var table = CliRunner.Run("doctor");
        Assert.Contains($"({backend} backend)", table.Stdout);
        Assert.Contains(cuda, table.Stdout.Replace("│", " "));
        CliRunner.AssertOneLineError(CliRunner.Run("doctor", "--format", "yaml"), "--format");
    }

    [Fact]
    public void TrainWritesWhereDashOSays()
    {
        string checkpoints = Path.Combine(_root, "c");
        string[] Train(params string[] output) =>
        [
            "train", "--task", "moons", "--train-size", "64", "--test-size", "32", "--width", "8", "--depth", "2", "--epochs", "1",
            "--probes", "2", "--patch-points", "2", "--checkpoints", checkpoints, "--no-progress", .. output,
        ];
        // -o trains; --output and the older --out find the finished run and write the same summary.
        foreach (var (option, folder) in new[] { ("-o", "a"), ("--output", "b"), ("--out", "c") })
        {
            var result = CliRunner.RunInProcess(Train(option, Path.Combine(_root, folder)));
            Assert.Equal(0, result.ExitCode);
            Assert.True(File.Exists(Path.Combine(_root, folder, "training.png")), $"{option}: no figure in {folder}");
        }
        string summary = File.ReadAllText(Path.Combine(_root, "a", "summary.csv"));
        Assert.Equal(summary, File.ReadAllText(Path.Combine(_root, "b", "summary.csv")));
        Assert.Equal(summary, File.ReadAllText(Path.Combine(_root, "c", "summary.csv")));
    }
}
