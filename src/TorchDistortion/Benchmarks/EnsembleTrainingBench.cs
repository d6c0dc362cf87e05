using TorchDistortion.Networks;
using TorchDistortion.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Benchmarks;

/// <summary>
/// Training 16 seeds of one shape (spirals, depth 6, Adam, batch 64, float32, one thread): the first training steps of an
/// epoch as one batched ensemble (what `train` does) against the 16 runs one after another, with the trainer's own step
/// functions. Evaluations are left out: they are per run and cost the same both ways.
/// </summary>
internal static class EnsembleTrainingBench
{
    private const int Seeds = 16, Depth = 6, Steps = 8;
    private static readonly int[] Widths = [32, 64, 256];

    internal static IEnumerable<BenchCase> Cases(double seconds, Action<string>? status)
    {
        int threads = get_num_threads();
        set_num_threads(1);
        try
        {
            foreach (int width in Widths)
            {
                status?.Invoke($"training 16 seeds, width {width}, depth {Depth}, spirals, float32, 1 thread: ensemble vs one after another");
                var (ensemble, sequential) = Time(width, seconds);
                var settings = Settings(width, 0);
                double examples = (double)Seeds * Steps * settings.BatchSize;
                yield return new($"train ensemble of 16, {Steps} steps", width, Depth, "float32", 1, Seeds, Steps * settings.BatchSize, ensemble, examples / ensemble, double.NaN, sequential / ensemble);
                yield return new($"train 16 one after another, {Steps} steps", width, Depth, "float32", 1, Seeds, Steps * settings.BatchSize, sequential, examples / sequential, double.NaN, 1.0);
            }
        }
        finally { set_num_threads(threads); }
    }

    internal static IEnumerable<BenchTarget> Targets(IEnumerable<BenchCase> cases) =>
        cases.Where(c => c.Case.StartsWith("train ensemble")).Select(c => new BenchTarget(
            $"training 16 seeds as an ensemble vs one after another, width {c.Width}", c.RatioToForward, 3,
            c.Width != 64 || c.RatioToForward >= 3, c.Width == 64 ? "at least 3x at width 64" : "reported (the target is at width 64)"));

    private static TrainSettings Settings(int width, long seed) =>
        new(new TaskSpec(TaskKind.Spirals, 2, TrainSize: 2000, TestSize: 1000), Width: width, Depth: Depth, Seed: seed, DType: "float32");

    /// <summary>Median seconds of <see cref="Steps"/> steps for all 16 networks: (as one ensemble, one network after another).</summary>
    private static (double Ensemble, double Sequential) Time(int width, double seconds)
    {
        using var grad = enable_grad(); // the bench runs the rest in no_grad mode
        using var scope = NewDisposeScope();
        var runs = Enumerable.Range(0, Seeds).Select(s => Settings(width, s)).ToList();
        var settings = runs[0];
        using var data = ToyTasks.Generate(settings.Task, settings.DataSeed);
        var x = data.TrainX.to(ScalarType.Float32);
        var y = data.TrainY;
        var nets = runs.Select(r => Mlp.Create(r.Network(), 1, r.Seed, 0, ScalarType.Float32)).ToList();
        var optimizers = nets.Select(n => Trainer.CreateOptimizer(settings, n)).ToList();
        var orders = runs.Select(r => Trainer.BatchOrder(r, 0, CPU)).ToList();
        using var ensemble = Mlp.Stack(nets);
        using var ensembleOptimizer = Trainer.CreateOptimizer(settings, ensemble);
        var stacked = stack(orders.ToArray(), 0);
        long Count(long first) => Math.Min(settings.BatchSize, settings.Task.TrainSize - first);

        double together = Benchmark.Median(() =>
        {
            for (long s = 0; s < Steps; s++)
            {
                long first = s * settings.BatchSize;
                Trainer.EnsembleStep(ensemble, ensembleOptimizer, settings, x, y, stacked.narrow(1, first, Count(first)));
            }
        }, seconds, minRuns: 5, maxRuns: 100);
        double apart = Benchmark.Median(() =>
        {
            for (int k = 0; k < Seeds; k++)
                for (long s = 0; s < Steps; s++)
                {
                    long first = s * settings.BatchSize;
                    Trainer.TrainStep(nets[k], optimizers[k], settings, x, y, orders[k].narrow(0, first, Count(first)));
                }
        }, seconds, minRuns: 5, maxRuns: 100);
        optimizers.ForEach(o => o.Dispose());
        nets.ForEach(n => n.Dispose());
        return (together, apart);
    }
}
