using System.Diagnostics;
using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>
/// Distortions of several geometries under one network (one value per geometry): the logs, which keep their digits
/// however large or small, and the plain values beside them. Exact segments also give log regions per unit length.
/// </summary>
/// <param name="LogDistortions">log of each geometry's length (or k-volume) distortion; -infinity where it is 0.</param>
/// <param name="LogRegionsPerLength">Exact measurements only: log of the linear regions crossed per unit input length.</param>
public sealed record NetworkMeasurement(double[] LogDistortions, double[]? LogRegionsPerLength)
{
    /// <summary>Each geometry's distortion, e^log: NaN where that leaves the range of normal doubles (the log holds it).</summary>
    public double[] Distortions { get; } = Array.ConvertAll(LogDistortions, Summary.ExpInRange);
}

/// <summary>
/// CPU time per stage of a measurement (the worker thread's, see <see cref="ThreadClock"/>), to show where it goes (e.g. the
/// share spent in the Jacobian engine) even on a machine that other processes load.
/// </summary>
internal sealed class StageTimes
{
    private readonly Dictionary<string, double> _seconds = new();

    internal T Time<T>(string stage, Func<T> work)
    {
        double start = ThreadClock.Seconds;
        try { return work(); }
        finally { _seconds[stage] = _seconds.GetValueOrDefault(stage) + ThreadClock.Seconds - start; }
    }

    internal IReadOnlyDictionary<string, double> Seconds => _seconds;

    /// <summary>Adds another worker's times (stages then sum thread time, not wall time).</summary>
    internal void Add(StageTimes other)
    {
        foreach (var (stage, seconds) in other._seconds) _seconds[stage] = _seconds.GetValueOrDefault(stage) + seconds;
    }
}

/// <summary>The measurement engine: exact Jacobian–tangent products on quadrature nodes, chunked over networks.</summary>
public static class Distortion
{
    static Distortion() => NativeHeap.Configure(); // before the first chunk's tensors (also for user modules)

    /// <summary>
    /// Measures <see cref="MeasureSettings.Networks"/> random networks in chunks; <paramref name="progress"/>
    /// receives the number of networks done. Each chunk runs in its own dispose scope.
    /// </summary>
    public static MeasureResult Measure(MeasureSettings settings, Action<int>? progress = null, CancellationToken cancel = default) =>
        Measure(settings, progress, cancel, Parallelism.Threads);

    /// <summary>As above, on <paramref name="threads"/> chunk workers (a sweep running several runs at once gives each fewer).</summary>
    internal static MeasureResult Measure(MeasureSettings settings, Action<int>? progress, CancellationToken cancel, int threads)
    {
        settings.Validate();
        var device = (settings.Device ?? DeviceSpec.Cpu).Resolve();
        var stopwatch = Stopwatch.StartNew();
        int chunk = ChunkFor(settings);
        int workers = device.type == DeviceType.CPU ? WorkersFor(settings, chunk, threads) : 1;
        if (settings.ChunkSize == 0) chunk = Balanced(settings.Networks, chunk, workers);
        var logDistortions = new double[settings.Networks];
        var quadratureErrors = new double[settings.Networks];
        var logRegions = settings.Geometry.Exact ? new double[settings.Networks] : null;
        var stages = new StageTimes();
        int chunks = (settings.Networks + chunk - 1) / chunk, done = 0;
        var progressGate = new object();
        // Chunks run on that many workers (on the CPU; a GPU runs one chunk at a time anyway); each writes only its own
        // slots, and the statistics are reduced below in index order, so the result is the same bit for bit on any number of threads.
        Parallelism.ForEach(chunks, workers, stages, (index, times) =>
        {
            int first = index * chunk, count = Math.Min(chunk, settings.Networks - first);
            MeasureChunk(settings, device, first, count, logDistortions, quadratureErrors, logRegions, times);
            if (progress is null) return;
            lock (progressGate) progress(done += count); // one call at a time, counts only growing
        }, cancel);
        if (logDistortions.Any(v => double.IsNaN(v) || double.IsPositiveInfinity(v)))
            throw new SettingException("dtype", $": values overflowed {DTypes.Name(settings.DType)} (a distortion is NaN or infinite); use float64, a smaller size, or fewer layers");
        var summary = Summary.FromLog(logDistortions, settings.MaxMoment, settings.Quantiles);
        // A network with zero output length has no relative error (NaN): left out of the average, not counted as 0.
        var finiteErrors = quadratureErrors.Where(double.IsFinite).ToArray();
        double? quadratureError = settings.Geometry.Points > 1 && finiteErrors.Length > 0 ? finiteErrors.Average() : null;
        return new MeasureResult(settings, logDistortions, quadratureError, summary,
            TheoryComparison.Build(settings.Network, settings.Geometry, summary), device.type.ToString().ToLowerInvariant(), stopwatch.Elapsed,
            logRegions is null ? null : Summary.FromLog(logRegions, 2, settings.Quantiles), stages.Seconds);
    }

    /// <summary>Networks first .. first + count - 1: their log distortions (and errors, regions) written into their slots.</summary>
    private static void MeasureChunk(MeasureSettings settings, Device device, int first, int count, double[] logDistortions,
        double[] quadratureErrors, double[]? logRegions, StageTimes times)
    {
        using var scope = NewDisposeScope();
        // libtorch's float64 bmm gives a batch of one network other last bits than the same network among others: a lone
        // network is computed with its successor in the seed's sequence beside it (then dropped), so that network i's bits
        // never depend on how the networks were chunked (by --networks, --chunk or memory).
        int drawn = count == 1 && settings.DType == ScalarType.Float64 ? 2 : count;
        Tensor Kept(Tensor t) => drawn == count ? t : t.narrow(0, 0, count);
        using var net = times.Time("draw networks", () => Mlp.Create(settings.Network, drawn, settings.Seed, first, settings.DType, device));
        Tensor? quadrature = null, reference = null;
        if (settings.Geometry.Exact)
        {
            var pieces = times.Time("exact breakpoints", () => ExactPieces(net, settings.Geometry, settings.Seed, first));
            for (int i = 0; i < count; i++)
            {
                logDistortions[first + i] = Math.Log(pieces[i].LengthDistortion);
                logRegions![first + i] = Math.Log(pieces[i].Pieces / pieces[i].InputLength);
            }
            if (settings.Geometry.Points > 1)
            {
                // The quadrature on the same segments, judged against the exact length.
                using var geometry = times.Time("draw geometry", () => GeometrySampler.Sample(settings.Geometry, settings.Network.InputDim, drawn, settings.Seed, first, settings.DType, device));
                quadrature = Kept(LogDistortion(net, settings.Method, geometry, times).Fine);
                reference = tensor(logDistortions[first..(first + count)], float64, quadrature.device);
            }
        }
        else
        {
            using var geometry = times.Time("draw geometry", () => GeometrySampler.Sample(settings.Geometry, settings.Network.InputDim, drawn, settings.Seed, first, settings.DType, device));
            var (fine, coarse) = LogDistortion(net, settings.Method, geometry, times);
            (fine, coarse) = (Kept(fine), coarse is null ? null : Kept(coarse));
            times.Time("volumes and logs", () => { fine.cpu().data<double>().CopyTo(logDistortions, first); return 0; });
            (quadrature, reference) = (coarse, fine);
        }
        if (quadrature is not null && reference is not null)
        {
            // Relative error of the quadrature: against the exact length, or the half-resolution rule against the full one.
            var error = (quadrature - reference).exp_().sub_(1).abs_();
            error.cpu().data<double>().CopyTo(quadratureErrors, first);
        }
    }

    /// <summary>The exact pieces of each network of the chunk along its segment (or the shared polyline).</summary>
    private static SegmentPieces[] ExactPieces(Mlp net, GeometrySpec geometry, long seed, long first)
    {
        if (geometry.Kind == GeometryKind.Polyline)
            return Enumerable.Range(0, net.Count).Select(i => PiecewiseLinear.Polyline(net, i, geometry.PolylinePoints!)).ToArray();
        var (starts, ends) = GeometrySampler.SegmentEndpoints(geometry, net.Spec.InputDim, net.Count, seed, first);
        using (starts)
        using (ends)
            return PiecewiseLinear.Segments(net, starts, ends);
    }

    /// <summary>
    /// Log distortion of one geometry per network [K] (and at half resolution, if there is one).
    /// Works for a <see cref="Mlp"/> ensemble with any method.
    /// </summary>
    internal static (Tensor Fine, Tensor? Coarse) LogDistortion(Mlp net, JacobianMethod method, GeometrySample geometry, StageTimes? stages = null)
    {
        stages ??= new StageTimes();
        var logImage = LogImageVolumes(net, method, geometry.Points, geometry.Tangents, stages);
        return stages.Time("volumes and logs", () =>
        {
            var logInput = LogVolumes(geometry.Tangents);
            var fine = logImage.logsumexp(1) - logInput.logsumexp(1);
            var coarse = geometry.Coarse is Tensor c
                ? logImage.index_select(1, c).logsumexp(1) - logInput.index_select(1, c).logsumexp(1) : null;
            return (fine, coarse);
        });
    }

    /// <summary>log vol(J U) at every node [K, T] of points [K, T, n0] with tangent rows [K, T, k, n0].</summary>
    private static Tensor LogImageVolumes(Mlp net, JacobianMethod method, Tensor points, Tensor tangents, StageTimes stages)
    {
        using var noGrad = method == JacobianMethod.TangentPropagation ? no_grad() : null;
        long k = tangents.shape[2];
        if (method == JacobianMethod.TangentPropagation && k > 1 && net.Spec.Depth > 1)
        {
            // The frame is re-orthonormalised through the layers (its scale kept in log space). A k-volume is exactly 0 where
            // some hidden layer has fewer than k active neurons; the determinant there would only show rounding noise.
            var (output, product, fewest, logScale) = stages.Time("jacobian engine", () => Jacobians.TangentPropagation(net, points, tangents, frame: true));
            output.Dispose();
            return stages.Time("volumes and logs", () =>
            {
                var logVolumes = LogVolumes(product).add_(logScale!);
                return fewest is null ? logVolumes : logVolumes.masked_fill_(fewest.lt(k), double.NegativeInfinity);
            });
        }
        var image = stages.Time("jacobian engine", () => Jacobians.Apply(net, method, points, tangents));
        return stages.Time("volumes and logs", () => LogVolumes(image));
    }

    /// <summary>
    /// Distortions of <paramref name="count"/> geometries drawn from <paramref name="seed"/> (geometry i depends only on
    /// seed and i), all under one network: a trained or loaded one. Exact segments also give regions per unit length.
    /// </summary>
    public static NetworkMeasurement MeasureNetwork(Mlp net, GeometrySpec geometry, int count, long seed = 0)
    {
        if (net.Count != 1) throw new ArgumentException($"MeasureNetwork takes one network, got an ensemble of {net.Count}");
        geometry.Validate(net.Spec.Widths);
        if (count < 1 || count > 10_000_000) throw new SettingException("geometries", $"must be between 1 and 10000000, got {count}");
        int n0 = net.Spec.InputDim;
        if (geometry.Exact)
        {
            SegmentPieces[] pieces;
            if (geometry.Kind == GeometryKind.Polyline)
                pieces = Enumerable.Repeat(PiecewiseLinear.Polyline(net, 0, geometry.PolylinePoints!), count).ToArray();
            else
            {
                var (starts, ends) = GeometrySampler.SegmentEndpoints(geometry, n0, count, seed, 0);
                using (starts)
                using (ends)
                {
                    var a = starts.data<double>().ToArray();
                    var b = ends.data<double>().ToArray();
                    pieces = Enumerable.Range(0, count).Select(i => PiecewiseLinear.Segment(net, 0, a[(i * n0)..((i + 1) * n0)], b[(i * n0)..((i + 1) * n0)])).ToArray();
                }
            }
            return new NetworkMeasurement(pieces.Select(p => Math.Log(p.LengthDistortion)).ToArray(),
                pieces.Select(p => Math.Log(p.Pieces / p.InputLength)).ToArray());
        }
        using var scope = NewDisposeScope();
        var weight = net.Weights[0];
        using var sample = GeometrySampler.Sample(geometry, n0, count, seed, 0, weight.dtype, weight.device);
        return new NetworkMeasurement(NodeLogVolumes(net, sample).Distortion.cpu().data<double>().ToArray(), null);
    }

    /// <summary>
    /// The geometries of <paramref name="sample"/> [P, T, ...] all under network 0: one batch of P x T points.
    /// Returns log vol(J U) per node [P, T] and the log distortion per geometry [P].
    /// </summary>
    internal static (Tensor NodeVolumes, Tensor Distortion) NodeLogVolumes(Mlp net, GeometrySample sample)
    {
        long count = sample.Points.shape[0], nodes = sample.Points.shape[1], n0 = sample.Points.shape[2], k = sample.Tangents.shape[2];
        var logImage = LogImageVolumes(net, JacobianMethod.TangentPropagation, sample.Points.reshape(1, count * nodes, n0),
            sample.Tangents.reshape(1, count * nodes, k, n0), new StageTimes()).reshape(count, nodes);
        return (logImage, logImage.logsumexp(1) - LogVolumes(sample.Tangents).logsumexp(1));
    }

    /// <summary>
    /// Distortions of <paramref name="count"/> curves or patches (drawn from <paramref name="seed"/>, geometry i depending
    /// only on seed and i) under any differentiable TorchSharp module taking [B, <paramref name="inputDim"/>]: how a user's
    /// own model is measured, by the double-VJP path unless <paramref name="method"/> says otherwise. The module's first
    /// parameter gives the dtype and device (float64 on the CPU when it has none).
    /// </summary>
    public static NetworkMeasurement MeasureModule(nn.IModule<Tensor, Tensor> module, int inputDim, GeometrySpec geometry, int count, long seed = 0,
        JacobianMethod method = JacobianMethod.DoubleVjp)
    {
        geometry.Validate([inputDim]);
        var parameter = (module as nn.Module)?.parameters().FirstOrDefault();
        var (dtype, device) = parameter is null ? (ScalarType.Float64, CPU) : (parameter.dtype, parameter.device);
        using var scope = NewDisposeScope();
        using var sample = GeometrySampler.Sample(geometry, inputDim, count, seed, 0, dtype, device);
        long nodes = sample.Points.shape[1];
        var flatPoints = sample.Points.reshape(count * nodes, inputDim);
        var flatTangents = sample.Tangents.reshape(count * nodes, geometry.K, inputDim);
        var image = Jacobians.Apply(module, method, flatPoints, flatTangents).reshape(count, nodes, geometry.K, -1);
        var logDistortion = LogVolumes(image).logsumexp(1) - LogVolumes(sample.Tangents).logsumexp(1);
        return new NetworkMeasurement(logDistortion.cpu().data<double>().ToArray(), null);
    }

    /// <summary>
    /// log sqrt(det(A A^T)) for row blocks A [..., k, n] in float64, as the sum of log |diag R| of A^T = QR: the
    /// Gram determinant would square the block's condition number and round nearly parallel rows to 0. A is scaled by its
    /// largest entry first, so nothing underflows or overflows: vol(sA) = s^k vol(A).
    /// </summary>
    internal static Tensor LogVolumes(Tensor rows)
    {
        using var scope = NewDisposeScope();
        long k = rows.shape[^2];
        if (k == 1 && rows.dtype == ScalarType.Float32)
        {
            // A float32 entry squared stays far inside float64's range (3.4e38^2 = 1.2e77; 1.4e-45^2 = 2e-90): no scaling,
            // and two passes over the image instead of five.
            using var squares = rows.squeeze(-2).to(float64);
            return squares.mul_(squares).sum(-1L).log_().mul_(0.5).MoveToOuterDisposeScope();
        }
        var a = rows.to(float64);
        var scale = a.abs().amax([-2, -1], keepdim: true);
        var scaled = a / scale.clamp_min(double.Epsilon);
        var logScale = k * scale.squeeze(-1).squeeze(-1).log();
        if (k == 1) return (linalg.vector_norm(scaled.squeeze(-2), dims: [-1L]).log() + logScale).MoveToOuterDisposeScope();
        var (_, r) = linalg.qr(scaled.transpose(-1, -2));
        return (r.diagonal(0, -2, -1).abs().log().sum(-1L) + logScale).MoveToOuterDisposeScope();
    }

    /// <summary>Networks per chunk: the given --chunk, or automatic; refused with one line where it would not fit in memory.</summary>
    internal static int ChunkFor(MeasureSettings settings)
    {
        long available = AvailableMemoryBytes();
        int chunk = Math.Min(settings.ChunkSize > 0 ? settings.ChunkSize : AutomaticChunk(settings, available), settings.Networks);
        long needed = EstimatePeakBytes(settings, chunk);
        if (needed > available)
            throw settings.ChunkSize > 0
                ? new SettingException("chunk", $": {chunk} networks per chunk need about {GiB(needed)} of memory (estimate), but {GiB(available)} is available; use a smaller chunk, or 0 (automatic)")
                : new SettingException("networks", $": one network at a time needs about {GiB(needed)} of memory (estimate), but {GiB(available)} is available; use fewer points or smaller widths");
        return chunk;
    }

    /// <summary>
    /// The automatic chunk made even over the workers: the fewest chunks that are a multiple of the workers and hold at most
    /// <paramref name="chunk"/> networks, of equal size (1000 networks in chunks of 390 on two workers: 4 of 250, not
    /// 390, 390 and 220, which left one worker idle for a third of the job). The chunking never changes a result's bits.
    /// </summary>
    internal static int Balanced(int networks, int chunk, int workers)
    {
        long chunks = (networks + (long)chunk * workers - 1) / ((long)chunk * workers) * workers;
        return (int)Math.Max(1, (networks + chunks - 1) / chunks);
    }

    /// <summary>
    /// Chunk workers that fit in memory together: each holds one chunk, so fewer threads run where
    /// <paramref name="threads"/> chunks at once would not fit (the chunk size, and with it every bit of the result, stays).
    /// </summary>
    internal static int WorkersFor(MeasureSettings settings, int chunk, int threads)
    {
        long available = AvailableMemoryBytes(), fixedBytes = EstimatePeakBytes(settings, 0);
        long perChunk = Math.Max(EstimatePeakBytes(settings, chunk) - fixedBytes, 1);
        long fit = Math.Max((available - fixedBytes) / perChunk, 1);
        return (int)Math.Clamp(Math.Min(threads, fit), 1, Math.Max(1, (settings.Networks + chunk - 1) / chunk));
    }

    /// <summary>
    /// Networks per chunk: about 2 M entries of one layer in flight per chunk (the states of the points and their k tangents,
    /// nodes x (1 + k) x the largest width, and one layer's weights), at most 512 networks, and within 3/4 of
    /// <paramref name="available"/> memory by <see cref="EstimatePeakBytes"/> (then made even over the workers by
    /// <see cref="Balanced"/>). The chunk never changes a result's bits (DistortionTests). Measured by `bench --chunks` (one thread, He, depth 10, segments; AMD EPYC,
    /// shared; see docs/benchmarks): the time per network falls steeply from K = 1 (width 16, 64 nodes: 15x the best K's
    /// time in float32, 5.5x in float64; width 64: 2.7x / 1.8x; width 512: 1.05x / 1.03x) to a broad plateau. Best K at 64
    /// nodes for widths 16, 32, 64, 128, 256, 512: 512, 256, 256, 61, 16, 4 (float32), 256, 256, 128, 32, 8, 2 (float64),
    /// the time within 3% of the best over a 2-8x range of K; at 1000 nodes 32-128, 53-64, 15-16, 4, 1-2, 1-2. This rule picks 512, 390, 162,
    /// 61, 20, 6 and 62, 30, 15, 7, 3, 1 (2 in float64): 1.006x the best K's time on the geometric mean of those 24 settings, 1.03x at
    /// worst. The former rule (4 M entries counting every layer's weights, at most 1000) took 1.013x and 1.05x: its weight
    /// term held K at 5 and 1 for widths 256 and 512, 2-5% slower than 16 and 4.
    /// </summary>
    internal static int AutomaticChunk(MeasureSettings settings, long available)
    {
        long perNetwork = (long)settings.Geometry.NodeCount * (settings.Geometry.K + 1) * settings.Network.Widths.Max()
            + settings.Network.WeightCount() / settings.Network.Depth;
        long fixedBytes = EstimatePeakBytes(settings, 0);
        long fits = (available / 4 * 3 - fixedBytes) / Math.Max(EstimatePeakBytes(settings, 1) - fixedBytes, 1);
        int chunk = (int)Math.Clamp(Math.Min(2_000_000 / Math.Max(perNetwork, 1), fits), 1, 512);
        // In float64 a lone network is computed as two anyway (MeasureChunk): take two where they fit.
        return settings.DType == ScalarType.Float64 && chunk == 1 && fits >= 2 ? 2 : chunk;
    }

    /// <summary>
    /// Upper bound on the peak resident memory of a measurement with <paramref name="chunk"/> networks per chunk. Calibrated
    /// against peak RSS (VmHWM) at width 64, depth 10, 64 nodes, chunks of 1-8000 networks, k = 1 and 3, float32 and float64:
    /// measured 0.53-0.8 of this. Per network of the chunk: its weights (always drawn in float64, then cast), the engine's
    /// point and tangents at every layer ((1 + k) x nodes x width, the dispose scope keeps each layer's until the chunk
    /// ends), the image frames in float64 for the log-volumes, and the geometry; per network of the run, its float64 results.
    /// </summary>
    internal static long EstimatePeakBytes(MeasureSettings settings, int chunk)
    {
        var widths = settings.Network.Widths;
        long size = settings.DType == ScalarType.Float32 ? 4 : 8, nodes = settings.Geometry.NodeCount, k = settings.Geometry.K;
        long layers = widths.Skip(1).Sum(w => (long)w);
        long perNetwork = 8 * settings.Network.WeightCount()
            + size * (1 + k) * nodes * layers
            + 16 * nodes * k * widths[^1]
            + size * (1 + k) * nodes * widths[0];
        const long runtime = 256L << 20; // .NET and libtorch themselves: about 170 MiB measured
        return runtime + 32L * settings.Networks + chunk * perNetwork;
    }

    /// <summary>Memory this process may still use: MemAvailable, or the cgroup's limit where lower; the GC's view elsewhere.</summary>
    internal static long AvailableMemoryBytes()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:") && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out long kb))
                    available = Math.Min(available, kb * 1024);
            if (long.TryParse(File.ReadAllText("/sys/fs/cgroup/memory.max").Trim(), out long max)
                && long.TryParse(File.ReadAllText("/sys/fs/cgroup/memory.current").Trim(), out long current))
                available = Math.Min(available, max - current);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // not Linux: the GC's view stands
        return Math.Max(available, 0);
    }

    private static string GiB(long bytes) => $"{bytes / (double)(1L << 30):F1} GiB";
}
