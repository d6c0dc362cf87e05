using System.CommandLine;
using TorchDistortion.Geometry;

namespace TorchDistortion.Cli;

/// <summary>
/// What is measured on each network (--geometry, --k, --points, --size, --modes, --polyline, --exact), defined once for
/// measure and sweep; --geometry, --k and --points are comma-separated lists in sweep.
/// </summary>
internal sealed class GeometryOptions
{
    internal Option<string> Kind { get; } = new("--geometry") { Description = $"What to measure: {string.Join(", ", GeometrySpec.KindNames)}", DefaultValueFactory = _ => "segment" };
    internal Option<string> K { get; } = new("--k") { Description = "Patch dimension k (with --geometry patch)", DefaultValueFactory = _ => "1" };
    internal Option<string?> Points { get; } = new("--points") { Description = "Quadrature nodes along a curve (default 64) or per patch side (default 4)" };
    internal Option<double> Size { get; } = new("--size") { Description = "Curve length or patch side", DefaultValueFactory = _ => 1.0 };
    internal Option<int> Modes { get; } = new("--modes") { Description = "Fourier modes of --geometry fourier", DefaultValueFactory = _ => 3 };
    internal Option<string?> Polyline { get; } = new("--polyline") { Description = "Polyline vertices for --geometry polyline: 'x,y,...;x,y,...;...'" };
    internal Option<bool> Exact { get; } = new("--exact") { Description = "Exact piecewise-linear length (segment, polyline); with --points N also an N-node quadrature and its error" };

    /// <summary>The options sweep takes (lists of kinds, k and points, and --exact).</summary>
    internal Option[] Sweep => [Kind, K, Points, Exact];

    internal Option[] All => [Kind, K, Points, Size, Modes, Polyline, Exact];

    /// <summary>One geometry (measure).</summary>
    internal GeometrySpec Spec(ParseResult parse)
    {
        var kind = GeometrySpec.ParseKind(parse.GetValue(Kind)!);
        int k = NetworkOptions.One(Cli.Ints(parse.GetValue(K)!, "--k"), K)!.Value;
        if (k != 1 && kind != GeometryKind.Patch) throw new ArgumentException($"--k: k = {k} needs --geometry patch");
        var polyline = parse.GetValue(Polyline) is string p
            ? Cli.ParseList(p, "--polyline", vertex => Cli.Doubles(vertex, "--polyline").ToArray(), ';')
            : null;
        if (polyline is not null && kind != GeometryKind.Polyline) throw new ArgumentException("--polyline needs --geometry polyline");
        bool exact = parse.GetValue(Exact);
        int points = NetworkOptions.One(NetworkOptions.Ints(parse, Points), Points) ?? (exact ? 1 : kind == GeometryKind.Patch ? 4 : 64);
        return new GeometrySpec(kind, points, k, parse.GetValue(Size), parse.GetValue(Modes), polyline, exact);
    }
}
