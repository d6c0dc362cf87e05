using System.CommandLine;
using TorchDistortion.Experiments;
using TorchDistortion.Plots;

namespace TorchDistortion.Cli;

/// <summary>`plot`: redraws a reproduction's figures, one statistic of a sweep, or the comparison figure of training runs, from their files.</summary>
internal static class PlotCommand
{
    internal static Command Create()
    {
        var folders = new Argument<string[]>("folders")
        {
            Description = "A reproduce folder, a sweep folder with results.json, or training run folders (a train -o folder, run folders, or folders holding them)",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = OutputOptions.Output("Folder for the training comparison figure (default: the one folder given)");
        var x = new Option<string>("--x") { Description = "x axis for a sweep: depth, width, c_w, n0, nl, k", DefaultValueFactory = _ => "depth" };
        var statistic = new Option<string>("--statistic") { Description = "Statistic to plot (mean, E[D^2], std, median, ...)", DefaultValueFactory = _ => "mean" };
        var force = OutputOptions.Force();
        var command = new Command("plot", "Redraw figures from result files without recomputing.") { folders, output, x, statistic, force };
        command.SetAction(parse =>
        {
            var paths = parse.GetValue(folders)!;
            foreach (var p in paths)
                if (!Directory.Exists(p)) throw new ArgumentException($"plot: folder '{p}' does not exist");
            string path = paths[0];
            bool single = paths.Length == 1 && parse.GetValue(output) is null;
            if (single && Reproduction.IsReproduction(path))
            {
                Reproduction.Redraw(path);
                Console.WriteLine($"redrew the figures in {Path.Combine(path, "figures")} and {Path.Combine(path, "report.md")}");
                return 0;
            }
            if (single && File.Exists(Path.Combine(path, "results.json")))
            {
                string file = SweepPlot.Draw(ResultSet.Read(path), path, parse.GetValue(x)!, parse.GetValue(statistic)!, parse.GetValue(force));
                Console.WriteLine($"wrote {file}.png and {file}.svg");
                return 0;
            }
            // Training runs: one comparison figure across every run found.
            string target = parse.GetValue(output) ?? (paths.Length == 1 ? path : throw new ArgumentException("--output: give the folder for the figure of several folders"));
            Console.WriteLine(TrainingPlot.Redraw(paths, target, parse.GetValue(force)));
            return 0;
        });
        return command;
    }
}
