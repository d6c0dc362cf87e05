using System.Globalization;
using TorchDistortion.Tests.Cli;

namespace TorchDistortion.Tests.Training;

/// <summary>A test that needs PyTorch: skipped, with the reason, where no Python with torch is found.</summary>
public sealed class PyTorchFactAttribute : FactAttribute
{
    public PyTorchFactAttribute()
    {
        // CI sets TORCHDIST_REQUIRE_PYTORCH=1 after installing PyTorch: there a missing torch fails the test instead.
        if (PyTorch.Python is null && Environment.GetEnvironmentVariable("TORCHDIST_REQUIRE_PYTORCH") != "1")
            Skip = "PyTorch not found (tried $TORCHDIST_PYTHON, /usr/bin/python3, python3): install it with apt-get install python3-torch";
    }
}

internal static class PyTorch
{
    internal static readonly string? Python = Find();

    private static string? Find()
    {
        foreach (var candidate in new[] { Environment.GetEnvironmentVariable("TORCHDIST_PYTHON"), "/usr/bin/python3", "python3" })
        {
            if (string.IsNullOrEmpty(candidate)) continue;
            try
            {
                var (code, _) = Run(candidate, "-c", "import torch");
                if (code == 0) return candidate;
            }
            catch (System.ComponentModel.Win32Exception) { }
        }
        return null;
    }

    internal static (int ExitCode, string Output) Run(string program, params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(300_000)) { process.Kill(true); throw new TimeoutException($"{program} ran past 300 s"); }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    internal static string Script()
    {
        Assert.True(Python is not null, "PyTorch is required here (TORCHDIST_REQUIRE_PYTORCH=1) but no Python with torch was found");
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            string path = Path.Combine(folder.FullName, "scripts", "crosscheck_pytorch.py");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("scripts/crosscheck_pytorch.py not found above the test folder");
    }
}

public class TrainCliTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-traincli").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string[] Small(string checkpoints, params string[] more) =>
    [
        "train", "--train-size", "256", "--test-size", "64", "--width", "16", "--depth", "3", "--probes", "4", "--patch-points", "3",
        "--checkpoints", Path.Combine(_root, checkpoints), "--out", Path.Combine(_root, "out-" + checkpoints), "--no-progress",
        .. more.Contains("--task") ? [] : new[] { "--task", "moons" }, .. more.Contains("--epochs") ? [] : new[] { "--epochs", "2" }, .. more,
    ];

    public static TheoryData<string, string> BadInputs() => new()
    {
        { "train --task spiral", "--task" },
        { "train --n0 3", "--n0" },
        { "train --classes 3", "--classes" },
        { "train --epochs 0", "--epochs" },
        { "train --lr -1", "--lr" },
        { "train --lr NaN", "--lr" },
        { "train --momentum 1", "--momentum" },
        { "train --optimizer rmsprop", "--optimizer" },
        { "train --batch-size 0", "--batch-size" },
        { "train --seeds 1,1", "--seeds" },
        { "train --seeds 1,x", "--seeds" },
        { "train --init bogus", "--init" },
        { "train --init variance", "--cw" },
        { "train --dtype float16", "--dtype" },
        { "train --train-size 1", "--train-size" },
        { "train --probes 0", "--probes" },
        { "train --checkpoints /proc/torchdist-no", "--checkpoints" },
        { "train --resume /nonexistent-run", "--resume" },
        { "train --resume /tmp --epochs 3", "--resume" },
        { "train --resume /tmp", "--resume" },
        { "train --init he,lecun --cw 3", "--cw" },
        { "train --lr 1e300", "--lr" },
        { "train --batch-size 2147483647", "--batch-size" },
        { "train --noise 1e308", "--noise" },
        { "measure --checkpoint /etc/hostname.optimizer", "--checkpoint" },
        { "measure --checkpoint /nonexistent.safetensors", "--checkpoint" },
        { "measure --checkpoint /etc/hostname", "--checkpoint" },
        { "measure --checkpoint /tmp", "--checkpoint" },
        { "measure --checkpoint x.pt --width 8", "--width" },
        { "measure --geometries 5", "--geometries" },
        { "measure --export-points x.json", "--export-points" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputGetsOneLineErrorAndExitCode2(string arguments, string option)
    {
        CliRunner.AssertOneLineError(CliRunner.RunInProcess(arguments.Split(' ')), option);
    }

    [Fact]
    public void SigkillMidTrainingThenResumeGivesTheUninterruptedHistory()
    {
        string[] Args(string root) =>
        [
            "train", "--task", "circles", "--train-size", "2000", "--test-size", "200", "--width", "16", "--depth", "4", "--epochs", "5",
            "--probes", "4", "--checkpoints", Path.Combine(_root, root), "--out", Path.Combine(_root, "out-" + root), "--no-progress",
        ];
        var full = CliRunner.Run(Args("full"));
        Assert.True(full.ExitCode == 0, full.Stderr);
        string fullRun = Directory.GetDirectories(Path.Combine(_root, "full")).Single();

        // SIGKILL while the third epoch's sidecar (written last) is being written: weights and optimizer state are on disk,
        // the checkpoint is not complete.
        var killed = CliRunner.RunKilledAt(@"/epoch-0003\.json$", 1, Args("killed"));
        Assert.Equal(CliRunner.Killed, killed.ExitCode);
        string killedRun = Directory.GetDirectories(Path.Combine(_root, "killed")).Single();
        Assert.True(File.Exists(Path.Combine(killedRun, "epoch-0003.safetensors")));
        Assert.False(File.Exists(Path.Combine(killedRun, "epoch-0003.json")));
        Assert.Single(Directory.GetFiles(killedRun, ".epoch-0003.json.*.tmp"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(fullRun, "epoch-0002.safetensors")), File.ReadAllBytes(Path.Combine(killedRun, "epoch-0002.safetensors")));

        var resumed = CliRunner.Run("train", "--resume", killedRun, "--out", Path.Combine(_root, "out-resumed"), "--no-progress");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resumed at step", resumed.Stdout);
        Assert.Equal(File.ReadAllText(Path.Combine(fullRun, "history.csv")), File.ReadAllText(Path.Combine(killedRun, "history.csv")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(fullRun, "epoch-0005.safetensors")), File.ReadAllBytes(Path.Combine(killedRun, "epoch-0005.safetensors")));
        Assert.Empty(Directory.GetFiles(killedRun, "*.tmp"));
    }

    [Fact]
    public void TrainWritesHistoryFigureAndSummaryForSeveralRuns()
    {
        var result = CliRunner.Run(Small("multi", "--init", "he,lecun", "--seeds", "0,1"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        var runs = Directory.GetDirectories(Path.Combine(_root, "multi"));
        Assert.Equal(4, runs.Length);
        foreach (var run in runs)
        {
            var lines = File.ReadAllLines(Path.Combine(run, "history.csv"));
            Assert.Equal(3, lines.Length - 1); // init + 2 epochs
            Assert.StartsWith("schema_version,step,epoch,train_loss,train_accuracy", lines[0]);
            Assert.Equal(3, Directory.GetFiles(run, "epoch-*.json").Length);
        }
        string output = Path.Combine(_root, "out-multi");
        Assert.True(new FileInfo(Path.Combine(output, "training.png")).Length > 10_000);
        Assert.True(File.Exists(Path.Combine(output, "training.svg")));
        var summary = File.ReadAllLines(Path.Combine(output, "summary.csv"));
        Assert.Contains(summary, l => l.StartsWith("1,init=he,2,0,0,length_distortion,"));
        Assert.Contains(summary, l => l.StartsWith("1,init=lecun,2,"));

        // Distortion vs epoch after the fact: one row per checkpoint of a run.
        var measured = CliRunner.Run("measure", "--checkpoint", runs[0], "--geometries", "10", "--format", "csv");
        Assert.True(measured.ExitCode == 0, measured.Stderr);
        var rows = measured.Stdout.Trim().Split('\n');
        Assert.Equal(4, rows.Length);
        var header = rows[0].Split(',');
        Assert.EndsWith(",epoch-0000,0,0", string.Join(",", rows[1].Split(',')[..(Array.IndexOf(header, "epoch") + 1)]));
        Assert.Equal("10", rows[1].Split(',')[Array.IndexOf(header, "geometries")]);
        // The law beside a trained network is the one of its initialization, and the table says so.
        var table = CliRunner.RunInProcess("measure", "--checkpoint", Path.Combine(runs[0], "epoch-0002.safetensors"), "--geometries", "4", "-o", Path.Combine(_root, "trained.txt"));
        Assert.True(table.ExitCode == 0, table.Stderr);
        Assert.Contains("the law describes initialization, not the trained network", File.ReadAllText(Path.Combine(_root, "trained.txt")));
    }

    [Fact]
    public void PlotFromRunFoldersKeepsEachRunsCW()
    {
        // Two calls that differ only in C_W: read back from the run folders, they must stay two groups named by C_W.
        foreach (var cw in new[] { "1", "4" })
        {
            var train = CliRunner.Run(Small(Path.Combine("cw", "c" + cw), "--init", "variance", "--cw", cw, "--seeds", "0"));
            Assert.True(train.ExitCode == 0, train.Stderr);
        }
        string output = Path.Combine(_root, "cw-plot");
        var plot = CliRunner.Run("plot", Path.Combine(_root, "cw"), "-o", output);
        Assert.True(plot.ExitCode == 0, plot.Stderr);
        var groups = File.ReadAllLines(Path.Combine(output, "summary.csv")).Skip(1).Select(l => l.Split(',')[1]).Distinct().Order().ToList();
        Assert.Equal(["C_W=1", "C_W=4"], groups);
    }

    [Fact]
    public void PlotDrawsOneComparisonFromTheRunsOfSeveralTrainCalls()
    {
        // Two train calls, one per width, into one parent folder; then one figure across both.
        foreach (var width in new[] { "8", "16" })
        {
            var args = Small(Path.Combine("parent", "w" + width), "--init", "he,lecun", "--seeds", "0,1");
            args[Array.IndexOf(args, "--width") + 1] = width;
            var train = CliRunner.Run(args);
            Assert.True(train.ExitCode == 0, train.Stderr);
        }
        string output = Path.Combine(_root, "plot");
        var plot = CliRunner.Run("plot", Path.Combine(_root, "parent"), "-o", output);
        Assert.True(plot.ExitCode == 0, plot.Stderr);
        Assert.Contains("drew 8 runs in 4 groups", plot.Stdout);
        Assert.True(new FileInfo(Path.Combine(output, "training.png")).Length > 10_000);

        // The mean and sd across the two seeds of each group, by hand from the runs' history.csv.
        var summary = File.ReadAllLines(Path.Combine(output, "summary.csv"));
        foreach (var width in new[] { "8", "16" })
            foreach (var init in new[] { "he", "lecun" })
            {
                var histories = Directory.GetDirectories(Path.Combine(_root, "parent", "w" + width), $"moons-{init}-seed*").Order()
                    .Select(run => File.ReadAllLines(Path.Combine(run, "history.csv"))).ToList();
                Assert.Equal(2, histories.Count);
                int column = Array.IndexOf(histories[0][0].Split(','), "length_distortion"), stepColumn = Array.IndexOf(histories[0][0].Split(','), "step");
                for (int row = 1; row < histories[0].Length; row++)
                {
                    double a = double.Parse(histories[0][row].Split(',')[column], CultureInfo.InvariantCulture);
                    double b = double.Parse(histories[1][row].Split(',')[column], CultureInfo.InvariantCulture);
                    double mean = (a + b) / 2, sd = Math.Abs(a - b) / Math.Sqrt(2);
                    string step = histories[0][row].Split(',')[stepColumn];
                    var line = Assert.Single(summary, l => l.StartsWith($"1,\"init={init}, width={width}\",2,{step},") && l.Contains(",length_distortion,"));
                    var cells = line.Split(',');
                    Assert.Equal(mean, double.Parse(cells[^2], CultureInfo.InvariantCulture), 1e-12);
                    Assert.Equal(sd, double.Parse(cells[^1], CultureInfo.InvariantCulture), 1e-12);
                }
            }

        // The --out folder of one call draws its own runs again (runs.txt); several folders need -o.
        var again = CliRunner.Run("plot", Path.Combine(_root, "out-parent", "w8"));
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("drew 4 runs in 2 groups", again.Stdout);
        CliRunner.AssertOneLineError(CliRunner.Run("plot", Path.Combine(_root, "parent", "w8"), Path.Combine(_root, "parent", "w16")), "--output");
        CliRunner.AssertOneLineError(CliRunner.Run("plot", Path.Combine(_root, "out-multi-none")), "does not exist");
    }

    [Fact]
    public void DivergenceExitsWithCode3AndOneLine()
    {
        var result = CliRunner.Run(Small("nan", "--task", "sines", "--n0", "3", "--optimizer", "sgd", "--lr", "10000", "--dtype", "float32", "--epochs", "3"));
        CliRunner.AssertOneLineError(result, "loss became", exitCode: 3);
        Assert.Contains("last good checkpoint is epoch-", result.Stderr);
    }

    [Fact]
    public void CorruptedCheckpointIsRefusedWithOneLine()
    {
        Assert.Equal(0, CliRunner.Run(Small("corrupt")).ExitCode);
        string run = Directory.GetDirectories(Path.Combine(_root, "corrupt")).Single();
        string weights = Path.Combine(run, "epoch-0002.safetensors");
        File.WriteAllBytes(weights, File.ReadAllBytes(weights)[..100]);
        // Outputs may not replace the files of a run.
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("measure", "--checkpoint", Path.Combine(run, "epoch-0001.safetensors"), "--export-points", Path.Combine(run, "epoch-0001.json")), "--export-points");
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("measure", "--checkpoint", Path.Combine(run, "epoch-0001.safetensors"), "-o", Path.Combine(run, "run.json")), "--output");
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("measure", "--checkpoint", weights), "corrupted or truncated");
        // --resume passes over a damaged checkpoint: CheckpointEdgeTests.
    }

    [PyTorchFact]
    public void PyTorchAutogradAgreesWithATrainedCheckpoint()
    {
        Assert.Equal(0, CliRunner.Run(Small("cross", "--dtype", "float64")).ExitCode);
        string checkpoint = Path.Combine(Directory.GetDirectories(Path.Combine(_root, "cross")).Single(), "epoch-0002.safetensors");
        // Achieved: 6.7e-16 per node for lengths, 1.9e-13 for 2-volumes (README); the tolerances leave a margin for rounding, not for bugs.
        foreach (var (geometry, tolerance) in new[] { (new[] { "--geometry", "segment" }, "1e-14"), (["--geometry", "patch", "--k", "2", "--points", "4"], "1e-11") })
        {
            string nodes = Path.Combine(_root, $"nodes-{geometry.Length}.json");
            var ours = CliRunner.Run(["measure", "--checkpoint", checkpoint, "--geometries", "12", "--export-points", nodes, .. geometry]);
            Assert.True(ours.ExitCode == 0, ours.Stderr);
            var (code, output) = PyTorch.Run(PyTorch.Python!, PyTorch.Script(), "check", checkpoint, nodes, "--tolerance", tolerance);
            Assert.True(code == 0, output);
            Assert.Contains("PASS", output);
        }
    }

    [PyTorchFact]
    public void AStateDictSavedByPyTorchLoadsAndAgrees()
    {
        string model = Path.Combine(_root, "model.pt");
        var (made, log) = PyTorch.Run(PyTorch.Python!, PyTorch.Script(), "make-pt", model, "--widths", "5,24,24,3", "--seed", "4");
        Assert.True(made == 0, log);
        string nodes = Path.Combine(_root, "nodes.json");
        var ours = CliRunner.Run("measure", "--checkpoint", model, "--geometries", "8", "--export-points", nodes);
        Assert.True(ours.ExitCode == 0, ours.Stderr);
        Assert.Contains("network: [5,24,24,3]", ours.Stdout);
        var (code, output) = PyTorch.Run(PyTorch.Python!, PyTorch.Script(), "check", model, nodes, "--tolerance", "1e-14");
        Assert.True(code == 0, output);
    }
}
