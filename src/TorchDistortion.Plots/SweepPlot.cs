using System.Text;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Plots;

/// <summary>A generic figure of a sweep: one statistic against one setting, a series per combination of the others.</summary>
public static class SweepPlot
{
    /// <summary>Draws <paramref name="statistic"/> against <paramref name="x"/> into <paramref name="folder"/>; returns the file name without extension.</summary>
    public static string Draw(ResultSet set, string folder, string x, string statistic, bool force = false)
    {
        Func<ResultRow, double> X = x.ToLowerInvariant() switch
        {
            "depth" => r => r.Depth, "width" => r => r.Width, "c_w" or "cw" => r => r.CW, "n0" => r => r.N0, "nl" => r => r.NL, "k" => r => r.K,
            _ => throw new ArgumentException($"--x: unknown axis '{x}'; allowed: depth, width, c_w, n0, nl, k"),
        };
        var rows = set.Rows.Where(r => r.Statistic == statistic).ToList();
        if (rows.Count == 0)
            throw new ArgumentException($"--statistic: no rows named '{statistic}'; available: {string.Join(", ", set.Rows.Select(r => r.Statistic).Distinct())}");
        // A series per combination of every setting that varies in the result set, except the x axis.
        var settings = new (string Name, Func<ResultRow, string> Value)[]
        {
            ("width", r => $"width {r.Width}"), ("depth", r => $"depth {r.Depth}"), ("n0", r => $"n0={r.N0}"), ("nl", r => $"nL={r.NL}"),
            ("init", r => r.Init), ("c_w", r => $"C_W={r.CW:G3}"), ("c_out", r => $"C_out={r.COut:G3}"), ("c_b", r => $"C_b={r.CB:G3}"),
            ("geometry", r => r.Geometry), ("k", r => $"k={r.K}"), ("points", r => $"{r.Points} nodes"), ("networks", r => $"{r.Networks} nets"),
            ("widths", r => r.Widths),
        };
        var varying = settings.Where(s => s.Name != x.ToLowerInvariant() && !(x.ToLowerInvariant() is "cw" && s.Name == "c_w")
            && !(s.Name == "widths" && x.ToLowerInvariant() is "depth" or "width" or "n0" or "nl")
            && rows.Select(s.Value).Distinct().Count() > 1).ToList();
        string Key(ResultRow r) => string.Join(", ", varying.Select(s => s.Value(r)));
        var series = new List<Series>();
        int group = 0;
        var groups = rows.GroupBy(Key).ToList();
        foreach (var g in groups)
        {
            var list = g.OrderBy(X).ToList();
            series.Add(new Series(g.Key.Length == 0 ? "measured" : g.Key, list.Select(X).ToArray(), list.Select(r => r.Value).ToArray(),
                SeriesStyle.Points, list.Select(r => r.StdErr ?? 0).ToArray(), group));
            if (list.All(r => r.Theory is not null))
                series.Add(new Series(null, list.Select(X).ToArray(), list.Select(r => r.Theory!.Value).ToArray(), SeriesStyle.Dashed, Group: group));
            group++;
        }
        if (series.Any(s => s.Style == SeriesStyle.Dashed)) series.Add(new Series("exact theory (dashed)", [], [], SeriesStyle.Dashed, Group: 9));
        var values = rows.Select(r => r.Value).Where(v => v > 0).ToList();
        bool logY = values.Count > 0 && values.Max() / values.Min() > 100;
        string file = Path.Combine(folder, $"plot_{new string(statistic.Where(char.IsLetterOrDigit).ToArray())}_vs_{x}");
        // An earlier figure is a PNG or an SVG: recognised by its signature.
        foreach (var (extension, signature) in new[] { (".png", "\x89PNG"), (".svg", "<svg") })
            OutputGuard.Check(file + extension, "plot", "plot", f => Encoding.Latin1.GetString(File.ReadAllBytes(f).Take(1024).ToArray()).Contains(signature), force);
        FigureExporter.Save(new Figure($"{statistic} vs {x}", x, statistic, series, LogX: x == "depth" && rows.Max(X) / Math.Max(rows.Min(X), 1) >= 16, LogY: logY,
            Subtitle: $"sweep {set.SweepId}; error bars: 1 standard error"), file);
        return file;
    }
}
