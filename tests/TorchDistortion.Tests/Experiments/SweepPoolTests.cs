using TorchDistortion.Experiments;
using TorchDistortion.Measurement;

namespace TorchDistortion.Tests.Experiments;

/// <summary>Several sweeps run as one pool of runs (as `reproduce` runs its figures) write what each sweep alone writes.</summary>
public sealed class SweepPoolTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-pool").FullName;

    public void Dispose()
    {
        Parallelism.Threads = 1;
        Directory.Delete(_root, recursive: true);
    }

    private static string[] Data(string folder) => File.ReadAllLines(Path.Combine(folder, "results.csv")).Where(l => !l.StartsWith('#')).ToArray();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void PooledSweepsWriteTheResultsOfEachSweepAlone(int threads)
    {
        // Runs of different cost (depths, nodes, an exact run), so the pool's longest-first order differs from the declared one.
        var a = new SweepSpec { SchemaVersion = 1, Width = [8], Depth = [1, 4], Geometry = ["segment"], Points = [3, 40], Networks = [9], Seed = 3 };
        var b = new SweepSpec { SchemaVersion = 1, Width = [6], Depth = [2], Geometry = ["segment"], Exact = [true, false], Points = [1], Networks = [7], Seed = 4 };
        string Folder(string name) => Path.Combine(_root, $"{name}-{threads}");
        Parallelism.Threads = threads;
        try
        {
            Assert.Equal(6, SweepRunner.Run([(a, Folder("pool-a")), (b, Folder("pool-b"))], Shard.All, DeviceSpec.Cpu));
            SweepRunner.Run(a, Folder("alone-a"), Shard.All, DeviceSpec.Cpu);
            SweepRunner.Run(b, Folder("alone-b"), Shard.All, DeviceSpec.Cpu);
            // A second pooled call finds every run done.
            Assert.Equal(0, SweepRunner.Run([(a, Folder("pool-a")), (b, Folder("pool-b"))], Shard.All, DeviceSpec.Cpu));
        }
        finally { Parallelism.Threads = 1; }
        foreach (string name in new[] { "a", "b" })
        {
            Assert.Equal(Data(Folder($"alone-{name}")), Data(Folder($"pool-{name}")));
            Assert.Equal(SweepRunner.LoadRuns(Folder($"alone-{name}")).Select(r => r.LogDistortions),
                SweepRunner.LoadRuns(Folder($"pool-{name}")).Select(r => r.LogDistortions));
        }
    }
}
