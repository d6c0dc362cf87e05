namespace TorchDistortion.Plots;

/// <summary>How a series is drawn.</summary>
public enum SeriesStyle
{
    /// <summary>Markers with vertical error bars (measurements).</summary>
    Points,
    /// <summary>A solid line.</summary>
    Line,
    /// <summary>A dashed line (exact theory).</summary>
    Dashed,
    /// <summary>A dotted line (bounds and approximations).</summary>
    Dotted,
    /// <summary>Open markers without error bars (exact values at scattered points).</summary>
    Marks,
    /// <summary>A translucent band from Y - Error to Y + Error (spread across seeds); usually without a title.</summary>
    Band,
}

/// <summary>
/// One series of a figure. Series with the same <see cref="Group"/> share a colour, so a measurement and its
/// exact curve read as a pair. A null <see cref="Title"/> keeps the series out of the legend. A <see cref="Marked"/> line
/// also carries its group's marker (many groups in one panel).
/// </summary>
public sealed record Series(string? Title, double[] X, double[] Y, SeriesStyle Style = SeriesStyle.Points, double[]? Error = null, int Group = 0,
    bool Marked = false);

/// <summary>A vertical marker line, e.g. the He threshold; <paramref name="LabelHeight"/> places its label (0 bottom, 1 top).</summary>
public sealed record Marker(double X, string Label, double LabelHeight = 0.97);

/// <summary>A figure: what OxyPlot draws, independent of how the data was made.</summary>
public sealed record Figure(
    string Title,
    string XLabel,
    string YLabel,
    IReadOnlyList<Series> Series,
    bool LogX = false,
    bool LogY = false,
    IReadOnlyList<Marker>? Markers = null,
    string? Subtitle = null,
    IReadOnlyList<string>? XTickLabels = null);
