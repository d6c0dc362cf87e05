using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Experiments;

/// <summary>
/// The canonical settings of one run of a sweep. Its identifier and its seed are hashes of these settings and
/// the master seed, so a run gives the same numbers whatever the order, the shard or the machine.
/// The device is deliberately not part of it.
/// </summary>
public sealed record RunSpec(
    int[] Widths,
    string Init,
    double? CW,
    double? COut,
    double CB,
    bool Bias,
    string Geometry,
    int K,
    int Points,
    int Networks,
    string DType,
    int Moments,
    bool? Exact = null,
    string? Activation = null)
{
    private static readonly JsonSerializerOptions CanonicalJson = new(SweepSpec.JsonOptions) { WriteIndented = false };

    private string Canonical() => JsonSerializer.Serialize(this, CanonicalJson);

    /// <summary>Twelve hex digits of SHA-256 over the canonical settings and the master seed.</summary>
    public string Id(long masterSeed) => Hash($"{Canonical()}|seed={masterSeed}");

    /// <summary>The run's own seed, derived from the master seed and the settings.</summary>
    public long Seed(long masterSeed) =>
        (long)(Seeds.Derive(masterSeed, BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical())), 0), 3) >> 1);

    public int Depth => Widths.Length - 1;

    public NetworkSpec Network() =>
        new(Widths, InitScheme.Parse(Init, CW), COut, Bias, CB, Activation is null ? null : TorchDistortion.Networks.Activation.Parse(Activation));

    public MeasureSettings ToSettings(long masterSeed, string device) => new(
        Network(),
        new GeometrySpec(GeometrySpec.ParseKind(Geometry), Points, K, Exact: Exact == true),
        Networks,
        Seed(masterSeed),
        DType == "float32" ? ScalarType.Float32 : ScalarType.Float64,
        device,
        MaxMoment: Moments);

    public override string ToString() =>
        $"{Network()} {(Exact == true ? "exact " : "")}{Geometry}{(Geometry == "patch" ? $" k={K}" : "")} nodes={Points} networks={Networks}";

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
}
