using System.Runtime.ExceptionServices;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>
/// How many .NET threads measure chunks of networks at once (process-wide, like libtorch's own thread count). Each worker
/// runs libtorch with one intra-op thread: chunks are independent, so this scales where splitting each small op across
/// OpenMP threads does not, and no OpenMP team spin-waits between ops. Results do not depend on it, bit for bit: a chunk
/// is computed the same way on any thread and every chunk writes its own slots.
/// </summary>
public static class Parallelism
{
    private static int _threads = 1;

    /// <summary>Worker threads for <see cref="Distortion.Measure(MeasureSettings, Action{int}?, CancellationToken)"/> (1: the calling thread alone, with libtorch's current intra-op threads).</summary>
    public static int Threads
    {
        get => _threads;
        set => _threads = value is >= 1 and <= 1024 ? value : throw new ArgumentException($"--threads must be between 1 and 1024, got {value}");
    }

    /// <summary>
    /// Runs <paramref name="work"/>(index, stages) for items 0 .. count - 1 (chunks of networks, or a sweep's runs) on up to
    /// <paramref name="threads"/> dedicated threads, each taking the next index; stage times are summed over the workers into
    /// <paramref name="stages"/>. The first exception stops the others from taking new items and is rethrown as it was (one-line
    /// errors stay one line).
    /// </summary>
    internal static void ForEach(int count, int threads, StageTimes stages, Action<int, StageTimes> work, CancellationToken cancel)
    {
        int workers = Math.Min(threads, count);
        if (workers <= 1)
        {
            for (int chunk = 0; chunk < count; chunk++)
            {
                cancel.ThrowIfCancellationRequested();
                work(chunk, stages);
            }
            return;
        }
        // libtorch keeps the intra-op count per thread (OpenMP) and globally (the value new threads start from); the workers
        // set 1 for themselves, which also sets the global value: the caller's is put back afterwards.
        int callerThreads = get_num_threads();
        int next = -1;
        Exception? failure = null;
        var times = new StageTimes[workers];
        var pool = new Thread[workers];
        for (int w = 0; w < workers; w++)
        {
            int worker = w;
            times[worker] = new StageTimes();
            pool[worker] = new Thread(() =>
            {
                try
                {
                    if (get_num_threads() != 1) set_num_threads(1);
                    int chunk;
                    while (Volatile.Read(ref failure) is null && !cancel.IsCancellationRequested && (chunk = Interlocked.Increment(ref next)) < count)
                        work(chunk, times[worker]);
                }
                catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            }) { IsBackground = true, Name = $"torchdist worker {worker}" };
        }
        foreach (var thread in pool) thread.Start();
        foreach (var thread in pool) thread.Join();
        if (get_num_threads() != callerThreads) set_num_threads(callerThreads);
        foreach (var time in times) stages.Add(time);
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);
        cancel.ThrowIfCancellationRequested();
    }
}
