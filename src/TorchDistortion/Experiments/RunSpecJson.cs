using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;

namespace TorchDistortion.Experiments;

/// <summary>
/// The canonical JSON of a <see cref="RunSpec"/>: the run id and the run seed are hashes of it, and run files hold it.
/// Its fields, their order and their spelling are those of every earlier version, so ids never change: settings at
/// their old values are left out (C_W of a scheme that fixes its own, exact when false, the activation when ReLU, the
/// generator when torch: a run without one was drawn by it).
/// A new setting is one field here, written only when it differs from the value every earlier run had.
/// </summary>
internal sealed class RunSpecJson : JsonConverter<RunSpec>
{
    /// <summary>The wire form. Depth is written (last) because earlier versions wrote it.</summary>
    private sealed record Wire(int[] Widths, string Init, double? CW, double? COut, double CB, bool Bias, string Geometry, int K, int Points,
        int Networks, string DType, int Moments, bool? Exact = null, string? Activation = null, string? Generator = null)
    {
        public int Depth => Widths.Length - 1;
    }

    public override void Write(Utf8JsonWriter writer, RunSpec run, JsonSerializerOptions options)
    {
        var (network, geometry) = (run.Network, run.Geometry);
        JsonSerializer.Serialize(writer, new Wire(network.Widths.ToArray(), network.Init.Name, network.Init.WeightVariance, network.OutputVariance,
            network.BiasVariance, network.Bias, geometry.Kind.ToString().ToLowerInvariant(), geometry.K, geometry.Points, run.Networks,
            DTypes.Name(run.DType), run.Moments, geometry.Exact ? true : null, network.Activation == Activation.ReLU ? null : network.Activation.Name,
            network.Generator == WeightGenerator.Torch ? null : network.Generator.Name()), options);
    }

    public override RunSpec Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var w = JsonSerializer.Deserialize<Wire>(ref reader, options) ?? throw new JsonException("a run is null");
        var network = new NetworkSpec(w.Widths, InitScheme.Parse(w.Init, w.CW), w.COut, w.Bias, w.CB,
            w.Activation is null ? null : Activation.Parse(w.Activation), w.Generator is null ? WeightGenerator.Torch : WeightGenerators.Parse(w.Generator));
        var geometry = new GeometrySpec(GeometrySpec.ParseKind(w.Geometry), w.Points, w.K, Exact: w.Exact == true);
        return new RunSpec(network, geometry, w.Networks, DTypes.Parse(w.DType), w.Moments);
    }
}
