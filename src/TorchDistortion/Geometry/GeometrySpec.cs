namespace TorchDistortion.Geometry;

/// <summary>What is measured: the length of a curve's image or the volume of a k-dimensional patch's image.</summary>
public enum GeometryKind
{
    /// <summary>Line segment: start ~ N(0, I), direction uniform on the sphere, length <see cref="GeometrySpec.Size"/>.</summary>
    Segment,
    /// <summary>Circle of circumference Size in a random 2-plane through a centre ~ N(0, I).</summary>
    Circle,
    /// <summary>Smooth closed random curve: a few Fourier modes with decaying Gaussian coefficients.</summary>
    Fourier,
    /// <summary>Polyline through user-given points (the same for every network).</summary>
    Polyline,
    /// <summary>Flat k-dimensional cube of side Size in a random orthonormal frame; volume distortion.</summary>
    Patch,
}

/// <summary>The geometry measured on every network of an ensemble.</summary>
/// <param name="Kind">Curve or patch kind.</param>
/// <param name="Points">Quadrature nodes: along a curve (per segment of a polyline), or per side of a patch.</param>
/// <param name="K">Patch dimension (1 for curves).</param>
/// <param name="Size">Curve length, or patch side length.</param>
/// <param name="FourierModes">Number of Fourier modes of the random closed curve.</param>
/// <param name="PolylinePoints">The vertices of a polyline, each of dimension n0.</param>
/// <param name="Exact">Segments and polylines only: the exact piecewise-linear length (every breakpoint found)
/// instead of a quadrature; with Points &gt; 1 the Points-node quadrature also runs and its error against the
/// exact length is reported.</param>
public sealed record GeometrySpec(
    GeometryKind Kind = GeometryKind.Segment,
    int Points = 64,
    int K = 1,
    double Size = 1.0,
    int FourierModes = 3,
    IReadOnlyList<double[]>? PolylinePoints = null,
    bool Exact = false)
{
    public bool IsCurve => Kind != GeometryKind.Patch;

    /// <summary>What a measurement on this geometry reports: "length distortion" or "k-volume distortion".</summary>
    public string Quantity => IsCurve ? "length distortion" : $"{K}-volume distortion";

    /// <summary>Evaluation points per network.</summary>
    public int NodeCount => Kind switch
    {
        GeometryKind.Patch => checked((int)Math.Pow(Points, K)),
        GeometryKind.Polyline => Points * (PolylinePoints!.Count - 1),
        _ => Points,
    };

    /// <summary>Quadrature nodes when none are given: one for an exact length (no quadrature beside it), 4 per patch side, 64 along a curve.</summary>
    public static int DefaultPoints(GeometryKind kind, bool exact = false) => exact ? 1 : kind == GeometryKind.Patch ? 4 : 64;

    /// <summary>The names the command line accepts for <see cref="Kind"/>.</summary>
    public static IReadOnlyList<string> KindNames { get; } = ["segment", "circle", "fourier", "polyline", "patch"];

    public static GeometryKind ParseKind(string name) =>
        KindNames.Contains(name.ToLowerInvariant())
            ? Enum.Parse<GeometryKind>(name, ignoreCase: true)
            : throw new SettingException("geometry", $": unknown kind '{name}'; allowed: {string.Join(", ", KindNames)}");

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field that does not fit the network.</summary>
    public GeometrySpec Validate(IReadOnlyList<int> widths)
    {
        if (Points < 1 || Points > 1_000_000)
            throw new SettingException("points", $"must be between 1 and 1000000, got {Points}");
        if (K < 1) throw new SettingException("k", $"must be at least 1, got {K}");
        if (IsCurve && K != 1) throw new SettingException("k", $": a curve is one-dimensional; k > 1 needs a patch geometry, got k = {K}");
        int smallest = widths.Min();
        if (K > smallest)
            throw new SettingException("k", $": k = {K} is larger than the smallest width {smallest}; the volume would be 0");
        if (Kind == GeometryKind.Patch && Math.Pow(Points, K) > 1_000_000)
            throw new SettingException("points", $": {Points}^{K} patch nodes is too many; use at most 1000000 in all");
        if (!double.IsFinite(Size) || Size <= 0) throw new SettingException("size", $"must be a finite number > 0, got {Size}");
        if (Exact && Kind is not (GeometryKind.Segment or GeometryKind.Polyline))
            throw new SettingException("exact", $": the exact piecewise-linear length needs a segment or polyline geometry, not {Kind.ToString().ToLowerInvariant()}");
        if (Kind == GeometryKind.Circle && widths[0] < 2) throw new SettingException("geometry", ": a circle needs input dimension n0 >= 2");
        if (Kind == GeometryKind.Fourier && (FourierModes < 1 || FourierModes > 64))
            throw new SettingException("modes", $"must be between 1 and 64, got {FourierModes}");
        if (Kind == GeometryKind.Polyline)
        {
            if (PolylinePoints is null || PolylinePoints.Count < 2)
                throw new SettingException("polyline", "needs at least two points, e.g. '0,0;1,0;1,1'");
            for (int i = 0; i < PolylinePoints.Count; i++)
            {
                var p = PolylinePoints[i];
                if (p.Length != widths[0])
                    throw new SettingException("polyline", $": point {i} has {p.Length} coordinates, the input dimension is {widths[0]}");
                if (p.Any(v => !double.IsFinite(v))) throw new SettingException("polyline", $": point {i} has a non-finite coordinate");
                if (i > 0 && p.Zip(PolylinePoints[i - 1], (a, b) => a - b).All(d => d == 0))
                    throw new SettingException("polyline", $": points {i - 1} and {i} coincide (a zero-length piece)");
            }
        }
        return this;
    }

    public override string ToString() => (Exact ? "exact " : "") + Kind switch
    {
        GeometryKind.Patch => $"patch k={K} side={Size:G4} nodes={Points}^{K}",
        GeometryKind.Fourier => $"fourier modes={FourierModes} nodes={Points}",
        GeometryKind.Polyline => $"polyline {PolylinePoints!.Count} points, nodes={Points}/piece",
        _ => $"{Kind.ToString().ToLowerInvariant()} length={Size:G4} nodes={Points}",
    };
}
