using System.Text.Json;
using System.Text.Json.Nodes;
using TorchDistortion.Plots;
using TorchDistortion.Experiments;

namespace TorchDistortion.Tests.Experiments;

/// <summary>
/// Run ids and run seeds are hashes of the canonical settings: a change of the canonical JSON would silently orphan
/// every earlier result folder and change every reproduced number. Data/run_ids.json holds, for the sweeps of
/// `reproduce` (quick and full) and for sweeps that cover every init scheme, activation, geometry, exact, dtype, bias
/// and C_out, the "id seed" of every run as computed before RunSpec became typed.
/// </summary>
public sealed class RunIdTests
{
    private static readonly JsonArray Stored =
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Experiments", "Data", "run_ids.json")))!.AsArray();

    public static TheoryData<string> Names() => new(Stored.Select(e => (string)e!["name"]!));

    private static JsonObject Entry(string name) => Stored.Single(e => (string)e!["name"]! == name)!.AsObject();

    [Theory]
    [MemberData(nameof(Names))]
    public void RunIdsAndSeedsAreThoseStored(string name)
    {
        var entry = Entry(name);
        // Stored as an earlier version wrote sweep.json: without a generator, read as torch's.
        var spec = JsonSerializer.Deserialize<SweepSpec>(entry["sweep"]!.ToJsonString(), SweepSpec.JsonOptions)!.FromFolder();
        var actual = spec.Expand(name, long.MaxValue).Select(r => $"{r.Id(spec.Seed)} {r.Seed(spec.Seed)}").ToList();
        Assert.Equal(entry["runs"]!.AsArray().Select(r => (string)r!).ToList(), actual);
    }

    [Fact]
    public void ReproduceSweepsAreTheStoredOnes()
    {
        // The stored ids above stand for reproduce's only while its sweeps are the stored ones.
        foreach (var scale in new[] { Scale.Quick, Scale.Full })
        foreach (var figure in PaperFigures.All)
        {
            var stored = Entry($"reproduce/{scale.ToString().ToLowerInvariant()}/{figure.Name}")["sweep"]!;
            var now = JsonNode.Parse(JsonSerializer.Serialize(figure.Sweep(scale), SweepSpec.JsonOptions))!;
            Assert.True(JsonNode.DeepEquals(stored, now), $"{figure.Name} ({scale}): {now.ToJsonString()}");
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void RunsReadBackFromTheirJsonKeepTheirIds(string name)
    {
        // Run files hold the canonical JSON; a run read back must be the same run.
        var declared = JsonSerializer.Deserialize<SweepSpec>(Entry(name)["sweep"]!.ToJsonString(), SweepSpec.JsonOptions)!;
        foreach (var spec in new[] { declared, declared.FromFolder() })
        foreach (var run in spec.Expand(name, long.MaxValue))
        {
            string json = JsonSerializer.Serialize(run, SweepSpec.JsonOptions);
            var back = JsonSerializer.Deserialize<RunSpec>(json, SweepSpec.JsonOptions)!;
            Assert.Equal(run.Id(spec.Seed), back.Id(spec.Seed));
            Assert.Equal(json, JsonSerializer.Serialize(back, SweepSpec.JsonOptions));
        }
    }

    [Fact]
    public void TheGeneratorIsPartOfEveryRunIdAndOnlyTheDefaultChanged()
    {
        // A declaration without a generator draws with ziggurat: every run is new. Naming torch gives back the stored ids,
        // so the generator is the only thing that changed; a folder's sweep.json always names it from now on.
        var entry = Entry("reproduce/quick/fig1_mean_vs_depth");
        var declared = JsonSerializer.Deserialize<SweepSpec>(entry["sweep"]!.ToJsonString(), SweepSpec.JsonOptions)!;
        var stored = entry["runs"]!.AsArray().Select(r => ((string)r!).Split(' ')[0]).ToHashSet();
        var runs = declared.Expand();
        Assert.All(runs, r => Assert.Equal(TorchDistortion.Networks.WeightGenerator.Ziggurat, r.Network.Generator));
        Assert.DoesNotContain(runs, r => stored.Contains(r.Id(declared.Seed)));
        var torch = declared with { Generator = "torch" };
        Assert.Equal(stored, torch.Expand().Select(r => r.Id(torch.Seed)).ToHashSet());
        Assert.Equal("ziggurat", declared.ForFolder().Generator);
        Assert.Equal("torch", declared.FromFolder().Generator);
        Assert.Equal("ziggurat", declared.ForFolder().FromFolder().Generator);
    }

    [Fact]
    public void InitAliasesAreOneRun()
    {
        // The old canonical JSON kept the spelling (kaiming and he were two runs of the same networks); a typed run has one name.
        var spec = new SweepSpec { SchemaVersion = 1, Width = [4], Depth = [2], Init = ["he", "kaiming", "HE", "xavier-normal", "glorot-normal"], Networks = [3] };
        Assert.Equal(2, spec.Expand().Count);
    }
}
