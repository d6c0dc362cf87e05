using System.Text.Json;

namespace TorchDistortion.Tests.Cli;

public class CliTests
{
    public static TheoryData<string, string> BadInputs() => new()
    {
        // arguments (space separated), the option the error must name
        { "measure --widths 32", "--widths" },
        { "measure --widths 32,0,32", "--widths" },
        { "measure --widths 32,-4,32", "--widths" },
        { "measure --widths 32,x,32", "--widths" },
        { "measure --widths 8,8 --depth 3", "--widths" },
        { "measure --depth 0", "--depth" },
        { "measure --width 0", "--width" },
        { "measure --geometry patch --k 9 --width 8", "--k" },
        { "measure --k 2", "--k" },
        { "measure --init bogus", "--init" },
        { "measure --init variance", "--cw" },
        { "measure --init variance --cw -1", "--cw" },
        { "measure --init variance --cw NaN", "--cw" },
        { "measure --init he --cw 3", "--cw" },
        { "measure --cout 0", "--cout" },
        { "measure --cout Infinity", "--cout" },
        { "measure --cb -0.5", "--cb" },
        { "measure --networks 0", "--networks" },
        { "measure --networks many", "--networks" },
        { "measure --points 0", "--points" },
        { "measure --geometry spiral", "--geometry" },
        { "measure --geometry polyline --n0 2 --polyline 0,0;0,0", "--polyline" },
        { "measure --geometry polyline --n0 2 --polyline 0,0,1;1,1,1", "--polyline" },
        { "measure --dtype float16", "--dtype" },
        { "measure --device tpu", "--device" },
        { "measure --device cuda", "--device" },
        { "measure --method magic", "--method" },
        { "measure --format xml", "--format" },
        { "measure --threads 0", "--threads" },
        { "measure --quantiles 0.5,2", "--quantiles" },
        { "measure --output /proc/torchdist-no/result.json", "--output" },
        { "measure --frobnicate", "--frobnicate" },
        { "measure --exact --geometry patch --k 2", "--exact" },
        { "sweep --depth 0", "depth" },
        { "sweep --width 4 --geometry patch --k 5", "k" },
        { "sweep --shard 3/3", "--shard" },
        { "sweep --networks x", "--networks" },
        { "sweep --output /proc/torchdist-no", "--output" },
        { "sweep /nonexistent/sweep.json", "sweep file" },
        { "merge /nonexistent -o /tmp/torchdist-merge-out", "not a sweep folder" },
        { "reproduce --quick --full", "--full" },
        { "reproduce --output /proc/torchdist-no", "--output" },
        { "plot /nonexistent", "does not exist" },
    };

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInputGetsOneLineErrorAndExitCode2(string arguments, string option)
    {
        CliRunner.AssertOneLineError(CliRunner.RunInProcess(arguments.Split(' ')), option);
    }

    /// <summary>The in-process runs above see what Cli.Run returns; these few check the real executable's exit code and stderr too.</summary>
    [Theory]
    [InlineData("measure --widths 32,0,32", "--widths")]
    [InlineData("sweep --shard 3/3", "--shard")]
    [InlineData("frobnicate", "unknown command")]
    public void TheRealExecutableGivesTheSameOneLineError(string arguments, string subject)
    {
        var real = CliRunner.Run(arguments.Split(' '));
        CliRunner.AssertOneLineError(real, subject);
        Assert.Equal(CliRunner.RunInProcess(arguments.Split(' ')), real);
    }

    [Fact]
    public void MeasureUsesAllCoresByDefaultAndPrintsTheOneThreadNumbers()
    {
        // Chunks of 4 networks: several chunks for the workers; the CSV holds every statistic to the last digit.
        string[] args = ["measure", "--width", "12", "--depth", "5", "--networks", "30", "--chunk", "4", "--format", "csv", "--no-progress"];
        var one = CliRunner.Run([.. args, "--threads", "1"]);
        var three = CliRunner.Run([.. args, "--threads", "3"]);
        Assert.Equal(0, one.ExitCode);
        Assert.Equal(one.Stdout, three.Stdout);
        var table = CliRunner.Run("measure", "--width", "12", "--depth", "5", "--networks", "30", "--no-progress");
        Assert.Contains($"{Environment.ProcessorCount} thread(s)", table.Stdout);
    }

    [Fact]
    public void JsonOutputCarriesMeasurementAndTheory()
    {
        var result = CliRunner.Run("measure", "--widths", "6,16,16,4", "--networks", "300", "--points", "8", "--format", "json", "--seed", "3");
        Assert.Equal(0, result.ExitCode);
        using var document = JsonDocument.Parse(result.Stdout);
        var root = document.RootElement;
        Assert.Equal(300, root.GetProperty("summary").GetProperty("count").GetInt32());
        var rows = root.GetProperty("theory").GetProperty("rows");
        Assert.Equal(4, rows.GetArrayLength());
        var mean = rows[0];
        Assert.Equal("mean", mean.GetProperty("statistic").GetString());
        double measured = mean.GetProperty("value").GetDouble(), exact = mean.GetProperty("theory").GetDouble();
        Assert.Equal(measured / exact, mean.GetProperty("ratio").GetDouble(), 10);
        Assert.True(Math.Abs(mean.GetProperty("z").GetDouble()) < 4);
        Assert.Equal(root.GetProperty("summary").GetProperty("mean").GetDouble(), measured, 12);
        Assert.Equal("cpu", root.GetProperty("settings").GetProperty("device").GetString());
        Assert.Equal("2.10.0", root.GetProperty("environment").GetProperty("lib_torch_version").GetString()[..6]);
    }

    [Fact]
    public void CsvAndTableFormatsAgreeWithJsonAndOutputFileIsWritten()
    {
        string folder = Directory.CreateTempSubdirectory("torchdist-cli").FullName;
        string[] common = ["measure", "--widths", "5,12,12,5", "--networks", "40", "--points", "4", "--seed", "8"];
        var json = CliRunner.Run([.. common, "--format", "json", "--output", Path.Combine(folder, "m.json")]);
        var csv = CliRunner.Run([.. common, "--format", "csv"]);
        var table = CliRunner.Run([.. common, "--no-progress"]);
        Assert.Equal(0, json.ExitCode + csv.ExitCode + table.ExitCode);
        Assert.Equal("", json.Stdout);
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "m.json")));
        double mean = document.RootElement.GetProperty("summary").GetProperty("mean").GetDouble();
        var lines = csv.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var header = lines[0].Split(',');
        var meanRow = lines.Select(line => line.Split(',')).Single(cells => cells[Array.IndexOf(header, "statistic")] == "mean");
        Assert.Equal(mean, double.Parse(meanRow[Array.IndexOf(header, "value")], System.Globalization.CultureInfo.InvariantCulture), 14);
        Assert.Equal("8", meanRow[Array.IndexOf(header, "seed")]); // the settings travel with every row
        Assert.Contains("measured vs exact theory", table.Stdout);
        Assert.Contains(mean.ToString("G6", System.Globalization.CultureInfo.InvariantCulture), table.Stdout);
        Assert.Empty(Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories));
        Directory.Delete(folder, true);
    }

    [Fact]
    public void KilledShardResumesAndMergedShardsEqualTheUnshardedSweep()
    {
        string root = Directory.CreateTempSubdirectory("torchdist-kill").FullName;
        string[] sweep = ["sweep", "--width", "16,24", "--depth", "2,4,6", "--init", "he,lecun", "--networks", "200", "--points", "32", "--seed", "7", "--no-progress"];
        string Shard(int i) => Path.Combine(root, $"shard{i}");

        // Shard 2 (7 of the 12 runs) killed (SIGKILL) while writing its third run file: two runs finished, the third half-written.
        // One worker: with two, the other run's write can be mid-way at the kill too (two temporary files, a race).
        var killed = CliRunner.RunKilledAt(@"/runs/[0-9a-f]{12}\.json$", 3, [.. sweep, "--threads", "1", "--shard", "2/3", "-o", Shard(2)]);
        Assert.Equal(CliRunner.Killed, killed.ExitCode);
        string runs = Path.Combine(Shard(2), "runs");
        Assert.Equal(2, Directory.GetFiles(runs, "*.json").Length);
        Assert.Single(Directory.GetFiles(runs, ".*.tmp"));
        Assert.False(File.Exists(Path.Combine(Shard(2), "results.csv")));
        foreach (var file in Directory.GetFiles(runs, "*.json"))
            using (System.Text.Json.JsonDocument.Parse(File.ReadAllText(file))) { } // every visible run file is complete

        for (int i = 0; i < 3; i++) Assert.Equal(0, CliRunner.Run([.. sweep, "--shard", $"{i}/3", "-o", Shard(i)]).ExitCode);
        Assert.Empty(Directory.GetFiles(runs, ".*.tmp")); // the rerun removed the killed write's leftover
        var merge = CliRunner.Run("merge", Shard(0), Shard(1), Shard(2), "-o", Path.Combine(root, "merged"));
        Assert.Equal(0, merge.ExitCode);
        Assert.Contains("merged 12 of 12", merge.Stdout);
        Assert.Equal(0, CliRunner.Run([.. sweep, "-o", Path.Combine(root, "whole")]).ExitCode);
        string[] Data(string folder) => File.ReadAllLines(Path.Combine(root, folder, "results.csv")).Where(l => !l.StartsWith('#')).ToArray();
        Assert.Equal(Data("whole"), Data("merged"));

        var list = CliRunner.Run([.. sweep, "--list"]);
        Assert.Contains("12 runs", list.Stdout);
        var plot = CliRunner.Run("plot", Path.Combine(root, "merged"));
        Assert.Equal(0, plot.ExitCode);
        Assert.True(File.Exists(Path.Combine(root, "merged", "plot_mean_vs_depth.png")));
        Directory.Delete(root, true);
    }

    [Fact]
    public void DoctorReportsVersionsAndNativePath()
    {
        var result = CliRunner.Run("doctor");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("2.10.0", result.Stdout);
        Assert.Contains("native libraries", result.Stdout);
        // The self-test row itself, not any "ok" (the OS name "bookworm" holds one).
        Assert.Matches(@"self-test\s+│\s+ok \(a 64x64 matmul ran\)", result.Stdout);
    }
}
