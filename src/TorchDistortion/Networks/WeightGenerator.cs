namespace TorchDistortion.Networks;

/// <summary>
/// The random number generator that draws network i's weights and biases from its seed (seed, i). Both give every network
/// bit for bit on any chunking, thread count or machine; they give different networks for the same seed, so the generator
/// is part of every run's settings, id and output.
/// </summary>
public enum WeightGenerator
{
    /// <summary>
    /// libtorch's CPU generator (mt19937) seeded with (seed, i), normal_ and uniform_ in float64 (Box–Muller): the networks
    /// of every version before generators could be chosen. Training draws its initial weights with it.
    /// </summary>
    Torch,

    /// <summary>
    /// Version 1 of the project's own generator: xoshiro256++ seeded by SplitMix64 from (seed, i), Gaussians by a 256-layer
    /// ziggurat (Marsaglia and Tsang), uniforms from the top 53 bits. About 4x faster than <see cref="Torch"/> (a float64
    /// Gaussian in about 4.5 ns instead of 20). Its numbers are frozen: a different algorithm would get a new name.
    /// </summary>
    Ziggurat,
}

/// <summary>Names of <see cref="WeightGenerator"/> values as settings, files and outputs spell them.</summary>
public static class WeightGenerators
{
    /// <summary>The generator measurements and sweeps use unless told otherwise.</summary>
    public const WeightGenerator Default = WeightGenerator.Ziggurat;

    private static readonly string[] NameList = ["torch", "ziggurat"];

    /// <summary>Measured cost of one float64 Gaussian (2-core EPYC): for time estimates and ordering work, not for results.</summary>
    internal static double SecondsPerGaussian(this WeightGenerator generator) => generator == WeightGenerator.Torch ? 20e-9 : 4.5e-9;

    /// <summary>The names <see cref="Parse"/> accepts, in enum order.</summary>
    public static IReadOnlyList<string> Names => NameList;

    public static string Name(this WeightGenerator generator) => NameList[(int)generator];

    public static WeightGenerator Parse(string name) =>
        Array.IndexOf(NameList, name.ToLowerInvariant()) is int i and >= 0 ? (WeightGenerator)i
            : throw new SettingException("generator", $": unknown generator '{name}'; allowed: {string.Join(", ", NameList)}");
}
