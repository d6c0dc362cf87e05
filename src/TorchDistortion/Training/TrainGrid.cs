using TorchDistortion.Networks;

namespace TorchDistortion.Training;

/// <summary>The runs of one train command: one per activation, init scheme and seed, the other settings shared.</summary>
public static class TrainGrid
{
    /// <summary>
    /// Every combination, activations outermost, each validated. <paramref name="cw"/> belongs to the schemes that take one
    /// (variance, orthogonal); with a single scheme it goes to that scheme, which then refuses it if it takes none.
    /// </summary>
    public static List<TrainSettings> Expand(TrainSettings shared, IReadOnlyList<string> activations, IReadOnlyList<string> inits, double? cw, IReadOnlyList<long> seeds)
    {
        var schemes = inits.Select(i => i.ToLowerInvariant()).ToList();
        bool TakesCw(string init) => init is "variance" or "orthogonal";
        double? CwFor(string init) => TakesCw(init) || schemes.Count == 1 ? cw : null;
        foreach (var init in schemes) InitScheme.Parse(init, CwFor(init));
        if (cw is not null && !schemes.Any(TakesCw)) throw new ArgumentException("--cw: none of the --init schemes takes C_W (variance, orthogonal)");
        if (seeds.Distinct().Count() != seeds.Count || schemes.Distinct().Count() != schemes.Count) throw new ArgumentException("--seeds and --init: each value once");
        var names = activations.Select(TrainSettings.ActivationField).ToList();
        if (names.Distinct().Count() != names.Count) throw new ArgumentException("--activation: each value once");
        return [.. from activation in names from init in schemes from seed in seeds
                   select (shared with { Activation = activation, Init = init, CW = CwFor(init), Seed = seed }).Validate()];
    }
}
