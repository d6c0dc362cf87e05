namespace TorchDistortion.Tests.Cli;

/// <summary>Item: writers never replace a training run's files, a sweep's run files or a foreign file without --force.</summary>
public sealed class OutputGuardTests : IDisposable
{
    private readonly string _root = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"torchdist-guard-{Guid.NewGuid():N}")).FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>A training run folder as `train` leaves it (only the names matter to the guard): a sidecar and its weights.</summary>
    private string RunFolder()
    {
        string run = Directory.CreateDirectory(Path.Combine(_root, "checkpoints", "abc123")).FullName;
        File.WriteAllText(Path.Combine(run, "epoch-0003.json"), "{\"format\": \"torchdistortion-checkpoint\"}");
        File.WriteAllBytes(Path.Combine(run, "epoch-0002.safetensors"), [1, 2, 3, 4]);
        return run;
    }

    [Fact]
    public void MeasureAndBenchRefuseToWriteIntoATrainingRunFolder()
    {
        string run = RunFolder();
        string sidecar = Path.Combine(run, "epoch-0003.json"), weights = Path.Combine(run, "epoch-0002.safetensors");
        string sidecarBefore = File.ReadAllText(sidecar);
        byte[] weightsBefore = File.ReadAllBytes(weights);

        CliRunner.AssertOneLineError(CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "--format", "json", "-o", sidecar), "training run folder");
        CliRunner.AssertOneLineError(CliRunner.Run("bench", "--widths", "16", "--dtypes", "float32", "--threads", "1", "-o", weights), "training run folder");
        // A new name inside the run folder is refused too: the folder is the run's.
        CliRunner.AssertOneLineError(CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "-o", Path.Combine(run, "mine.txt")), "training run folder");
        Assert.Equal(sidecarBefore, File.ReadAllText(sidecar));
        Assert.Equal(weightsBefore, File.ReadAllBytes(weights));
        Assert.False(File.Exists(Path.Combine(run, "mine.txt")));

        var forced = CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "--format", "json", "-o", sidecar, "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.Contains("\"document\": \"measure\"", File.ReadAllText(sidecar));
    }

    [Fact]
    public void MeasureReplacesItsOwnEarlierOutputButNoOtherFile()
    {
        string file = Path.Combine(_root, "result.out");
        // Each format, then another: an earlier report of measure in any format may be replaced.
        foreach (var format in new[] { "json", "csv", "table", "json" })
        {
            var result = CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "--format", format, "-o", file);
            Assert.True(result.ExitCode == 0, result.Stderr);
        }
        string notes = Path.Combine(_root, "notes.json");
        File.WriteAllText(notes, "{\"mine\": 1}");
        CliRunner.AssertOneLineError(CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "--format", "json", "-o", notes), "not an earlier output of measure");
        Assert.Equal("{\"mine\": 1}", File.ReadAllText(notes));
        // A bench report is not measure's either.
        string bench = Path.Combine(_root, "bench.json");
        File.WriteAllText(bench, "{\"format\": \"torchdistortion-bench/1\", \"cases\": [], \"targets\": []}");
        CliRunner.AssertOneLineError(CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "-o", bench), "not an earlier output of measure");
        CliRunner.AssertOneLineError(CliRunner.Run("bench", "--widths", "16", "-o", notes), "not an earlier output of bench");
    }

    [Fact]
    public void SweepRunsFolderPlotAndMergeAreGuarded()
    {
        string sweep = Path.Combine(_root, "sweep");
        var run = CliRunner.Run("sweep", "--width", "4", "--depth", "1,2", "--networks", "5", "--points", "2", "-o", sweep, "--no-progress");
        Assert.True(run.ExitCode == 0, run.Stderr);
        string runFile = Directory.GetFiles(Path.Combine(sweep, "runs"), "*.json")[0];
        string before = File.ReadAllText(runFile);
        CliRunner.AssertOneLineError(CliRunner.Run("measure", "--widths", "3,4,2", "--networks", "2", "-o", runFile), "runs folder");
        CliRunner.AssertOneLineError(CliRunner.Run("merge", sweep, "-o", Path.Combine(sweep, "runs")), "runs folder");
        Assert.Equal(before, File.ReadAllText(runFile));

        // plot: a file in the figure's place that is not a figure is kept; the figure itself may be redrawn.
        string svg = Path.Combine(sweep, "plot_mean_vs_depth.svg");
        File.WriteAllText(svg, "my notes");
        CliRunner.AssertOneLineError(CliRunner.Run("plot", sweep), "not an earlier output of plot");
        Assert.Equal("my notes", File.ReadAllText(svg));
        File.Delete(svg);
        Assert.Equal(0, CliRunner.Run("plot", sweep).ExitCode);
        Assert.Equal(0, CliRunner.Run("plot", sweep).ExitCode);

        // merge: into a fresh folder, again into it (its own results), not over a foreign results.csv.
        string merged = Path.Combine(_root, "merged");
        Assert.Equal(0, CliRunner.Run("merge", sweep, "-o", merged).ExitCode);
        Assert.Equal(0, CliRunner.Run("merge", sweep, "-o", merged).ExitCode);
        string other = Directory.CreateDirectory(Path.Combine(_root, "other")).FullName;
        File.WriteAllText(Path.Combine(other, "results.csv"), "a,b\n1,2\n");
        CliRunner.AssertOneLineError(CliRunner.Run("merge", sweep, "-o", other), "not an earlier output of merge");
        Assert.Equal("a,b\n1,2\n", File.ReadAllText(Path.Combine(other, "results.csv")));
        Assert.Equal(0, CliRunner.Run("merge", sweep, "-o", other, "--force").ExitCode);
    }
}
