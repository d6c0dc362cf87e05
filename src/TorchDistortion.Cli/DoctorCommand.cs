using System.CommandLine;
using Spectre.Console;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

/// <summary>`doctor`: versions, the linked libtorch backend, native libraries, CUDA and threads, as a table or JSON.</summary>
internal static class DoctorCommand
{
    /// <summary>What a CPU build says of CUDA, wherever it runs: a GPU on the machine does not make it usable.</summary>
    internal const string NoCudaBackend = "this build has no CUDA backend (see README)";

    internal static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Threads to configure before reporting", DefaultValueFactory = _ => 1 };
        var format = new Option<string>("--format") { Description = "table or json", DefaultValueFactory = _ => "table" };
        var command = new Command("doctor", "Show the TorchSharp/libtorch versions and backend, native library path, CUDA availability and threads.") { threads, format };
        command.Aliases.Add("env");
        command.SetAction(parse =>
        {
            string kind = parse.GetValue(format)!.ToLowerInvariant();
            if (kind is not ("table" or "json")) return Cli.Fail($"--format: unknown format '{kind}'; allowed: table, json");
            int n = parse.GetValue(threads);
            if (n < 1 || n > 1024) throw new ArgumentException($"--threads must be between 1 and 1024, got {n}");
            set_num_threads(n);
            var info = RuntimeInfo.Current();
            bool selfTest;
            using (var probe = randn(64, 64).mm(randn(64, 64))) selfTest = double.IsFinite(probe.sum().item<float>());
            string cudaState = info.Backend != "CUDA" ? NoCudaBackend
                : info.CudaAvailable ? $"available, {info.CudaDevices} device(s) (--device cuda:0 to cuda:{info.CudaDevices - 1})" : "not available (no usable GPU or driver)";
            if (kind == "json")
            {
                Console.Write(Output.Json.Document("doctor", new { Environment = info, Cuda = cudaState, SelfTest = selfTest }));
                return selfTest ? 0 : 1;
            }
            var table = new Table().AddColumns("item", "value").HideHeaders();
            table.AddRow("TorchDistortion", info.TorchDistortionVersion);
            table.AddRow("TorchSharp", info.TorchSharpVersion);
            table.AddRow("libtorch", $"{info.LibTorchVersion} ({info.Backend} backend)");
            table.AddRow("native libraries", Markup.Escape(info.NativeLibraryPath));
            table.AddRow("CUDA", Markup.Escape(cudaState));
            table.AddRow("threads", $"{info.Threads} of {info.ProcessorCount} cores");
            table.AddRow("OMP_WAIT_POLICY", info.OmpWaitPolicy ?? "(unset: set PASSIVE to avoid spin-wait slowdowns with threads > 1)");
            table.AddRow("runtime", Markup.Escape($"{info.Runtime} on {info.OperatingSystem}"));
            table.AddRow("self-test", selfTest ? "[green]ok[/] (a 64x64 matmul ran)" : "[red]failed[/]");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
