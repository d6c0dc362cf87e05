using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>Everything that defines a measurement over an ensemble of random networks.</summary>
public sealed record MeasureSettings(
    NetworkSpec Network,
    GeometrySpec Geometry,
    int Networks = 100,
    long Seed = 0,
    ScalarType DType = ScalarType.Float64,
    DeviceSpec? Device = null,
    JacobianMethod Method = JacobianMethod.TangentPropagation,
    int MaxMoment = 4,
    IReadOnlyList<double>? Quantiles = null,
    int ChunkSize = 0)
{
    public MeasureSettings Validate()
    {
        Network.Validate();
        Geometry.Validate(Network.Widths);
        if (Networks < 1 || Networks > 10_000_000) throw new SettingException("networks", $"must be between 1 and 10000000, got {Networks}");
        if (Geometry.Exact && !Network.Activation.IsPiecewiseLinear)
            throw new SettingException("exact", $"needs a piecewise-linear activation (relu, leaky-relu, abs, abrelu); {Network.Activation} is smooth");
        // An exact length walks the linear pieces; a Jacobian method only serves its comparison quadrature (points > 1).
        if (Geometry.Exact && Geometry.Points <= 1 && Method != JacobianMethod.TangentPropagation)
            throw new SettingException("method", $"{(Method == JacobianMethod.DoubleVjp ? "double-vjp" : "reverse")}: an exact measurement uses no Jacobian method unless points > 1 adds a quadrature to compare");
        if (ChunkSize < 0) throw new SettingException("chunk", $"must be >= 0 (0 = automatic), got {ChunkSize}");
        DTypes.Name(DType); // refuses any other dtype
        if (MaxMoment < 1 || MaxMoment > 16) throw new SettingException("moments", $"must be between 1 and 16, got {MaxMoment}");
        // The distortion is computed in linear scale through the layers: its typical size must fit the dtype.
        double decades = (Theory.ExactTheory.LogMoment(Network.Widths, Network.LayerVariances(), Geometry.K, 1) + Geometry.K * Math.Log(Geometry.Size)) / Math.Log(10);
        if (Math.Abs(decades) > (DType == ScalarType.Float32 ? 30 : 290))
            throw new SettingException("dtype", $": typical distortions near 1e{decades:+0;-0} leave the {DTypes.Name(DType)} range at these settings" +
                (DType == ScalarType.Float32 ? "; use float64" : " (depth, C_W, size)"));
        Distortion.ChunkFor(this); // refuses a chunk that does not fit in memory, before any computation
        return this;
    }
}
