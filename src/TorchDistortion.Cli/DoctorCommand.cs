using System.CommandLine;
using Spectre.Console;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

internal static class DoctorCommand
{
    internal static Command Create()
    {
        var threads = new Option<int>("--threads") { Description = "Threads to configure before reporting", DefaultValueFactory = _ => 1 };
        var command = new Command("doctor", "Show the TorchSharp/libtorch versions, native library path, CUDA availability and threads.") { threads };
        command.Aliases.Add("env");
        command.SetAction(parse =>
        {
            MeasureCommand.SetThreads(parse.GetValue(threads));
            var info = RuntimeInfo.Current();
            var table = new Table().AddColumns("item", "value").HideHeaders();
            table.AddRow("TorchDistortion", info.TorchDistortionVersion);
            table.AddRow("TorchSharp", info.TorchSharpVersion);
            table.AddRow("libtorch", info.LibTorchVersion);
            table.AddRow("native libraries", Markup.Escape(info.NativeLibraryPath));
            table.AddRow("CUDA", info.CudaAvailable ? $"available, {info.CudaDevices} device(s)" : "not available (CPU only)");
            table.AddRow("threads", $"{info.Threads} of {info.ProcessorCount} cores");
            table.AddRow("OMP_WAIT_POLICY", info.OmpWaitPolicy ?? "(unset: set PASSIVE to avoid spin-wait slowdowns with threads > 1)");
            table.AddRow("runtime", Markup.Escape($"{info.Runtime} on {info.OperatingSystem}"));
            using (var probe = randn(64, 64).mm(randn(64, 64)))
                table.AddRow("self-test", double.IsFinite(probe.sum().item<float>()) ? "[green]ok[/] (a 64x64 matmul ran)" : "[red]failed[/]");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }
}
