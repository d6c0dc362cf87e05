using static TorchSharp.torch;

namespace TorchDistortion;

/// <summary>The floating-point dtypes the project computes in, by their PyTorch names: the one place that parses and names them.</summary>
public static class DTypes
{
    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["float64", "float32"];

    /// <summary>float64 (or double), float32 (or float).</summary>
    public static ScalarType Parse(string name) => name.ToLowerInvariant() switch
    {
        "float64" or "double" => ScalarType.Float64,
        "float32" or "float" => ScalarType.Float32,
        _ => throw new SettingException("dtype", $": unknown dtype '{name}'; allowed: float64, float32"),
    };

    /// <summary>The PyTorch name: float64 or float32.</summary>
    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => "float64",
        ScalarType.Float32 => "float32",
        _ => throw new SettingException("dtype", $"must be float32 or float64, got {dtype}"),
    };
}
