using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TorchDistortion.Measurement;

/// <summary>
/// CPU time of the calling thread (Linux: CLOCK_THREAD_CPUTIME_ID), for profiles that stay meaningful on a loaded, shared
/// machine, where wall time also counts the time other processes held the cores. Wall time elsewhere.
/// </summary>
internal static class ThreadClock
{
    private const int ThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID
    private static readonly bool Available = Probe();

    internal static double Seconds =>
        Available && clock_gettime(ThreadCpuTime, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9
            : Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;

    private static bool Probe()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return clock_gettime(ThreadCpuTime, out _) == 0; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }

    private struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc.so.6")]
    private static extern int clock_gettime(int clock, out TimeSpec time);
}
