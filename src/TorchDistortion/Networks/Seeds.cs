namespace TorchDistortion.Networks;

/// <summary>
/// Derives independent seeds from a master seed, so network i's weights and geometry depend only on
/// (seed, i): the same numbers whatever the chunking, order or machine.
/// </summary>
internal static class Seeds
{
    internal const ulong WeightStream = 1, GeometryStream = 2;

    internal static ulong Derive(long seed, long index, ulong stream)
    {
        ulong x = Mix((ulong)seed ^ Mix(stream * 0x9E3779B97F4A7C15UL));
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
