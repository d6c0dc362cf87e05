using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;

namespace TorchDistortion.Experiments;

/// <summary>
/// A sweep as declared in a JSON file (schema version 1) or on the command line: lists of settings whose
/// cross product is the set of runs. Settings that do not apply to a combination collapse instead of
/// multiplying: C_W only varies "variance" and "orthogonal" inits, k only varies patches.
/// </summary>
public sealed record SweepSpec
{
    public const int CurrentSchemaVersion = 1;

    /// <summary>Above this many runs a sweep is refused unless the caller raises the cap (--max-runs): a typo can declare billions.</summary>
    public const long DefaultMaxRuns = 100_000;

    [JsonRequired] public int SchemaVersion { get; init; }
    public string Name { get; init; } = "sweep";
    /// <summary>Explicit shapes n0,...,nL; alternative to the width/depth shorthand.</summary>
    public List<List<int>>? Widths { get; init; }
    public List<int>? Width { get; init; }
    public List<int>? Depth { get; init; }
    public List<int?>? N0 { get; init; }
    public List<int?>? NL { get; init; }
    /// <summary>Activations by name (relu, leaky-relu:0.2, abs, abrelu:a,b, tanh, ...).</summary>
    public List<string> Activation { get; init; } = ["relu"];
    public List<string> Init { get; init; } = ["he"];
    public List<double> CW { get; init; } = [2.0];
    [JsonPropertyName("cout")] public List<double?> COut { get; init; } = [null];
    public List<double> CB { get; init; } = [0.0];
    public bool Bias { get; init; } = true;
    public List<string> Geometry { get; init; } = ["segment"];
    public List<int> K { get; init; } = [1];
    /// <summary>Exact piecewise-linear length (segments, polylines) instead of, or beside, the quadrature.</summary>
    public List<bool> Exact { get; init; } = [false];
    /// <summary>Quadrature nodes; null: 64 along curves, 4 per patch side.</summary>
    public List<int>? Points { get; init; }
    public List<int> Networks { get; init; } = [200];
    public long Seed { get; init; }
    [JsonPropertyName("dtype")] public string DType { get; init; } = "float64";
    public int Moments { get; init; } = 4;

    internal static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads and validates a sweep file; every problem is an <see cref="ArgumentException"/> naming the field.</summary>
    public static SweepSpec Load(string path, long maxRuns = DefaultMaxRuns)
    {
        var spec = Parse(path);
        spec.Expand(Path.GetFileName(path), maxRuns);
        return spec;
    }

    /// <summary>Reads a sweep file without expanding it: its runs are validated as they are expanded.</summary>
    public static SweepSpec Parse(string path)
    {
        string name = Path.GetFileName(path);
        if (!File.Exists(path)) throw new ArgumentException($"sweep file '{path}' does not exist");
        SweepSpec? spec;
        try { spec = JsonSerializer.Deserialize<SweepSpec>(File.ReadAllText(path), JsonOptions); }
        catch (JsonException e)
        {
            string field = e.Path is { Length: > 2 } p ? p[2..] : "(document)";
            string property = System.Text.RegularExpressions.Regex.Match(e.Message, "property '([^']+)'").Groups[1].Value;
            throw new ArgumentException(e.Message.Contains("could not be mapped") ? $"{name}: unknown field '{property}'"
                : e.Message.Contains("missing required") ? $"{name}: missing required field schema_version"
                : e.Message.Contains("Duplicate") ? $"{name}: {(property.Length > 0 ? property : field)}: given more than once"
                : $"{name}: {field}: wrong type or malformed value");
        }
        return spec ?? throw new ArgumentException($"{name}: empty document");
    }

    /// <summary>The runs of the sweep, in a stable order without duplicates. Validates every run before any computation.</summary>
    public IReadOnlyList<RunSpec> Expand(string source = "sweep", long maxRuns = DefaultMaxRuns) => Runs(source, maxRuns).ToList();

    /// <summary>
    /// The runs one at a time, as they are expanded (a listing need not hold them all). The fields and the size are
    /// checked before the first run; each run is validated as it comes.
    /// </summary>
    public IEnumerable<RunSpec> Runs(string source = "sweep", long maxRuns = DefaultMaxRuns)
    {
        CheckFields(source);
        var count = CountBound();
        if (count > maxRuns)
            throw new ArgumentException($"{source}: the sweep has {count} runs, above the cap of {maxRuns}; narrow it or raise the cap with --max-runs");
        return Enumerate(source);
    }

    /// <summary>
    /// The number of runs before expansion: the product of the list lengths, with C_W counted only for inits that
    /// use it and k only for patches. An upper bound (equal shapes from the shorthand are counted twice), exact otherwise.
    /// </summary>
    internal System.Numerics.BigInteger CountBound()
    {
        static bool IsPatch(string geometry)
        {
            try { return GeometrySpec.ParseKind(geometry) == GeometryKind.Patch; }
            catch (ArgumentException) { return false; } // reported by the expansion
        }
        System.Numerics.BigInteger shapes = Widths?.Count ?? (System.Numerics.BigInteger)(Width?.Count ?? 1) * (Depth?.Count ?? 1) * (N0?.Count ?? 1) * (NL?.Count ?? 1);
        long inits = Init.Sum(i => i.ToLowerInvariant() is "variance" or "orthogonal" ? (long)CW.Count : 1);
        long geometries = Geometry.Sum(g => IsPatch(g) ? (long)K.Count : 1);
        return shapes * Activation.Count * inits * COut.Count * CB.Count * geometries * Exact.Count * (Points?.Count ?? 1) * Networks.Count;
    }

    private void CheckFields(string source)
    {
        string Field(string field, string message) => $"{source}: {field}: {message}";
        if (SchemaVersion != CurrentSchemaVersion)
            throw new ArgumentException(Field("schema_version", $"unsupported version {SchemaVersion}; this build reads {CurrentSchemaVersion}"));
        if (Widths is not null && (Width is not null || Depth is not null || N0 is not null || NL is not null))
            throw new ArgumentException(Field("widths", "give either widths or the width/depth/n0/nl shorthand, not both"));
        if (Moments < 1 || Moments > 16) throw new ArgumentException(Field("moments", $"must be between 1 and 16, got {Moments}"));
        if (DType is not ("float64" or "float32")) throw new ArgumentException(Field("dtype", $"must be float64 or float32, got '{DType}'"));
        // JSON may carry null for a list or inside one; a missing list takes its default, a null one is an error.
        foreach (var (field, list) in new (string, System.Collections.IList?)[] { ("activation", Activation), ("init", Init), ("cw", CW), ("cout", COut), ("cb", CB),
                     ("geometry", Geometry), ("k", K), ("exact", Exact), ("networks", Networks), ("points", Points ?? new List<int> { 0 }),
                     ("widths", Widths ?? [[0]]), ("width", Width ?? [0]), ("depth", Depth ?? [0]), ("n0", N0 ?? [0]), ("nl", NL ?? [0]) })
        {
            if (list is null) throw new ArgumentException(Field(field, "must be a list, not null"));
            if (list.Count == 0) throw new ArgumentException(Field(field, "must not be an empty list"));
            if (field is "activation" or "init" or "geometry" or "widths" && list.Cast<object?>().Any(item => item is null))
                throw new ArgumentException(Field(field, "has a null entry"));
        }
    }

    private IEnumerable<int[]> Shapes(string source)
    {
        if (Widths is not null)
        {
            foreach (var w in Widths) yield return w.ToArray();
            yield break;
        }
        foreach (int width in Width ?? [32])
        foreach (int depth in Depth ?? [20])
        foreach (int? n0 in N0 ?? [null])
        foreach (int? nL in NL ?? [null])
        {
            if (width < 1) throw new ArgumentException($"{source}: width: must be a positive integer, got {width}");
            if (depth < 1) throw new ArgumentException($"{source}: depth: must be at least 1, got {depth}");
            yield return NetworkSpec.Shorthand(width, depth, n0, nL).ToArray();
        }
    }

    private IEnumerable<RunSpec> Enumerate(string source)
    {
        var seen = new HashSet<string>();
        foreach (var shape in Shapes(source))
        foreach (string activation in Activation)
        foreach (string init in Init)
        foreach (double cW in CW)
        foreach (double? cOut in COut)
        foreach (double cB in CB)
        foreach (string geometry in Geometry)
        foreach (int k in K)
        foreach (bool exact in Exact)
        foreach (int? points in Points?.Select(p => (int?)p) ?? [null])
        foreach (int networks in Networks)
        {
            string initName = init.ToLowerInvariant();
            bool usesCW = initName is "variance" or "orthogonal";
            var kind = Rethrow(() => GeometrySpec.ParseKind(geometry), source);
            // The canonical name; ReLU stays null so that the run ids of ReLU sweeps are those of earlier versions.
            var parsedActivation = Rethrow(() => TorchDistortion.Networks.Activation.Parse(activation), source, "activation");
            var run = new RunSpec(shape, initName, usesCW ? cW : null, cOut, cB, Bias, kind.ToString().ToLowerInvariant(),
                kind == GeometryKind.Patch ? k : 1, points ?? (exact ? 1 : kind == GeometryKind.Patch ? 4 : 64), networks, DType, Moments,
                exact ? true : null, parsedActivation == TorchDistortion.Networks.Activation.ReLU ? null : parsedActivation.Name);
            Rethrow(() => run.ToSettings(Seed, "cpu").Validate(), source);
            if (seen.Add(run.Id(Seed))) yield return run;
        }
    }

    /// <summary>Stable identity of the whole sweep: a hash of its run identifiers.</summary>
    public string SweepId() => SweepId(Expand());

    /// <summary>The sweep id from runs already expanded (expansion validates every run, so it is not repeated).</summary>
    public string SweepId(IReadOnlyList<RunSpec> runs) => SweepIdOf(runs.Select(r => r.Id(Seed)));

    /// <summary>The sweep id from the run ids, in any order.</summary>
    public static string SweepIdOf(IEnumerable<string> runIds) => RunSpec.Hash(string.Join(",", runIds.Order()));

    private static T Rethrow<T>(Func<T> action, string source, string? field = null)
    {
        try { return action(); }
        catch (ArgumentException e) when (field is not null) { throw new ArgumentException($"{source}: {field}: {e.Message}"); }
        catch (ArgumentException e)
        {
            // Library messages name command-line options (--k); in a sweep file the field is k.
            throw new ArgumentException($"{source}: {e.Message.TrimStart('-').Replace(" --", " ")}");
        }
    }
}
