using System.Runtime.InteropServices;

namespace TorchDistortion.Measurement;

/// <summary>
/// glibc's malloc settings for libtorch's tensors. By default glibc serves every block over a moving threshold (128 KiB at
/// first) by mmap and gives freed memory at the top of the heap back at once, so a measurement, which frees and allocates
/// the same states chunk after chunk, faults every page of them in again: a full `measure` (1000 networks, width 64,
/// depth 20, 1000 nodes) took about 800k minor page faults and a fifth of its CPU time in the kernel, and more after
/// other work had moved the threshold (the "volumes and logs" stage of `bench`). A fixed threshold (glibc's largest,
/// 32 MiB) and a high trim threshold keep freed blocks for reuse: about 60k faults. Peak memory is unchanged (the same
/// blocks are reused); results do not depend on it.
/// </summary>
internal static class NativeHeap
{
    private const int TrimThreshold = -1, MmapThreshold = -3; // glibc's M_TRIM_THRESHOLD, M_MMAP_THRESHOLD
    private static int _configured;

    /// <summary>Sets the thresholds once per process (Linux with glibc; elsewhere, or with TORCHDIST_MALLOC=default, nothing).</summary>
    internal static void Configure()
    {
        if (Interlocked.Exchange(ref _configured, 1) == 1 || !OperatingSystem.IsLinux()
            || Environment.GetEnvironmentVariable("TORCHDIST_MALLOC") == "default") return;
        try
        {
            mallopt(MmapThreshold, 32 << 20);
            mallopt(TrimThreshold, 1 << 30);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { } // not glibc (e.g. musl)
    }

    [DllImport("libc.so.6", ExactSpelling = true)]
    private static extern int mallopt(int param, int value);
}
