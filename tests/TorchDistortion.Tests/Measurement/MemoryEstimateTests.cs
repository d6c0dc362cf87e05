using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Tests.Cli;

namespace TorchDistortion.Tests.Measurement;

/// <summary>Item: a chunk that cannot fit in memory is refused up front; the automatic chunk fits; long runs announce their time.</summary>
public class MemoryEstimateTests
{
    private static MeasureSettings Settings(int networks, int chunk = 0, int k = 1) =>
        new(new NetworkSpec(NetworkSpec.Shorthand(width: 64, depth: 10), InitScheme.He),
            k == 1 ? new GeometrySpec(GeometryKind.Segment) : new GeometrySpec(GeometryKind.Patch, Points: 4, K: k), networks, ChunkSize: chunk);

    [Fact]
    public void ChunkBeyondMemoryIsRefusedWithTheEstimateAndTheAvailableMemory()
    {
        // 10 million networks of width 64 at once: terabytes, more than any machine this runs on.
        var result = CliRunner.Run("measure", "--width", "64", "--depth", "10", "--networks", "10000000", "--chunk", "10000000");
        CliRunner.AssertOneLineError(result, "--chunk");
        double stated = double.Parse(System.Text.RegularExpressions.Regex.Match(result.Stderr, @"about ([0-9.]+) GiB").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(Distortion.EstimatePeakBytes(Settings(10_000_000, 10_000_000), 10_000_000) / (double)(1L << 30), stated, 0.05);
        Assert.Matches(@"[0-9.]+ GiB is available", result.Stderr);
        Assert.Equal("chunk", Assert.Throws<SettingException>(() => Settings(10_000_000, 10_000_000).Validate()).Setting);
    }

    [Fact]
    public void AChunkLargerThanTheRunCountsOnlyTheNetworksItHolds()
    {
        Assert.Equal(10, Distortion.ChunkFor(Settings(10, chunk: 10_000_000)));
    }

    [Theory]
    [InlineData(400L << 20)]
    [InlineData(4L << 30)]
    [InlineData(64L << 30)]
    public void AutomaticChunkStaysWithinThreeQuartersOfTheAvailableMemory(long available)
    {
        foreach (var settings in new[] { Settings(100_000), Settings(100_000, k: 3) })
        {
            int chunk = Distortion.AutomaticChunk(settings, available);
            Assert.InRange(chunk, 1, 1000);
            Assert.True(Distortion.EstimatePeakBytes(settings, chunk) <= available / 4 * 3);
        }
        // Less memory, smaller chunks.
        Assert.True(Distortion.AutomaticChunk(Settings(100_000), 400L << 20) < Distortion.AutomaticChunk(Settings(100_000), 64L << 30));
    }

    [Fact]
    public async Task EstimateBoundsTheMeasuredPeakWithinAboutTwice()
    {
        // The CLI's defaults at width 64, depth 10: n0 = nL = 64, a segment with 64 nodes, float64; 400 networks in one chunk.
        using var process = CliRunner.Start("measure", "--width", "64", "--depth", "10", "--networks", "400", "--chunk", "400", "--no-progress", "--format", "csv");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        while (!process.HasExited)
        {
            // VmHWM, the kernel's peak resident set, read while the process lives.
            try { peak = Math.Max(peak, long.Parse(File.ReadLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmHWM:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024); }
            catch (Exception e) when (e is IOException or InvalidOperationException or FormatException) { }
            await Task.Delay(20);
        }
        Assert.True(process.ExitCode == 0, await stderr);
        Assert.StartsWith("schema_version,", await stdout);
        long estimate = Distortion.EstimatePeakBytes(Settings(400), 400);
        Assert.True(peak > 0, "no peak memory read");
        Assert.True(peak <= estimate, $"peak {peak >> 20} MiB above the estimate {estimate >> 20} MiB");
        Assert.True(peak >= estimate / 3, $"peak {peak >> 20} MiB far below the estimate {estimate >> 20} MiB: the estimate is not tight");
    }

    [Fact]
    public void MillionsOfNetworksAnnounceTheirEstimatedTimeBeforeStarting()
    {
        using var process = CliRunner.Start("measure", "--widths", "2,3,2", "--networks", "2000000", "--points", "2", "--no-progress");
        string first = process.StandardError.ReadLine() ?? "";
        process.Kill(entireProcessTree: true);
        process.WaitForExit();
        Assert.StartsWith("estimate: about ", first);
        Assert.Contains("2000000 networks", first);
        Assert.Contains("rough", first);
    }

    [Fact]
    public void TheTimeEstimateCountsTheThreadsAndTheGenerator()
    {
        // 10^8 networks of width 64, depth 10: hours, so the estimate is printed with one decimal of hours.
        static double Hours(string estimate) => double.Parse(estimate.Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
        var settings = Settings(100_000_000);
        double one = Hours(TimeEstimate.For(settings, 1)), four = Hours(TimeEstimate.For(settings, 4));
        Assert.InRange(four / one, 0.24, 0.26);
        var torch = settings with { Network = settings.Network with { Generator = WeightGenerator.Torch } };
        Assert.True(Hours(TimeEstimate.For(torch, 1)) > one, "drawing from torch's generator is estimated slower");
    }
}
