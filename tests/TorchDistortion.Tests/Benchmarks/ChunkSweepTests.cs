using System.Text.RegularExpressions;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Tests.Cli;

namespace TorchDistortion.Tests.Benchmarks;

/// <summary>`bench --chunks` on one tiny width: what it promises about its report, never how fast anything ran.</summary>
public sealed class ChunkSweepTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-chunks").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void TheSweepTimesEveryPowerOfTwoAndTheAutomaticChunkAgainstTheBest()
    {
        string file = Path.Combine(_root, "chunks.json");
        var result = CliRunner.Run("bench", "--chunks", "--widths", "4", "--dtypes", "float32", "-o", file);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var document = OutputSchemaTests.AssertValid(file, "bench");
        var cases = document["cases"]!.AsArray();
        var targets = document["targets"]!.AsArray();
        Assert.Equal(2, targets.Count); // one per node count
        foreach (int nodes in new[] { 64, 1000 })
        {
            var setting = cases.Where(c => (int)c!["points_per_network"]! == nodes).ToList();
            Assert.All(setting, c => Assert.True((int)c!["width"]! == 4 && (int)c["depth"]! == 10 && (int)c["threads"]! == 1 && (double)c["seconds"]! > 0));
            var chunks = setting.Select(c => (int)c!["networks"]!).ToList();
            var settings = new MeasureSettings(new NetworkSpec(NetworkSpec.Shorthand(4, 10), InitScheme.He), new GeometrySpec(Points: nodes), Networks: 1_000_000,
                DType: TorchSharp.torch.ScalarType.Float32);
            int automatic = Distortion.AutomaticChunk(settings, Distortion.AvailableMemoryBytes());
            var powers = Enumerable.Range(0, 11).Select(p => 1 << p).Where(k => k <= chunks.Max());
            Assert.Equal(powers.Append(automatic).Distinct().Order(), chunks);
            // Times relative to the fastest K: 1 there, above 1 elsewhere.
            var ratios = setting.Select(c => (double)c!["ratio_to_forward"]!).ToList();
            Assert.Equal(1.0, ratios.Min());
            var target = targets.Single(t => ((string)t!["target"]!).Contains($"{nodes} nodes"))!;
            Assert.Equal(automatic, int.Parse(Regex.Match((string)target["target"]!, @"K=(\d+)").Groups[1].Value));
            Assert.Equal(ratios[chunks.IndexOf(automatic)], (double)target["measured"]!);
        }
    }

    [Theory]
    [InlineData("--threads", "2")]
    [InlineData("--seconds", "1")]
    public void OptionsTheSweepDoesNotUseAreRefused(string option, string value) =>
        CliRunner.AssertOneLineError(CliRunner.Run("bench", "--chunks", option, value, "-o", Path.Combine(_root, "chunks.json")), option);
}
