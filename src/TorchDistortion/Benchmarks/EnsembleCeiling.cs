using TorchDistortion.Differentiation;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Benchmarks;

/// <summary>
/// Why an ensemble of K = 64 networks beats a loop over them by only so much: the same tangent propagation (width 64,
/// depth 20, float32, k = 1) split into its parts, each timed alone in this process. A loop pays per-op overhead on every
/// network's ops; the ensemble pays it once per group, so the ensemble's best case is the loop's time over the time of
/// its matmuls and elementwise work alone. Reported as cases whose last column is the time relative to the batched run.
/// Timed in this thread's CPU time (where the OS gives it), so a loaded, shared machine does not skew the ratios.
/// </summary>
internal static class EnsembleCeiling
{
    private const int Width = 64, Depth = 20, Count = 64;

    internal static IEnumerable<BenchCase> Cases(int threads, double seconds)
    {
        using var scope = NewDisposeScope();
        var weights = randn([Count, Width, Width], ScalarType.Float32, generator: new Generator(5)).mul_(Math.Sqrt(2.0 / Width));
        var weightsT = weights.transpose(1, 2);
        var singlesT = Enumerable.Range(0, Count).Select(i => weights[i].t()).ToList();
        var spec = new NetworkSpec(NetworkSpec.Shorthand(Width, Depth), InitScheme.He);
        using var ensemble = Mlp.Create(spec, Count, seed: 2, dtype: ScalarType.Float32);
        var singles = Enumerable.Range(0, Count).Select(i => Mlp.Create(spec, 1, seed: 2, firstIndex: i, dtype: ScalarType.Float32)).ToList();
        double layerFlops = 2.0 * Width * Width * Depth;
        foreach (int points in new[] { 16, 32, 64 })
        {
            int rows = 2 * points; // the point and its tangent
            var state = randn([Count, rows, Width], ScalarType.Float32, generator: new Generator(6));
            var states = Enumerable.Range(0, Count).Select(i => state[i]).ToList();
            var x = randn([Count, points, Width], ScalarType.Float32, generator: new Generator(3));
            var u = randn([Count, points, 1, Width], ScalarType.Float32, generator: new Generator(4));
            // The whole batched tangent propagation, as the Ensembles case runs it.
            double batched = Time(() => { var (y, ju) = Jacobians.TangentPropagation(ensemble, x, u); y.Dispose(); ju.Dispose(); }, seconds);
            var xs = Enumerable.Range(0, Count).Select(i => x[i..(i + 1)]).ToList();
            var us = Enumerable.Range(0, Count).Select(i => u[i..(i + 1)]).ToList();
            double loop = Time(() =>
            {
                for (int i = 0; i < Count; i++) { var (y, ju) = Jacobians.TangentPropagation(singles[i], xs[i], us[i]); y.Dispose(); ju.Dispose(); }
            }, seconds);
            // Its matmuls alone: one bmm over all K networks per layer; and one mm per network per layer (the loop's).
            double bmmAlone = Time(() => { for (int l = 0; l < Depth; l++) bmm(state, weightsT).Dispose(); }, seconds);
            double mmLoop = Time(() => { for (int i = 0; i < Count; i++) for (int l = 0; l < Depth; l++) states[i].mm(singlesT[i]).Dispose(); }, seconds);
            // Per-op overhead: the same number of ops as the loop's matmuls, on 1-element tensors.
            var tiny = ones(1, ScalarType.Float32);
            double overhead = Time(() => { for (int i = 0; i < Count * Depth; i++) tiny.add_(tiny); }, seconds);
            // The elementwise work of the batched run (bias, ReLU, slope mask) at the same size, per layer.
            var pre = state.narrow(1, 0, points);
            var tangentRows = state.narrow(1, points, points);
            double elementwise = Time(() =>
            {
                for (int l = 0; l < Depth; l++)
                {
                    using var slope = pre.gt(0);
                    tangentRows.mul_(slope);
                    pre.relu_();
                }
            }, seconds);
            double flops = Count * rows * layerFlops;
            BenchCase Case(string name, double time) =>
                new(name, Width, Depth, "float32", threads, Count, points, time, Count * points / time, flops / time / 1e9, time / batched);
            yield return Case("ceiling: batched tangent", batched);
            yield return Case("ceiling: loop of 64 tangents", loop);
            yield return Case("ceiling: bmm alone (K=64)", bmmAlone);
            yield return Case("ceiling: mm per network alone", mmLoop);
            yield return Case("ceiling: 1280 empty ops", overhead);
            yield return Case("ceiling: batched elementwise", elementwise);
        }
        singles.ForEach(n => n.Dispose());
    }

    /// <summary>
    /// Ensemble vs loop per points per network (target 3x), beside its ceiling: the loop's time over the arithmetic the
    /// ensemble cannot avoid (the matmuls at the loop's mm speed, and the elementwise work).
    /// </summary>
    internal static IEnumerable<BenchTarget> Targets(IReadOnlyList<BenchCase> cases)
    {
        foreach (var group in cases.Where(c => c.Case.StartsWith("ceiling: ")).GroupBy(c => c.PointsPerNetwork))
        {
            double Seconds(string name) => group.Single(c => c.Case == "ceiling: " + name).Seconds;
            double batched = Seconds("batched tangent"), loop = Seconds("loop of 64 tangents"), mm = Seconds("mm per network alone"),
                bmm = Seconds("bmm alone (K=64)"), elementwise = Seconds("batched elementwise");
            double ceiling = loop / (Math.Min(mm, bmm) + elementwise);
            yield return new($"ensemble K=64 vs loop, {group.Key} points per network (thread CPU time)", loop / batched, 3, loop / batched >= 3,
                $"ceiling {ceiling:F2}x: the loop spends {(mm + elementwise) / loop:P0} of its time in matmuls and elementwise work the ensemble " +
                $"must do too; bmm runs at {mm / bmm:F2}x the speed of the loop's mm calls, and the elementwise work is {elementwise / batched:P0} of the batched run");
        }
    }

    private static double Time(Action action, double seconds)
    {
        action();
        var times = new List<double>();
        var total = System.Diagnostics.Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 200))
        {
            using var scope = NewDisposeScope();
            double start = Measurement.ThreadClock.Seconds;
            action();
            times.Add(Measurement.ThreadClock.Seconds - start);
        }
        times.Sort();
        return times[times.Count / 4]; // lower quartile: the machine is shared, and noise only adds time
    }
}
