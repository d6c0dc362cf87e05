using TorchDistortion.Cli.Reproduce;
using TorchDistortion.Experiments;

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
        Assert.All(runs.Where(r => r.Init == "he"), r => Assert.Null(r.CW));
        Assert.All(runs.Where(r => r.Geometry == "segment"), r => Assert.Equal(1, r.K));
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
    public void ShardedRunsMergedEqualTheUnshardedRunRowForRow()
    {
        var sweep = Small();
        SweepRunner.Run(sweep, Folder("whole"), Shard.All, "cpu");
        var shards = Enumerable.Range(0, 3).Select(i => Folder($"shard{i}")).ToArray();
        for (int i = 0; i < 3; i++) SweepRunner.Run(sweep, shards[i], new Shard(i, 3), "cpu");
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
        Assert.Equal(9, SweepRunner.Run(sweep, folder, Shard.All, "cpu"));
        var before = DataLines(folder);
        var removed = Directory.GetFiles(Path.Combine(folder, "runs")).Take(3).ToList();
        removed.ForEach(File.Delete);
        File.WriteAllText(Path.Combine(folder, "runs", ".half-written.json.123.tmp"), "{\"sweep_id\": \"tru");
        Assert.Equal(3, SweepRunner.Run(sweep, folder, Shard.All, "cpu"));
        Assert.Equal(0, SweepRunner.Run(sweep, folder, Shard.All, "cpu"));
        Assert.Equal(before, DataLines(folder));
    }

    [Fact]
    public void MergeRefusesDifferentSweepsAndForeignFolders()
    {
        var sweep = Small() with { Width = [6], Depth = [1], Geometry = ["segment"] };
        SweepRunner.Run(sweep, Folder("a"), Shard.All, "cpu");
        SweepRunner.Run(sweep with { Seed = 99 }, Folder("b"), Shard.All, "cpu");
        Assert.Contains("refusing to mix", Assert.Throws<ArgumentException>(() => SweepRunner.Merge([Folder("a"), Folder("b")], Folder("m"))).Message);
        Directory.CreateDirectory(Folder("empty"));
        Assert.Contains("not a sweep folder", Assert.Throws<ArgumentException>(() => SweepRunner.Merge([Folder("empty")], Folder("m"))).Message);
        Assert.Contains("different sweep", Assert.Throws<ArgumentException>(() => SweepRunner.Run(sweep with { Seed = 99 }, Folder("a"), Shard.All, "cpu")).Message);
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
        SweepRunner.Run(sweep, Folder("a"), Shard.All, "cpu");
        SweepRunner.Run(sweep with { Seed = 77 }, Folder("other"), Shard.All, "cpu");
        Assert.Contains("different sweep", Assert.Throws<ArgumentException>(() => SweepRunner.Merge([Folder("a")], Folder("other"))).Message);
    }

    [Fact]
    public void UnwritableOutputFailsBeforeComputing()
    {
        var error = Assert.Throws<IOException>(() => SweepRunner.Run(Small(), "/proc/torchdist-cannot-write", Shard.All, "cpu"));
        Assert.Contains("--output", error.Message);
    }

    [Fact]
    public void ShardParsesAndDefaultsFromSlurm()
    {
        Assert.Equal(new Shard(1, 3), Shard.Parse("1/3"));
        Assert.Throws<ArgumentException>(() => Shard.Parse("3/3"));
        Assert.Throws<ArgumentException>(() => Shard.Parse("a/b"));
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

    [Fact]
    public void ReproduceWritesEveryFigureAndAReportThatPlotCanRedraw()
    {
        string folder = Folder("reproduce");
        Reproduction.Run(folder, Scale.Smoke, "cpu", progress: null);
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

        foreach (var image in images) File.Delete(image);
        Reproduction.Redraw(folder);
        Assert.Equal(images.Length, Directory.GetFiles(Path.Combine(folder, "figures"), "*.png").Length);
    }
}
