namespace TorchDistortion.Networks;

/// <summary>
/// Derives independent seeds from a master seed, so network i's weights and geometry depend only on
/// (seed, i): the same numbers whatever the chunking, order or machine.
/// </summary>
internal static class Seeds
{
    /// <summary>
    /// Every random stream of the project, in one place. The values are part of every reproduced number: never renumber.
    /// Run and ToyData share 3 (as they always have); their seeds come from different sources (a sweep's master seed
    /// with a run's settings hash, a training run's data seed), so they do not collide in practice.
    /// </summary>
    internal enum Stream : ulong
    {
        /// <summary>Network i's weights.</summary>
        Weights = 1,
        /// <summary>Network i's random geometry (segment, circle, patch frame).</summary>
        Geometry = 2,
        /// <summary>A sweep run's own seed, from the master seed and the run's canonical settings.</summary>
        Run = 3,
        /// <summary>The toy task's data and teacher.</summary>
        ToyData = 3,
        /// <summary>Training: the order of examples in each epoch.</summary>
        Shuffle = 4,
        /// <summary>Training: the seed of the distortion probes' segments and patches.</summary>
        Probe = 5,
        /// <summary>Training: the probe's input points drawn from the data.</summary>
        DataProbe = 6,
    }

    internal static ulong Derive(long seed, long index, Stream stream)
    {
        ulong x = Mix((ulong)seed ^ Mix((ulong)stream * 0x9E3779B97F4A7C15UL));
        return Mix(x ^ Mix((ulong)index + 0x632BE59BD9B4E019UL));
    }

    // SplitMix64 finalizer: a bijection with good avalanche.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
