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
    string OperatingSystem,
    string Backend)
{
    /// <summary>The running process's versions, native libraries, backend, CUDA devices and threads.</summary>
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
            // Threads in use: measurement workers times libtorch's intra-op threads (one of the two is 1 in every command).
            Measurement.Parallelism.Threads * get_num_threads(),
            Environment.ProcessorCount,
            Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
            System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription,
            System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            Measurement.Backend.Name);
    }

    /// <summary>The commit this build was made from: the SDK stamps it into the informational version (+sha).</summary>
    private static string GitCommit()
    {
        string? version = typeof(RuntimeInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        int plus = version?.IndexOf('+') ?? -1;
        return plus < 0 ? "unknown" : version![(plus + 1)..][..Math.Min(12, version.Length - plus - 1)];
    }
}
