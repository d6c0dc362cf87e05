using System.Text.Json.Nodes;
using TorchDistortion.Plots;
using TorchDistortion.Experiments;
using TorchDistortion.Tests.Cli;

namespace TorchDistortion.Tests.Experiments;

public sealed class SweepTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-sweep").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static SweepSpec Small(long seed = 5) => new()
    {
        SchemaVersion = 1, Width = [6, 10], Depth = [1, 3], Init = ["he", "variance"], CW = [1.0, 3.0], Geometry = ["segment", "patch"],
        K = [1, 2], Points = [3], Networks = [12], Seed = seed, Moments = 3,
    };

    private string Folder(string name) => Path.Combine(_root, name);

    private string WriteSweep(string json)
    {
        string path = Path.Combine(_root, $"sweep-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        return path;
    }

    /// <summary>The CSV without its provenance comment lines (which carry the date).</summary>
    private static string[] DataLines(string folder) =>
        File.ReadAllLines(Path.Combine(folder, "results.csv")).Where(l => !l.StartsWith('#')).ToArray();

    [Fact]
    public void ExpansionCollapsesSettingsThatDoNotApply()
    {
        var runs = Small().Expand();
        // 4 shapes x (he + variance x 2 C_W) x (segment + patch x 2 k) = 4 x 3 x 3.
        Assert.Equal(36, runs.Count);
        Assert.All(runs.Where(r => r.Network.Init.Name == "he"), r => Assert.Null(r.Network.Init.WeightVariance));
        Assert.All(runs.Where(r => r.Geometry.Kind == TorchDistortion.Geometry.GeometryKind.Segment), r => Assert.Equal(1, r.Geometry.K));
        Assert.Equal(runs.Count, runs.Select(r => r.Id(5)).Distinct().Count());
    }

    [Fact]
    public void RunIdsAndSeedsDependOnSettingsNotOnDeclarationOrder()
    {
        var forward = Small();
        var reversed = forward with { Width = [10, 6], Init = ["variance", "he"], CW = [3.0, 1.0], Geometry = ["patch", "segment"] };
        var a = forward.Expand().ToDictionary(r => r.Id(5), r => r.Seed(5));
        var b = reversed.Expand().ToDictionary(r => r.Id(5), r => r.Seed(5));
        Assert.Equal(a.OrderBy(p => p.Key), b.OrderBy(p => p.Key));
        Assert.Equal(forward.SweepId(), reversed.SweepId());
        Assert.NotEqual(forward.SweepId(), Small(seed: 6).SweepId());
        Assert.Equal(a.Count, a.Values.Distinct().Count());
    }

    [Fact]
    public void RunIdsDoNotDependOnKeyOrderNorOnFileVersusOptionsAndArePinned()
    {
        // With the torch generator named, the ids are those of every version before generators existed.
        string forward = WriteSweep("""{"schema_version":1,"width":[8],"depth":[2],"init":["variance"],"cw":[1.5],"cb":[0.1],"networks":[10],"seed":3,"generator":"torch"}""");
        string reversed = WriteSweep("""{"generator":"torch","seed":3,"networks":[10],"cb":[0.1],"cw":[1.5],"init":["variance"],"depth":[2],"width":[8],"schema_version":1}""");
        var fromFile = CliRunner.RunInProcess("sweep", forward, "--list");
        var fromReversed = CliRunner.RunInProcess("sweep", reversed, "--list");
        var fromOptions = CliRunner.RunInProcess("sweep", "--width", "8", "--depth", "2", "--init", "variance", "--cw", "1.5", "--cb", "0.1", "--networks", "10", "--seed", "3",
            "--generator", "torch", "--list");
        Assert.True(fromFile.ExitCode + fromReversed.ExitCode + fromOptions.ExitCode == 0, fromFile.Stderr + fromReversed.Stderr + fromOptions.Stderr);
        Assert.Equal(fromFile.Stdout, fromReversed.Stdout);
        Assert.Equal(fromFile.Stdout, fromOptions.Stdout);
        // These literals pin the id scheme (computed once from the code of 2026-11-30): a change to the canonical settings,
        // the hash or the seed derivation changes every run id and orphans every finished run on disk. Change them only on purpose.
        Assert.Matches("^e54a2ce0ab10 +yes +2153266133596640958 ", fromFile.Stdout.Split('\n')[1]);
        Assert.Equal("spirals-he-seed0-d21fb969dcde", new TorchDistortion.Training.TrainSettings(new TorchDistortion.Training.TaskSpec()).RunId());
    }

    [Theory]
    [InlineData("""{"schema_version":1,"widths":[[5,12,12,4]],"init":["variance"],"cw":[1.5],"cout":[0.7],"cb":[0.2],"geometry":["patch"],"k":[2],"points":[3],"networks":[30],"seed":9}""",
        "--widths 5,12,12,4 --init variance --cw 1.5 --cout 0.7 --cb 0.2 --geometry patch --k 2 --points 3 --networks 30")]
    [InlineData("""{"schema_version":1,"widths":[[4,10,10,3]],"init":["lecun"],"cout":[1.3],"cb":[0.05],"exact":[true],"networks":[25],"seed":2}""",
        "--widths 4,10,10,3 --init lecun --cout 1.3 --cb 0.05 --exact --networks 25")]
    public void ASweepRowEqualsADirectMeasureBitForBit(string sweepJson, string measureOptions)
    {
        // Plumbing that dropped a non-default setting (C_out, C_b, k, exact) on the way from the sweep file would change these numbers.
        string folder = Folder("row");
        var sweep = CliRunner.RunInProcess("sweep", WriteSweep(sweepJson), "-o", folder, "--no-progress");
        Assert.True(sweep.ExitCode == 0, sweep.Stderr);
        var run = JsonNode.Parse(File.ReadAllText(Directory.GetFiles(Path.Combine(folder, "runs"), "*.json").Single()))!;
        string seed = run["seed"]!.ToString();
        string direct = Path.Combine(_root, "direct.json");
        var measure = CliRunner.RunInProcess(["measure", .. measureOptions.Split(' '), "--seed", seed, "--format", "json", "-o", direct]);
        Assert.True(measure.ExitCode == 0, measure.Stderr);
        var measured = JsonNode.Parse(File.ReadAllText(direct))!;
        var summary = measured["summary"]!;
        // measure's JSON writes a non-finite value (mean log D of a set with a zero distortion) as null; a run file keeps it.
        static double? Number(JsonNode? node) => node is null ? null
            : node.GetValueKind() == System.Text.Json.JsonValueKind.String ? double.Parse((string)node!, System.Globalization.CultureInfo.InvariantCulture) : (double)node;
        var expected = new Dictionary<string, double?>
        {
            ["std"] = Number(summary["std"]), ["median"] = Number(summary["median"]), ["mean_log"] = Number(summary["mean_log"]), ["zeros"] = Number(summary["zeros"]),
        };
        foreach (var q in summary["quantiles"]!.AsArray())
            expected[$"q{((double)q!["probability"]!).ToString(System.Globalization.CultureInfo.InvariantCulture)}"] = Number(q["value"]);
        var theory = new Dictionary<string, double?>();
        foreach (var row in measured["theory"]!["rows"]!.AsArray())
        {
            expected[(string)row!["statistic"]!] = Number(row["value"]);
            theory[(string)row["statistic"]!] = Number(row["theory"]);
        }
        int compared = 0;
        foreach (var row in run["rows"]!.AsArray())
        {
            string statistic = (string)row!["statistic"]!;
            if (!expected.TryGetValue(statistic, out double? value)) continue;
            if (value is null) Assert.False(Number(row["value"]) is double v && double.IsFinite(v), $"{statistic}: null in measure, finite in the sweep");
            else Assert.Equal(value, Number(row["value"])); // bitwise: JSON doubles round-trip
            if (theory.TryGetValue(statistic, out double? t)) Assert.Equal(t, Number(row["theory"]));
            compared++;
        }
        Assert.Equal(expected.Count, compared);
    }

    [Fact]
    public void ShardedRunsMergedEqualTheUnshardedRunRowForRow()
    {
        var sweep = Small();
        SweepRunner.Run(sweep, Folder("whole"), Shard.All, DeviceSpec.Cpu);
        var shards = Enumerable.Range(0, 3).Select(i => Folder($"shard{i}")).ToArray();
        for (int i = 0; i < 3; i++) SweepRunner.Run(sweep, shards[i], new Shard(i, 3), DeviceSpec.Cpu);
        Assert.All(shards, s => Assert.False(File.Exists(Path.Combine(s, "results.csv"))));
        Assert.True(Directory.GetFiles(Path.Combine(shards[0], "runs")).Length is > 0 and < 36);
        var (runs, expected) = SweepRunner.Merge(shards, Folder("merged"));
        Assert.Equal((36, 36), (runs, expected));
        Assert.Equal(DataLines(Folder("whole")), DataLines(Folder("merged")));
        // Merging the same shards twice (duplicates) changes nothing.
        SweepRunner.Merge([.. shards, shards[1]], Folder("merged2"));
        Assert.Equal(DataLines(Folder("whole")), DataLines(Folder("merged2")));
    }

    [Fact]
    public void RerunSkipsFinishedRunsAndRecomputesMissingOnesIdentically()
    {
        var sweep = Small() with { Width = [6], Depth = [2] };
        string folder = Folder("resume");
        Assert.Equal(9, SweepRunner.Run(sweep, folder, Shard.All, DeviceSpec.Cpu));
        var before = DataLines(folder);
        var removed = Directory.GetFiles(Path.Combine(folder, "runs")).Take(3).ToList();
        removed.ForEach(File.Delete);
        File.WriteAllText(Path.Combine(folder, "runs", ".half-written.json.123.tmp"), "{\"sweep_id\": \"tru");
        Assert.Equal(3, SweepRunner.Run(sweep, folder, Shard.All, DeviceSpec.Cpu));
        Assert.Equal(0, SweepRunner.Run(sweep, folder, Shard.All, DeviceSpec.Cpu));
        Assert.Equal(before, DataLines(folder));
    }

    [Fact]
    public void MergeRefusesDifferentSweepsAndForeignFolders()
    {
        var sweep = Small() with { Width = [6], Depth = [1], Geometry = ["segment"] };
        SweepRunner.Run(sweep, Folder("a"), Shard.All, DeviceSpec.Cpu);
        SweepRunner.Run(sweep with { Seed = 99 }, Folder("b"), Shard.All, DeviceSpec.Cpu);
        Assert.Contains("refusing to mix", Assert.Throws<ArgumentException>(() => SweepRunner.Merge([Folder("a"), Folder("b")], Folder("m"))).Message);
        Directory.CreateDirectory(Folder("empty"));
        Assert.Contains("not a sweep folder", Assert.Throws<ArgumentException>(() => SweepRunner.Merge([Folder("empty")], Folder("m"))).Message);
        Assert.Contains("different sweep", Assert.Throws<SettingException>(() => SweepRunner.Run(sweep with { Seed = 99 }, Folder("a"), Shard.All, DeviceSpec.Cpu)).Message);
    }

    [Theory]
    [InlineData("{\"schema_version\": 1, \"widht\": [8]}", "widht")]
    [InlineData("{\"schema_version\": 1, \"depth\": \"deep\"}", "depth")]
    [InlineData("{\"schema_version\": 1, \"depth\": [0]}", "depth")]
    [InlineData("{\"schema_version\": 1, \"width\": [4], \"geometry\": [\"patch\"], \"k\": [5]}", "k")]
    [InlineData("{\"schema_version\": 1, \"init\": [\"xavier-magic\"]}", "init")]
    [InlineData("{\"schema_version\": 1, \"networks\": [0]}", "networks")]
    [InlineData("{\"schema_version\": 2}", "schema_version")]
    [InlineData("{\"width\": [8]}", "schema_version")]
    [InlineData("{\"schema_version\": 1, \"width\": [8], \"widths\": [[8, 8]]}", "widths")]
    [InlineData("{\"schema_version\": 1, \"dtype\": \"float16\"}", "dtype")]
    [InlineData("{\"schema_version\": 1, \"init\": null}", "init")]
    [InlineData("{\"schema_version\": 1, \"widths\": [[3, 4], null]}", "widths")]
    [InlineData("{\"schema_version\": 1, \"width\": []}", "width")]
    [InlineData("{\"schema_version\": 1, \"widths\": [[100000, 100000, 100000]]}", "widths")]
    [InlineData("{\"schema_version\": 1, \"cw\": []}", "cw")]
    [InlineData("{\"schema_version\": 1, ", "malformed")]
    [InlineData("{\"schema_version\":1,\"name\":\"dup\",\"width\":[8],\"width\":[16],\"depth\":[1],\"networks\":[10]}", "width: given more than once")]
    [InlineData("{\"schema_version\": 1, \"seed\": 1, \"networks\": [10], \"seed\": 2}", "seed: given more than once")]
    public void BadSweepFilesFailBeforeComputingAndNameTheField(string json, string field)
    {
        string path = WriteSweep(json);
        var error = Assert.Throws<ArgumentException>(() => SweepSpec.Load(path));
        Assert.Contains(field, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void TheReadmeSweepExampleLoads()
    {
        string folder = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(folder, "README.md"))) folder = Path.GetDirectoryName(folder)!;
        string readme = File.ReadAllText(Path.Combine(folder, "README.md"));
        int start = readme.IndexOf("```json\n", StringComparison.Ordinal) + 8;
        string json = readme[start..readme.IndexOf("```", start, StringComparison.Ordinal)];
        var spec = SweepSpec.Load(WriteSweep(json));
        Assert.Equal([1.0], spec.COut.Select(c => c!.Value));
        Assert.NotEmpty(spec.Expand());
    }

    [Fact]
    public void MergeRefusesToOverwriteAnotherSweepsResults()
    {
        var sweep = Small() with { Width = [6], Depth = [1], Geometry = ["segment"] };
        SweepRunner.Run(sweep, Folder("a"), Shard.All, DeviceSpec.Cpu);
        SweepRunner.Run(sweep with { Seed = 77 }, Folder("other"), Shard.All, DeviceSpec.Cpu);
        Assert.Contains("different sweep", Assert.Throws<SettingException>(() => SweepRunner.Merge([Folder("a")], Folder("other"))).Message);
    }

    [Fact]
    public void UnwritableOutputFailsBeforeComputing()
    {
        var error = Assert.Throws<IOException>(() => SweepRunner.Run(Small(), "/proc/torchdist-cannot-write", Shard.All, DeviceSpec.Cpu));
        Assert.Contains("--output", error.Message);
    }

    [Fact]
    public void ShardParsesAndDefaultsFromSlurm()
    {
        Assert.Equal(new Shard(1, 3), Shard.Parse("1/3"));
        Assert.Throws<SettingException>(() => Shard.Parse("3/3"));
        Assert.Throws<SettingException>(() => Shard.Parse("a/b"));
        Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "2");
        Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_COUNT", "4");
        try
        {
            Assert.Equal(new Shard(2, 4), Shard.Parse(null));
            // --array=1-4: task ids 1..4 are shards 0..3; --array=10-16:2: ids 10,12,14,16.
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_MIN", "1");
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "4");
            Assert.Equal(new Shard(3, 4), Shard.Parse(null));
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_MIN", "10");
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_STEP", "2");
            Environment.SetEnvironmentVariable("SLURM_ARRAY_TASK_ID", "14");
            Assert.Equal(new Shard(2, 4), Shard.Parse(null));
        }
        finally
        {
            foreach (var name in new[] { "ID", "COUNT", "MIN", "STEP" }) Environment.SetEnvironmentVariable($"SLURM_ARRAY_TASK_{name}", null);
        }
        // Every run belongs to exactly one shard.
        var ids = Small().Expand().Select(r => r.Id(5)).ToList();
        Assert.All(ids, id => Assert.Single(Enumerable.Range(0, 4), i => new Shard(i, 4).Contains(id)));
    }

    /// <summary>Seven fields of twenty values: 1.28e9 runs, far too many to expand.</summary>
    private static SweepSpec Huge() => new()
    {
        SchemaVersion = 1, Width = [.. Enumerable.Range(1, 20)], Depth = [.. Enumerable.Range(1, 20)],
        N0 = [.. Enumerable.Range(1, 20).Select(i => (int?)i)], NL = [.. Enumerable.Range(1, 20).Select(i => (int?)i)],
        CB = [.. Enumerable.Range(0, 20).Select(i => 0.1 * i)], Networks = [.. Enumerable.Range(1, 20)], Points = [.. Enumerable.Range(2, 20)],
    };

    [Fact]
    public void SweepSizeIsCountedBeforeExpansionAndCapped()
    {
        // The count agrees with the expansion (settings that do not apply collapse in both), and the cap is inclusive.
        var small = Small();
        Assert.Equal(small.Expand().Count, (int)small.CountBound());
        Assert.Equal(36, small.Expand("sweep", maxRuns: 36).Count);
        var capped = Assert.Throws<ArgumentException>(() => small.Expand("sweep", maxRuns: 35));
        Assert.Contains("36 runs", capped.Message);
        Assert.Contains("--max-runs", capped.Message);
        // Equal shapes from the shorthand are counted twice: an upper bound.
        Assert.True(small with { Width = [6, 6] } is var twice && twice.CountBound() >= twice.Expand().Count);

        var huge = Huge();
        Assert.Equal(1_280_000_000, (long)huge.CountBound());
        var error = Assert.Throws<ArgumentException>(() => huge.Expand());
        Assert.Contains("1280000000 runs", error.Message);
        Assert.Contains("100000", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        // With the cap raised, the runs come one at a time: the first few without expanding the rest.
        Assert.Equal(3, huge.Runs("sweep", maxRuns: long.MaxValue).Take(3).Count());
    }

    [Fact]
    public void CliRefusesAHugeSweepInOneLineAndListsARaisedOneAsItExpands()
    {
        string path = WriteSweep(System.Text.Json.JsonSerializer.Serialize(Huge(), SweepSpec.JsonOptions));
        var refused = CliRunner.RunInProcess("sweep", path, "--list");
        CliRunner.AssertOneLineError(refused, "1280000000");
        Assert.Equal("", refused.Stdout);
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("sweep", path, "--list", "--max-runs", "0"), "--max-runs");

        // Listing 1.28e9 runs would never finish: the first ones must arrive while it is still expanding.
        using var listing = CliRunner.Start("sweep", path, "--list", "--max-runs", "2000000000");
        try
        {
            var lines = Task.Run(() => Enumerable.Range(0, 3).Select(_ => listing.StandardOutput.ReadLine()).ToList());
            Assert.True(lines.Wait(TimeSpan.FromSeconds(90)), "no runs listed");
            Assert.StartsWith("run id", lines.Result[0]);
            Assert.All(lines.Result.Skip(1), line => Assert.Matches("^[0-9a-f]{12} ", line!));
            Assert.False(listing.HasExited);
        }
        finally
        {
            listing.Kill(entireProcessTree: true);
            listing.WaitForExit();
        }
    }

    [Fact]
    public void CliRefusesDuplicateKeysInOneLine()
    {
        string path = WriteSweep("{\"schema_version\":1,\"name\":\"dup\",\"width\":[8],\"width\":[16],\"depth\":[1],\"networks\":[10]}");
        CliRunner.AssertOneLineError(CliRunner.RunInProcess("sweep", path, "--list"), "width");
    }

    /// <summary>Two shards of a six-run sweep, each holding some of its runs.</summary>
    private (SweepSpec Sweep, string Shard0, string Shard1) TwoShards()
    {
        var sweep = Small() with { Width = [6], Depth = [1, 2], Geometry = ["segment"] };
        var (shard0, shard1) = (Folder("sh0"), Folder("sh1"));
        SweepRunner.Run(sweep, shard0, new Shard(0, 2), DeviceSpec.Cpu);
        SweepRunner.Run(sweep, shard1, new Shard(1, 2), DeviceSpec.Cpu);
        Assert.All(new[] { shard0, shard1 }, s => Assert.NotEmpty(Directory.GetFiles(Path.Combine(s, "runs"), "*.json")));
        return (sweep, shard0, shard1);
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>Changes one measured value of a run file by one unit in the last place.</summary>
    private static void Nudge(string runFile, Action<JsonNode> change)
    {
        var json = JsonNode.Parse(File.ReadAllText(runFile))!;
        change(json);
        File.WriteAllText(runFile, json.ToJsonString());
    }

    [Fact]
    public void MergeRefusesDuplicatesThatDisagreeWhateverTheFolderOrder()
    {
        var (_, shard0, shard1) = TwoShards();
        string agree = Folder("sh1copy"), valueDiffers = Folder("sh1conf"), logsDiffer = Folder("sh1logs");
        CopyFolder(shard1, agree);
        CopyFolder(shard1, valueDiffers);
        CopyFolder(shard1, logsDiffer);
        // Time and provenance are not measured values: a copy run elsewhere and later agrees.
        Nudge(Directory.GetFiles(Path.Combine(agree, "runs"), "*.json")[0], j => { j["elapsed_seconds"] = 1e6; j["provenance"]!["machine"] = "elsewhere"; });
        string nudged = Directory.GetFiles(Path.Combine(valueDiffers, "runs"), "*.json")[0];
        string runId = Path.GetFileNameWithoutExtension(nudged);
        Nudge(nudged, j => j["rows"]![0]!["value"] = Math.BitIncrement(j["rows"]![0]!["value"]!.GetValue<double>()));
        Nudge(Path.Combine(logsDiffer, "runs", runId + ".json"), j => j["log_distortions"]![0] = Math.BitIncrement(j["log_distortions"]![0]!.GetValue<double>()));

        foreach (var folders in new[] { new[] { shard0, shard1, valueDiffers }, [shard0, valueDiffers, shard1], [logsDiffer, shard0, shard1] })
        {
            var error = Assert.Throws<ArgumentException>(() => SweepRunner.Merge(folders, Folder("m")));
            Assert.Contains(runId, error.Message);
            Assert.Contains($"'{folders.First(f => f != shard0)}'", error.Message);
            Assert.Contains($"'{folders.Last()}'", error.Message);
            Assert.False(File.Exists(Path.Combine(Folder("m"), "results.csv")));
        }
        SweepRunner.Merge([shard0, shard1], Folder("m1"));
        SweepRunner.Merge([agree, shard0, shard1], Folder("m2"));
        Assert.Equal(DataLines(Folder("m1")), DataLines(Folder("m2")));

        var cli = CliRunner.Run("merge", shard0, valueDiffers, shard1, "-o", Folder("m3"));
        CliRunner.AssertOneLineError(cli, runId);
    }

    [Fact]
    public void MergeWithRunsMissingFailsUnlessPartialIsAllowed()
    {
        var (sweep, shard0, _) = TwoShards();
        int present = Directory.GetFiles(Path.Combine(shard0, "runs"), "*.json").Length;
        var error = Assert.Throws<ArgumentException>(() => SweepRunner.Merge([shard0], Folder("m")));
        Assert.Contains($"{6 - present} of 6 runs are missing", error.Message);
        Assert.Contains("--allow-partial", error.Message);
        Assert.False(File.Exists(Path.Combine(Folder("m"), "results.csv")));

        Assert.Equal((present, 6), SweepRunner.Merge([shard0], Folder("m"), allowPartial: true));
        var runIds = DataLines(Folder("m")).Skip(1).Select(l => l.Split(',')[2]).Distinct().Order();
        Assert.Equal(Directory.GetFiles(Path.Combine(shard0, "runs"), "*.json").Select(Path.GetFileNameWithoutExtension).Order(), runIds);

        CliRunner.AssertOneLineError(CliRunner.RunInProcess("merge", shard0, "-o", Folder("cli")), "missing");
        var partial = CliRunner.Run("merge", shard0, "-o", Folder("cli"), "--allow-partial");
        Assert.Equal(0, partial.ExitCode);
        Assert.Contains($"merged {present} of 6", partial.Stdout);
        Assert.Contains("missing", partial.Stderr);
    }

    [Fact]
    public void MergeRefusesToWriteIntoAnInputFolder()
    {
        var (_, shard0, shard1) = TwoShards();
        var before = Directory.GetFiles(shard1, "*", SearchOption.AllDirectories).Order().Select(File.ReadAllText).ToList();
        foreach (string output in new[] { shard1, shard1 + "/", Path.Combine(shard1, "..", "sh1") })
        {
            var error = Assert.Throws<SettingException>(() => SweepRunner.Merge([shard0, shard1], output));
            Assert.Equal("output", error.Setting);
        }
        Assert.Equal(before, Directory.GetFiles(shard1, "*", SearchOption.AllDirectories).Order().Select(File.ReadAllText));
    }

    [Fact]
    public void RerunRemovesTemporaryFilesOfKilledWritesButNotWritesInProgress()
    {
        var sweep = Small() with { Width = [6], Depth = [1, 2], Geometry = ["segment"] };
        string folder = Folder("shared");
        var ids = sweep.Expand().Select(r => r.Id(sweep.Seed)).ToList();
        string id0 = ids.First(id => new Shard(0, 2).Contains(id)), id1 = ids.First(id => new Shard(1, 2).Contains(id));
        string Temp(string name) => Path.Combine(folder, $".{name}.{Guid.NewGuid():N}.tmp");
        Directory.CreateDirectory(Path.Combine(folder, "runs"));
        string run0 = Path.Combine(folder, "runs", Path.GetFileName(Temp(id0 + ".json"))), run1 = Path.Combine(folder, "runs", Path.GetFileName(Temp(id1 + ".json")));
        string staleCsv = Temp("results.csv"), staleSweep = Temp("sweep.json"), liveJson = Temp("results.json");
        foreach (string temp in new[] { run0, run1, staleCsv, staleSweep, liveJson }) File.WriteAllText(temp, "{\"half");
        File.SetLastWriteTimeUtc(staleCsv, DateTime.UtcNow.AddHours(-1));
        File.SetLastWriteTimeUtc(staleSweep, DateTime.UtcNow.AddHours(-1));
        File.SetLastWriteTimeUtc(liveJson, DateTime.UtcNow.AddHours(1)); // being written by another shard sharing the folder

        // Shard 0 removes its own run's leftovers and stale shared ones; shard 1's run is not its to touch.
        SweepRunner.Run(sweep, folder, new Shard(0, 2), DeviceSpec.Cpu);
        Assert.Equal([run1, liveJson], new[] { run0, run1, staleCsv, staleSweep, liveJson }.Where(File.Exists));
        SweepRunner.Run(sweep, folder, new Shard(1, 2), DeviceSpec.Cpu);
        Assert.Equal([liveJson], new[] { run0, run1, staleCsv, staleSweep, liveJson }.Where(File.Exists));
        Assert.Equal(6, Directory.GetFiles(Path.Combine(folder, "runs"), "*.json").Length);
        Assert.True(File.Exists(Path.Combine(folder, "results.csv")));
    }

    [Fact]
    public void ReproduceWritesEveryFigureAndAReportThatPlotCanRedraw()
    {
        string folder = Folder("reproduce");
        Reproduction.Run(folder, Scale.Smoke, DeviceSpec.Cpu, progress: null);
        string report = File.ReadAllText(Path.Combine(folder, "report.md"));
        var images = Directory.GetFiles(Path.Combine(folder, "figures"), "*.png");
        Assert.True(images.Length >= 6, $"{images.Length} figures");
        foreach (var image in images)
        {
            var bytes = File.ReadAllBytes(image);
            Assert.True(bytes.Length > 10_000 && bytes[1] == (byte)'P' && bytes[2] == (byte)'N' && bytes[3] == (byte)'G', image);
            Assert.Contains($"figures/{Path.GetFileName(image)}", report);
            Assert.True(File.Exists(Path.ChangeExtension(image, ".svg")));
        }
        Assert.Equal(PaperFigures.All.Count, report.Split("**Claim.**").Length - 1);
        Assert.Equal(PaperFigures.All.Count, report.Split("**Measured.**").Length - 1);
        // Every verdict parses: counts in order, a finite largest |z| wherever there is a comparison, and "agrees" exactly when
        // all lie within the figure's family-wise threshold (3, and 3.26 for 9 comparisons, 3.78 for 63: P(|Z| > z) = 1% / n).
        var verdicts = System.Text.RegularExpressions.Regex.Matches(report,
            @"\*\*Measured\.\*\* (\d+) comparisons with the exact law: (\d+) within 2 exact standard errors, (\d+) within 3; largest \|z\| = (-|\d+\.\d+)\. Verdict: ([^\n]+)");
        Assert.Equal(PaperFigures.All.Count, verdicts.Count);
        int compared = 0;
        foreach (System.Text.RegularExpressions.Match v in verdicts)
        {
            int count = int.Parse(v.Groups[1].Value), within2 = int.Parse(v.Groups[2].Value), within3 = int.Parse(v.Groups[3].Value);
            Assert.True(within2 <= within3 && within3 <= count, v.Value);
            if (count == 0) { Assert.Equal("-", v.Groups[4].Value); continue; }
            compared++;
            double largest = double.Parse(v.Groups[4].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(double.IsFinite(largest) && largest >= 0, v.Value);
            Assert.Equal(largest <= 3.005, within3 == count);
            double threshold = Reproduction.FamilyThreshold(count);
            Assert.Equal(largest <= threshold + 0.005, v.Groups[5].Value.Contains("agrees with the exact theory"));
        }
        Assert.True(compared >= 3, $"only {compared} figures compare with the exact law");

        foreach (var image in images) File.Delete(image);
        Reproduction.Redraw(folder);
        Assert.Equal(images.Length, Directory.GetFiles(Path.Combine(folder, "figures"), "*.png").Length);
    }

    [Theory]
    [InlineData(1, 3.0)]
    [InlineData(9, 3.2607674884205212)]  // Phi^-1(1 - 0.005 / n), mpmath
    [InlineData(35, 3.6279195210718115)]
    [InlineData(63, 3.7769977597302458)]
    public void AFiguresThresholdHoldsItsFalseAlarmsAtOnePercent(int comparisons, double expected) =>
        Assert.Equal(expected, Reproduction.FamilyThreshold(comparisons), 9);

    [Fact]
    public void AFolderFromBeforeGeneratorsResumesAsTorchAndADefaultSweepIsToldSo()
    {
        // A folder of torch runs whose sweep.json lacks the generator, as every earlier version wrote it.
        string folder = Folder("old");
        var torch = Small() with { Generator = "torch" };
        Assert.Equal(36, SweepRunner.Run(torch, folder, Shard.All, DeviceSpec.Cpu));
        string sweepFile = SweepRunner.SweepFile(folder);
        var stored = JsonNode.Parse(File.ReadAllText(sweepFile))!.AsObject();
        Assert.Equal("torch", (string)stored["generator"]!);
        stored.Remove("generator");
        File.WriteAllText(sweepFile, stored.ToJsonString());
        // The same declaration without a generator (ziggurat) is refused, with the way to continue the folder.
        var error = Assert.Throws<SettingException>(() => SweepRunner.Run(Small(), folder, Shard.All, DeviceSpec.Cpu));
        Assert.Contains("holds a different sweep", error.Message);
        Assert.Contains("its networks come from the torch generator", error.Message);
        // Naming torch continues it: every run is found done, and the folder merges as it is.
        Assert.Equal(0, SweepRunner.Run(torch, folder, Shard.All, DeviceSpec.Cpu));
        Assert.Equal((36, 36), SweepRunner.Merge([folder], Folder("merged")));
    }
}
