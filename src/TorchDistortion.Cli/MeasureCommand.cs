using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using TorchDistortion.Differentiation;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

internal static class MeasureCommand
{
    private static readonly Option<string?> Widths = new("--widths") { Description = "Layer widths n0,n1,...,nL (e.g. 32,64,64,32); or use --width/--depth" };
    private static readonly Option<int> Width = new("--width") { Description = "Hidden width (shorthand)", DefaultValueFactory = _ => 32 };
    private static readonly Option<int> Depth = new("--depth") { Description = "Number of weight layers L (shorthand)", DefaultValueFactory = _ => 20 };
    internal static Option<int?> InputDimOption => InputDim;
    private static readonly Option<int?> InputDim = new("--n0") { Description = "Input dimension (shorthand; default: --width)" };
    private static readonly Option<int?> OutputDim = new("--nL") { Description = "Output dimension (shorthand; default: --width)" };
    private static readonly Option<string> Init = new("--init") { Description = $"Init scheme: {string.Join(", ", InitScheme.Names)}", DefaultValueFactory = _ => "he" };
    internal static readonly Option<string> ActivationName = new("--activation") { Description = $"Activation after every hidden layer: {string.Join(", ", Activation.Names)}", DefaultValueFactory = _ => "relu" };
    private static readonly Option<double?> CW = new("--cw") { Description = "Weight variance C_W for --init variance or orthogonal" };
    private static readonly Option<double?> COut = new("--cout") { Description = "Output-layer variance C_out (default: the scheme's own)" };
    private static readonly Option<double> CB = new("--cb") { Description = "Bias variance C_b (0 = zero biases)", DefaultValueFactory = _ => 0.0 };
    private static readonly Option<bool> NoBias = new("--no-bias") { Description = "Layers without bias parameters" };
    private static readonly Option<string> Kind = new("--geometry") { Description = $"What to measure: {string.Join(", ", GeometrySpec.KindNames)}", DefaultValueFactory = _ => "segment" };
    private static readonly Option<int> K = new("--k") { Description = "Patch dimension k (with --geometry patch)", DefaultValueFactory = _ => 1 };
    private static readonly Option<int?> Points = new("--points") { Description = "Quadrature nodes along a curve (default 64) or per patch side (default 4)" };
    private static readonly Option<double> Size = new("--size") { Description = "Curve length or patch side", DefaultValueFactory = _ => 1.0 };
    private static readonly Option<int> Modes = new("--modes") { Description = "Fourier modes of --geometry fourier", DefaultValueFactory = _ => 3 };
    private static readonly Option<bool> Exact = new("--exact") { Description = "Exact piecewise-linear length (segment, polyline); with --points N also an N-node quadrature and its error" };
    private static readonly Option<string?> Polyline = new("--polyline") { Description = "Polyline vertices for --geometry polyline: 'x,y,...;x,y,...;...'" };
    private static readonly Option<int> Networks = new("--networks") { Description = "Number of random networks", DefaultValueFactory = _ => 200 };
    private static readonly Option<long> Seed = new("--seed") { Description = "Master seed (network i depends only on seed and i)", DefaultValueFactory = _ => 0 };
    private static readonly Option<string> Method = new("--method") { Description = "Jacobian method: tangent (default), double-vjp, reverse", DefaultValueFactory = _ => "tangent" };
    private static readonly Option<string> DeviceName = new("--device") { Description = "auto, cpu or cuda", DefaultValueFactory = _ => "auto" };
    private static readonly Option<string> DType = new("--dtype") { Description = "float64 or float32", DefaultValueFactory = _ => "float64" };
    private static readonly Option<int> Threads = new("--threads")
    {
        Description = "CPU threads measuring chunks of networks at once (each with one libtorch thread; the result does not depend on it)",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };
    private static readonly Option<int> Moments = new("--moments") { Description = "Highest moment E[D^m] to report", DefaultValueFactory = _ => 4 };
    private static readonly Option<string> Quantiles = new("--quantiles") { Description = "Quantile probabilities, comma separated", DefaultValueFactory = _ => "0.05,0.25,0.75,0.95" };
    private static readonly Option<int> Chunk = new("--chunk") { Description = "Networks per batch (0 = automatic)", DefaultValueFactory = _ => 0 };
    private static readonly Option<string> Format = new("--format") { Description = "table, json or csv", DefaultValueFactory = _ => "table" };
    private static readonly Option<string?> Output = new("--output", "-o") { Description = "Write the result to this file (atomically) instead of stdout" };
    private static readonly Option<bool> NoProgress = new("--no-progress") { Description = "No progress display" };
    internal static readonly Option<string?> Checkpoint = new("--checkpoint") { Description = "Measure a saved network instead: a checkpoint (.safetensors with sidecar), a PyTorch state_dict (.pt/.safetensors), or a run folder (every checkpoint: distortion vs epoch)" };
    internal static readonly Option<string?> Model = new("--model") { Description = "Measure a TorchScript model saved by PyTorch (torch.jit.script/trace then save) by double-VJP; its input dimension is --n0 or found by probing" };
    internal static readonly Option<int> Geometries = new("--geometries") { Description = "With --checkpoint: random curves or patches measured on the saved network", DefaultValueFactory = _ => 200 };
    internal static readonly Option<bool> Force = OutputGuard.ForceOption();
    internal static readonly Option<string?> ExportPoints = new("--export-points") { Description = "With --checkpoint: write the nodes, tangents and our per-node volumes as JSON (for scripts/crosscheck_pytorch.py)" };

    internal static Command Create()
    {
        var command = new Command("measure", "Measure length or volume distortion over random networks, beside the exact theory.")
        {
            Widths, Width, Depth, InputDim, OutputDim, ActivationName, Init, CW, COut, CB, NoBias, Kind, K, Points, Size, Modes, Polyline, Exact,
            Networks, Seed, Method, DeviceName, DType, Threads, Moments, Quantiles, Chunk, Format, Output, Force, NoProgress, Checkpoint, Model, Geometries, ExportPoints,
        };
        command.SetAction(Run);
        return command;
    }

    private static int Run(ParseResult parse)
    {
        string format = parse.GetValue(Format)!.ToLowerInvariant();
        if (format is not ("table" or "json" or "csv")) return Cli.Fail($"--format: unknown format '{format}'; allowed: table, json, csv");
        SetWorkers(parse.GetValue(Threads));
        string? output = parse.GetValue(Output);
        CheckOutputFile(output, "--output");
        if (output is not null) OutputGuard.Check(output, "--output", "measure", IsOutput, parse.GetValue(Force));
        if (parse.GetValue(Model) is not null) return ModelMeasure.Run(parse, format, output);
        if (parse.GetValue(Checkpoint) is not null) return CheckpointMeasure.Run(parse, format, output);
        foreach (var option in new Option[] { Geometries, ExportPoints })
            if (parse.GetResult(option) is { Implicit: false }) throw new ArgumentException($"{option.Name} needs --checkpoint or --model");
        var settings = Settings(parse);
        settings.Validate();

        if (settings.Networks >= 1_000_000) Console.Error.WriteLine(TimeEstimate(settings));
        bool showProgress = !parse.GetValue(NoProgress) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
        var measurement = showProgress ? WithProgress(settings) : Distortion.Measure(settings);
        var info = RuntimeInfo.Current();
        string text = format switch
        {
            "json" => Reports.Json(measurement, info),
            "csv" => Reports.Csv(measurement),
            _ => Reports.Table(measurement, info, toConsole: output is null),
        };
        Emit(text, output);
        // The table on screen carries its notes; a file or a CSV/JSON consumer gets them on stderr too, so nothing is silent.
        if (format != "table" || output is not null)
            foreach (var note in Reports.Notes(measurement)) Console.Error.WriteLine($"note: {note}");
        return 0;
    }

    /// <summary>
    /// A rough duration for long runs, from the multiply-adds of the engine (point and k tangents through every layer) at
    /// a nominal 1 GFLOP/s per thread (about what width 64, depth 10 reaches in float64 on one shared core).
    /// </summary>
    internal static string TimeEstimate(MeasureSettings s)
    {
        double flops = 2.0 * (1 + s.Geometry.K) * s.Geometry.NodeCount * s.Network.WeightCount() * s.Networks;
        double seconds = flops / (1e9 * get_num_threads() * (s.DType == ScalarType.Float32 ? 2 : 1));
        string time = seconds < 120 ? $"{seconds:F0} s" : seconds < 7200 ? $"{seconds / 60:F0} min" : $"{seconds / 3600:F1} h";
        return $"estimate: about {time} for {s.Networks} networks (a rough figure from a nominal speed; the progress display gives the real rate)";
    }

    internal static void CheckOutputFile(string? output, string option)
    {
        if (output is null) return;
        if (output.Trim().Length == 0) throw new ArgumentException($"{option}: empty file name");
        if (Directory.Exists(output)) throw new ArgumentException($"{option}: '{output}' is a folder; give a file name");
        Files.EnsureWritableFolder(Path.GetDirectoryName(Path.GetFullPath(output))!, option, output);
    }

    /// <summary>Whether a file is an earlier report of `measure`, in any of its formats (random networks or a checkpoint).</summary>
    internal static bool IsOutput(string file)
    {
        string first = OutputGuard.FirstLine(file);
        if (first.StartsWith('{'))
            return OutputGuard.JsonMarker(file, "format", Reports.MeasureFormat) || OutputGuard.JsonMarker(file, "tool", "torchdistortion");
        return first.StartsWith("statistic,measured,stderr,theory,") || first.StartsWith("checkpoint,step,epoch,geometries,")
            || System.Text.RegularExpressions.Regex.IsMatch(first, @"^(length|[0-9]+-volume) distortion of [0-9]+ random ");
    }

    /// <summary>Writes a report to the file (atomically) or to stdout.</summary>
    internal static void Emit(string text, string? output)
    {
        if (output is null) { if (text.Length > 0) Console.Write(text); }
        else
        {
            try { Files.WriteAtomically(output, text); }
            catch (IOException e) { throw new IOException($"--output: {e.Message}", e); }
        }
    }

    private static Measurement.MeasureResult WithProgress(MeasureSettings settings)
    {
        Measurement.MeasureResult? result = null;
        SweepProgress.OnStderr().Start(context =>
            {
                var task = context.AddTask("networks", maxValue: settings.Networks);
                result = Distortion.Measure(settings, done => task.Value = done);
            });
        return result!;
    }

    /// <summary>
    /// measure, sweep, reproduce: --threads workers over chunks of networks, each running libtorch on one thread, so no OpenMP
    /// team spin-waits between ops (no OMP_WAIT_POLICY needed) and results are the same bit for bit as with one thread.
    /// </summary>
    internal static void SetWorkers(int threads)
    {
        Parallelism.Threads = threads;
        set_num_threads(1);
    }

    /// <summary>train, doctor: libtorch's intra-op threads (OpenMP inside each op).</summary>
    internal static void SetThreads(int threads)
    {
        if (threads < 1 || threads > 1024) throw new ArgumentException($"--threads must be between 1 and 1024, got {threads}");
        set_num_threads(threads);
    }

    internal static MeasureSettings Settings(ParseResult parse)
    {
        IReadOnlyList<int> widths;
        if (parse.GetValue(Widths) is string list)
        {
            if (new Option[] { Width, Depth, InputDim, OutputDim }.Any(o => parse.GetResult(o) is { Implicit: false }))
                throw new ArgumentException("--widths: give either --widths or the --width/--depth/--n0/--nL shorthand, not both");
            widths = Cli.Ints(list, "--widths");
        }
        else
        {
            int width = parse.GetValue(Width), depth = parse.GetValue(Depth);
            if (width < 1) throw new ArgumentException($"--width must be a positive integer, got {width}");
            widths = NetworkSpec.Shorthand(width, depth, parse.GetValue(InputDim), parse.GetValue(OutputDim));
        }
        var init = InitScheme.Parse(parse.GetValue(Init)!, parse.GetValue(CW));
        var network = new NetworkSpec(widths, init, parse.GetValue(COut), !parse.GetValue(NoBias), parse.GetValue(CB), ActivationOf(parse)).Validate();

        var geometry = GeometryOf(parse);
        var dtype = DTypeOf(parse);
        var method = parse.GetValue(Method)!.ToLowerInvariant() switch
        {
            "tangent" => JacobianMethod.TangentPropagation,
            "double-vjp" => JacobianMethod.DoubleVjp,
            "reverse" => JacobianMethod.Reverse,
            var other => throw new ArgumentException($"--method: unknown method '{other}'; allowed: tangent, double-vjp, reverse"),
        };
        var quantiles = QuantilesOf(parse);
        var device = DeviceOf(parse);
        device.Resolve();
        return new MeasureSettings(network, geometry, parse.GetValue(Networks), parse.GetValue(Seed), dtype, device, method,
            parse.GetValue(Moments), quantiles, parse.GetValue(Chunk));
    }

    /// <summary>The --activation value; ReLU stays null so that settings (and run ids) without it are unchanged.</summary>
    internal static Activation? ActivationOf(ParseResult parse)
    {
        var activation = Activation.Parse(parse.GetValue(ActivationName)!);
        return activation == Activation.ReLU ? null : activation;
    }

    internal static List<double> QuantilesOf(ParseResult parse) => Cli.Doubles(parse.GetValue(Quantiles)!, "--quantiles");

    internal static GeometrySpec GeometryOf(ParseResult parse)
    {
        var kind = GeometrySpec.ParseKind(parse.GetValue(Kind)!);
        int k = parse.GetValue(K);
        if (k != 1 && kind != GeometryKind.Patch) throw new ArgumentException($"--k: k = {k} needs --geometry patch");
        var polyline = parse.GetValue(Polyline) is string p
            ? Cli.ParseList(p, "--polyline", vertex => Cli.Doubles(vertex, "--polyline").ToArray(), ';')
            : null;
        if (polyline is not null && kind != GeometryKind.Polyline) throw new ArgumentException("--polyline needs --geometry polyline");
        bool exact = parse.GetValue(Exact);
        int points = parse.GetValue(Points) ?? GeometrySpec.DefaultPoints(kind, exact);
        return new GeometrySpec(kind, points, k, parse.GetValue(Size), parse.GetValue(Modes), polyline, exact);
    }

    internal static ScalarType DTypeOf(ParseResult parse) => DTypes.Parse(parse.GetValue(DType)!);

    /// <summary>Options that describe random networks, which a saved network replaces.</summary>
    internal static Option[] NetworkOptions => [Widths, Width, Depth, InputDim, OutputDim, Init, CW, COut, CB, NoBias, Networks, Method, Chunk];

    internal static long SeedOf(ParseResult parse) => parse.GetValue(Seed);
    internal static int MomentsOf(ParseResult parse) => parse.GetValue(Moments);
    internal static DeviceSpec DeviceOf(ParseResult parse) => DeviceSpec.Parse(parse.GetValue(DeviceName)!);
}
