using System.CommandLine;
using TorchDistortion.Plots;

namespace TorchDistortion.Cli;

/// <summary>`reproduce`: the paper's figures, their data and a report (<see cref="Reproduction"/>).</summary>
internal static class ReproduceCommand
{
    internal static Command Create()
    {
        var runtime = RuntimeOptions.Measuring();
        var output = OutputOptions.Output("Output folder", "results/reproduce");
        var quick = new Option<bool>("--quick") { Description = "Quick scale (default): a few minutes on two cores" };
        var full = new Option<bool>("--full") { Description = "Publication scale: more networks per point" };
        var command = new Command("reproduce", "Reproduce the paper's results: figures, their data and a report.")
        {
            output, quick, full, runtime.Device, runtime.Threads, runtime.NoProgress,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(quick) && parse.GetValue(full)) throw new ArgumentException("--full: choose --quick or --full, not both");
            var scale = parse.GetValue(full) ? Scale.Full : Scale.Quick;
            runtime.ApplyThreads(parse);
            string device = runtime.DeviceOf(parse), folder = parse.GetValue(output)!;
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            SweepProgress.Show(runtime.Progress(parse), progress => Reproduction.Run(folder, scale, device, progress, stage => progress?.Stage(stage)));
            Console.WriteLine($"reproduced at {scale.ToString().ToLowerInvariant()} scale in {stopwatch.Elapsed.TotalSeconds:F0} s: " +
                $"{Path.Combine(folder, "report.md")}, figures in {Path.Combine(folder, "figures")}");
            return 0;
        });
        return command;
    }
}
