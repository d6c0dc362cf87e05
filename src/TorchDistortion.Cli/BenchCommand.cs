using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TorchDistortion.Benchmarks;
using TorchDistortion.Experiments;
using TorchDistortion.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

/// <summary>`bench`: times the engine against a plain forward pass and checks the performance targets.</summary>
internal static class BenchCommand
{
    internal static Command Create()
    {
        var widths = new Option<string>("--widths") { Description = "Widths (depth 20)", DefaultValueFactory = _ => "16,64,256,1024" };
        var dtypes = new Option<string>("--dtypes") { Description = "float32, float64", DefaultValueFactory = _ => "float32,float64" };
        var threads = new Option<string?>("--threads") { Description = "Thread counts to compare (default: 1 and all cores)" };
        var chunks = new Option<bool>("--chunks") { Description = "Only the sweep of networks per chunk: one-thread engine time per network for K = 1, 2, 4, ... up to 1024 (widths default to 16-512; depth 10, 64 and 1000 nodes)" };
        var seconds = new Option<double>("--seconds") { Description = "Time budget per case", DefaultValueFactory = _ => 0.4 };
        var output = OutputOptions.Output("JSON result file", "results/bench.json");
        var force = OutputOptions.Force();
        var command = new Command("bench", "Benchmark the engine against a plain forward pass (one process, one run).") { widths, dtypes, threads, seconds, chunks, output, force };
        command.SetAction(parse =>
        {
            var widthList = Ints(parse.GetValue(widths)!, "--widths");
            if (widthList.Any(w => w < 1 || w > 8192)) throw new ArgumentException("--widths: each width must be between 1 and 8192");
            List<ScalarType> dtypeList;
            try { dtypeList = parse.GetValue(dtypes)!.Split(',').Select(d => DTypes.Parse(d.Trim())).ToList(); }
            catch (SettingException e) { throw new ArgumentException(e.Naming("--dtypes")); }
            var threadList = parse.GetValue(threads) is string t ? Ints(t, "--threads") : [1, Environment.ProcessorCount];
            threadList = threadList.Distinct().ToList();
            if (threadList.Any(n => n < 1)) throw new ArgumentException("--threads: thread counts must be at least 1");
            double budget = parse.GetValue(seconds);
            if (!(budget > 0 && budget <= 60)) throw new ArgumentException("--seconds must be in (0, 60]");
            bool sweep = parse.GetValue(chunks);
            if (sweep && new Option[] { threads, seconds }.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false }) is Option unused)
                throw new ArgumentException($"{unused.Name} does not apply to --chunks (one thread, a fixed number of rounds)");
            string path = parse.GetValue(output)!;
            OutputGuard.CheckFile(path, "--output");
            OutputGuard.Check(path, "--output", "bench", IsOutput, parse.GetValue(force));

            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 150; // no terminal to fit
            void Status(string s) => Console.Error.WriteLine($"bench: {s}");
            var report = sweep
                ? Benchmark.RunChunks(parse.GetResult(widths) is { Implicit: false } ? widthList : null, dtypeList, Status)
                : Benchmark.Run(widthList, dtypeList, threadList, budget, Status);
            string title = sweep ? "engine time per network vs networks per chunk K, depth 10, one thread" : "engine vs forward pass, depth 20";
            var table = new Table().Title($"{title} — {Markup.Escape(report.Machine)}")
                .AddColumns("case", "width", "dtype", "threads", "K x points", "points/s", "GFLOP/s", sweep ? "x best K" : "x forward");
            foreach (var c in report.Cases)
                table.AddRow(Markup.Escape(c.Case), c.Width.ToString(CultureInfo.InvariantCulture), c.DType, c.Threads.ToString(CultureInfo.InvariantCulture),
                    $"{c.Networks} x {c.PointsPerNetwork}", c.PointsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                    double.IsNaN(c.GFlops) ? "-" : c.GFlops.ToString("F2", CultureInfo.InvariantCulture), c.RatioToForward.ToString("F2", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            var targets = new Table().Title("targets").AddColumns("target", "measured", "limit", "met", "note");
            foreach (var target in report.Targets)
                targets.AddRow(Markup.Escape(target.Target), target.Measured.ToString("F2", CultureInfo.InvariantCulture), target.Limit.ToString("G3", CultureInfo.InvariantCulture),
                    target.Met ? "[green]yes[/]" : "[red]no[/]", Markup.Escape(target.Note));
            AnsiConsole.Write(targets);
            AnsiConsole.WriteLine($"peak resident memory {report.PeakResidentMiB:F0} MiB; written to {path}");
            Files.WriteAtomically(path, report.ToJson());
            return 0;
        });
        return command;
    }

    /// <summary>An earlier bench report: its format marker, or (older reports) its cases and targets.</summary>
    internal static bool IsOutput(string file) =>
        OutputGuard.JsonMarker(file, "document", BenchReport.DocumentType) || OutputGuard.JsonMarker(file, "format", BenchReport.FormatName)
        || OutputGuard.JsonHas(file, "cases", "targets", "environment");

    private static List<int> Ints(string text, string option) => Cli.Ints(text, option);
}
