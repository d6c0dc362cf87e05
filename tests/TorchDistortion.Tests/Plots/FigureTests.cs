using TorchDistortion.Plots;

namespace TorchDistortion.Tests.Plots;

public class FigureTests
{
    [Fact]
    public void SixteenGroupsGetSixteenDistinctColourAndMarkerPairsAndDistinctColours()
    {
        var pairs = Enumerable.Range(0, 16).Select(g => (FigureExporter.ColorOf(g), FigureExporter.MarkerOf(g))).ToList();
        Assert.Equal(16, pairs.Distinct().Count());
        Assert.Equal(16, pairs.Select(p => p.Item1).Distinct().Count());
        // Beyond the palette, colour-and-marker pairs still do not repeat.
        Assert.Equal(100, Enumerable.Range(0, 100).Select(g => (FigureExporter.ColorOf(g), FigureExporter.MarkerOf(g))).Distinct().Count());
    }

    [Theory]
    [InlineData(2)]
    [InlineData(8)]
    [InlineData(16)]
    public void TheLegendTakesAtMostThirtyPercentOfTheWidth(int groups)
    {
        var series = Enumerable.Range(0, groups)
            .Select(g => new Series($"width {32 * (g + 1)}, depth {g + 1}, init variance C_W = {1 + 0.1 * g:G3}", [1, 2, 4], [1, 1.1 + g, 1.3], Group: g))
            .ToList();
        var model = FigureExporter.Build(new Figure("title", "depth", "distortion", series), width: 1000);
        using var png = new MemoryStream();
        new OxyPlot.SkiaSharp.PngExporter { Width = 1000, Height = 650 }.Export(model, png);
        var legend = model.Legends[0].LegendArea;
        Assert.True(legend.Width > 0, "the legend was drawn");
        bool below = legend.Top >= model.PlotArea.Bottom;
        // A legend beside the plot is narrow; one below the plot takes height, not width.
        Assert.True(below || legend.Width <= 0.3 * 1000, $"legend {legend.Width:F0} px wide beside the plot");
        Assert.True(model.PlotArea.Width >= 0.6 * 1000, $"plot area only {model.PlotArea.Width:F0} px wide");
        Assert.Equal(groups > 8, below);
    }
}
