using TorchDistortion.Differentiation;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Measurement;

public class PiecewiseLinearTests
{
    private static Mlp Network(int[] widths, long seed, double biasVariance = 0.5, bool bias = true, int count = 1) =>
        Mlp.Create(new NetworkSpec(widths, InitScheme.He, Bias: bias, BiasVariance: biasVariance), count, seed);

    /// <summary>A start ~ N(0, I) and an end at distance <paramref name="length"/> in a uniform direction.</summary>
    private static (double[] Start, double[] End) RandomSegment(int n0, int seed, double length = 1.0)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var start = Enumerable.Range(0, n0).Select(_ => Normal()).ToArray();
        var direction = Enumerable.Range(0, n0).Select(_ => Normal()).ToArray();
        double norm = Math.Sqrt(direction.Sum(d => d * d));
        return (start, start.Zip(direction, (s, d) => s + length * d / norm).ToArray());
    }

    /// <summary>J(x(t)) (b - a) at the parameters t by tangent propagation on network 0 of <paramref name="net"/>: [T, nL].</summary>
    private static double[][] Velocities(Mlp net, double[] start, double[] end, double[] t)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var a = tensor(start, float64);
        var step = tensor(end, float64) - a;
        var x = (a + tensor(t, float64).unsqueeze(1) * step).unsqueeze(0);
        var tangents = step.expand(1, t.Length, 1, start.Length).contiguous();
        var (output, jacobianTangents) = Jacobians.TangentPropagation(net, x, tangents);
        output.Dispose();
        var flat = jacobianTangents.reshape(t.Length, -1);
        int nL = (int)flat.shape[1];
        var values = flat.data<double>().ToArray();
        return Enumerable.Range(0, t.Length).Select(i => values.AsSpan(i * nL, nL).ToArray()).ToArray();
    }

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));

    /// <summary>sum_j ||J(mid_j)(b - a)|| (t_{j+1} - t_j): the length from one Jacobian evaluation inside every piece.</summary>
    private static (double Length, double[][] Velocities) PiecewiseQuadrature(Mlp net, double[] start, double[] end, SegmentPieces pieces)
    {
        var t = pieces.Breakpoints;
        var mids = Enumerable.Range(0, pieces.Pieces).Select(j => 0.5 * (t[j] + t[j + 1])).ToArray();
        var velocities = Velocities(net, start, end, mids);
        double length = Enumerable.Range(0, pieces.Pieces).Sum(j => Norm(velocities[j]) * (t[j + 1] - t[j]));
        return (length, velocities);
    }

    private static void AssertRelative(double expected, double actual, double tolerance, string what = "") =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Abs(expected), $"{what} expected {expected:R}, got {actual:R}");

    public static TheoryData<int[], double, bool, int> Networks() => new()
    {
        { [3, 10, 10, 2], 0.5, true, 1 },
        { [5, 16, 16, 16, 16, 4], 0.2, true, 2 },
        { [8, 32, 32, 32, 32, 32, 32, 8], 0.0, false, 3 },
        { [1, 12, 12, 12, 1], 1.0, true, 4 },
        { [6, 24, 3], 0.5, true, 5 },
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void LengthAndSlopesAgreeWithTangentPropagationAtPieceMidpoints(int[] widths, double biasVariance, bool bias, int seed)
    {
        using var net = Network(widths, seed, biasVariance, bias);
        var (start, end) = RandomSegment(widths[0], seed, length: 3.0);
        var pieces = PiecewiseLinear.Segment(net, 0, start, end);

        Assert.Equal(0.0, pieces.Breakpoints[0]);
        Assert.Equal(1.0, pieces.Breakpoints[^1]);
        for (int j = 0; j < pieces.Pieces; j++) Assert.True(pieces.Breakpoints[j + 1] > pieces.Breakpoints[j]);
        Assert.True(pieces.Pieces > 1, "the segment should cross several regions");
        AssertRelative(Norm(start.Zip(end, (a, b) => b - a).ToArray()), pieces.InputLength, 1e-14, "input length");

        var (length, velocities) = PiecewiseQuadrature(net, start, end, pieces);
        AssertRelative(length, pieces.OutputLength, 1e-10, "output length");
        double maxSpeed = velocities.Max(Norm);
        for (int j = 0; j < pieces.Pieces; j++)
        {
            Assert.Equal(widths[^1], pieces.Slopes[j].Length);
            double difference = Norm(pieces.Slopes[j].Zip(velocities[j], (s, v) => s - v).ToArray());
            Assert.True(difference <= 1e-10 * maxSpeed, $"piece {j}: slope differs by {difference:G3} (max speed {maxSpeed:G3})");
        }
        Assert.Equal(pieces.OutputLength / pieces.InputLength, pieces.LengthDistortion);
    }

    [Fact]
    public void MidpointQuadratureConvergesToTheExactLength()
    {
        int[] widths = [4, 12, 12, 12, 3];
        using var net = Network(widths, seed: 7);
        var (start, end) = RandomSegment(widths[0], 7, length: 4.0);
        var pieces = PiecewiseLinear.Segment(net, 0, start, end);
        double exact = pieces.OutputLength;
        var (piecewise, velocities) = PiecewiseQuadrature(net, start, end, pieces);
        double maxSpeed = velocities.Max(Norm);

        var errors = new Dictionary<int, double>();
        foreach (int n in new[] { 1000, 10000, 100000 })
        {
            var nodes = Enumerable.Range(0, n).Select(i => (i + 0.5) / n).ToArray();
            double quadrature = Velocities(net, start, end, nodes).Sum(Norm) / n;
            errors[n] = Math.Abs(quadrature - exact);
            // The speed is piecewise constant: only the P - 1 cells that hold a breakpoint err, each by at most maxSpeed / N.
            Assert.True(errors[n] <= 2 * pieces.Pieces * maxSpeed / n, $"N = {n}: error {errors[n]:G3}, bound {2 * pieces.Pieces * maxSpeed / n:G3}");
        }
        Assert.True(errors[100000] < errors[1000], $"error at 1e5 nodes {errors[100000]:G3}, at 1e3 {errors[1000]:G3}");
        // One node inside each piece is the limit of the rule: exact.
        AssertRelative(exact, piecewise, 1e-10, "piecewise quadrature");
    }

    /// <summary>Activation patterns of all hidden neurons [G, sum n_l] at the points x [G, n0] by a plain forward pass.</summary>
    private static Tensor HiddenPatterns(Mlp net, Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x;
        var patterns = new List<Tensor>();
        for (int l = 0; l < net.Weights.Count - 1; l++)
        {
            var z = mm(h, net.Weights[l][0].detach().t());
            if (net.Biases[l] is Tensor b) z = z + b[0].detach();
            patterns.Add(z.gt(0));
            h = z.relu();
        }
        return cat(patterns, 1).MoveToOuterDisposeScope();
    }

    public static TheoryData<int[], int> BruteForceCases() => new()
    {
        { [2, 6, 6, 2], 1 }, { [2, 6, 6, 2], 2 }, { [2, 6, 6, 2], 3 },
        { [3, 8, 8, 8, 1], 1 }, { [3, 8, 8, 8, 1], 2 }, { [3, 8, 8, 8, 1], 3 },
    };

    [Theory]
    [MemberData(nameof(BruteForceCases))]
    public void PieceCountAndPatternsMatchABruteForceGrid(int[] widths, int seed)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var net = Network(widths, seed + 100, biasVariance: 0.5);
        var (start, end) = RandomSegment(widths[0], seed + 100, length: 3.0);
        var pieces = PiecewiseLinear.Segment(net, 0, start, end);

        const int grid = 200001;
        var t = linspace(0, 1, grid, float64);
        var a = tensor(start, float64);
        var x = a + t.unsqueeze(1) * (tensor(end, float64) - a);
        var patterns = HiddenPatterns(net, x);
        long changes = patterns[1..].ne(patterns[..^1]).any(1).sum().item<long>();
        Assert.Equal(changes + 1, pieces.Pieces);

        // Every grid point's pattern is the pattern of the piece that holds it.
        var piece = searchsorted(tensor(pieces.Breakpoints[1..^1], float64), t, right: true);
        var expected = tensor(pieces.Patterns.SelectMany(p => p).ToArray()).reshape(pieces.Pieces, -1).index_select(0, piece);
        Assert.Equal(patterns.shape, expected.shape);
        Assert.Equal(0L, patterns.ne(expected).sum().item<long>());
    }

    [Theory]
    [InlineData(1.0, 11)]
    [InlineData(0.37, 12)]
    [InlineData(2.5, 13)]
    public void ZeroBiasSegmentThroughTheOriginHasTwoPiecesAndNoNaN(double ratio, int seed)
    {
        // start = -ratio * end: x(t) = (t (1 + ratio) - ratio) end passes 0 at t0 = ratio / (1 + ratio). A zero-bias ReLU
        // network is positively homogeneous, so y = (1 - t/t0) N(start) before t0 and the image is two straight
        // pieces of lengths ||N(start)|| and ||N(end)||; every neuron of every layer is exactly 0 at t0.
        int[] widths = [5, 12, 12, 12, 12, 4];
        using var net = Network(widths, seed, biasVariance: 0, bias: false);
        var end = RandomSegment(widths[0], seed).Start;
        var start = end.Select(v => -ratio * v).ToArray();
        var pieces = PiecewiseLinear.Segment(net, 0, start, end);

        Assert.All(pieces.Breakpoints, v => Assert.True(double.IsFinite(v)));
        Assert.All(pieces.Slopes.SelectMany(s => s), v => Assert.True(double.IsFinite(v)));
        Assert.True(double.IsFinite(pieces.OutputLength));
        Assert.Equal(2, pieces.Pieces);
        Assert.Equal(ratio / (1 + ratio), pieces.Breakpoints[1], 12);

        using var scope = NewDisposeScope();
        using var output = net.forward(tensor(new[] { start, end }.SelectMany(p => p).ToArray(), float64).reshape(2, widths[0]));
        double homogeneous = output.norm(1).sum().item<double>();
        AssertRelative(homogeneous, pieces.OutputLength, 1e-12, "homogeneous length");
        AssertRelative(PiecewiseQuadrature(net, start, end, pieces).Length, pieces.OutputLength, 1e-10, "midpoint length");
    }

    [Fact]
    public void NarrowZeroBiasNetworksWithDeadPiecesGiveNoNaN()
    {
        // Width-2 layers die often: pre-activations exactly zero over whole pieces must not create pieces or NaNs.
        int[] widths = [3, 2, 2, 2, 2, 2];
        int dead = 0;
        for (int seed = 0; seed < 20; seed++)
        {
            using var net = Network(widths, seed, biasVariance: 0, bias: false);
            var (start, end) = RandomSegment(widths[0], seed, length: 6.0);
            var pieces = PiecewiseLinear.Segment(net, 0, start, end);
            Assert.All(pieces.Slopes.SelectMany(s => s), v => Assert.True(double.IsFinite(v)));
            Assert.True(double.IsFinite(pieces.OutputLength));
            var (length, velocities) = PiecewiseQuadrature(net, start, end, pieces);
            Assert.True(Math.Abs(length - pieces.OutputLength) <= 1e-10 * Math.Max(length, 1e-300), $"seed {seed}: {length:R} vs {pieces.OutputLength:R}");
            dead += velocities.Count(v => Norm(v) == 0);
        }
        Assert.True(dead > 0, "some pieces should be dead (zero slope)");
    }

    [Fact]
    public void MeanExactLengthDistortionAgreesWithTheExactLaw()
    {
        int[] widths = [8, 16, 16, 16, 8];
        const int count = 2000;
        var spec = new NetworkSpec(widths, InitScheme.He);
        using var scope = NewDisposeScope();
        using var net = Mlp.Create(spec, count, seed: 17);
        using var generator = new Generator(2024);
        var starts = empty(count, widths[0], float64).normal_(0, 1, generator);
        var directions = empty(count, widths[0], float64).normal_(0, 1, generator);
        var ends = starts + directions / directions.norm(1, keepdim: true);
        var distortions = PiecewiseLinear.Segments(net, starts, ends).Select(p => p.LengthDistortion).ToArray();

        double mean = distortions.Average();
        double stdErr = Math.Sqrt(distortions.Sum(d => (d - mean) * (d - mean)) / (count - 1) / count);
        double exact = ExactTheory.Moment(widths, spec.LayerVariances(), k: 1, m: 1);
        Assert.True(Math.Abs(mean - exact) <= 3.5 * stdErr, $"mean {mean:G6} ± {stdErr:G3}, exact {exact:G6}");
    }

    [Fact]
    public void PolylineIsTheConcatenationOfItsSegments()
    {
        int[] widths = [3, 10, 10, 10, 2];
        using var net = Network(widths, seed: 31, count: 3);
        double[][] vertices = [[0, 0, 0], [1, 0.5, -1], [1, 2, 0], [-1, -1, 2]];
        var polyline = PiecewiseLinear.Polyline(net, 2, vertices);
        var segments = Enumerable.Range(0, vertices.Length - 1).Select(s => PiecewiseLinear.Segment(net, 2, vertices[s], vertices[s + 1])).ToArray();

        Assert.Equal(segments.Sum(s => s.Pieces), polyline.Pieces);
        AssertRelative(segments.Sum(s => s.OutputLength), polyline.OutputLength, 1e-14, "output length");
        AssertRelative(segments.Sum(s => s.InputLength), polyline.InputLength, 1e-14, "input length");
        var breakpoints = new List<double> { 0 };
        for (int s = 0; s < segments.Length; s++) breakpoints.AddRange(segments[s].Breakpoints.Skip(1).Select(t => s + t));
        Assert.Equal(breakpoints.ToArray(), polyline.Breakpoints);
        Assert.Equal(segments.SelectMany(s => s.Slopes).ToArray(), polyline.Slopes);
        Assert.Equal(segments.SelectMany(s => s.Patterns).ToArray(), polyline.Patterns);
    }

    [Fact]
    public void BadInputThrowsArgumentExceptionNamingTheProblem()
    {
        using var net = Network([3, 6, 2], seed: 1, count: 2);
        void Throws(Action action, string fragment) =>
            Assert.Contains(fragment, Assert.Throws<ArgumentException>(action).Message);
        double[] p = [1, 2, 3], q = [0, 1, 0];
        Throws(() => PiecewiseLinear.Segment(net, 0, p, [1, 2, 3]), "start and end coincide");
        Throws(() => PiecewiseLinear.Segment(net, 0, [1, double.NaN, 3], q), "non-finite");
        Throws(() => PiecewiseLinear.Segment(net, 0, p, [0, double.PositiveInfinity, 0]), "non-finite");
        Throws(() => PiecewiseLinear.Segment(net, 0, [1, 2], q), "input dimension is 3");
        Throws(() => PiecewiseLinear.Segment(net, 2, p, q), "network index 2 is out of range");
        Throws(() => PiecewiseLinear.Segment(net, -1, p, q), "network index -1 is out of range");
        Throws(() => PiecewiseLinear.Polyline(net, 0, [p, q, q]), "points 1 and 2 coincide");
        Throws(() => PiecewiseLinear.Polyline(net, 0, [p]), "at least two points");
        Throws(() => PiecewiseLinear.Polyline(net, 0, [p, [1, 1]]), "point 1 has 2 coordinates");
        Throws(() => PiecewiseLinear.Polyline(net, 0, [p, [1, 1, double.NaN]]), "point 1 has a non-finite coordinate");
        Throws(() => PiecewiseLinear.Polyline(net, 5, [p, q]), "network index 5");
        using var scope = NewDisposeScope();
        var starts = zeros(2, 3, float64);
        Throws(() => PiecewiseLinear.Segments(net, starts, zeros(2, 4, float64)), "ends");
        Throws(() => PiecewiseLinear.Segments(net, zeros(3, 3, float64), ones(3, 3, float64)), "starts");
        Throws(() => PiecewiseLinear.Segments(net, starts, ones(2, 3, float64).index_put_(0.0, 1)), "segment 1 coincide");
        Throws(() => PiecewiseLinear.Segments(net, starts.index_put_(double.NaN, 0, 0), ones(2, 3, float64)), "non-finite");
    }

    [Fact]
    public void EnsembleSegmentsEqualPerNetworkCallsExactly()
    {
        int[] widths = [6, 20, 20, 20, 5];
        const int count = 5;
        using var net = Network(widths, seed: 41, count: count);
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        var starts = empty(count, widths[0], float64).normal_(0, 1, generator);
        var ends = empty(count, widths[0], float64).normal_(0, 2, generator);
        var all = PiecewiseLinear.Segments(net, starts, ends);
        Assert.Equal(count, all.Length);
        for (int k = 0; k < count; k++)
        {
            var one = PiecewiseLinear.Segment(net, k, starts[k].data<double>().ToArray(), ends[k].data<double>().ToArray());
            Assert.Equal(one.Breakpoints, all[k].Breakpoints);
            Assert.Equal(one.Slopes, all[k].Slopes);
            Assert.Equal(one.Patterns, all[k].Patterns);
            Assert.Equal(one.OutputLength, all[k].OutputLength);
            Assert.Equal(one.InputLength, all[k].InputLength);
        }
        // The networks differ, so the results do.
        Assert.NotEqual(all[0].OutputLength, all[1].OutputLength);
    }

    [Fact]
    public void RepeatedCallsDoNotLeakTensors()
    {
        using var net = Network([4, 16, 16, 3], seed: 3, count: 2);
        double[][] vertices = [[0, 0, 0, 1], [1, 2, 0, 0], [0, 0, 0, 0]];
        PiecewiseLinear.Polyline(net, 1, vertices); // warm-up: lazily created globals
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++)
        {
            PiecewiseLinear.Segment(net, 0, vertices[0], vertices[1]);
            PiecewiseLinear.Polyline(net, 1, vertices);
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
