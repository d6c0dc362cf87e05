using System.Reflection;
using static TorchSharp.torch;

namespace TorchDistortion;

/// <summary>Versions and settings of the running TorchSharp/libtorch, for `doctor` and for provenance in results.</summary>
public sealed record RuntimeInfo(
    string TorchDistortionVersion,
    string Commit,
    string TorchSharpVersion,
    string LibTorchVersion,
    string NativeLibraryPath,
    bool CudaAvailable,
    int CudaDevices,
    int Threads,
    int ProcessorCount,
    string? OmpWaitPolicy,
    string Runtime,
    string OperatingSystem)
{
    public static RuntimeInfo Current()
    {
        var native = Directory.EnumerateFiles(AppContext.BaseDirectory, "libtorch*.so", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories))
            .Select(Path.GetDirectoryName).FirstOrDefault() ?? "(not found next to the program)";
        bool cudaAvailable = cuda.is_available();
        return new RuntimeInfo(
            typeof(RuntimeInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?",
            GitCommit(),
            typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
                ?? typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?",
            __version__,
            native!,
            cudaAvailable,
            cudaAvailable ? cuda.device_count() : 0,
            get_num_threads(),
            Environment.ProcessorCount,
            Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            System.Runtime.InteropServices.RuntimeInformation.OSDescription);
    }

    private static string? _commit;

    /// <summary>The commit of the checkout the program was built in (git describe), or "unknown" outside one.</summary>
    private static string GitCommit()
    {
        if (_commit is not null) return _commit;
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("git", ["-C", AppContext.BaseDirectory, "describe", "--always", "--dirty", "--abbrev=12"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var git = System.Diagnostics.Process.Start(start)!;
            string output = git.StandardOutput.ReadToEnd().Trim();
            _commit = git.WaitForExit(5000) && git.ExitCode == 0 && output.Length > 0 ? output : "unknown";
        }
        catch (Exception) { _commit = "unknown"; }
        return _commit;
    }
}
