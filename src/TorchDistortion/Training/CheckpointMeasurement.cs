using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Output;

namespace TorchDistortion.Training;

/// <summary>The distortion of one checkpoint (and, for exact segments, the linear regions crossed per unit length).</summary>
public sealed record CheckpointRow(string Checkpoint, long? Step, double? Epoch, Summary Distortion, Summary? Regions);

/// <summary>
/// The distortion of one saved network or of every checkpoint of a run, with the law at initialization beside it: for a
/// foreign state_dict, the law for per-layer variances estimated from its weights (<see cref="EstimatedCW"/>, <see cref="EstimatedCB"/>).
/// </summary>
public sealed record CheckpointMeasurement(
    IReadOnlyList<CheckpointRow> Rows, NetworkSpec Spec, GeometrySpec Geometry, int Geometries, bool IsRun,
    double[]? EstimatedCW, double[]? EstimatedCB, double Theory, string Quantity, string TheoryNote, CheckpointMeasureSettings Settings)
{
    /// <summary>The document type of <see cref="ToJson"/> (docs/schemas/measure_checkpoint.schema.json).</summary>
    public const string DocumentType = "measure_checkpoint";

    /// <summary>The JSON report: the settings, the law at initialization and one entry per checkpoint.</summary>
    public string ToJson() => Json.Document(DocumentType, new
    {
        Settings = SettingsDocument(),
        Quantity,
        EstimatedCW,
        EstimatedCB,
        TheoryNote,
        TheoryAtInit = Theory,
        Checkpoints = Rows.Select(r => new { r.Checkpoint, r.Step, r.Epoch, r.Distortion, RegionsPerLength = r.Regions }),
    });

    /// <summary>The CSV report: one line per checkpoint, the settings (seed included) and the law at initialization in every line.</summary>
    public string ToCsv() => Csv.Write(Column<CheckpointRow>.WithSettings(SettingsDocument(), CsvColumns(Theory)), Rows);

    /// <summary>What the report was measured with: the network as loaded, the geometries, the seed and the run settings.</summary>
    private object SettingsDocument()
    {
        var s = Settings;
        return new
        {
            Spec.Widths,
            Activation = Spec.Activation.Name,
            Init = EstimatedCW is null ? Spec.Init.ToString() : null,
            Geometry = s.Geometry.Kind,
            s.Geometry.K,
            s.Geometry.Points,
            s.Geometry.Size,
            s.Geometry.Exact,
            s.Geometries,
            s.Seed,
            DType = s.DType.ToString().ToLowerInvariant(),
            Device = s.Device.ToString(),
            s.Moments,
            s.Quantiles,
        };
    }

    private static IReadOnlyList<Column<CheckpointRow>> CsvColumns(double theory) =>
    [
        new("checkpoint", r => r.Checkpoint), new("step", r => r.Step), new("epoch", r => r.Epoch),
        new("mean", r => r.Distortion.Mean), new("std_err", r => r.Distortion.StdErr), new("std", r => r.Distortion.Std),
        new("median", r => r.Distortion.Median), new("mean_log", r => r.Distortion.MeanLog),
        new("regions_per_length", r => r.Regions?.Mean), new("regions_std_err", r => r.Regions?.StdErr), new("theory_at_init", _ => theory),
    ];
}
