using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Measurement;

/// <summary>
/// A piecewise-linear network restricted to a curve x(t) made of straight pieces, cut at every t where some hidden neuron's
/// pre-activation changes sign: the network is linear in t between consecutive breakpoints.
/// </summary>
/// <param name="Breakpoints">Sorted parameters t_0 = 0 &lt; t_1 &lt; ... &lt; t_P, P = <see cref="Pieces"/>: t_P = 1 for a
/// segment, the number of polyline pieces for a polyline (see <see cref="PiecewiseLinear.Polyline"/>).</param>
/// <param name="Slopes">Per piece j: dy/dt = J (b - a) on (t_j, t_{j+1}), length nL; for a polyline, (b - a) is
/// the current polyline piece's step.</param>
/// <param name="Patterns">Per piece j: the activation pattern of all hidden neurons, layer 1 first
/// (neuron i of hidden layer l at index n_1 + ... + n_{l-1} + i), true where the neuron's pre-activation is
/// positive inside the piece. A neuron that is exactly zero over the whole piece counts as off.</param>
/// <param name="OutputLength">Exact length of the image curve: sum_j ||y(t_{j+1}) - y(t_j)||.</param>
/// <param name="InputLength">Length of the input curve.</param>
public sealed record SegmentPieces(double[] Breakpoints, double[][] Slopes, bool[][] Patterns, double OutputLength, double InputLength)
{
    /// <summary>Number of linear pieces (activation regions crossed; for a polyline, summed over its pieces).</summary>
    public int Pieces => Breakpoints.Length - 1;

    /// <summary>Output length over input length.</summary>
    public double LengthDistortion => OutputLength / InputLength;
}

/// <summary>
/// Exact breakpoint enumeration of a piecewise-linear network (any <see cref="PiecewiseLinearActivation"/>) along segments x(t) = a + t (b - a), t in [0, 1].
/// <para>
/// Layer by layer, the layer's input is kept at the current breakpoints t_0 &lt; ... &lt; t_P, between which it is
/// linear in t. z = W h + b at all breakpoints takes one mm; z is then linear on each piece, so neuron i changes
/// sign strictly inside piece j iff z_j and z_{j+1} have opposite signs, at t* = t_j + (t_{j+1} - t_j) z_j / (z_j - z_{j+1}).
/// The crossings are inserted (z at a new point by linear interpolation within its piece, the crossing neuron set
/// to exactly 0) and h = phi(z) is evaluated at all points; the output layer is linear. The piece slopes
/// J (b - a) are carried beside the points (one more mm per layer), so they are exact even for tiny pieces.
/// Cost: O(sum_l P_l n_l n_{l-1}) for the matrix products, P_l the number of pieces after layer l, plus
/// O(P_l log P_l) for sorting.
/// </para>
/// <para>
/// Tolerance: a crossing within <see cref="Tolerance"/> (absolute in t, i.e. relative to the segment's length) of
/// an existing breakpoint is not inserted, and the neuron is set to exactly 0 at that breakpoint; crossings of one
/// layer within Tolerance of each other become one breakpoint, at which all of them are 0. So no piece is shorter
/// than Tolerance, and a pre-activation that is exactly zero over a piece (zero bias through the origin) makes
/// neither a piece nor a NaN.
/// </para>
/// All computation is in float64 on the CPU, whatever the network's dtype and device.
/// </summary>
public static class PiecewiseLinear
{
    /// <summary>Breakpoints closer than this in t (on [0, 1]) are merged.</summary>
    public const double Tolerance = 1e-12;

    /// <summary>The pieces of network <paramref name="network"/> of the ensemble along the segment from start to end.</summary>
    public static SegmentPieces Segment(Mlp net, int network, double[] start, double[] end)
    {
        ArgumentNullException.ThrowIfNull(net);
        CheckNetworkIndex(net, network, "segment");
        CheckPoint(net, start, "segment: start");
        CheckPoint(net, end, "segment: end");
        if (start.AsSpan().SequenceEqual(end)) throw new ArgumentException("segment: start and end coincide (zero length)");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Trace(ActivationOf(net), Layers(net, network), 0, tensor(start, float64), tensor(end, float64));
    }

    /// <summary>
    /// One segment per network of the ensemble: starts and ends [K, n0] (any floating dtype; computed in float64).
    /// Element k equals <see cref="Segment"/>(net, k, starts[k], ends[k]).
    /// </summary>
    public static SegmentPieces[] Segments(Mlp net, Tensor starts, Tensor ends)
    {
        ArgumentNullException.ThrowIfNull(net);
        long n0 = net.Spec.InputDim;
        foreach (var (what, points) in new[] { ("starts", starts), ("ends", ends) })
        {
            if (points.dim() != 2 || points.shape[0] != net.Count || points.shape[1] != n0)
                throw new ArgumentException($"segments: {what} [{string.Join(",", points.shape)}] must be [K, n0] = [{net.Count},{n0}]");
            if (!points.is_floating_point()) throw new ArgumentException($"segments: {what} must be floating point, got {points.dtype}");
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = starts.detach().to(float64, CPU).contiguous();
        var b = ends.detach().to(float64, CPU).contiguous();
        var aValues = a.data<double>().ToArray();
        var bValues = b.data<double>().ToArray();
        for (int k = 0; k < net.Count; k++)
        {
            var aRow = aValues.AsSpan(k * (int)n0, (int)n0);
            var bRow = bValues.AsSpan(k * (int)n0, (int)n0);
            foreach (var v in aRow) if (!double.IsFinite(v)) throw new ArgumentException($"segments: start {k} has a non-finite coordinate");
            foreach (var v in bRow) if (!double.IsFinite(v)) throw new ArgumentException($"segments: end {k} has a non-finite coordinate");
            if (aRow.SequenceEqual(bRow)) throw new ArgumentException($"segments: start and end of segment {k} coincide (zero length)");
        }
        var layers = Layers(net);
        var result = new SegmentPieces[net.Count];
        for (int k = 0; k < net.Count; k++)
        {
            using var inner = NewDisposeScope();
            result[k] = Trace(ActivationOf(net), layers, k, a[k], b[k]);
        }
        return result;
    }

    /// <summary>
    /// The pieces along the polyline through <paramref name="vertices"/>, segment by segment. The parameter is global:
    /// polyline piece s (from vertex s to vertex s + 1) covers [s, s + 1], so Breakpoints run from 0 to
    /// vertices.Count - 1 and every vertex is a breakpoint; Slopes are dy/dt with t the local parameter, i.e.
    /// J (v_{s+1} - v_s). Lengths, piece counts and patterns are those of the segments, concatenated.
    /// </summary>
    public static SegmentPieces Polyline(Mlp net, int network, IReadOnlyList<double[]> vertices)
    {
        ArgumentNullException.ThrowIfNull(net);
        CheckNetworkIndex(net, network, "--polyline");
        if (vertices is null || vertices.Count < 2) throw new ArgumentException("--polyline: needs at least two points");
        for (int i = 0; i < vertices.Count; i++)
        {
            CheckPoint(net, vertices[i], $"--polyline: point {i}");
            if (i > 0 && vertices[i].AsSpan().SequenceEqual(vertices[i - 1]))
                throw new ArgumentException($"--polyline: points {i - 1} and {i} coincide (a zero-length piece)");
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var layers = Layers(net, network);
        var breakpoints = new List<double> { 0.0 };
        var slopes = new List<double[]>();
        var patterns = new List<bool[]>();
        double output = 0, input = 0;
        for (int s = 0; s + 1 < vertices.Count; s++)
        {
            using var inner = NewDisposeScope();
            var piece = Trace(ActivationOf(net), layers, 0, tensor(vertices[s], float64), tensor(vertices[s + 1], float64));
            breakpoints.AddRange(piece.Breakpoints.Skip(1).Select(t => s + t));
            breakpoints[^1] = s + 1; // exactly the vertex
            slopes.AddRange(piece.Slopes);
            patterns.AddRange(piece.Patterns);
            output += piece.OutputLength;
            input += piece.InputLength;
        }
        return new SegmentPieces(breakpoints.ToArray(), slopes.ToArray(), patterns.ToArray(), output, input);
    }

    private static void CheckNetworkIndex(Mlp net, int network, string what)
    {
        if (network < 0 || network >= net.Count)
            throw new ArgumentException($"{what}: network index {network} is out of range; the ensemble has {net.Count} network(s)");
    }

    private static void CheckPoint(Mlp net, double[]? point, string what)
    {
        if (point is null) throw new ArgumentException($"{what} is missing");
        if (point.Length != net.Spec.InputDim)
            throw new ArgumentException($"{what} has {point.Length} coordinates, the input dimension is {net.Spec.InputDim}");
        if (point.Any(v => !double.IsFinite(v))) throw new ArgumentException($"{what} has a non-finite coordinate");
    }

    /// <summary>Breakpoints exist only for the piecewise-linear family.</summary>
    private static PiecewiseLinearActivation ActivationOf(Mlp net) =>
        net.Spec.Activation as PiecewiseLinearActivation
        ?? throw new ArgumentException($"exact breakpoints need a piecewise-linear activation (relu, leaky-relu, abs, abrelu); {net.Spec.Activation} is smooth");

    /// <summary>
    /// Per layer: transposed weights [K', n_in, n_out] (contiguous, for mm) and biases [K', n_out] or null, float64 on
    /// the CPU; all K networks, or only network <paramref name="only"/> (then K' = 1 and it is index 0).
    /// </summary>
    private static (Tensor WeightT, Tensor? Bias)[] Layers(Mlp net, int? only = null)
    {
        Tensor Pick(Tensor p) => (only is int k ? p.detach().narrow(0, k, 1) : p.detach()).to(float64, CPU);
        var layers = new (Tensor, Tensor?)[net.Weights.Count];
        for (int l = 0; l < layers.Length; l++)
            layers[l] = (Pick(net.Weights[l]).transpose(1, 2).contiguous(), net.Biases[l] is Tensor b ? Pick(b) : null);
        return layers;
    }

    /// <summary>Breakpoints of network k along a to b (float64 vectors [n0], validated). Call inside a dispose scope.</summary>
    private static SegmentPieces Trace(PiecewiseLinearActivation activation, (Tensor WeightT, Tensor? Bias)[] layers, int k, Tensor a, Tensor b)
    {
        int depth = layers.Length;
        var direction = b - a;
        double inputLength = direction.norm().item<double>();
        if (!(inputLength > 0) || !double.IsFinite(inputLength))
            throw new ArgumentException($"segment: the length {inputLength} is not a finite positive number");
        var t = tensor(new[] { 0.0, 1.0 }, float64);
        var h = stack([a, b]);                // the layer's input at the breakpoints [P+1, n]
        var slope = direction.unsqueeze(0);   // dh/dt on each piece [P, n]
        var masks = new Tensor[depth - 1];
        var parents = new Tensor?[depth - 1];
        for (int l = 0; l < depth; l++)
        {
            var weightT = layers[l].WeightT[k];
            var z = mm(h, weightT);
            if (layers[l].Bias is Tensor bias) z.add_(bias[k]);
            var dz = mm(slope, weightT);
            if (l == depth - 1) { h = z; slope = dz; break; }
            (t, z, parents[l]) = Refine(t, z);
            if (parents[l] is Tensor parent) dz = dz.index_select(0, parent);
            // No sign change inside a piece any more: the sign of the piece's midpoint value is the neuron's state.
            var mask = z[..^1].add(z[1..]).gt(0);
            masks[l] = mask;
            h = activation.Forward(z);
            using (var pieceSlope = activation.SlopeOf(mask))
                slope = dz.mul_(pieceSlope);
        }
        double outputLength = (h[1..] - h[..^1]).norm(1).sum().item<double>();

        // Activation patterns of the final pieces: map them back through each layer's refinement.
        var patterns = new Tensor[depth - 1];
        Tensor? index = null;
        for (int l = depth - 2; l >= 0; l--)
        {
            patterns[l] = index is null ? masks[l] : masks[l].index_select(0, index);
            if (parents[l] is Tensor parent) index = index is null ? parent : parent.index_select(0, index);
        }
        int pieces = (int)slope.shape[0];
        return new SegmentPieces(
            t.data<double>().ToArray(),
            Rows(slope.contiguous().data<double>().ToArray(), pieces),
            depth > 1 ? Rows(cat(patterns, 1).contiguous().data<bool>().ToArray(), pieces) : Enumerable.Repeat(Array.Empty<bool>(), pieces).ToArray(),
            outputLength, inputLength);
    }

    private static T[][] Rows<T>(T[] flat, int rows)
    {
        int width = rows == 0 ? 0 : flat.Length / rows;
        var result = new T[rows][];
        for (int r = 0; r < rows; r++) result[r] = flat.AsSpan(r * width, width).ToArray();
        return result;
    }

    /// <summary>
    /// Inserts the zero crossings of the pre-activations z [P+1, n] (linear between the breakpoints t [P+1]).
    /// Returns the new breakpoints, z at them, and for every new piece the index of the old piece that contains it
    /// (null when nothing was inserted).
    /// </summary>
    private static (Tensor T, Tensor Z, Tensor? Parent) Refine(Tensor t, Tensor z)
    {
        long points = t.shape[0];
        var left = z[..^1];
        var right = z[1..];
        var crossing = left.sign().mul_(right.sign()).lt(0);
        var where = crossing.nonzero();            // [C, 2]: (piece, neuron), row-major like masked_select
        if (where.shape[0] == 0) return (t, z, null);
        var piece = where.select(1, 0);
        var neuron = where.select(1, 1);
        var zLeft = left.masked_select(crossing);
        var zRight = right.masked_select(crossing);
        var fraction = zLeft / (zLeft - zRight);   // opposite signs: no cancellation, in [0, 1]
        var tLeft = t.index_select(0, piece);
        var tRight = t.index_select(0, piece + 1);
        var tCross = tLeft + fraction * (tRight - tLeft);

        // Crossings at an existing breakpoint: no new piece; the neuron is exactly zero there.
        var nearLeft = (tCross - tLeft).le(Tolerance);
        var nearRight = (tRight - tCross).le(Tolerance);
        var snapped = nearLeft.logical_or(nearRight);
        if (snapped.any().item<bool>())
        {
            var row = piece + nearRight.to(int64).mul_(nearLeft.logical_not());
            var snappedRows = row.masked_select(snapped);
            var snappedNeurons = neuron.masked_select(snapped);
            z.index_put_(zeros(1, float64), snappedRows, snappedNeurons);
            var keep = snapped.logical_not_().nonzero().squeeze(1);
            if (keep.shape[0] == 0) return (t, z, null);
            piece = piece.index_select(0, keep);
            neuron = neuron.index_select(0, keep);
            fraction = fraction.index_select(0, keep);
            tCross = tCross.index_select(0, keep);
        }

        // Crossings of this layer that fall together become one breakpoint (the first of the group).
        var (sortedT, order) = tCross.sort();
        piece = piece.index_select(0, order);
        neuron = neuron.index_select(0, order);
        fraction = fraction.index_select(0, order);
        var startsGroup = cat([ones(1, @bool), sortedT.diff().gt(Tolerance)]);
        var group = startsGroup.to(int64).cumsum(0).sub_(1);
        var first = startsGroup.nonzero().squeeze(1);
        var newT = sortedT.index_select(0, first);
        var newPiece = piece.index_select(0, first);
        var zFrom = z.index_select(0, newPiece);
        var zTo = z.index_select(0, newPiece + 1);
        var newZ = zFrom.add_(zTo.sub_(zFrom).mul_(fraction.index_select(0, first).unsqueeze(1)));
        newZ.index_put_(zeros(1, float64), group, neuron);

        var allT = cat([t, newT]);
        var (mergedT, position) = allT.sort();
        var mergedZ = cat([z, newZ]).index_select(0, position);
        var key = cat([arange(points, int64), newPiece]).index_select(0, position);
        return (mergedT, mergedZ, key[..^1]);
    }
}
