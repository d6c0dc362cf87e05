using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Geometry;

/// <summary>
/// Quadrature nodes of one geometry per network. Every node has the same weight, so a distortion is
/// sum_t vol(J U_t) / sum_t vol(U_t): for a curve U_t is the velocity gamma'(t) (one row), for a patch
/// the orthonormal frame. Points [K, T, n0], Tangents [K, T, k, n0]; Coarse indexes every other node
/// (per axis), the half-resolution rule used for the quadrature error estimate (null with one node).
/// </summary>
internal sealed record GeometrySample(Tensor Points, Tensor Tangents, Tensor? Coarse) : IDisposable
{
    public void Dispose()
    {
        Points.Dispose();
        Tangents.Dispose();
        Coarse?.Dispose();
    }
}

internal static class GeometrySampler
{
    /// <summary>Geometry for networks firstIndex .. firstIndex + count - 1; network i's depends only on (seed, i).</summary>
    internal static GeometrySample Sample(GeometrySpec spec, int inputDim, int count, long seed, long firstIndex,
        ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var points = new Tensor[count];
        var tangents = new Tensor[count];
        for (int i = 0; i < count; i++)
        {
            using var generator = new Generator(Seeds.Derive(seed, firstIndex + i, Seeds.Stream.Geometry));
            (points[i], tangents[i]) = spec.Kind switch
            {
                GeometryKind.Segment => Segment(spec, inputDim, generator),
                GeometryKind.Circle => Circle(spec, inputDim, generator),
                GeometryKind.Fourier => Fourier(spec, inputDim, generator),
                GeometryKind.Polyline => Polyline(spec),
                GeometryKind.Patch => Patch(spec, inputDim, generator),
                _ => throw new ArgumentOutOfRangeException(nameof(spec)),
            };
        }
        var coarse = CoarseNodes(spec);
        return new GeometrySample(
            stack(points).to(dtype, device).MoveToOuterDisposeScope(),
            stack(tangents).to(dtype, device).MoveToOuterDisposeScope(),
            coarse?.to(device).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Endpoints [K, n0] (float64, CPU) of the segments that <see cref="Sample"/> draws for the same networks: the
    /// same generator draws, so exact and quadrature lengths refer to one segment.
    /// </summary>
    internal static (Tensor Starts, Tensor Ends) SegmentEndpoints(GeometrySpec spec, int inputDim, int count, long seed, long firstIndex)
    {
        using var scope = NewDisposeScope();
        var starts = new Tensor[count];
        var ends = new Tensor[count];
        for (int i = 0; i < count; i++)
        {
            using var generator = new Generator(Seeds.Derive(seed, firstIndex + i, Seeds.Stream.Geometry));
            var (start, velocity) = SegmentStartAndVelocity(spec, inputDim, generator);
            (starts[i], ends[i]) = (start, start + velocity);
        }
        return (stack(starts).MoveToOuterDisposeScope(), stack(ends).MoveToOuterDisposeScope());
    }

    /// <summary>Midpoint nodes (i + 1/2) / n of [0, 1], as a column [n, 1].</summary>
    private static Tensor Nodes(int n) => arange(n, float64).add_(0.5).div_(n).unsqueeze(1);

    private static Tensor Gaussian(Generator g, params long[] shape) => empty(shape, float64).normal_(0, 1, g);

    private static (Tensor, Tensor) Segment(GeometrySpec spec, int n0, Generator g)
    {
        var (start, velocity) = SegmentStartAndVelocity(spec, n0, g);
        var t = Nodes(spec.Points);
        return (start + t * velocity, velocity.expand(spec.Points, 1, n0));
    }

    private static (Tensor Start, Tensor Velocity) SegmentStartAndVelocity(GeometrySpec spec, int n0, Generator g)
    {
        var start = Gaussian(g, n0);
        var direction = Gaussian(g, n0);
        return (start, direction.div(direction.norm()).mul_(spec.Size));
    }

    private static (Tensor, Tensor) Circle(GeometrySpec spec, int n0, Generator g)
    {
        var centre = Gaussian(g, n0);
        var (frame, _) = linalg.qr(Gaussian(g, n0, 2));
        var (e1, e2) = (frame[.., 0], frame[.., 1]);
        var angle = Nodes(spec.Points).mul_(2 * Math.PI);
        double radius = spec.Size / (2 * Math.PI);
        var points = centre + radius * (angle.cos() * e1 + angle.sin() * e2);
        var velocity = spec.Size * (angle.cos() * e2 - angle.sin() * e1);
        return (points, velocity.unsqueeze(1));
    }

    private static (Tensor, Tensor) Fourier(GeometrySpec spec, int n0, Generator g)
    {
        // gamma(t) = c + sum_j a_j cos(2 pi j t) + b_j sin(2 pi j t), coefficients ~ N(0, Size^2 / (n0 j^2)).
        var centre = Gaussian(g, n0);
        var t = Nodes(spec.Points);
        var points = centre.expand(spec.Points, n0).clone();
        var velocity = zeros(spec.Points, n0, float64);
        for (int j = 1; j <= spec.FourierModes; j++)
        {
            double scale = spec.Size / (j * Math.Sqrt(n0));
            var a = Gaussian(g, n0).mul_(scale);
            var b = Gaussian(g, n0).mul_(scale);
            var angle = t * (2 * Math.PI * j);
            points.add_(angle.cos() * a + angle.sin() * b);
            velocity.add_((angle.cos() * b - angle.sin() * a).mul_(2 * Math.PI * j));
        }
        return (points, velocity.unsqueeze(1));
    }

    private static (Tensor, Tensor) Polyline(GeometrySpec spec)
    {
        var vertices = stack(spec.PolylinePoints!.Select(p => tensor(p, float64)).ToArray());
        var t = Nodes(spec.Points);
        var pieces = new List<Tensor>();
        var velocities = new List<Tensor>();
        for (long s = 0; s + 1 < vertices.shape[0]; s++)
        {
            var step = vertices[s + 1] - vertices[s];
            pieces.Add(vertices[s] + t * step);
            velocities.Add(step.expand(spec.Points, 1, step.shape[0]));
        }
        return (cat(pieces, 0), cat(velocities, 0));
    }

    private static (Tensor, Tensor) Patch(GeometrySpec spec, int n0, Generator g)
    {
        var centre = Gaussian(g, n0);
        var (q, r) = linalg.qr(Gaussian(g, n0, spec.K));
        var frame = q.mul(r.diagonal().sign().unsqueeze(0)).t().contiguous(); // [k, n0], Haar-random
        var offsets = Nodes(spec.Points).squeeze(1).sub_(0.5).mul_(spec.Size);
        var grid = cartesian_prod(Enumerable.Repeat(offsets, spec.K).ToArray());
        if (spec.K == 1) grid = grid.unsqueeze(1);
        var points = centre + grid.matmul(frame);
        return (points, frame.expand(grid.shape[0], spec.K, n0));
    }

    /// <summary>Node indices of the half-resolution rule: even indices along each axis (each polyline piece).</summary>
    private static Tensor? CoarseNodes(GeometrySpec spec)
    {
        if (spec.Points < 2) return null;
        var even = Enumerable.Range(0, spec.Points).Where(i => i % 2 == 0).ToArray();
        IEnumerable<long> indices = spec.Kind switch
        {
            GeometryKind.Patch => Enumerable.Range(0, spec.NodeCount)
                .Where(node => Enumerable.Range(0, spec.K).All(axis => node / (int)Math.Pow(spec.Points, axis) % spec.Points % 2 == 0))
                .Select(node => (long)node),
            GeometryKind.Polyline => Enumerable.Range(0, spec.PolylinePoints!.Count - 1)
                .SelectMany(piece => even.Select(i => (long)piece * spec.Points + i)),
            _ => even.Select(i => (long)i),
        };
        return tensor(indices.ToArray());
    }
}
