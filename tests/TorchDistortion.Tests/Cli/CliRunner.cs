namespace TorchDistortion.Tests.Cli;

/// <summary>Runs the real `torchdist` executable built beside the tests and captures what a user would see.</summary>
internal static class CliRunner
{
    internal sealed record Result(int ExitCode, string Stdout, string Stderr);

    internal static System.Diagnostics.Process Start(params string[] args)
    {
        string exe = Path.Combine(AppContext.BaseDirectory, "torchdist");
        var start = new System.Diagnostics.ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        return System.Diagnostics.Process.Start(start)!;
    }

    /// <summary>Exit code of a process killed by SIGKILL, as .NET reports it (128 + 9).</summary>
    internal const int Killed = 137;

    /// <summary>
    /// Runs torchdist, which kills itself (SIGKILL) at the <paramref name="nth"/> atomic write whose path matches
    /// <paramref name="pattern"/>, with the temporary file written and not yet renamed (Files' KillPoint): a kill at a
    /// deterministic point, not after a guessed delay.
    /// </summary>
    internal static Result RunKilledAt(string pattern, int nth, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "torchdist"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        start.Environment["TORCHDIST_KILL_AT"] = pattern;
        start.Environment["TORCHDIST_KILL_AT_NTH"] = nth.ToString();
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) { process.Kill(true); throw new TimeoutException($"torchdist {string.Join(' ', args)} ran past 120 s"); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    internal static Result Run(params string[] args)
    {
        string exe = Path.Combine(AppContext.BaseDirectory, "torchdist");
        var start = new System.Diagnostics.ProcessStartInfo(File.Exists(exe) ? exe : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (!File.Exists(exe)) start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "torchdist.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) { process.Kill(true); throw new TimeoutException($"torchdist {string.Join(' ', args)} ran past 120 s"); }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// The same command line run in this process (no process start, no JIT of a new runtime): stdout and stderr are
    /// captured by swapping the console writers, which is safe because the tests run one at a time.
    /// </summary>
    internal static Result RunInProcess(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (oldOut, oldError) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return new Result(global::TorchDistortion.Cli.Cli.Run(global::TorchDistortion.Cli.Cli.Root(), args), stdout.ToString(), stderr.ToString()); }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldError);
        }
    }

    /// <summary>What bad input must give: exit code 2, one line on stderr starting "error:" and naming <paramref name="subject"/>, no stack trace.</summary>
    internal static void AssertOneLineError(Result result, string subject, int exitCode = 2)
    {
        Assert.Equal(exitCode, result.ExitCode);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{result.Stderr}");
        Assert.StartsWith("error:", lines[0]);
        Assert.Contains(subject, lines[0]);
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
    }
}
