using TorchDistortion.Plots;

namespace TorchDistortion.Tests.Plots;

public class TrainingComparisonTests
{
    /// <summary>A run of three evaluations (steps 0, 10, 20) whose length distortion is <paramref name="length"/>.</summary>
    private static TrainingRun Run(long seed, double?[] length, params (string, string)[] settings) => new(
        settings, seed,
        new Dictionary<string, double?[]>
        {
            ["step"] = new double?[] { 0, 10, 20, 30 }[..length.Length], ["epoch"] = new double?[] { 0, 1, 2, 3 }[..length.Length],
            ["train_loss"] = length.Select(v => v + 1).ToArray(), ["length_distortion"] = length,
        },
        TheoryLength: 1.5);

    [Fact]
    public void RunsAreGroupedByEverySettingButTheSeedWithTheMeanAndSdAcrossSeeds()
    {
        (string, string)[] he = [("task", "spirals"), ("init", "he"), ("width", "32")];
        (string, string)[] variance = [("task", "spirals"), ("init", "variance"), ("C_W", "4"), ("width", "32")];
        var runs = new List<TrainingRun>
        {
            Run(2, [4, 5, 6], variance), Run(0, [1, 2, 3], he), Run(1, [2, 2, double.NaN], he), Run(2, [4, 8, 3, 7], he),
            Run(0, [1, 1, 1], variance), Run(0, [9, 9, 9], [("task", "spirals"), ("init", "he"), ("width", "128")]),
        };
        var groups = TrainingComparison.Group(runs);
        // Width is the only other setting that varies; C_W is left out where it does not apply.
        Assert.Equal(["init=he, width=32", "init=he, width=128", "init=variance, C_W=4, width=32"], groups.Select(g => g.Name));
        Assert.Equal([[0, 1, 2], [0], [0, 2]], groups.Select(g => g.Runs.Select(r => r.Seed)));
        Assert.All(groups, g => Assert.Equal("", g.Facet));
        Assert.Equal([0, 1, 2], groups.Select(g => g.Colour));

        // By hand: at step 0 the values 1, 2, 4 (mean 7/3, sample variance 7/3); at step 10 the values 2, 2, 8 (mean 4,
        // variance 12); at step 20 the NaN is left out: 3 and 3. Step 30 was reached by one run only.
        var across = TrainingComparison.Across(groups[0].Runs, "length_distortion");
        Assert.Equal([0L, 10, 20], across.Step);
        Assert.Equal([0.0, 1, 2], across.Epoch);
        Assert.Equal([3, 3, 2], across.Count);
        Assert.Equal(7.0 / 3, across.Mean[0], 14);
        Assert.Equal(Math.Sqrt(7.0 / 3), across.Sd[0], 14);
        Assert.Equal(4.0, across.Mean[1], 14);
        Assert.Equal(Math.Sqrt(12), across.Sd[1], 14);
        Assert.Equal((3.0, 0.0), (across.Mean[2], across.Sd[2]));
        // One seed: no spread.
        Assert.Equal([0.0, 0, 0], TrainingComparison.Across(groups[1].Runs, "length_distortion").Sd);

        // summary.csv through the output seam: schema_version first, the same value in every row, then the row's columns.
        var csv = TrainingComparison.SummaryCsv(groups).TrimEnd('\n').Split('\n');
        Assert.Equal("schema_version,group,seeds,step,epoch,quantity,mean,sd", csv[0]);
        Assert.Contains("1,\"init=he, width=32\",3,10,1,length_distortion,4,3.4641016151377544", csv);
        Assert.All(csv.Skip(1), line => Assert.StartsWith("1,", line));
        // plot recognises its own summary.csv, of this format and the unversioned one, as replaceable; nothing else.
        Assert.True(SummaryRow.IsHeader(csv[0]));
        Assert.True(SummaryRow.IsHeader("group,seeds,step,epoch,quantity,mean,sd"));
        Assert.False(SummaryRow.IsHeader("schema_version,step,epoch,train_loss"));
    }

    /// <summary>init {he, variance C_W = 1, variance C_W = 4} x width {32, 128} x task, two seeds each.</summary>
    private static List<TrainingRun> Sweep(params string[] tasks) =>
        (from task in tasks
         from init in new[] { "he", "variance:1", "variance:4" }
         from width in new[] { "32", "128" }
         from seed in new long[] { 0, 1 }
         let settings = new List<(string, string)> { ("task", task), ("init", init.Split(':')[0]) }
             .Concat(init.Contains(':') ? [("C_W", init.Split(':')[1])] : []).Append(("width", width)).Append(("depth", "6")).ToArray()
         select Run(seed, [1 + seed, 2 + (width == "32" ? 1 : 0), 3], settings)).ToList();

    [Fact]
    public void TwelveGroupsAreSplitIntoSmallMultiplesWithOneColourPerLegendEntry()
    {
        var groups = TrainingComparison.Group(Sweep("spirals", "circles"));
        Assert.Equal(12, groups.Count);
        // Task and width have two values each; the task is declared first, so it splits the panels: 6 groups a panel.
        Assert.Equal(["task=circles", "task=spirals"], groups.Select(g => g.Facet).Distinct());
        Assert.All(groups.GroupBy(g => g.Facet), f => Assert.Equal(6, f.Count()));
        Assert.All(groups.GroupBy(g => g.Facet), f => Assert.Equal(6, f.Select(g => g.Colour).Distinct().Count()));
        // The same legend entry has the same colour in every panel, and names only the settings the panel does not.
        Assert.All(groups.GroupBy(g => g.Legend), e => Assert.Single(e.Select(g => g.Colour).Distinct()));
        Assert.Contains(groups, g => g.Legend == "init=variance, C_W=4, width=128" && g.Name == "task=spirals, init=variance, C_W=4, width=128");

        // Twelve values of one setting: in parts of six, in order, each its own colour.
        var inits = TrainingComparison.Group(Enumerable.Range(0, 12).Select(i => Run(0, [1, 2, 3], ("task", "spirals"), ("C_W", $"{1 + i}"))).ToList());
        Assert.Equal([.. Enumerable.Repeat("part 1 of 2", 6), .. Enumerable.Repeat("part 2 of 2", 6)], inits.Select(g => g.Facet));
        Assert.Equal(Enumerable.Range(1, 12).Select(i => $"C_W={i}"), inits.Select(g => g.Legend));
        Assert.Equal(12, inits.Select(g => g.Colour).Distinct().Count());

        // Two groups need no split.
        var two = TrainingComparison.Group(Sweep("spirals").Where(r => r.Settings.Contains(("width", "32")) && !r.Settings.Contains(("C_W", "4"))).ToList());
        Assert.Equal(["init=he", "init=variance, C_W=1"], two.Select(g => g.Name));
        Assert.All(two, g => Assert.Equal("", g.Facet));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(12)]
    public void TheFigureIsWrittenWithOneUnclippedLegendAndTitle(int count)
    {
        var runs = Sweep("spirals", "circles");
        if (count == 2) runs = runs.Where(r => r.Settings.Contains(("task", "spirals")) && r.Settings.Contains(("width", "32")) && !r.Settings.Contains(("C_W", "4"))).ToList();
        var groups = TrainingComparison.Group(runs);
        Assert.Equal(count, groups.Count);
        var (cells, width, height) = TrainingComparison.Layout(groups);
        foreach (var cell in cells)
        {
            using var png = new MemoryStream();
            new OxyPlot.SkiaSharp.PngExporter { Width = cell.Width, Height = cell.Height }.Export(cell.Model, png);
            Assert.True(cell.X + cell.Width <= width && cell.Y + cell.Height <= height, "a panel outside the figure");
            Assert.True(cell.Model.TitleArea.Left >= 0 && cell.Model.TitleArea.Right <= cell.Width, $"title '{cell.Model.Title}' clipped");
        }
        // One legend, in its own column: an entry per colour and one for the exact value at initialization, all inside it.
        var withLegend = cells.Where(c => c.Model.IsLegendVisible && c.Model.Series.Any(s => s.Title is not null)).ToList();
        var legend = Assert.Single(withLegend);
        Assert.Equal(groups.Select(g => g.Colour).Distinct().Count() + 1, legend.Model.Series.Count(s => s.Title is not null));
        var area = legend.Model.Legends[0].LegendArea;
        Assert.True(area.Width > 0 && area.Right <= legend.Width && area.Bottom <= legend.Height, $"legend {area} outside its {legend.Width} x {legend.Height} cell");
        // Twelve groups: a column of panels per task.
        Assert.Equal(count == 12 ? 2 : 1, cells.Select(c => c.Model.Title).Count(t => t?.StartsWith("Loss") == true));

        string folder = Path.Combine(Path.GetTempPath(), $"td-training-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            TrainingComparison.Save(groups, Path.Combine(folder, "training"));
            var bytes = File.ReadAllBytes(Path.Combine(folder, "training.png"));
            Assert.Equal("\x89PNG", System.Text.Encoding.Latin1.GetString(bytes, 0, 4));
            // The PNG's size is in its IHDR chunk, big-endian, at bytes 16-23.
            Assert.Equal(width, (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19]);
            Assert.Equal(height, (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23]);
            Assert.Contains("<svg", File.ReadAllText(Path.Combine(folder, "training.svg")));
        }
        finally { Directory.Delete(folder, true); }
    }
}
