using System.CommandLine;
using System.Globalization;
using System.Text;
using Spectre.Console;
using TorchDistortion.Cli.Reproduce;
using TorchDistortion.Experiments;
using TorchDistortion.Plots;

namespace TorchDistortion.Cli;

/// <summary>`sweep`, `merge`, `reproduce` and `plot`.</summary>
internal static class ExperimentCommands
{
    private static readonly Option<string> DeviceName = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
    private static readonly Option<int> Threads = new("--threads")
    {
        Description = "CPU threads measuring chunks of networks at once (the results do not depend on it)", DefaultValueFactory = _ => Environment.ProcessorCount,
    };
    private static readonly Option<bool> NoProgress = new("--no-progress") { Description = "No progress display" };
    private static readonly Option<long> MaxRuns = new("--max-runs")
    {
        Description = "Refuse sweeps of more runs than this", DefaultValueFactory = _ => SweepSpec.DefaultMaxRuns,
    };

    private static long MaxRunsOf(ParseResult parse)
    {
        long n = parse.GetValue(MaxRuns);
        return n > 0 ? n : throw new ArgumentException($"--max-runs: must be a positive number, got {n}");
    }

    internal static Command Sweep()
    {
        var file = new Argument<string?>("file") { Description = "Sweep declaration (JSON, schema_version 1); or use the options below", Arity = ArgumentArity.ZeroOrOne };
        var output = new Option<string>("--output", "-o") { Description = "Output folder", DefaultValueFactory = _ => "results/sweep" };
        var shard = new Option<string?>("--shard") { Description = "Run part i of n (0-based, i/n); default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT" };
        var list = new Option<bool>("--list") { Description = "Print the expanded runs and exit" };
        var name = new Option<string>("--name") { Description = "Sweep name", DefaultValueFactory = _ => "sweep" };
        var widths = new Option<string?>("--widths") { Description = "Explicit shapes: n0,...,nL separated by ';'" };
        var width = new Option<string?>("--width") { Description = "Hidden widths, comma separated" };
        var depth = new Option<string?>("--depth") { Description = "Depths L, comma separated" };
        var n0 = new Option<string?>("--n0") { Description = "Input dimensions, comma separated" };
        var nL = new Option<string?>("--nL") { Description = "Output dimensions, comma separated" };
        var activation = new Option<string>("--activation") { Description = "Activations, comma separated (relu, leaky-relu:0.2, abs, abrelu:a,b, tanh, ...)", DefaultValueFactory = _ => "relu" };
        var init = new Option<string>("--init") { Description = "Init schemes, comma separated", DefaultValueFactory = _ => "he" };
        var cw = new Option<string>("--cw") { Description = "C_W values (for variance/orthogonal)", DefaultValueFactory = _ => "2" };
        var cout = new Option<string?>("--cout") { Description = "C_out values" };
        var cb = new Option<string>("--cb") { Description = "Bias variances", DefaultValueFactory = _ => "0" };
        var geometry = new Option<string>("--geometry") { Description = "Geometry kinds", DefaultValueFactory = _ => "segment" };
        var k = new Option<string>("--k") { Description = "Patch dimensions", DefaultValueFactory = _ => "1" };
        var points = new Option<string?>("--points") { Description = "Quadrature nodes" };
        var networks = new Option<string>("--networks") { Description = "Networks per run", DefaultValueFactory = _ => "200" };
        var seed = new Option<long>("--seed") { Description = "Master seed", DefaultValueFactory = _ => 0 };
        var dtype = new Option<string>("--dtype") { Description = "float64 or float32", DefaultValueFactory = _ => "float64" };
        var exact = new Option<bool>("--exact") { Description = "Exact piecewise-linear lengths (segments)" };
        var command = new Command("sweep", "Run a sweep over depth, width and initialization; resumable, shardable.")
        {
            file, output, shard, list, name, widths, width, depth, n0, nL, activation, init, cw, cout, cb, geometry, k, points, networks, seed, dtype, exact,
            DeviceName, Threads, NoProgress, MaxRuns,
        };
        command.SetAction(parse =>
        {
            var declared = new Option[] { widths, width, depth, n0, nL, activation, init, cw, cout, cb, geometry, k, points, networks, seed, dtype, name, exact }
                .Where(o => parse.GetResult(o) is { Implicit: false }).ToList();
            long maxRuns = MaxRunsOf(parse);
            SweepSpec spec;
            if (parse.GetValue(file) is string path)
            {
                if (declared.Count > 0) throw new ArgumentException($"{declared[0].Name}: give either a sweep file or sweep options, not both");
                spec = SweepSpec.Parse(path); // expanded (and validated) below, once
            }
            else
            {
                spec = new SweepSpec
                {
                    SchemaVersion = SweepSpec.CurrentSchemaVersion, Name = parse.GetValue(name)!,
                    Widths = parse.GetValue(widths) is string w ? w.Split(';').Select(s => Ints(s, "--widths")).ToList() : null,
                    Width = Optional(parse.GetValue(width), "--width"), Depth = Optional(parse.GetValue(depth), "--depth"),
                    N0 = Optional(parse.GetValue(n0), "--n0")?.Select(v => (int?)v).ToList(), NL = Optional(parse.GetValue(nL), "--nL")?.Select(v => (int?)v).ToList(),
                    Activation = TorchDistortion.Networks.Activation.SplitList(parse.GetValue(activation)!), Init = parse.GetValue(init)!.Split(',').ToList(), CW = Doubles(parse.GetValue(cw)!, "--cw"),
                    COut = parse.GetValue(cout) is string c ? Doubles(c, "--cout").Select(v => (double?)v).ToList() : [null],
                    CB = Doubles(parse.GetValue(cb)!, "--cb"), Geometry = parse.GetValue(geometry)!.Split(',').ToList(),
                    K = Ints(parse.GetValue(k)!, "--k"), Points = Optional(parse.GetValue(points), "--points"),
                    Networks = Ints(parse.GetValue(networks)!, "--networks"), Seed = parse.GetValue(seed), DType = parse.GetValue(dtype)!,
                    Exact = [parse.GetValue(exact)],
                };
            }
            string source = parse.GetValue(file) is string f ? Path.GetFileName(f) : "sweep";
            var part = Shard.Parse(parse.GetValue(shard));
            if (parse.GetValue(list))
            {
                // Each run is written as it is expanded: a large sweep lists without first being held in memory.
                var expanding = spec.Runs(source, maxRuns); // the fields and the size are checked here, before any output
                Console.WriteLine($"{"run id",-12}  {"shard",-5}  {"seed",-19}  settings");
                var ids = new List<string>();
                int inShard = 0;
                foreach (var run in expanding)
                {
                    string id = run.Id(spec.Seed);
                    ids.Add(id);
                    if (part.Contains(id)) inShard++;
                    Console.WriteLine($"{id,-12}  {(part.Contains(id) ? "yes" : "-"),-5}  {run.Seed(spec.Seed).ToString(CultureInfo.InvariantCulture),-19}  {run}");
                }
                Console.WriteLine($"{ids.Count} runs, {inShard} in shard {part}; sweep id {SweepSpec.SweepIdOf(ids)}");
                return 0;
            }
            var runs = spec.Expand(source, maxRuns);
            MeasureCommand.SetWorkers(parse.GetValue(Threads));
            string folder = parse.GetValue(output)!;
            string device = parse.GetValue(DeviceName)!;
            Measurement.Distortion.ResolveDevice(device);
            int computed = 0;
            SweepProgress.Show(SweepProgress.Enabled(parse.GetValue(NoProgress)), progress => computed = SweepRunner.Run(spec, folder, part, device, progress, maxRuns: maxRuns));
            int finished = SweepRunner.Finished(spec, folder, maxRuns);
            Console.WriteLine($"sweep {spec.SweepId(runs)} shard {part}: computed {computed} run(s); {finished} of {runs.Count} finished in {folder}" +
                (finished == runs.Count ? $"; results in {Path.Combine(folder, "results.csv")}" : "; merge the shard folders when all are done"));
            return 0;
        });
        return command;
    }

    internal static Command Merge()
    {
        var folders = new Argument<string[]>("folders") { Description = "Sweep folders (shards) to combine", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output", "-o") { Description = "Folder for the merged result set", Required = true };
        var allowPartial = new Option<bool>("--allow-partial") { Description = "Merge even when runs of the sweep are missing" };
        var force = OutputGuard.ForceOption();
        var command = new Command("merge", "Combine shard outputs of one sweep into one result set.") { folders, output, allowPartial, MaxRuns, force };
        command.SetAction(parse =>
        {
            string target = parse.GetValue(output)!;
            if (File.Exists(target)) throw new ArgumentException($"--output: '{target}' is a file; give a folder");
            // The files merge writes: each may only replace an earlier merge's (or sweep's) own.
            OutputGuard.Check(Path.Combine(target, "sweep.json"), "--output", "merge", f => SweepSpec.Load(f) is not null, parse.GetValue(force));
            OutputGuard.Check(Path.Combine(target, "results.json"), "--output", "merge", f => ResultSet.Read(f) is not null, parse.GetValue(force));
            OutputGuard.Check(Path.Combine(target, "results.csv"), "--output", "merge",
                f => File.ReadLines(f).SkipWhile(l => l.StartsWith('#')).FirstOrDefault() == string.Join(",", ResultRow.Columns), parse.GetValue(force));
            var (runs, expected) = SweepRunner.Merge(parse.GetValue(folders)!, target, parse.GetValue(allowPartial), MaxRunsOf(parse));
            Console.WriteLine($"merged {runs} of {expected} runs into {parse.GetValue(output)}");
            if (runs < expected) Console.Error.WriteLine($"warning: {expected - runs} run(s) of the sweep are missing; run their shards, then merge again");
            return 0;
        });
        return command;
    }

    internal static Command Reproduce()
    {
        var output = new Option<string>("--output", "-o") { Description = "Output folder", DefaultValueFactory = _ => "results/reproduce" };
        var quick = new Option<bool>("--quick") { Description = "Quick scale (default): a few minutes on two cores" };
        var full = new Option<bool>("--full") { Description = "Publication scale: more networks per point" };
        var command = new Command("reproduce", "Reproduce the paper's results: figures, their data and a report.") { output, quick, full, DeviceName, Threads, NoProgress };
        command.SetAction(parse =>
        {
            if (parse.GetValue(quick) && parse.GetValue(full)) throw new ArgumentException("--full: choose --quick or --full, not both");
            var scale = parse.GetValue(full) ? Scale.Full : Scale.Quick;
            MeasureCommand.SetWorkers(parse.GetValue(Threads));
            string device = parse.GetValue(DeviceName)!, folder = parse.GetValue(output)!;
            Measurement.Distortion.ResolveDevice(device);
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            SweepProgress.Show(SweepProgress.Enabled(parse.GetValue(NoProgress)),
                progress => Reproduction.Run(folder, scale, device, progress, stage => progress?.Stage(stage)));
            Console.WriteLine($"reproduced at {scale.ToString().ToLowerInvariant()} scale in {stopwatch.Elapsed.TotalSeconds:F0} s: " +
                $"{Path.Combine(folder, "report.md")}, figures in {Path.Combine(folder, "figures")}");
            return 0;
        });
        return command;
    }

    internal static Command Plot()
    {
        var folders = new Argument<string[]>("folders")
        {
            Description = "A reproduce folder, a sweep folder with results.json, or training run folders (a train --out folder, run folders, or folders holding them)",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string?>("--output", "-o") { Description = "Folder for the training comparison figure (default: the one folder given)" };
        var x = new Option<string>("--x") { Description = "x axis for a sweep: depth, width, c_w, n0, nl, k", DefaultValueFactory = _ => "depth" };
        var statistic = new Option<string>("--statistic") { Description = "Statistic to plot (mean, E[D^2], std, median, ...)", DefaultValueFactory = _ => "mean" };
        var force = OutputGuard.ForceOption();
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

    private static List<int> Ints(string text, string option) => Cli.Ints(text, option);
    private static List<double> Doubles(string text, string option) => Cli.Doubles(text, option);
    private static List<int>? Optional(string? text, string option) => text is null ? null : Cli.Ints(text, option);
}

/// <summary>A generic figure of a sweep: one statistic against one setting, a series per combination of the others.</summary>
internal static class SweepPlot
{
    internal static string Draw(ResultSet set, string folder, string x, string statistic, bool force = false)
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
