using System.Text.Json.Serialization;

namespace TorchDistortion.Training;

/// <summary>
/// One evaluation of a run: loss and metric on both splits, and the distortion of the fixed probes.
/// Length: mean exact length distortion over the probe segments (with its standard error over probes);
/// regions: linear pieces per unit input length along them; data: the exact length distortion of, and the pieces
/// along, the segment between two training inputs of different classes; volume: mean k = 2 volume distortion over
/// the probe patches (null where n0 or nL is below 2). With a smooth activation lengths come from a 64-node quadrature
/// and there are no pieces (null). DataSame/DataDifferent: with --data-probes, the mean length distortion of, and mean
/// pieces along, the segments between pairs of test inputs of the same class and of different classes.
/// </summary>
public sealed record HistoryRow(
    long Step,
    double Epoch,
    double TrainLoss,
    double TrainMetric,
    double TestLoss,
    double TestMetric,
    double Length,
    double LengthStdErr,
    double? RegionsPerLength,
    double DataLength,
    int? DataPieces,
    double? Volume,
    double? VolumeStdErr,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataSameLength = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataSamePieces = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataDifferentLength = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? DataDifferentPieces = null);
