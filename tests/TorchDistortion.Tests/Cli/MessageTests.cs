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
