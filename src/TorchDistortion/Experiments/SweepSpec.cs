using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Geometry;
using TorchDistortion.Networks;

namespace TorchDistortion.Experiments;

/// <summary>
/// A sweep as declared in a JSON file (schema version 1) or on the command line: lists of settings whose
/// cross product is the set of runs. Settings that do not apply to a combination collapse instead of
/// multiplying: C_W only varies "variance" and "orthogonal" inits, k only varies patches.
/// A new sweep setting of the typed run (a field of NetworkSpec, GeometrySpec or MeasureSettings): a list here, its axis in
/// <see cref="Axes"/> (the <see cref="Grid"/> that training sweeps share), and its field in <see cref="RunSpecJson"/>, written only when it differs from the value
/// runs had before it existed, so that their ids hold.
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
    /// <summary>
    /// The weight generator by name (<see cref="WeightGenerators.Names"/>). Absent: ziggurat in a sweep declaration; torch
    /// in the sweep.json of a folder written before generators existed (see <see cref="FromFolder"/>), so its runs keep their ids.
    /// </summary>
    public string? Generator { get; init; }

    private WeightGenerator WeightGenerator => Generator is null ? WeightGenerators.Default : WeightGenerators.Parse(Generator);

    /// <summary>This sweep as its folder's sweep.json holds it: with the generator always named.</summary>
    internal SweepSpec ForFolder() => this with { Generator = WeightGenerator.Name() };

    /// <summary>A folder's sweep.json as read: one without a generator was written when every network came from torch's.</summary>
    internal SweepSpec FromFolder() => Generator is null ? this with { Generator = TorchDistortion.Networks.WeightGenerator.Torch.Name() } : this;

    internal static JsonSerializerOptions JsonOptions => ExperimentJson.Options;

    /// <summary>Reads and validates a sweep file; every problem is an <see cref="ArgumentException"/> naming the field.</summary>
    public static SweepSpec Load(string path, long maxRuns = DefaultMaxRuns)
    {
        var spec = Parse(path);
        spec.Expand(Path.GetFileName(path), maxRuns);
        return spec;
    }

    /// <summary>Reads a sweep file without expanding it: its runs are validated as they are expanded.</summary>
    public static SweepSpec Parse(string path) => ExperimentJson.ReadDeclaration<SweepSpec>(path);

    /// <summary>The runs of the sweep, in a stable order without duplicates. Validates every run before any computation.</summary>
    public IReadOnlyList<RunSpec> Expand(string source = "sweep", long maxRuns = DefaultMaxRuns) => Runs(source, maxRuns).ToList();

    /// <summary>
    /// The runs one at a time, as they are expanded (a listing need not hold them all). The fields and the size are
    /// checked before the first run; each run is validated as it comes.
    /// </summary>
    public IEnumerable<RunSpec> Runs(string source = "sweep", long maxRuns = DefaultMaxRuns)
    {
        CheckFields(source);
        Axes().Cap(source, maxRuns);
        return Enumerate(source);
    }

    /// <summary>
    /// The number of runs before expansion: the product of the list lengths, with C_W counted only for inits that
    /// use it and k only for patches. An upper bound (equal shapes from the shorthand are counted twice), exact otherwise.
    /// </summary>
    internal System.Numerics.BigInteger CountBound() => Axes().Count();

    /// <summary>
    /// The sweep's axes, in the order of its runs: the shape, then the network, the geometry and the networks per run.
    /// C_W varies only the inits that take it and k only patches. Repeated values are not refused: equal runs share an id
    /// and are dropped by it, as they always were.
    /// </summary>
    private Grid Axes()
    {
        static bool IsPatch(string geometry)
        {
            try { return GeometrySpec.ParseKind(geometry) == GeometryKind.Patch; }
            catch (ArgumentException) { return false; } // reported by the expansion
        }
        var grid = new Grid(refuseDuplicates: false);
        if (Widths is not null) grid.Add("widths", Widths);
        else grid.Add("width", Width ?? [32]).Add("depth", Depth ?? [20]).Add("n0", N0 ?? [null]).Add("nL", NL ?? [null]);
        return grid.Add("activation", Activation).Add("init", Init).Add<double, string>("C_W", CW, "init", InitScheme.TakesWeightVariance)
            .Add("C_out", COut).Add("C_b", CB).Add("geometry", Geometry).Add<int, string>("k", K, "geometry", IsPatch).Add("exact", Exact)
            .Add("points", Points?.Select(p => (int?)p).ToList() ?? [null]).Add("networks", Networks);
    }

    private void CheckFields(string source)
    {
        string Field(string field, string message) => $"{source}: {field}: {message}";
        ExperimentJson.CheckSchemaVersion(source, SchemaVersion);
        if (Widths is not null && (Width is not null || Depth is not null || N0 is not null || NL is not null))
            throw new ArgumentException(Field("widths", "give either widths or the width/depth/n0/nl shorthand, not both"));
        if (Moments < 1 || Moments > 16) throw new ArgumentException(Field("moments", $"must be between 1 and 16, got {Moments}"));
        ExperimentJson.InFile(source, () => DTypes.Parse(DType), "dtype");
        ExperimentJson.InFile(source, () => WeightGenerator, "generator");
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

    private IEnumerable<RunSpec> Enumerate(string source)
    {
        var seen = new HashSet<string>();
        foreach (var point in Axes().Points())
        {
            var shape = Shape(point, source);
            string init = point.Get<string>("init"), geometry = point.Get<string>("geometry");
            bool exact = point.Get<bool>("exact");
            int? points = point.Get<int?>("points");
            var network = ExperimentJson.InFile(source, () => new NetworkSpec(shape, InitScheme.Parse(init, point.Applies("C_W") ? point.Get<double>("C_W") : null), point.Get<double?>("C_out"),
                Bias, point.Get<double>("C_b"), TorchDistortion.Networks.Activation.Parse(point.Get<string>("activation")), WeightGenerator));
            var kind = ExperimentJson.InFile(source, () => GeometrySpec.ParseKind(geometry));
            var run = new RunSpec(network, new GeometrySpec(kind, points ?? GeometrySpec.DefaultPoints(kind, exact), kind == GeometryKind.Patch ? point.Get<int>("k") : 1, Exact: exact),
                point.Get<int>("networks"), DTypes.Parse(DType), Moments);
            ExperimentJson.InFile(source, () => run.ToSettings(Seed, DeviceSpec.Cpu).Validate());
            if (seen.Add(run.Id(Seed))) yield return run;
        }
    }

    private int[] Shape(Grid.Point point, string source)
    {
        if (Widths is not null) return point.Get<List<int>>("widths").ToArray();
        int width = point.Get<int>("width"), depth = point.Get<int>("depth");
        if (width < 1) throw new ArgumentException($"{source}: width: must be a positive integer, got {width}");
        if (depth < 1) throw new ArgumentException($"{source}: depth: must be at least 1, got {depth}");
        return NetworkSpec.Shorthand(width, depth, point.Get<int?>("n0"), point.Get<int?>("nL")).ToArray();
    }

    /// <summary>Stable identity of the whole sweep: a hash of its run identifiers.</summary>
    public string SweepId() => SweepId(Expand());

    /// <summary>The sweep id from runs already expanded (expansion validates every run, so it is not repeated).</summary>
    public string SweepId(IReadOnlyList<RunSpec> runs) => SweepIdOf(runs.Select(r => r.Id(Seed)));

    /// <summary>The sweep id from the run ids, in any order.</summary>
    public static string SweepIdOf(IEnumerable<string> runIds) => RunSpec.Hash(string.Join(",", runIds.Order()));
}
