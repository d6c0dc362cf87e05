using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace TorchDistortion.Plots;

/// <summary>Renders a <see cref="Figure"/> with OxyPlot and writes it as PNG and SVG (SkiaSharp exporters).</summary>
public static class FigureExporter
{
    private const string Font = "DejaVu Sans";

    // 16 colours that stay apart in print and for the common colour-vision deficiencies (tab10, then six darker or
    // lighter ones); each group also gets its own marker, so 16 groups are 16 distinct colour-and-marker pairs.
    private static readonly OxyColor[] Palette =
    [
        OxyColor.FromRgb(0x1f, 0x77, 0xb4), OxyColor.FromRgb(0xd6, 0x27, 0x28), OxyColor.FromRgb(0x2c, 0xa0, 0x2c),
        OxyColor.FromRgb(0x94, 0x67, 0xbd), OxyColor.FromRgb(0xff, 0x7f, 0x0e), OxyColor.FromRgb(0x8c, 0x56, 0x4b),
        OxyColor.FromRgb(0xe3, 0x77, 0xc2), OxyColor.FromRgb(0x7f, 0x7f, 0x7f), OxyColor.FromRgb(0xbc, 0xbd, 0x22),
        OxyColor.FromRgb(0x17, 0xbe, 0xcf), OxyColor.FromRgb(0x08, 0x30, 0x6b), OxyColor.FromRgb(0x67, 0x00, 0x0d),
        OxyColor.FromRgb(0x00, 0x44, 0x1b), OxyColor.FromRgb(0xfd, 0xb4, 0x62), OxyColor.FromRgb(0x54, 0x27, 0x88),
        OxyColor.FromRgb(0x00, 0x00, 0x00),
    ];

    private static readonly MarkerType[] Markers =
        [MarkerType.Circle, MarkerType.Square, MarkerType.Triangle, MarkerType.Diamond, MarkerType.Cross, MarkerType.Plus, MarkerType.Star];

    /// <summary>A group drawn in black with open squares: entries that describe every group (the exact theory).</summary>
    internal const int NeutralGroup = -1;

    internal static OxyColor ColorOf(int group) => group == NeutralGroup ? OxyColors.Black : Palette[group % Palette.Length];

    /// <summary>Markers cycle with a period of 7 against the colours' 16, so no pair repeats before group 112.</summary>
    internal static MarkerType MarkerOf(int group) => group == NeutralGroup ? MarkerType.Square : Markers[group % Markers.Length];

    /// <summary>Legend entries beyond which the legend goes below the plot, in columns, instead of taking width.</summary>
    private const int SideLegendEntries = 8;

    /// <summary>Writes <paramref name="basePath"/>.png and .svg, each atomically (temporary file, then rename).</summary>
    public static void Save(Figure figure, string basePath, int width = 1000, int height = 650)
    {
        var model = Build(figure, width);
        WriteAtomically(basePath + ".png", stream => new OxyPlot.SkiaSharp.PngExporter { Width = width, Height = height }.Export(model, stream));
        WriteAtomically(basePath + ".svg", stream => new OxyPlot.SkiaSharp.SvgExporter { Width = width, Height = height }.Export(model, stream));
    }

    /// <summary>
    /// Writes several figures as one grid of panels, row by row: <paramref name="basePath"/>.png (composed with SkiaSharp)
    /// and .svg (the panels' SVG documents placed side by side), each atomically.
    /// </summary>
    public static void SaveGrid(IReadOnlyList<Figure> panels, string basePath, int columns, int panelWidth = 760, int panelHeight = 500)
    {
        int rows = (panels.Count + columns - 1) / columns;
        var cells = panels.Select((p, i) => new Cell(Build(p, panelWidth), i % columns * panelWidth, i / columns * panelHeight, panelWidth, panelHeight)).ToList();
        SaveComposite(cells, columns * panelWidth, rows * panelHeight, basePath);
    }

    /// <summary>A plot placed at (X, Y) with its own size, in a composed figure.</summary>
    internal sealed record Cell(PlotModel Model, int X, int Y, int Width, int Height);

    /// <summary>
    /// Writes plots placed on one canvas: <paramref name="basePath"/>.png (composed with SkiaSharp) and .svg (the plots'
    /// SVG documents nested at their corners), each atomically.
    /// </summary>
    internal static void SaveComposite(IReadOnlyList<Cell> cells, int width, int height, string basePath)
    {
        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(width, height));
        surface.Canvas.Clear(SkiaSharp.SKColors.White);
        var svg = new System.Text.StringBuilder($"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\">\n");
        foreach (var cell in cells)
        {
            using (var png = new MemoryStream())
            {
                new OxyPlot.SkiaSharp.PngExporter { Width = cell.Width, Height = cell.Height }.Export(cell.Model, png);
                using var bitmap = SkiaSharp.SKBitmap.Decode(png.ToArray());
                surface.Canvas.DrawBitmap(bitmap, cell.X, cell.Y);
            }
            using var panelSvg = new MemoryStream();
            new OxyPlot.SkiaSharp.SvgExporter { Width = cell.Width, Height = cell.Height }.Export(cell.Model, panelSvg);
            string document = System.Text.Encoding.UTF8.GetString(panelSvg.ToArray());
            int root = document.IndexOf("<svg", StringComparison.Ordinal);
            // A nested <svg> placed at the panel's corner keeps each panel's own coordinates.
            svg.Append(document[root..].Insert(4, $" x=\"{cell.X}\" y=\"{cell.Y}\"")).Append('\n');
        }
        svg.Append("</svg>\n");
        using var image = surface.Snapshot();
        using var encoded = image.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        WriteAtomically(basePath + ".png", stream => encoded.SaveTo(stream));
        WriteAtomically(basePath + ".svg", stream => stream.Write(System.Text.Encoding.UTF8.GetBytes(svg.ToString())));
    }

    internal static PlotModel Build(Figure figure, double width = 1000)
    {
        var model = new PlotModel
        {
            Title = figure.Title,
            Subtitle = figure.Subtitle,
            DefaultFont = Font,
            DefaultFontSize = 14,
            TitleFontSize = 17,
            SubtitleFontSize = 13,
            Background = OxyColors.White,
            PlotMargins = new OxyThickness(double.NaN),
        };
        // The legend never takes more than about 30% of the width: beside the plot for a few entries, below it in
        // columns for many.
        bool below = figure.Series.Count(s => s.Title is not null) > SideLegendEntries;
        model.Legends.Add(new Legend
        {
            LegendPosition = below ? LegendPosition.BottomCenter : LegendPosition.RightTop,
            LegendPlacement = LegendPlacement.Outside,
            LegendOrientation = below ? LegendOrientation.Horizontal : LegendOrientation.Vertical,
            LegendMaxWidth = below ? width * 0.95 : width * 0.3,
            LegendBackground = OxyColor.FromAColor(220, OxyColors.White),
            LegendBorder = OxyColors.LightGray,
            LegendFontSize = below ? 12 : 13,
        });
        var xAxis = Axis(figure.LogX, AxisPosition.Bottom, figure.XLabel);
        if (figure.XTickLabels is { } labels)
        {
            // Categories at x = 1..n, labelled by name.
            xAxis.MajorStep = 1;
            xAxis.MinorStep = 1;
            xAxis.Minimum = 0.5;
            xAxis.Maximum = labels.Count + 0.5;
            xAxis.LabelFormatter = x => Math.Abs(x - Math.Round(x)) < 1e-9 && x >= 1 && x <= labels.Count ? labels[(int)Math.Round(x) - 1] : "";
        }
        else
        {
            // A point at either end of the data, with its marker and error bar, stays inside the frame.
            xAxis.MinimumPadding = xAxis.MaximumPadding = 0.03;
        }
        model.Axes.Add(xAxis);
        var yAxis = Axis(figure.LogY, AxisPosition.Left, figure.YLabel);
        FitRange(yAxis, figure);
        model.Axes.Add(yAxis);

        foreach (var series in figure.Series)
        {
            var color = ColorOf(series.Group);
            var points = Enumerable.Range(0, series.X.Length)
                .Where(i => Drawable(series.X[i], figure.LogX) && Drawable(series.Y[i], figure.LogY)).ToArray();
            if (series.Style == SeriesStyle.Points)
            {
                var scatter = new ScatterErrorSeries
                {
                    Title = series.Title, MarkerType = MarkerOf(series.Group), MarkerSize = 4, MarkerFill = color, MarkerStroke = color,
                    ErrorBarColor = color, ErrorBarStrokeThickness = 1.2, ErrorBarStopWidth = 3,
                };
                foreach (int i in points)
                {
                    double error = series.Error?[i] ?? 0;
                    // On a log axis an error bar may not cross zero: clip its lower end.
                    if (figure.LogY && double.IsFinite(error) && series.Y[i] - error <= 0) error = series.Y[i] * 0.999;
                    scatter.Points.Add(new ScatterErrorPoint(series.X[i], series.Y[i], 0, double.IsFinite(error) ? error : 0));
                }
                model.Series.Add(scatter);
            }
            else if (series.Style == SeriesStyle.Band)
            {
                var band = new AreaSeries
                {
                    Title = series.Title, Color = OxyColors.Transparent, Color2 = OxyColors.Transparent,
                    Fill = OxyColor.FromAColor(50, color), StrokeThickness = 0,
                };
                foreach (int i in points)
                {
                    double error = series.Error?[i] is double e && double.IsFinite(e) ? e : 0;
                    band.Points.Add(new DataPoint(series.X[i], series.Y[i] + error));
                    band.Points2.Add(new DataPoint(series.X[i], figure.LogY && series.Y[i] - error <= 0 ? series.Y[i] * 0.999 : series.Y[i] - error));
                }
                model.Series.Add(band);
            }
            else if (series.Style == SeriesStyle.Marks)
            {
                var marks = new ScatterSeries
                {
                    Title = series.Title, MarkerType = MarkerType.Square, MarkerSize = 5, MarkerFill = OxyColors.Transparent,
                    MarkerStroke = color, MarkerStrokeThickness = 1.5,
                };
                foreach (int i in points) marks.Points.Add(new ScatterPoint(series.X[i], series.Y[i]));
                model.Series.Add(marks);
            }
            else
            {
                var line = new LineSeries
                {
                    // A line of one point draws nothing: give it a marker.
                    // A marked line carries its group's marker, at most one per 45 px so that many lines stay apart.
                    MarkerType = series.Marked ? MarkerOf(series.Group) : points.Length == 1 ? MarkerType.Circle : MarkerType.None,
                    MarkerFill = color, MarkerStroke = color, MarkerSize = 4, MarkerResolution = series.Marked ? 45 : 0,
                    Title = series.Title, Color = color, StrokeThickness = series.Style == SeriesStyle.Line ? 2 : 1.8,
                    LineStyle = series.Style switch { SeriesStyle.Dashed => LineStyle.Dash, SeriesStyle.Dotted => LineStyle.Dot, _ => LineStyle.Solid },
                };
                foreach (int i in points) line.Points.Add(new DataPoint(series.X[i], series.Y[i]));
                model.Series.Add(line);
            }
        }
        foreach (var marker in figure.Markers ?? [])
        {
            model.Annotations.Add(new OxyPlot.Annotations.LineAnnotation
            {
                Type = OxyPlot.Annotations.LineAnnotationType.Vertical, X = marker.X, Text = marker.Label,
                Color = OxyColors.Gray, LineStyle = LineStyle.DashDot, FontSize = 12,
                TextOrientation = OxyPlot.Annotations.AnnotationTextOrientation.Horizontal,
                TextLinePosition = marker.LabelHeight, TextHorizontalAlignment = HorizontalAlignment.Left, TextMargin = 4,
            });
        }
        return model;
    }

    /// <summary>The y range covering every point with its error bar, padded, so no bar is clipped.</summary>
    private static void FitRange(Axis axis, Figure figure)
    {
        var values = new List<double>();
        foreach (var series in figure.Series)
            for (int i = 0; i < series.Y.Length; i++)
            {
                if (!Drawable(series.X[i], figure.LogX) || !Drawable(series.Y[i], figure.LogY)) continue;
                double error = series.Error?[i] is double e && double.IsFinite(e) ? e : 0;
                values.Add(series.Y[i] + error);
                // Clipped as drawn: an error bar to 0.1% of its value, a band to its line.
                values.Add(figure.LogY && series.Y[i] - error <= 0 ? series.Y[i] * (series.Style == SeriesStyle.Band ? 0.999 : 0.001) : series.Y[i] - error);
            }
        if (values.Count == 0) return;
        if (figure.LogY)
        {
            double low = Math.Log10(values.Min()), high = Math.Log10(values.Max()), pad = Math.Max((high - low) * 0.05, 0.05);
            (axis.Minimum, axis.Maximum) = (Math.Pow(10, low - pad), Math.Pow(10, high + pad));
        }
        else
        {
            double low = values.Min(), high = values.Max(), pad = Math.Max((high - low) * 0.06, Math.Abs(high) * 1e-3 + 1e-12);
            (axis.Minimum, axis.Maximum) = (low - pad, high + pad);
        }
    }

    private static bool Drawable(double v, bool log) => double.IsFinite(v) && (!log || v > 0);

    private static Axis Axis(bool log, AxisPosition position, string title)
    {
        Axis axis = log ? new LogarithmicAxis { UseSuperExponentialFormat = false } : new LinearAxis();
        axis.Position = position;
        axis.Title = title;
        axis.MajorGridlineStyle = LineStyle.Solid;
        axis.MajorGridlineColor = OxyColor.FromRgb(0xe6, 0xe6, 0xe6);
        axis.MinorGridlineStyle = log ? LineStyle.Dot : LineStyle.None;
        axis.MinorGridlineColor = OxyColor.FromRgb(0xf0, 0xf0, 0xf0);
        axis.AxisTitleDistance = 8;
        return axis;
    }

    private static void WriteAtomically(string path, Action<Stream> write)
    {
        string temp = path + $".{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = File.Create(temp)) write(stream);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
