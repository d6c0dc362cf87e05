namespace TorchDistortion.Measurement;

/// <summary>A finished measurement: one distortion per network, its statistics and the exact theory beside it.</summary>
/// <param name="QuadratureError">Mean relative quadrature error: against the half-node rule, or, for an exact
/// measurement with Points &gt; 1, against the exact length.</param>
/// <param name="Regions">Exact measurements only: linear regions crossed per unit input length, over networks.</param>
public sealed record MeasureResult(
    MeasureSettings Settings,
    double[] LogDistortions,
    double? QuadratureError,
    Summary Summary,
    TheoryComparison Theory,
    string DeviceUsed,
    TimeSpan Elapsed,
    Summary? Regions = null,
    IReadOnlyDictionary<string, double>? SecondsByStage = null); // CPU seconds of the worker threads per stage
