using System.Diagnostics;
using System.Globalization;
using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;
// Measurement mode: no autograd graphs are kept (see Run).

namespace TorchDistortion.Benchmarks;

/// <summary>One timed case: what ran, how fast, and its cost relative to a plain forward pass in the same setting.</summary>
public sealed record BenchCase(
    string Case, int Width, int Depth, string DType, int Threads, int Networks, int PointsPerNetwork, double Seconds,
    double PointsPerSecond, double GFlops, double RatioToForward);

/// <summary>A performance target checked in the same run.</summary>
public sealed record BenchTarget(string Target, double Measured, double Limit, bool Met, string Note);

/// <summary>What `bench` measured: the environment, every case, the targets and the stage profile of a full measure job.</summary>
public sealed record BenchReport(RuntimeInfo Environment, string Machine, List<BenchCase> Cases, List<BenchTarget> Targets, double PeakResidentMiB, DateTimeOffset Date,
    IReadOnlyDictionary<string, double> MeasureProfileSeconds)
{
    /// <summary>The document type of a bench report (so a later bench may replace it); FormatName marked the unversioned ones.</summary>
    public const string DocumentType = "bench", FormatName = "torchdistortion-bench/1";

    /// <summary>The report as the JSON document that `bench` writes.</summary>
    public string ToJson() => Output.Json.Document(DocumentType, this);
}

/// <summary>
/// `bench`: the engine against a plain forward pass (its reference cost; the arithmetic limit of one tangent is 2x),
/// on the same networks and points, in one process.
/// </summary>
public static class Benchmark
{
    private const int Depth = 20;

    /// <summary>Times every case and checks the targets; <paramref name="status"/> hears each stage.</summary>
    public static BenchReport Run(IReadOnlyList<int> widths, IReadOnlyList<ScalarType> dtypes, IReadOnlyList<int> threads, double secondsPerCase, Action<string>? status)
    {
        using var noGrad = no_grad(); // double-VJP re-enables gradients for itself
        var cases = new List<BenchCase>();
        foreach (int thread in threads)
        {
            set_num_threads(thread);
            foreach (var dtype in dtypes)
            foreach (int width in widths)
            {
                status?.Invoke($"width {width}, {Name(dtype)}, {thread} thread(s)");
                cases.AddRange(Setting(width, dtype, thread, secondsPerCase));
            }
        }
        set_num_threads(threads[0]);
        status?.Invoke("ensembles and exact length");
        cases.AddRange(Ensembles(threads[0], secondsPerCase));
        cases.AddRange(EnsembleCeiling.Cases(threads[0], secondsPerCase));
        cases.AddRange(Exact(threads[0], secondsPerCase));
        status?.Invoke("activations: leaky ReLU and tanh");
        var activationCases = ActivationCases(threads[0], secondsPerCase);
        cases.AddRange(activationCases);
        cases.AddRange(EnsembleTrainingBench.Cases(secondsPerCase, status));
        // A whole `measure` job on 1, 2 and all worker threads (chunks of networks at once, one libtorch thread each).
        var job = new MeasureSettings(new NetworkSpec(NetworkSpec.Shorthand(64, Depth), InitScheme.He),
            new GeometrySpec(Points: 1000), Networks: 1000, Seed: 9, DType: ScalarType.Float32);
        var jobs = new List<(int Threads, Measurement.MeasureResult Result, double CpuSeconds)>();
        foreach (int workers in new[] { 1, 2, System.Environment.ProcessorCount }.Distinct())
        {
            status?.Invoke($"a full measure: 1000 He networks, width 64, depth 20, 1000 nodes, float32, {workers} thread(s)");
            set_num_threads(1);
            Parallelism.Threads = workers;
            // CPU time beside wall time: on shared cores, CPU / wall says how many cores the job actually got.
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            try { jobs.Add((workers, Distortion.Measure(job), (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds)); }
            finally { Parallelism.Threads = 1; }
        }
        set_num_threads(threads[0]);
        double oneThread = jobs[0].Result.Elapsed.TotalSeconds;
        foreach (var (workers, result, _) in jobs)
            cases.Add(new("measure job, time / 1 thread", 64, Depth, "float32", workers, job.Networks, job.Geometry.Points, result.Elapsed.TotalSeconds,
                (double)job.Networks * job.Geometry.Points / result.Elapsed.TotalSeconds, double.NaN, result.Elapsed.TotalSeconds / oneThread));
        var profile = jobs[0].Result;
        // Stages in CPU seconds, against the whole job's CPU time: a share that other processes on the machine do not skew.
        var seconds = new Dictionary<string, double>(profile.SecondsByStage!) { ["total"] = jobs[0].CpuSeconds, ["wall"] = profile.Elapsed.TotalSeconds };
        var targets = Targets(cases, widths, threads);
        targets.AddRange(ActivationTargets(activationCases));
        targets.AddRange(EnsembleTrainingBench.Targets(cases));
        targets.AddRange(EnsembleCeiling.Targets(cases));
        foreach (var (workers, result, cpuSeconds) in jobs.Skip(1))
        {
            double speedup = oneThread / result.Elapsed.TotalSeconds;
            targets.Add(new($"full measure job, {workers} threads vs 1", speedup, 0.9 * workers, speedup >= 0.9 * workers,
                $"{oneThread:F1} s ({jobs[0].CpuSeconds:F1} s CPU) vs {result.Elapsed.TotalSeconds:F1} s ({cpuSeconds:F1} s CPU, " +
                $"{cpuSeconds / result.Elapsed.TotalSeconds:F2} cores obtained)"));
        }
        double share = seconds.GetValueOrDefault("jacobian engine") / seconds["total"];
        targets.Add(new("share of a one-thread full measure spent in the Jacobian engine", share, 0.8, share >= 0.8,
            string.Join(", ", seconds.Where(p => p.Key is not ("total" or "wall")).Select(p => $"{p.Key} {p.Value:F2} s")) +
            $" of {seconds["total"]:F2} s CPU ({seconds["wall"]:F1} s wall)"));
        return new BenchReport(RuntimeInfo.Current(), MachineName(), cases, targets, PeakResidentMiB(), DateTimeOffset.UtcNow, seconds);
    }

    /// <summary>
    /// `bench --chunks`: only the sweep of networks per chunk (<see cref="ChunkSweep"/>), one thread; null widths take its
    /// default (16 to 512).
    /// </summary>
    public static BenchReport RunChunks(IReadOnlyList<int>? widths, IReadOnlyList<ScalarType> dtypes, Action<string>? status)
    {
        var (cases, targets) = ChunkSweep.Run(widths ?? ChunkSweep.DefaultWidths, dtypes, status);
        return new BenchReport(RuntimeInfo.Current(), MachineName(), cases, targets, PeakResidentMiB(), DateTimeOffset.UtcNow, new Dictionary<string, double>());
    }

    /// <summary>Forward, tangents (k = 1, 4), double-VJP and 2-volume on one network, batch B points.</summary>
    private static IEnumerable<BenchCase> Setting(int width, ScalarType dtype, int threads, double seconds)
    {
        int batch = width >= 1024 ? 1024 : 4096;
        var spec = new NetworkSpec(NetworkSpec.Shorthand(width, Depth), InitScheme.He);
        using var scope = NewDisposeScope();
        using var net = Mlp.Create(spec, 1, seed: 1, dtype: dtype);
        using var generator = new Generator(7);
        var x = randn([1, batch, width], dtype, generator: generator);
        Tensor Tangents(int k) => randn([1, batch, k, width], dtype, generator: generator);
        var u1 = Tangents(1);
        var u2 = Tangents(2);
        var u4 = Tangents(4);
        double layerFlops = 2.0 * batch * spec.Widths.Zip(spec.Widths.Skip(1), (a, b) => (double)a * b).Sum();

        double forward = Time(() => PlainForward(net, x), seconds);
        BenchCase Case(string name, double time, int rows) =>
            new(name, width, Depth, Name(dtype), threads, 1, batch, time, batch / time, rows * layerFlops / time / 1e9, time / forward);
        yield return Case("forward", forward, 1);
        yield return Case("tangent k=1", Time(() => Dispose(Jacobians.TangentPropagation(net, x, u1)), seconds), 2);
        yield return Case("tangent k=4", Time(() => Dispose(Jacobians.TangentPropagation(net, x, u4)), seconds), 5);
        yield return Case("volume k=2", Time(() =>
        {
            using var s = NewDisposeScope();
            var (y, ju) = Jacobians.TangentPropagation(net, x, u2);
            Distortion.LogVolumes(ju);
        }, seconds), 3);
        if (width <= 256)
            yield return Case("double-vjp k=1", Time(() => Jacobians.DoubleVjp(net, x, u1).Dispose(), seconds), 3);
    }

    /// <summary>One tangent against a forward pass with the same activation, float32, widths 64 and 256.</summary>
    private static List<BenchCase> ActivationCases(int threads, double seconds)
    {
        var cases = new List<BenchCase>();
        foreach (var activation in new Activation[] { Activation.ReLU, Activation.LeakyReLU(), SmoothActivation.Tanh })
        foreach (int width in new[] { 64, 256 })
        {
            const int batch = 4096;
            var spec = new NetworkSpec(NetworkSpec.Shorthand(width, Depth), InitScheme.WithVariance(1.0), Nonlinearity: activation);
            using var scope = NewDisposeScope();
            using var net = Mlp.Create(spec, 1, seed: 1, dtype: ScalarType.Float32);
            using var generator = new Generator(7);
            var x = randn([1, batch, width], ScalarType.Float32, generator: generator);
            var u = randn([1, batch, 1, width], ScalarType.Float32, generator: generator);
            double layerFlops = 2.0 * batch * spec.Widths.Zip(spec.Widths.Skip(1), (a, b) => (double)a * b).Sum();
            double forward = Time(() => PlainForward(net, x), seconds);
            double tangent = Time(() => Dispose(Jacobians.TangentPropagation(net, x, u)), seconds);
            cases.Add(new($"{activation.Name} forward", width, Depth, "float32", threads, 1, batch, forward, batch / forward, layerFlops / forward / 1e9, 1));
            cases.Add(new($"{activation.Name} tangent k=1", width, Depth, "float32", threads, 1, batch, tangent, batch / tangent, 2 * layerFlops / tangent / 1e9, tangent / forward));
        }
        return cases;
    }

    /// <summary>One tangent costs at most 2.5x a forward pass for leaky ReLU and 3x for tanh (the slope of tanh is extra work).</summary>
    private static IEnumerable<BenchTarget> ActivationTargets(List<BenchCase> cases) =>
        cases.Where(c => c.Case.EndsWith("tangent k=1") && !c.Case.StartsWith("relu")).Select(c =>
        {
            double limit = c.Case.StartsWith("tanh") ? 3.0 : 2.5;
            return new BenchTarget($"{c.Case} / forward, width {c.Width}, float32", c.RatioToForward, limit, c.RatioToForward <= limit,
                "same network and points, one process");
        });

    /// <summary>
    /// The reference cost: relu(h W^T + b) per layer, nothing else, written as carefully as the engine: one network uses a
    /// plain mm, BLAS takes the transposed weight as it is, and each layer's input is freed at once so the allocator hands
    /// back cache-hot memory (no page faults). Splitting the points into cache-sized blocks did not make it faster.
    /// </summary>
    private static void PlainForward(Mlp net, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var one = 1.ToScalar(); // an implicit Scalar per add_ is freed only by the GC
        bool single = net.Count == 1;
        var h = single ? x.squeeze(0) : x;
        for (int l = 0; l < net.Weights.Count; l++)
        {
            using var layer = NewDisposeScope();
            var weight = net.Weights[l].detach().transpose(1, 2);
            var next = single ? h.mm(weight.squeeze(0)) : bmm(h, weight);
            if (l > 0) h.Dispose();
            next.add_(single ? net.Biases[l]!.detach().squeeze(0) : net.Biases[l]!.detach().unsqueeze(1), one);
            if (l < net.Weights.Count - 1)
            {
                if (net.Spec.Activation == Activation.ReLU) next.relu_();
                else { var activated = net.Spec.Activation.Forward(next); next.Dispose(); next = activated; }
            }
            h = next.MoveToOuterDisposeScope();
        }
    }

    /// <summary>K = 64 networks with 16, 32, 64 points each: one batched ensemble vs a loop over single networks.</summary>
    private static IEnumerable<BenchCase> Ensembles(int threads, double seconds)
    {
        const int width = 64, count = 64;
        var spec = new NetworkSpec(NetworkSpec.Shorthand(width, Depth), InitScheme.He);
        using var scope = NewDisposeScope();
        using var ensemble = Mlp.Create(spec, count, seed: 2, dtype: ScalarType.Float32);
        var singles = Enumerable.Range(0, count).Select(i => Mlp.Create(spec, 1, seed: 2, firstIndex: i, dtype: ScalarType.Float32)).ToList();
        double layerFlops = 2.0 * spec.Widths.Zip(spec.Widths.Skip(1), (a, b) => (double)a * b).Sum();
        foreach (int points in new[] { 16, 32, 64 })
        {
            var x = randn([count, points, width], ScalarType.Float32, generator: new Generator(3));
            var u = randn([count, points, 1, width], ScalarType.Float32, generator: new Generator(4));
            var xs = Enumerable.Range(0, count).Select(i => x[i..(i + 1)]).ToList();
            var us = Enumerable.Range(0, count).Select(i => u[i..(i + 1)]).ToList();
            double batched = Time(() => Dispose(Jacobians.TangentPropagation(ensemble, x, u)), seconds);
            double loop = Time(() => { for (int i = 0; i < count; i++) Dispose(Jacobians.TangentPropagation(singles[i], xs[i], us[i])); }, seconds);
            int total = count * points;
            yield return new("ensemble K=64 tangent k=1", width, Depth, "float32", threads, count, points, batched, total / batched, 2 * total * layerFlops / batched / 1e9, loop / batched);
            yield return new("loop of 64 networks tangent k=1", width, Depth, "float32", threads, count, points, loop, total / loop, 2 * total * layerFlops / loop / 1e9, 1.0);
        }
        singles.ForEach(n => n.Dispose());
    }

    /// <summary>Exact piecewise-linear length vs a 1000-node quadrature, width 64, depth 20, unit segments (per network).</summary>
    private static IEnumerable<BenchCase> Exact(int threads, double seconds)
    {
        var spec = new NetworkSpec(NetworkSpec.Shorthand(64, Depth), InitScheme.He);
        const int networks = 16;
        var exact = new MeasureSettings(spec, new GeometrySpec(Points: 1, Exact: true), Networks: networks, Seed: 5);
        var quadrature = new MeasureSettings(spec, new GeometrySpec(Points: 1000), Networks: networks, Seed: 5, ChunkSize: 1);
        double exactTime = Time(() => Distortion.Measure(exact), seconds);
        double quadratureTime = Time(() => Distortion.Measure(quadrature), seconds);
        yield return new("exact length (per network)", 64, Depth, "float64", threads, networks, 0, exactTime, networks / exactTime, double.NaN, exactTime / quadratureTime);
        yield return new("1000-node quadrature (per network)", 64, Depth, "float64", threads, networks, 1000, quadratureTime, networks / quadratureTime, double.NaN, 1.0);
    }

    private static List<BenchTarget> Targets(List<BenchCase> cases, IReadOnlyList<int> widths, IReadOnlyList<int> threads)
    {
        var targets = new List<BenchTarget>();
        var one = cases.Where(c => c.DType == "float32" && c.Threads == threads[0] && c.Width >= 64 && c.Networks == 1).ToList();
        foreach (var c in one.Where(c => c.Case == "tangent k=1"))
            targets.Add(new($"tangent k=1 / forward, width {c.Width}", c.RatioToForward, 2.5, c.RatioToForward <= 2.5, "arithmetic limit 2x"));
        foreach (var c in one.Where(c => c.Case == "tangent k=4"))
            targets.Add(new($"tangent k=4 / forward, width {c.Width}", c.RatioToForward, 5.5, c.RatioToForward <= 5.5, "limit k + 1.5"));
        foreach (var c in cases.Where(c => c.Case.StartsWith("ensemble")))
            targets.Add(new($"loop / ensemble speed-up, K=64, {c.PointsPerNetwork} points", c.RatioToForward, 3, c.RatioToForward >= 3, "at least 3x"));
        if (threads.Count > 1)
            foreach (var c in cases.Where(c => c.Threads == threads[^1] && c.Networks == 1 && c.Case == "tangent k=1"))
            {
                var single = cases.First(o => o.Threads == threads[0] && o.Case == c.Case && o.Width == c.Width && o.DType == c.DType);
                double speedup = single.Seconds / c.Seconds;
                targets.Add(new($"{threads[^1]} threads vs 1, tangent k=1, width {c.Width}, {c.DType}", speedup, 1, speedup >= 0.95, "never slower (5% noise allowed)"));
            }
        var exact = cases.FirstOrDefault(c => c.Case.StartsWith("exact"));
        if (exact is not null)
            targets.Add(new("exact length time / 1000-node quadrature time", exact.RatioToForward, 1, exact.RatioToForward <= 1, "exact has no quadrature error"));
        return targets;
    }

    /// <summary>Median of repeated runs after one warm-up, repeating until about <paramref name="seconds"/> have passed.</summary>
    private static double Time(Action action, double seconds) => Median(action, seconds, minRuns: 3, maxRuns: 200);

    /// <summary>
    /// Median wall time of runs after one warm-up: at least <paramref name="minRuns"/>, then more until about
    /// <paramref name="seconds"/> have passed or <paramref name="maxRuns"/> ran (the machine may be shared: the median resists the noise).
    /// </summary>
    internal static double Median(Action action, double seconds, int minRuns, int maxRuns)
    {
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || (total.Elapsed.TotalSeconds < seconds && times.Count < maxRuns))
        {
            var watch = Stopwatch.StartNew();
            action();
            times.Add(watch.Elapsed.TotalSeconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    private static void Dispose((Tensor A, Tensor B) pair)
    {
        pair.A.Dispose();
        pair.B.Dispose();
    }

    private static string Name(ScalarType dtype) => dtype == ScalarType.Float32 ? "float32" : "float64";

    private static double PeakResidentMiB()
    {
        var line = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:")) : null;
        return line is null ? double.NaN : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
    }

    private static string MachineName()
    {
        string cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU" : "unknown CPU";
        return $"{cpu}, {System.Environment.ProcessorCount} cores";
    }
}
