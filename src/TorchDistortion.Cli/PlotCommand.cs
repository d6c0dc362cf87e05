using System.CommandLine;
using TorchDistortion.Experiments;
using TorchDistortion.Plots;

namespace TorchDistortion.Cli;

/// <summary>`plot`: redraws a reproduction's figures, or one statistic of a sweep, from the result files.</summary>
internal static class PlotCommand
{
    internal static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "A reproduce folder, or a sweep folder with results.json" };
        var x = new Option<string>("--x") { Description = "x axis for a sweep: depth, width, c_w, n0, nl, k", DefaultValueFactory = _ => "depth" };
        var statistic = new Option<string>("--statistic") { Description = "Statistic to plot (mean, E[D^2], std, median, ...)", DefaultValueFactory = _ => "mean" };
        var force = OutputOptions.Force();
        var command = new Command("plot", "Redraw figures from result files without recomputing.") { folder, x, statistic, force };
        command.SetAction(parse =>
        {
            string path = parse.GetValue(folder)!;
            if (!Directory.Exists(path)) throw new ArgumentException($"plot: folder '{path}' does not exist");
            if (Reproduction.IsReproduction(path))
            {
                Reproduction.Redraw(path);
                Console.WriteLine($"redrew the figures in {Path.Combine(path, "figures")} and {Path.Combine(path, "report.md")}");
                return 0;
            }
            string file = SweepPlot.Draw(ResultSet.Read(path), path, parse.GetValue(x)!, parse.GetValue(statistic)!, parse.GetValue(force));
            Console.WriteLine($"wrote {file}.png and {file}.svg");
            return 0;
        });
        return command;
    }
}
