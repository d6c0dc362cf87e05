using System.CommandLine;
using TorchDistortion.Measurement;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

/// <summary>
/// Where and how a command computes (--device, --threads, --dtype, --no-progress), defined once for measure, sweep,
/// reproduce and train. --device defaults to auto everywhere. Two defaults differ, for a reason given in the help and the
/// README: --dtype is float64 for measuring (a distortion is a product over every layer, compared with the exact law to
/// several digits) and float32 for training (the precision networks are trained in, about twice as fast). --threads counts
/// workers (default: all cores; results do not depend on it): chunks of networks measured at once, or runs trained at
/// once; train's --op-threads counts libtorch's threads inside each op (default 1; a run's history depends on it).
/// </summary>
internal sealed class RuntimeOptions
{
    internal Option<string> Device { get; } = new("--device") { Description = "auto (a GPU when one is usable), cpu, cuda or cuda:N (GPU N)", DefaultValueFactory = _ => "auto" };
    internal Option<int> Threads { get; }
    internal Option<string> DType { get; }
    internal Option<bool> NoProgress { get; } = new("--no-progress") { Description = "No progress display" };
    /// <summary>train only: libtorch's threads inside each op.</summary>
    internal Option<int>? OpThreads { get; }

    private RuntimeOptions(string dtype, string dtypeReason, string threads, bool training)
    {
        DType = new("--dtype") { Description = $"float64 or float32 ({dtypeReason})", DefaultValueFactory = _ => dtype };
        Threads = new("--threads") { Description = threads, DefaultValueFactory = _ => Environment.ProcessorCount };
        if (training)
            OpThreads = new("--op-threads")
            {
                Description = "libtorch threads inside each op, for one large run (pays at widths near 1024; a resumed run repeats its history exactly with the same count)",
                DefaultValueFactory = _ => 1,
            };
    }

    /// <summary>measure, sweep, reproduce: float64, and worker threads over chunks of networks.</summary>
    internal static RuntimeOptions Measuring() => new("float64", "measuring: a distortion is a product over every layer, compared with the exact law",
        "CPU threads measuring chunks of networks at once (each with one libtorch thread; the result does not depend on it)", training: false);

    /// <summary>train: float32, and worker threads over runs (or ensembles of runs).</summary>
    internal static RuntimeOptions Training() => new("float32", "training: the precision networks are trained in, about twice as fast",
        "CPU threads training runs (ensembles of runs of one shape) at once, each with one libtorch thread; the results do not depend on it", training: true);

    /// <summary>The validated --device (auto, cpu, cuda or cuda:N).</summary>
    internal DeviceSpec DeviceOf(ParseResult parse)
    {
        var device = DeviceSpec.Parse(parse.GetValue(Device)!);
        device.Resolve();
        return device;
    }

    internal ScalarType DTypeOf(ParseResult parse) => DTypes.Parse(parse.GetValue(DType)!);

    /// <summary>float32 or float64 (float and double are accepted as PyTorch's aliases).</summary>
    internal string DTypeName(ParseResult parse) => DTypes.Name(DTypeOf(parse));

    /// <summary>
    /// --threads workers, each running libtorch on one thread, so no OpenMP team spin-waits between ops and results are the
    /// same bit for bit as with one thread; the calling thread (one worker) runs with --op-threads in train, else one.
    /// </summary>
    internal void ApplyThreads(ParseResult parse)
    {
        Parallelism.Threads = parse.GetValue(Threads);
        int opThreads = OpThreads is null ? 1 : parse.GetValue(OpThreads);
        if (opThreads < 1 || opThreads > 1024) throw new ArgumentException($"--op-threads must be between 1 and 1024, got {opThreads}");
        set_num_threads(opThreads);
    }

    /// <summary>Whether to show a live progress display: not with --no-progress, nor when stdout or stderr is redirected.</summary>
    internal bool Progress(ParseResult parse) => !parse.GetValue(NoProgress) && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
}
