using System.Diagnostics;
using static TorchSharp.torch;

namespace TorchDistortion.Benchmarks;

/// <summary>Repeated timings of one action after a warm-up, reduced to a quantile: the one timing loop of `bench`.</summary>
internal static class Timing
{
    /// <summary>Wall-clock seconds.</summary>
    internal static double Wall() => Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    /// <summary>
    /// The <paramref name="quantile"/> of at least <paramref name="minRuns"/> timings by <paramref name="clock"/> (wall time by
    /// default), more until about <paramref name="seconds"/> have passed or <paramref name="maxRuns"/> were taken.
    /// </summary>
    internal static double Quantile(Action action, double seconds, int minRuns = 3, int maxRuns = 200, Func<double>? clock = null, double quantile = 0.5)
    {
        clock ??= Wall;
        action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || (total.Elapsed.TotalSeconds < seconds && times.Count < maxRuns))
        {
            using var scope = NewDisposeScope();
            double start = clock();
            action();
            times.Add(clock() - start);
        }
        times.Sort();
        return times[(int)(times.Count * quantile)];
    }
}
