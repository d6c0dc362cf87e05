using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>A rough duration of a long measurement, said before it starts.</summary>
public static class TimeEstimate
{
    /// <summary>
    /// From the multiply-adds of the engine (point and k tangents through every layer) at a nominal 1 GFLOP/s per thread
    /// (about what width 64, depth 10 reaches in float64 on one shared core).
    /// </summary>
    public static string For(MeasureSettings s)
    {
        double flops = 2.0 * (1 + s.Geometry.K) * s.Geometry.NodeCount * s.Network.WeightCount() * s.Networks;
        double seconds = flops / (1e9 * get_num_threads() * (s.DType == ScalarType.Float32 ? 2 : 1));
        string time = seconds < 120 ? $"{seconds:F0} s" : seconds < 7200 ? $"{seconds / 60:F0} min" : $"{seconds / 3600:F1} h";
        return $"estimate: about {time} for {s.Networks} networks (a rough figure from a nominal speed; the progress display gives the real rate)";
    }
}
