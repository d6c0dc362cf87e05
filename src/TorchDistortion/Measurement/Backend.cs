using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>
/// The linked libtorch backend, CPU or CUDA (Directory.Packages.props chooses it: dotnet build -p:TorchBackend=cuda). A CPU
/// build cannot use a GPU even on a machine that has one, so this is asked before torch.cuda.is_available().
/// </summary>
public static class Backend
{
    /// <summary>Whether libtorch is a CUDA build: its libtorch_cuda library is loaded, or ships beside the program.</summary>
    public static bool HasCuda() => Cuda.Value;

    /// <summary>"CUDA" or "CPU".</summary>
    public static string Name => HasCuda() ? "CUDA" : "CPU";

    private static readonly Lazy<bool> Cuda = new(() =>
    {
        _ = cuda.is_available(); // loads libtorch, and with a CUDA build its libtorch_cuda
        if (File.Exists("/proc/self/maps") && File.ReadLines("/proc/self/maps").Any(l => l.Contains("libtorch_cuda", StringComparison.Ordinal))) return true;
        return Directory.EnumerateFiles(AppContext.BaseDirectory, "libtorch_cuda*.so", SearchOption.AllDirectories).Any();
    });
}
