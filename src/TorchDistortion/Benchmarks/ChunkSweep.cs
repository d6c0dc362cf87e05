using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Benchmarks;

/// <summary>
/// `bench --chunks`: the engine's one-thread time per network against the networks per chunk K, per width, node count and
/// dtype (He, depth 10, segments), so the automatic chunk (<see cref="Distortion.AutomaticChunk"/>) can be checked on any
/// machine. A pool of networks and geometries is drawn once per setting; each K runs the pool (small K a sixteenth of it)
/// in chunks of K (ensembles stacked from the same networks), timing what a chunk of a measurement runs after its draws:
/// the tangent engine and the volumes and logs. Thread CPU time, median of rounds that time every K once.
/// Cases report seconds per network and, as the last column, the time over the best K's; one target per setting is the
/// automatic chunk's time over the best.
/// </summary>
internal static class ChunkSweep
{
    internal const int Depth = 10;
    internal static readonly int[] DefaultWidths = [16, 32, 64, 128, 256, 512];
    private static readonly int[] NodeCounts = [64, 1000];
    private const int MaxChunk = 1024;

    /// <summary>Multiply-adds of one pass over the pool (0.05-0.4 s); small settings get up to 1024 networks.</summary>
    private const double PassWork = 4e9;

    /// <summary>Bytes of the pool's weights (held about six times over: the singles and the stacked chunks of every K).</summary>
    private const long PoolBytes = 128L << 20;

    /// <summary>Timed rounds per setting (their median is reported).</summary>
    private const int Rounds = 5;

    internal static (List<BenchCase> Cases, List<BenchTarget> Targets) Run(IReadOnlyList<int> widths, IReadOnlyList<ScalarType> dtypes, Action<string>? status)
    {
        using var noGrad = no_grad();
        int threads = get_num_threads();
        set_num_threads(1);
        var cases = new List<BenchCase>();
        var targets = new List<BenchTarget>();
        long available = Distortion.AvailableMemoryBytes();
        try
        {
            foreach (int nodes in NodeCounts)
            foreach (var dtype in dtypes)
            foreach (int width in widths)
            {
                var settings = new MeasureSettings(new NetworkSpec(NetworkSpec.Shorthand(width, Depth), InitScheme.He), new GeometrySpec(Points: nodes),
                    Networks: 1_000_000, DType: dtype);
                int automatic = Distortion.AutomaticChunk(settings, available);
                status?.Invoke($"chunks: width {width}, {nodes} nodes, {DTypes.Name(dtype)} (automatic K = {automatic})");
                var setting = Setting(settings, automatic);
                double best = setting.Min(c => c.Seconds);
                var fastest = setting.First(c => c.Seconds == best);
                foreach (var c in setting) cases.Add(c with { RatioToForward = c.Seconds / best });
                var chosen = setting.First(c => c.Networks == Math.Min(automatic, setting.Max(o => o.Networks)));
                double ratio = chosen.Seconds / best;
                targets.Add(new($"automatic chunk K={automatic} vs best K, width {width}, {nodes} nodes, {DTypes.Name(dtype)}", ratio, 1.1, ratio <= 1.1,
                    $"best K={fastest.Networks} at {best * 1e3:G3} ms per network; K=1 {setting[0].Seconds / best:F2}x, automatic {ratio:F2}x" +
                    (chosen.Networks < automatic ? $" (timed at K={chosen.Networks}, the largest pool here)" : "")));
            }
        }
        finally { set_num_threads(threads); }
        return (cases, targets);
    }

    /// <summary>Times per network for K = 1, 2, 4, ... up to the pool, and the automatic K where it is not a power of 2.</summary>
    private static List<BenchCase> Setting(MeasureSettings settings, int automatic)
    {
        var spec = settings.Network;
        int width = spec.Widths[0], nodes = settings.Geometry.NodeCount;
        long size = settings.DType == ScalarType.Float32 ? 4 : 8;
        double work = 2.0 * nodes * spec.WeightCount(); // multiply-adds of a point and its tangent
        int pool = (int)Math.Clamp(Math.Min(PassWork / work, PoolBytes / (size * spec.WeightCount())), 2, MaxChunk);
        pool = 1 << (int)Math.Log2(pool);
        using var scope = NewDisposeScope();
        var singles = Enumerable.Range(0, pool).Select(i => Mlp.Create(spec, 1, seed: 1, firstIndex: i, dtype: settings.DType)).ToList();
        using var sample = GeometrySampler.Sample(settings.Geometry, width, pool, seed: 1, firstIndex: 0, settings.DType, CPU);
        var chunks = Enumerable.Range(0, (int)Math.Log2(pool) + 1).Select(p => 1 << p).ToList();
        if (automatic < pool && !chunks.Contains(automatic)) chunks.Add(automatic);
        chunks.Sort();
        // Small chunks time a sixteenth of the pool (still many chunks): the time per network is what counts.
        var stacked = new List<Mlp>();
        var runs = chunks.Select(chunk =>
        {
            int timed = Math.Max(chunk, pool / 16);
            var nets = chunk == 1 ? singles.Take(timed).ToList() : singles.Take(timed).Chunk(chunk).Select(Mlp.Stack).ToList();
            if (chunk > 1) stacked.AddRange(nets);
            var geometries = nets.Select((net, i) =>
                new GeometrySample(sample.Points.narrow(0, i * chunk, net.Count), sample.Tangents.narrow(0, i * chunk, net.Count), sample.Coarse)).ToList();
            return (Chunk: chunk, Networks: timed, Run: (Action)(() =>
            {
                for (int i = 0; i < nets.Count; i++)
                {
                    using var pass = NewDisposeScope();
                    Distortion.LogDistortion(nets[i], JacobianMethod.TangentPropagation, geometries[i]);
                }
            }));
        }).ToList();
        // Rounds that time every K once each, after a warm-up round: a slow spell of the shared machine slows all K alike,
        // and the median of the rounds drops it.
        var times = runs.Select(_ => new List<double>()).ToList();
        try
        {
            for (int round = 0; round <= Rounds; round++)
                for (int i = 0; i < runs.Count; i++)
                {
                    double start = ThreadClock.Seconds;
                    runs[i].Run();
                    if (round > 0) times[i].Add((ThreadClock.Seconds - start) / runs[i].Networks);
                }
        }
        finally { stacked.Concat(singles).ToList().ForEach(n => n.Dispose()); }
        var cases = runs.Select((run, i) =>
        {
            double seconds = times[i].Order().ElementAt(Rounds / 2);
            return new BenchCase($"engine per network, chunk of K, {nodes} nodes", width, Depth, DTypes.Name(settings.DType), 1, run.Chunk, nodes, seconds,
                nodes / seconds, 2 * work / seconds / 1e9, double.NaN);
        }).ToList();
        return cases;
    }
}
