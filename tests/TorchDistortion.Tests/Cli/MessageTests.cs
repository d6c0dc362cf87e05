using TorchDistortion.Experiments;

namespace TorchDistortion.Tests.Cli;

/// <summary>Bad input is told in the user's terms, as the exact line a user sees: no .NET type names, no runtime messages.</summary>
public class MessageTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-messages").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>Every file under a folder with its SHA-256: equal snapshots mean nothing on disk changed.</summary>
    internal static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).ToDictionary(f => Path.GetRelativePath(folder, f),
            f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    /// <summary>Runs torchdist (in-process) in a folder of its own and returns its one stderr line, after checking exit code 2 and that nothing changed.</summary>
    private string ErrorLine(params string[] args)
    {
        var before = Snapshot(_root);
        var result = CliRunner.RunInProcess(args);
        CliRunner.AssertOneLineError(result, "error:");
        Assert.Equal(before, Snapshot(_root));
        return result.Stderr.TrimEnd('\n');
    }

    [Theory]
    [InlineData("measure --cw inf", "error: --cw: 'inf' is not a finite number")]
    [InlineData("measure --width abc", "error: --width: 'abc' is not an integer")]
    [InlineData("measure --seed 1e3", "error: --seed: '1e3' is not an integer")]
    [InlineData("train --epochs 1.5", "error: --epochs: '1.5' is not an integer")]
    [InlineData("train --lr fast", "error: --lr: 'fast' is not a finite number")]
    [InlineData("measure --width 99999999999", "error: --width: '99999999999' is out of range (at most 2147483647)")]
    [InlineData("measure --frobnicate", "error: measure: unknown option '--frobnicate'")]
    [InlineData("train -- extra", "error: train: unknown argument 'extra'")]
    public void ValuesThatDoNotParseAreToldInTheUsersTerms(string arguments, string line)
    {
        string error = ErrorLine(arguments.Split(' '));
        Assert.Equal(line, error);
        Assert.DoesNotContain("System.", error);
    }

    [Theory]
    [InlineData("measure --init variance --cw -1", "error: --cw must be a finite number > 0, got -1")]
    [InlineData("measure --init lecun --cw 1", "error: --cw: init 'lecun' fixes its own variance; use init 'variance' to choose C_W")]
    [InlineData("measure --cout 0", "error: --cout must be a finite number > 0, got 0")]
    [InlineData("measure --no-bias --cb 0.5", "error: --cb: a bias variance needs biases (bias is off)")]
    [InlineData("measure --geometry patch --k 9 --width 4", "error: --k: k = 9 is larger than the smallest width 4; the volume would be 0")]
    [InlineData("measure --device tpu", "error: --device: unknown device 'tpu'; allowed: auto, cpu, cuda, cuda:N")]
    [InlineData("measure --dtype half", "error: --dtype: unknown dtype 'half'; allowed: float64, float32")]
    public void LibraryErrorsNameTheOption(string arguments, string line) => Assert.Equal(line, ErrorLine(arguments.Split(' ')));

    [Theory]
    [InlineData("\"init\": [\"variance\"], \"cw\": [-1]", "cw: must be a finite number > 0, got -1")]
    [InlineData("\"cout\": [0]", "cout: must be a finite number > 0, got 0")]
    [InlineData("\"geometry\": [\"segment\"], \"k\": [1], \"points\": [0]", "points: must be between 1 and 1000000, got 0")]
    [InlineData("\"init\": [\"he-normal\"]", "init: unknown init scheme 'he-normal'")]
    [InlineData("\"dtype\": \"half\"", "dtype: unknown dtype 'half'")]
    public void LibraryErrorsInASweepFileNameTheField(string fields, string expected)
    {
        string path = Path.Combine(_root, "s.json");
        File.WriteAllText(path, $"{{\"schema_version\": 1, \"width\": [4], \"depth\": [2], {fields}}}");
        string line = ErrorLine("sweep", path, "--list");
        Assert.StartsWith($"error: s.json: {expected}", line);
        Assert.DoesNotContain("--", line);
    }

    [Fact]
    public void EverySettingMapsToAnOptionThatExists()
    {
        var options = TorchDistortion.Cli.Cli.Root().Subcommands.SelectMany(c => c.Options).SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet();
        foreach (var setting in new[] { "C_W", "C_out", "C_b", "widths", "width", "depth", "n0", "nL", "init", "activation", "geometry", "k", "points", "size",
                     "modes", "polyline", "exact", "networks", "seed", "dtype", "moments", "quantiles", "chunk", "threads", "device", "geometries", "shard", "output",
                     "checkpoint", "checkpoints", "resume", "keep", "task", "n0", "classes", "train_size", "test_size", "noise", "teacher_width", "optimizer",
                     "lr", "momentum", "weight_decay", "batch_size", "epochs", "probe_steps", "probes", "patch_points", "data_probes" })
            Assert.True(options.Contains(TorchDistortion.Cli.Cli.Option(setting)), $"{setting} -> {TorchDistortion.Cli.Cli.Option(setting)}");
    }

    [Theory]
    [InlineData("frobnicate", "unknown command 'frobnicate'")]
    [InlineData("--frobnicate", "unknown option '--frobnicate'")]
    [InlineData("", "no command given")]
    public void AnUnknownOrMissingCommandListsTheCommands(string arguments, string start)
    {
        string error = ErrorLine(arguments.Length == 0 ? [] : [arguments]);
        Assert.StartsWith($"error: {start}; commands: ", error);
        // The list is the commands that --help shows, each of which runs.
        var listed = error[(error.IndexOf("commands: ") + "commands: ".Length)..].Split(", ");
        var help = CliRunner.Run("--help").Stdout;
        Assert.All(listed, c => Assert.Matches($@"(?m)^  {c}[ ,]", help));
        Assert.Contains("measure", listed);
        Assert.Contains("sweep", listed);
        Assert.Contains("train", listed);
    }

    [Fact]
    public void UnwritableOutputsSayCannotWriteAndWhy()
    {
        string file = Path.Combine(_root, "a-file");
        File.WriteAllText(file, "keep me");
        string inside = Path.Combine(file, "result.json");
        Assert.Equal($"error: --output: cannot write '{inside}': '{file}' is a file, not a folder", ErrorLine("measure", "--networks", "2", "-o", inside));
        Assert.Equal($"error: --output: cannot write '{inside}': '{file}' is a file, not a folder", ErrorLine("sweep", "--networks", "2", "-o", inside));
        Assert.Equal($"error: --checkpoints: cannot write '{inside}': '{file}' is a file, not a folder", ErrorLine("train", "--checkpoints", inside));
        Assert.Equal("error: --output: cannot write '/proc/torchdist-no/result.json': no such directory",
            ErrorLine("measure", "--networks", "2", "-o", "/proc/torchdist-no/result.json"));
        // sysfs takes no new files, even from root: denied, or read-only where mounted so.
        Assert.Matches(@"^error: --output: cannot write '/sys/result\.json': (permission denied|read-only file system)$",
            ErrorLine("measure", "--networks", "2", "-o", "/sys/result.json"));
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [Theory]
    [InlineData(28, "disk full")]
    [InlineData(30, "read-only file system")]
    public void ErrnoOfAFailedWriteIsNamed(int errno, string reason)
    {
        // .NET on Unix keeps the errno of an IOException it has no type for as its HResult (ENOSPC, EROFS cannot be provoked as root here).
        Assert.Equal(reason, Files.Reason(_root, new IOException("write failed", errno)));
        Assert.Equal("permission denied", Files.Reason(_root, new UnauthorizedAccessException("Access to the path '/x' is denied.")));
    }
}
