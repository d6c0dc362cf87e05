using System.CommandLine;
using TorchDistortion.Measurement;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

/// <summary>
/// Where and how a command computes (--device, --threads, --dtype, --no-progress), defined once for measure, sweep,
/// reproduce and train. --device defaults to auto everywhere. Two defaults differ, for a reason given in the help and the
/// README: --dtype is float64 for measuring (a distortion is a product over every layer, compared with the exact law to
/// several digits) and float32 for training (the precision networks are trained in, about twice as fast); --threads counts
/// measurement workers (default: all cores; results do not depend on it) and, in train, libtorch's threads (default 1).
/// </summary>
internal sealed class RuntimeOptions
{
    internal Option<string> Device { get; } = new("--device") { Description = "auto (a GPU when one is usable), cpu, cuda or cuda:N (GPU N)", DefaultValueFactory = _ => "auto" };
    internal Option<int> Threads { get; }
    internal Option<string> DType { get; }
    internal Option<bool> NoProgress { get; } = new("--no-progress") { Description = "No progress display" };
    private readonly bool _workers;

    private RuntimeOptions(bool workers, string dtype, string dtypeReason, string threads)
    {
        _workers = workers;
        DType = new("--dtype") { Description = $"float64 or float32 ({dtypeReason})", DefaultValueFactory = _ => dtype };
        Threads = new("--threads") { Description = threads, DefaultValueFactory = _ => workers ? Environment.ProcessorCount : 1 };
    }

    /// <summary>measure, sweep, reproduce: float64, and worker threads over chunks of networks.</summary>
    internal static RuntimeOptions Measuring() => new(true, "float64", "measuring: a distortion is a product over every layer, compared with the exact law",
        "CPU threads measuring chunks of networks at once (each with one libtorch thread; the result does not depend on it)");

    /// <summary>train: float32, and libtorch's own threads.</summary>
    internal static RuntimeOptions Training() => new(false, "float32", "training: the precision networks are trained in, about twice as fast",
        "CPU threads of libtorch (a resumed run repeats its history exactly with the same count)");

    /// <summary>The validated --device (auto, cpu, cuda or cuda:N).</summary>
    internal string DeviceOf(ParseResult parse)
    {
        string device = parse.GetValue(Device)!;
        Distortion.ResolveDevice(device);
        return device;
    }

    internal ScalarType DTypeOf(ParseResult parse) => DTypeName(parse) == "float32" ? ScalarType.Float32 : ScalarType.Float64;

    /// <summary>float32 or float64 (float and double are accepted as PyTorch's aliases).</summary>
    internal string DTypeName(ParseResult parse) => parse.GetValue(DType)!.ToLowerInvariant() switch
    {
        "float64" or "double" => "float64",
        "float32" or "float" => "float32",
        var other => throw new ArgumentException($"--dtype: unknown dtype '{other}'; allowed: float64, float32"),
    };

    /// <summary>
    /// Measuring: --threads workers, each running libtorch on one thread, so no OpenMP team spin-waits between ops and results
    /// are the same bit for bit as with one thread. Training: libtorch's intra-op threads.
    /// </summary>
    internal void ApplyThreads(ParseResult parse)
    {
        int threads = parse.GetValue(Threads);
        if (_workers) Parallelism.Threads = threads;
        else if (threads < 1 || threads > 1024) throw new ArgumentException($"--threads must be between 1 and 1024, got {threads}");
        set_num_threads(_workers ? 1 : threads);
    }

    /// <summary>Whether to show a live progress display: not with --no-progress, nor when stdout or stderr is redirected.</summary>
    internal bool Progress(ParseResult parse) => !parse.GetValue(NoProgress) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
}
