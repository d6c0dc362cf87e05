using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>A rough duration of a long measurement, said before it starts.</summary>
public static class TimeEstimate
{
    /// <summary>
    /// From the multiply-adds of the engine (point and k tangents through every layer) at a nominal 1 GFLOP/s per thread
    /// (about what width 64, depth 10 reaches in float64 on one shared core), plus drawing the weights (a float64
    /// Gaussian: <see cref="Networks.WeightGenerators.SecondsPerGaussian"/>), over the chunk workers (<see cref="Parallelism.Threads"/>),
    /// or libtorch's own threads when one worker runs.
    /// </summary>
    public static string For(MeasureSettings s) => For(s, Parallelism.Threads > 1 ? Parallelism.Threads : get_num_threads());

    internal static string For(MeasureSettings s, int threads)
    {
        double flops = 2.0 * (1 + s.Geometry.K) * s.Geometry.NodeCount * s.Network.WeightCount() * s.Networks;
        double draw = s.Network.WeightCount() * (double)s.Networks * s.Network.Generator.SecondsPerGaussian();
        double seconds = (flops / (1e9 * (s.DType == ScalarType.Float32 ? 2 : 1)) + draw) / threads;
        string time = seconds < 120 ? $"{seconds:F0} s" : seconds < 7200 ? $"{seconds / 60:F0} min" : $"{seconds / 3600:F1} h";
        return $"estimate: about {time} for {s.Networks} networks (a rough figure from a nominal speed; the progress display gives the real rate)";
    }
}
