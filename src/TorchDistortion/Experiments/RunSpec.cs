using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Experiments;

/// <summary>
/// The settings of one run of a sweep, typed. Its identifier and its seed are hashes of its canonical JSON
/// (<see cref="RunSpecJson"/>) and the master seed, so a run gives the same numbers whatever the order, the shard
/// or the machine. The device is deliberately not part of it.
/// </summary>
[JsonConverter(typeof(RunSpecJson))]
public sealed record RunSpec(NetworkSpec Network, GeometrySpec Geometry, int Networks, ScalarType DType, int Moments)
{
    private static readonly JsonSerializerOptions CanonicalJson = new(ExperimentJson.Options) { WriteIndented = false };

    internal string Canonical() => JsonSerializer.Serialize(this, CanonicalJson);

    /// <summary>Twelve hex digits of SHA-256 over the canonical settings and the master seed.</summary>
    public string Id(long masterSeed) => Hash($"{Canonical()}|seed={masterSeed}");

    /// <summary>The run's own seed, derived from the master seed and the settings.</summary>
    public long Seed(long masterSeed) =>
        (long)(Seeds.Derive(masterSeed, BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical())), 0), Seeds.Stream.Run) >> 1);

    public IReadOnlyList<int> Widths => Network.Widths;
    public int Depth => Network.Depth;

    public MeasureSettings ToSettings(long masterSeed, DeviceSpec device) =>
        new(Network, Geometry, Networks, Seed(masterSeed), DType, device, MaxMoment: Moments);

    public override string ToString()
    {
        string kind = Geometry.Kind.ToString().ToLowerInvariant();
        return $"{Network} {(Geometry.Exact ? "exact " : "")}{kind}{(Geometry.Kind == GeometryKind.Patch ? $" k={Geometry.K}" : "")} nodes={Geometry.Points} networks={Networks}";
    }

    internal static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..12];
}
