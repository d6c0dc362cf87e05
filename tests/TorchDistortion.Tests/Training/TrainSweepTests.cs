using TorchDistortion.Experiments;
using TorchDistortion.Tests.Cli;
using TorchDistortion.Training;

namespace TorchDistortion.Tests.Training;

/// <summary>Training sweeps: list-valued train options and sweep files expand through one grid, list, shard, and resume after SIGKILL.</summary>
public sealed class TrainSweepTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-trainsweep").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly string[] OldCall =
    [
        "train", "--task", "moons", "--train-size", "64", "--test-size", "32", "--width", "4", "--depth", "2", "--epochs", "1", "--probes", "1",
        "--patch-points", "2", "--init", "he,variance", "--cw", "1.5", "--seeds", "0,3", "--activation", "relu,tanh", "--lr", "0.01", "--batch-size", "32",
        "--optimizer", "sgd", "--no-progress",
    ];

    /// <summary>The run folders the train command wrote for <see cref="OldCall"/> before every setting took a list (commit 4935589).</summary>
    private static readonly string[] OldIds =
    [
        "moons-he-seed0-0ae06072dd7d", "moons-he-seed3-ff1bfc50d7ec", "moons-tanh-he-seed0-b284e59a5979", "moons-tanh-he-seed3-a915aca7dc7d",
        "moons-tanh-variance1.5-seed0-c2dc55af0514", "moons-tanh-variance1.5-seed3-cee324f607fb", "moons-variance1.5-seed0-2164ae79a6ec", "moons-variance1.5-seed3-98b590e972cf",
    ];

    private static List<string> Listed(CliRunner.Result result, bool inShardOnly = false)
    {
        Assert.True(result.ExitCode == 0, result.Stderr);
        return [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).SkipLast(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(cells => !inShardOnly || cells[1] == "yes").Select(cells => cells[0])];
    }

    [Fact]
    public void ACallOfTheOldKindKeepsItsRunIds()
    {
        Assert.Equal(OldIds.Order(), Listed(CliRunner.RunInProcess([.. OldCall, "--list"])).Order());
    }

    [Fact]
    public void ListOptionsGiveTheProductOfRunsWithTheIdsOfTheirSettings()
    {
        var sweep = new TrainSweep
        {
            SchemaVersion = 1, Task = ["moons", "xor"], TrainSize = 64, TestSize = 32, Width = [4, 8], Depth = [2, 3], Init = ["he", "variance"], CW = [1, 4],
            Optimizer = ["adam", "sgd"], Lr = [0.01, 0.1], BatchSize = [16, 32], Seeds = [0, 1], Epochs = 2,
        };
        var runs = sweep.Expand();
        // C_W multiplies only the variance runs: 2 tasks x 2 widths x 2 depths x (he + 2 C_W) x 2 optimizers x 2 lrs x 2 batch sizes x 2 seeds.
        Assert.Equal(2 * 2 * 2 * 3 * 2 * 2 * 2 * 2, runs.Count);
        var expected = new List<string>();
        foreach (var task in new[] { TaskKind.Moons, TaskKind.Xor })
        foreach (int width in new[] { 4, 8 })
        foreach (int depth in new[] { 2, 3 })
        foreach (var (init, cw) in new (string, double?)[] { ("he", null), ("variance", 1), ("variance", 4) })
        foreach (var optimizer in new[] { "adam", "sgd" })
        foreach (double lr in new[] { 0.01, 0.1 })
        foreach (int batch in new[] { 16, 32 })
        foreach (long seed in new long[] { 0, 1 })
            expected.Add(new TrainSettings(new TaskSpec(task, 2, TrainSize: 64, TestSize: 32), Width: width, Depth: depth, Init: init, CW: cw, Optimizer: optimizer,
                LearningRate: lr, BatchSize: batch, Epochs: 2, Seed: seed).RunId());
        Assert.Equal(expected, runs.Select(r => r.RunId()));
        Assert.Equal(runs.Count, runs.Select(r => r.RunId()).Distinct().Count());

        // The command line gives the same runs.
        var listed = Listed(CliRunner.RunInProcess("train", "--task", "moons,xor", "--train-size", "64", "--test-size", "32", "--width", "4,8", "--depth", "2,3",
            "--init", "he,variance", "--cw", "1,4", "--optimizer", "adam,sgd", "--lr", "0.01,0.1", "--batch-size", "16,32", "--seeds", "0,1", "--epochs", "2", "--list"));
        Assert.Equal(expected, listed);
    }

    public static TheoryData<string, string> Duplicates() => new()
    {
        { "--task moons,moons", "--task" }, { "--width 4,4", "--width" }, { "--depth 2,2", "--depth" }, { "--activation relu,ReLU", "--activation" },
        { "--init he,HE", "--init" }, { "--init variance --cw 2,2", "--cw" }, { "--optimizer adam,adam", "--optimizer" }, { "--lr 0.1,0.1", "--lr" },
        { "--batch-size 8,8", "--batch-size" }, { "--seeds 3,3", "--seeds" },
    };

    [Theory]
    [MemberData(nameof(Duplicates))]
    public void AValueGivenTwiceInAListIsOneLineExit2(string arguments, string option)
    {
        CliRunner.AssertOneLineError(CliRunner.RunInProcess(["train", .. arguments.Split(' '), "--list"]), option);
    }

    private string Declaration(string name, string json)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllText(path, json);
        return path;
    }

    public static TheoryData<string, string> BadFiles() => new()
    {
        { """{"schema_version": 1, "widht": [8]}""", "widht" },
        { """{"schema_version": 1, "width": ["wide"]}""", "width" },
        { """{"schema_version": 1, "lr": 0.1}""", "lr" },
        { """{"schema_version": 1, "epochs": "many"}""", "epochs" },
        { """{"width": [8]}""", "schema_version" },
        { """{"schema_version": 2}""", "schema_version" },
        { """{"schema_version": 1, "seeds": [1, 1]}""", "seeds" },
        { """{"schema_version": 1, "seeds": null}""", "seeds" },
        { """{"schema_version": 1, "init": ["variance"]}""", "cw" },
        { """{"schema_version": 1, "batch_size": [0]}""", "batch_size" },
        { """{"schema_version": 1, "task": ["spiral"]}""", "task" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void ABadSweepFileIsOneLineExit2NamingTheField(string json, string field)
    {
        var result = CliRunner.RunInProcess("train", "--sweep", Declaration("bad.json", json), "--list");
        CliRunner.AssertOneLineError(result, field);
        Assert.Contains("bad.json", result.Stderr);
    }

    [Fact]
    public void ASweepAboveTheCapIsRefusedBeforeAnyRun()
    {
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("train", "--seeds", "0,1,2", "--width", "4,8", "--max-runs", "5", "--list"), "--max-runs");
        var result = CliRunner.RunInProcess("train", "--sweep", Declaration("big.json", """{"schema_version": 1, "seeds": [0, 1, 2]}"""), "--max-runs", "2");
        CliRunner.AssertOneLineError(result, "big.json: the sweep has 3 runs");
    }

    [Fact]
    public void ASweepFileBesideTheSettingsOptionsIsRefused()
    {
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("train", "--sweep", Declaration("s.json", """{"schema_version": 1}"""), "--width", "8", "--list"), "--width");
    }

    [Fact]
    public void ASweepFileListsTheRunsOfTheSameOptionsAndShardsPartitionThem()
    {
        string file = Declaration("sweep.json", """
            {"schema_version": 1, "task": ["moons"], "train_size": 64, "test_size": 32, "width": [4], "depth": [2], "epochs": 1, "probes": 1,
             "patch_points": 2, "init": ["he", "variance"], "cw": [1.5], "seeds": [0, 3], "activation": ["relu", "tanh"], "lr": [0.01], "batch_size": [32],
             "optimizer": ["sgd"]}
            """);
        var all = Listed(CliRunner.RunInProcess("train", "--sweep", file, "--list"));
        Assert.Equal(OldIds.Order(), all.Order());
        var parts = Enumerable.Range(0, 3).Select(i => Listed(CliRunner.RunInProcess("train", "--sweep", file, "--list", "--shard", $"{i}/3"), inShardOnly: true)).ToList();
        Assert.Equal(all.Order(), parts.SelectMany(p => p).Order());
        Assert.Equal(all.Count, parts.SelectMany(p => p).Distinct().Count());
        Assert.True(parts.Count(p => p.Count > 0) >= 2, "8 runs over 3 shards land in more than one");
    }

    [Fact]
    public void TheSlurmArrayVariablesChooseTheShard()
    {
        var start = new System.Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "torchdist"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in OldCall.Append("--list")) start.ArgumentList.Add(a);
        // An array --array=1-3: the task with id 2 is the second of three, shard 1/3.
        (start.Environment["SLURM_ARRAY_TASK_ID"], start.Environment["SLURM_ARRAY_TASK_COUNT"], start.Environment["SLURM_ARRAY_TASK_MIN"]) = ("2", "3", "1");
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000));
        var slurm = Listed(new CliRunner.Result(process.ExitCode, stdout.Result, stderr.Result), inShardOnly: true);
        Assert.NotEmpty(slurm);
        Assert.Equal(Listed(CliRunner.RunInProcess([.. OldCall, "--list", "--shard", "1/3"]), inShardOnly: true), slurm);
        Assert.Contains("in shard 1/3", stdout.Result);
    }

    [Fact]
    public void ShardsTrainedIntoTheirOwnFoldersArePlottedAsOneSweep()
    {
        string[] Args(int shard) => [.. OldCall.Where((a, i) => i < OldCall.Length - 1), "--checkpoints", Path.Combine(_root, $"shard{shard}"), "-o", Path.Combine(_root, $"out{shard}"),
            "--shard", $"{shard}/2", "--threads", "1", "--no-progress"];
        foreach (int shard in new[] { 0, 1 })
        {
            var result = CliRunner.Run(Args(shard));
            Assert.True(result.ExitCode == 0, result.Stderr);
        }
        var trained = Directory.GetDirectories(Path.Combine(_root, "shard0")).Concat(Directory.GetDirectories(Path.Combine(_root, "shard1"))).Select(Path.GetFileName);
        Assert.Equal(OldIds.Order(), trained.Order());
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(_root, "shard0")));
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(_root, "shard1")));
        // The merge of training shards is the plot of their folders: one figure and summary over every run.
        var plot = CliRunner.RunInProcess("plot", Path.Combine(_root, "shard0"), Path.Combine(_root, "shard1"), "-o", Path.Combine(_root, "merged"));
        Assert.True(plot.ExitCode == 0, plot.Stderr);
        Assert.Contains("drew 8 runs in 4 groups", plot.Stdout);
        Assert.Equal(8, File.ReadAllLines(Path.Combine(_root, "merged", "runs.txt")).Count(l => l.Length > 0));
    }

    [Fact]
    public void AnEnsembleSweepKilledThreeTimesThenRunAgainGivesTheUninterruptedFiles()
    {
        string file = Declaration("ensemble.json", """
            {"schema_version": 1, "task": ["sines"], "n0": 3, "train_size": 128, "test_size": 64, "width": [8, 12], "depth": [3], "epochs": 3,
             "batch_size": [32], "init": ["he", "variance"], "cw": [1.5], "seeds": [0, 1], "probes": 2, "patch_points": 2, "dtype": "float64"}
            """);
        string[] Args(string root) => ["train", "--sweep", file, "--threads", "1", "--checkpoints", Path.Combine(_root, root), "-o", Path.Combine(_root, "out-" + root), "--no-progress"];
        var full = CliRunner.Run(Args("full"));
        Assert.True(full.ExitCode == 0, full.Stderr);
        // Three moments: in the first shape's first epoch, in its second, and in the second shape's last epoch after the first shape finished.
        foreach (var (pattern, nth) in new[] { (@"/epoch-0001\.json$", 3), (@"/epoch-0002\.json$", 2), (@"/epoch-0003\.json$", 6) })
            Assert.Equal(CliRunner.Killed, CliRunner.RunKilledAt(pattern, nth, Args("killed")).ExitCode);
        // The kills left runs unfinished (header and 4 evaluations when done), so the last command resumes them.
        var standing = Directory.GetDirectories(Path.Combine(_root, "killed")).Select(run => File.ReadAllLines(Path.Combine(run, "history.csv")).Length - 1).ToList();
        Assert.Contains(standing, rows => rows < 4);
        var again = CliRunner.Run(Args("killed"));
        Assert.True(again.ExitCode == 0, again.Stderr);
        var runs = Directory.GetDirectories(Path.Combine(_root, "full"));
        Assert.Equal(8, runs.Length);
        foreach (var run in runs)
        {
            string other = Path.Combine(_root, "killed", Path.GetFileName(run));
            Assert.Equal(File.ReadAllText(Path.Combine(run, "history.csv")), File.ReadAllText(Path.Combine(other, "history.csv")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(run, "epoch-0003.safetensors")), File.ReadAllBytes(Path.Combine(other, "epoch-0003.safetensors")));
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // --no-ensemble: every run its own item
    public void RunsTrainedOnTwoWorkersGiveTheFilesOfOneWorker(bool ensemble)
    {
        // Two shapes x two seeds: two ensembles (or four runs) that two workers train at once, in either order.
        string file = Declaration($"workers-{ensemble}.json", """
            {"schema_version": 1, "task": ["moons"], "train_size": 96, "test_size": 48, "width": [8, 12], "depth": [3], "epochs": 2,
             "batch_size": [32], "seeds": [0, 1], "probes": 2, "patch_points": 2}
            """);
        string[] Args(string root, int threads) => ["train", "--sweep", file, "--threads", $"{threads}", "--checkpoints", Path.Combine(_root, root),
            "-o", Path.Combine(_root, "out-" + root), "--no-progress", .. ensemble ? Array.Empty<string>() : ["--no-ensemble"]];
        foreach (var (root, threads) in new[] { ($"one-{ensemble}", 1), ($"two-{ensemble}", 2) })
        {
            var result = CliRunner.Run(Args(root, threads));
            Assert.True(result.ExitCode == 0, result.Stderr);
        }
        var runs = Directory.GetDirectories(Path.Combine(_root, $"one-{ensemble}"));
        Assert.Equal(4, runs.Length);
        foreach (var run in runs)
        {
            string other = Path.Combine(_root, $"two-{ensemble}", Path.GetFileName(run));
            Assert.Equal(File.ReadAllText(Path.Combine(run, "history.csv")), File.ReadAllText(Path.Combine(other, "history.csv")));
            Assert.Equal(File.ReadAllBytes(Path.Combine(run, "epoch-0002.safetensors")), File.ReadAllBytes(Path.Combine(other, "epoch-0002.safetensors")));
        }
    }
}
