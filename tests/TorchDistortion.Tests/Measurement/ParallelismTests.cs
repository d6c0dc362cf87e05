using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Measurement;

/// <summary>Chunks measured on several threads give the one-thread result bit for bit.</summary>
public sealed class ParallelismTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-threads").FullName;

    public void Dispose()
    {
        Parallelism.Threads = 1;
        Directory.Delete(_root, recursive: true);
    }

    private static TorchDistortion.Measurement.MeasureResult MeasureOn(int threads, MeasureSettings settings)
    {
        Parallelism.Threads = threads;
        try { return Distortion.Measure(settings); }
        finally { Parallelism.Threads = 1; }
    }

    /// <summary>Every number of a summary, in a fixed order (NaN equals NaN).</summary>
    private static double[] Numbers(Summary? s) => s is null ? [] :
        [s.Count, s.Mean, s.Std, s.StdErr, s.Median, s.MeanLog, s.StdLog, s.Zeros,
         .. s.Quantiles.SelectMany(q => new[] { q.Probability, q.Value }),
         .. s.Moments.SelectMany(m => new[] { m.Order, m.Value, m.LogValue, m.StdErr, m.LogStdErr })];

    public static TheoryData<string, ScalarType> Cases => new()
    {
        { "segment", ScalarType.Float32 }, { "segment", ScalarType.Float64 },
        { "patch", ScalarType.Float32 }, { "patch", ScalarType.Float64 },
        { "exact", ScalarType.Float32 }, { "exact", ScalarType.Float64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ThreeThreadsGiveTheOneThreadResultBitForBit(string kind, ScalarType dtype)
    {
        var spec = new NetworkSpec(NetworkSpec.Shorthand(16, 6), InitScheme.He, BiasVariance: 0.1);
        var geometry = kind switch
        {
            "patch" => new GeometrySpec(GeometryKind.Patch, Points: 3, K: 2),
            "exact" => new GeometrySpec(GeometryKind.Segment, Points: 32, Exact: true),
            _ => new GeometrySpec(GeometryKind.Segment, Points: 32),
        };
        // 40 networks in chunks of 3: 14 chunks, taken by 3 workers in whatever order they finish.
        var settings = new MeasureSettings(spec, geometry, Networks: 40, Seed: 17, DType: dtype, ChunkSize: 3);
        var one = MeasureOn(1, settings);
        var three = MeasureOn(3, settings);
        Assert.Equal(one.LogDistortions, three.LogDistortions);
        Assert.Equal(one.QuadratureError, three.QuadratureError);
        Assert.Equal(Numbers(one.Summary), Numbers(three.Summary));
        Assert.Equal(Numbers(one.Regions), Numbers(three.Regions));
        Assert.Equal(kind == "exact", one.Regions is not null);
        // Not a degenerate comparison: the networks differ from each other.
        Assert.True(one.LogDistortions.Distinct().Count() > 30);
    }

    [Fact]
    public void WeightsDrawnOnAnotherThreadAreTheSameBitForBit()
    {
        var spec = new NetworkSpec(NetworkSpec.Shorthand(12, 4), InitScheme.He, BiasVariance: 0.3);
        static double[][] Draw(NetworkSpec spec)
        {
            using var net = Mlp.Create(spec, count: 5, seed: 3, firstIndex: 7);
            return net.Weights.Concat(net.Biases.OfType<TorchSharp.Modules.Parameter>()).Select(p => p.data<double>().ToArray()).ToArray();
        }
        var here = Draw(spec);
        double[][]? there = null;
        var thread = new Thread(() => there = Draw(spec));
        thread.Start();
        thread.Join();
        Assert.Equal(here, there);
    }

    [Fact]
    public void EveryChunkRunsOnceAndTheCallersThreadCountIsKept()
    {
        int before = get_num_threads();
        set_num_threads(2);
        try
        {
            var visits = new int[50];
            var workers = new HashSet<int>();
            Parallelism.ForEach(visits.Length, 3, new StageTimes(), (chunk, _) =>
            {
                Interlocked.Increment(ref visits[chunk]);
                lock (workers) workers.Add(Environment.CurrentManagedThreadId);
                Assert.Equal(1, get_num_threads()); // workers run libtorch on one thread
                Thread.Sleep(1);
            }, CancellationToken.None);
            Assert.All(visits, v => Assert.Equal(1, v));
            Assert.True(workers.Count > 1, "more than one worker took chunks");
            Assert.Equal(2, get_num_threads());
        }
        finally { set_num_threads(before); }
    }

    [Fact]
    public void AWorkersErrorReachesTheCallerAsItWas()
    {
        int taken = 0;
        var error = Assert.Throws<ArgumentException>(() => Parallelism.ForEach(1000, 3, new StageTimes(), (chunk, _) =>
        {
            Interlocked.Increment(ref taken);
            if (chunk == 5) throw new ArgumentException("--size: chunk 5 failed");
            Thread.Sleep(1);
        }, CancellationToken.None));
        Assert.Equal("--size: chunk 5 failed", error.Message);
        Assert.True(taken < 1000, "the other workers stop taking chunks");
    }

    [Theory]
    [InlineData(2)] // four runs: three at once, one chunk worker each
    [InlineData(1)] // one run: three chunk workers
    public void ASweepOnThreeThreadsWritesTheOneThreadResults(int depths)
    {
        // 2000 nodes at width 64 make chunks of about 15 networks: each run has 3 chunks.
        var sweep = new SweepSpec
        {
            SchemaVersion = 1, Width = [64], Depth = new List<int> { 3, 6 }.Take(depths).ToList(), Geometry = ["segment"], Exact = depths == 2 ? [false, true] : [true],
            Points = [2000], Networks = [40], Seed = 8, DType = "float32",
        };
        string Run(int threads)
        {
            string folder = Path.Combine(_root, $"threads-{threads}");
            Parallelism.Threads = threads;
            try { SweepRunner.Run(sweep, folder, Shard.All, DeviceSpec.Cpu); }
            finally { Parallelism.Threads = 1; }
            return folder;
        }
        string one = Run(1), three = Run(3);
        static string[] Data(string folder) => File.ReadAllLines(Path.Combine(folder, "results.csv")).Where(l => !l.StartsWith('#')).ToArray();
        Assert.Equal(Data(one), Data(three));
        var runsOne = SweepRunner.LoadRuns(one);
        var runsThree = SweepRunner.LoadRuns(three);
        Assert.Equal(depths == 2 ? 4 : 1, runsOne.Count);
        Assert.Equal(runsOne.Select(r => r.LogDistortions), runsThree.Select(r => r.LogDistortions));
    }

    [Theory]
    [InlineData(1000, 390, 2, 250)] // 4 even chunks instead of 390, 390, 220
    [InlineData(1000, 390, 1, 334)]
    [InlineData(1000, 15, 2, 15)]
    [InlineData(37, 37, 2, 19)]
    [InlineData(10, 1, 3, 1)]
    public void TheAutomaticChunkIsEvenOverTheWorkers(int networks, int chunk, int workers, int expected)
    {
        int balanced = Distortion.Balanced(networks, chunk, workers);
        Assert.Equal(expected, balanced);
        Assert.True(balanced <= chunk, "never above the memory's chunk");
    }
}
