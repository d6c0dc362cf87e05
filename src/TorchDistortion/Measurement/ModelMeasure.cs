using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;
using TorchDistortion.Output;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>How a TorchScript model is measured: the random geometries, their seed and the statistics.</summary>
/// <param name="InputDim">The model's input dimension; null to find it by probing the model.</param>
public sealed record ModelMeasureSettings(GeometrySpec Geometry, int Geometries, long Seed, int? InputDim, int Moments, IReadOnlyList<double> Quantiles);

/// <summary>The distortion of a TorchScript model over random geometries, by double-VJP; no law is known for it.</summary>
public sealed record ModelMeasurement(
    string Path, int InputDim, bool InputDimInferred, ScalarType DType, GeometrySpec Geometry, int Geometries, long Seed, Summary Distortion)
{
    /// <summary>Why no theory stands beside the measurement.</summary>
    public const string NoLaw = "no law is known for an arbitrary architecture; the exact and mean-field laws cover the fully connected networks of `measure` without --model";

    /// <summary>The document type of <see cref="ToJson"/> (docs/schemas/measure_model.schema.json).</summary>
    public const string DocumentType = "measure_model";

    /// <summary>The JSON report: the settings, the distortion's summary, and no theory (<see cref="NoLaw"/>).</summary>
    public string ToJson() => Json.Document(DocumentType, new
    {
        Settings = SettingsDocument(),
        Geometry.Quantity,
        Distortion,
        Theory = (double?)null,
        TheoryNote = NoLaw,
    });

    /// <summary>The CSV report: one line, the settings (seed included) beside the distortion's summary.</summary>
    public string ToCsv()
    {
        Column<Summary>[] columns =
        [
            new("mean", r => r.Mean), new("std_err", r => r.StdErr), new("std", r => r.Std), new("median", r => r.Median),
            new("mean_log", r => r.MeanLog), new("log_mean", r => r.LogMean),
        ];
        return Csv.Write(Column<Summary>.WithSettings(SettingsDocument(), columns), [Distortion]);
    }

    private object SettingsDocument() => new
    {
        Model = System.IO.Path.GetFullPath(Path),
        InputDim,
        InputDimInferred,
        Geometry = Geometry.Kind,
        Geometry.K,
        Geometry.Points,
        Geometry.Size,
        Geometry.Exact,
        Geometries,
        Seed,
        DType = DType.ToString().ToLowerInvariant(),
        // The enum, so that the output seam spells it as measure does (double_vjp).
        Method = JacobianMethod.DoubleVjp,
    };
}

/// <summary>`measure --model`: the distortion of a TorchScript model of the user's over random geometries, by double-VJP.</summary>
public static class ModelMeasure
{
    /// <summary>Loads the TorchScript model at <paramref name="path"/> and measures it.</summary>
    public static ModelMeasurement Measure(string path, ModelMeasureSettings s)
    {
        if (s.Geometry.Exact) throw new SettingException("exact", "needs a piecewise-linear network of known layers; a TorchScript model is measured by quadrature");
        if (s.Geometries < 1 || s.Geometries > 10_000_000) throw new SettingException("geometries", $"must be between 1 and 10000000, got {s.Geometries}");
        using var model = ScriptedModel.Load(path, s.InputDim);
        s.Geometry.Validate([model.InputDim]);
        var logs = Distortion.MeasureModule(model.Module, model.InputDim, s.Geometry, s.Geometries, s.Seed).LogDistortions;
        if (logs.Any(v => double.IsNaN(v) || double.IsPositiveInfinity(v)))
            throw new SettingException("model", $": '{path}' gives a NaN or infinite distortion on these geometries");
        var summary = Summary.FromLog(logs, s.Moments, s.Quantiles.ToList());
        return new ModelMeasurement(model.Path, model.InputDim, model.InputDimInferred, model.DType, s.Geometry, s.Geometries, s.Seed, summary);
    }
}
