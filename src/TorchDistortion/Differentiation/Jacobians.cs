using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Differentiation;

/// <summary>How J·U is computed. All three are exact; they differ in cost and in what they accept.</summary>
public enum JacobianMethod
{
    /// <summary>Push the tangents through the network beside the input (ReLU networks only; the default).</summary>
    TangentPropagation,
    /// <summary>J·v from two reverse passes (create_graph), for any differentiable module.</summary>
    DoubleVjp,
    /// <summary>The full Jacobian by reverse mode, one backward pass per output; a reference for tests.</summary>
    Reverse,
}

/// <summary>
/// Exact Jacobian–tangent products. Layout: points x [..., n0], tangents as rows U [..., k, n0],
/// result JU [..., k, nL] (row j is J u_j). Generic modules must treat leading dimensions as
/// independent samples, as any per-sample network does.
/// </summary>
public static class Jacobians
{
    /// <summary>J·U at the points x by the chosen method.</summary>
    public static Tensor Apply(nn.Module<Tensor, Tensor> module, JacobianMethod method, Tensor x, Tensor tangents)
    {
        CheckTangents(x, tangents);
        switch (method)
        {
            case JacobianMethod.TangentPropagation:
                if (module is not ReluNetwork net)
                    throw new ArgumentException("tangent propagation needs a ReluNetwork; use DoubleVjp for other modules");
                // One network also takes unbatched points [B, n0], like forward and the autograd paths.
                bool single = x.dim() == 2 && net.Count == 1;
                var (output, jacobianTangents) = single
                    ? TangentPropagation(net, x.unsqueeze(0), tangents.unsqueeze(0))
                    : TangentPropagation(net, x, tangents);
                output.Dispose();
                if (!single) return jacobianTangents;
                using (jacobianTangents) return jacobianTangents.squeeze(0);
            case JacobianMethod.DoubleVjp:
                return DoubleVjp(module, x, tangents);
            case JacobianMethod.Reverse:
                using (var jacobian = Reverse(module, x))
                    return matmul(tangents, jacobian.transpose(-1, -2));
            default:
                throw new ArgumentOutOfRangeException(nameof(method));
        }
    }

    /// <summary>
    /// Forward pass with k tangents carried beside the input: one batched matmul per layer acts on the
    /// point and its tangents together, the point's pre-activation sign masks all of them.
    /// x [K, B, n0] and U [K, B, k, n0] give y [K, B, nL] and JU [K, B, k, nL].
    /// </summary>
    public static (Tensor Output, Tensor JacobianTangents) TangentPropagation(ReluNetwork net, Tensor x, Tensor tangents)
    {
        var (output, product, _) = TangentPropagation(net, x, tangents, trackActivity: false);
        return (output, product);
    }

    /// <summary>
    /// As <see cref="TangentPropagation(ReluNetwork, Tensor, Tensor)"/>; with <paramref name="trackActivity"/> also the
    /// fewest active neurons over the hidden layers at each point [K, B]: J U has rank below k exactly when that is below k,
    /// which rounding in the determinant cannot tell.
    /// </summary>
    internal static (Tensor Output, Tensor JacobianTangents, Tensor? FewestActive) TangentPropagation(ReluNetwork net, Tensor x, Tensor tangents, bool trackActivity)
    {
        net.CheckInput(x, 3);
        long networks = x.shape[0], points = x.shape[1], k = tangents.shape[2];
        if (tangents.dim() != 4 || tangents.shape[0] != networks || tangents.shape[1] != points || tangents.shape[3] != x.shape[2])
            throw new ArgumentException($"tangents [{string.Join(",", tangents.shape)}] must be [K, B, k, n0] for points [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        // Blocks of points small enough that a layer's state stays in cache: the masks and adds are memory-bound,
        // and a state of (1 + k) x B x n floats far beyond the cache makes them dominate the matmuls.
        long elementBytes = x.dtype == ScalarType.Float64 ? 8 : 4;
        long widest = net.Spec.Widths.Max();
        long block = Math.Max(64, CacheBytes / ((1 + k) * widest * elementBytes * networks));
        // A contiguous transposed copy of each weight makes the matmuls about twice as fast; made once for all blocks.
        var transposed = net.Weights.Select(w => w.detach().transpose(1, 2).contiguous()).ToArray();
        if (points > block)
        {
            var outputs = new List<Tensor>();
            var products = new List<Tensor>();
            var fewest = new List<Tensor>();
            for (long first = 0; first < points; first += block)
            {
                long count = Math.Min(block, points - first);
                using var blockScope = NewDisposeScope();
                var (y, ju, active) = PropagateBlock(net, transposed, x.narrow(1, first, count), tangents.narrow(1, first, count), trackActivity);
                outputs.Add(y.MoveToOuterDisposeScope());
                products.Add(ju.MoveToOuterDisposeScope());
                if (active is not null) fewest.Add(active.MoveToOuterDisposeScope());
            }
            return (cat(outputs, 1).MoveToOuterDisposeScope(), cat(products, 1).MoveToOuterDisposeScope(),
                trackActivity ? cat(fewest, 1).MoveToOuterDisposeScope() : null);
        }
        var (output, product, fewestActive) = PropagateBlock(net, transposed, x, tangents, trackActivity);
        return (output.MoveToOuterDisposeScope(), product.MoveToOuterDisposeScope(), fewestActive?.MoveToOuterDisposeScope());
    }

    /// <summary>Bytes of one layer's state that keep the elementwise work in cache.</summary>
    private const long CacheBytes = 1 << 20;

    private static (Tensor Output, Tensor JacobianTangents, Tensor? FewestActive) PropagateBlock(ReluNetwork net, Tensor[] transposed,
        Tensor x, Tensor tangents, bool trackActivity)
    {
        Tensor? fewestActive = null;
        long networks = x.shape[0], points = x.shape[1], k = tangents.shape[2];
        // Layout [K, 1 + k, B, n]: block 0 holds the points, blocks 1..k the tangents, each block contiguous, so the
        // bias, the activation test and the mask run on contiguous memory and one batched matmul serves all blocks.
        var state = cat([x.unsqueeze(1), tangents.transpose(1, 2)], 1);
        int depth = transposed.Length;
        for (int l = 0; l < depth; l++)
        {
            long fanIn = transposed[l].shape[1], fanOut = transposed[l].shape[2];
            // One network: a plain mm (a single GEMM rather than a batch of one).
            var next = (networks == 1
                ? state.view((1 + k) * points, fanIn).mm(transposed[l].squeeze(0))
                : bmm(state.view(networks, (1 + k) * points, fanIn), transposed[l])).view(networks, 1 + k, points, fanOut);
            var preActivation = next.select(1, 0);
            if (net.Biases[l] is Tensor bias) preActivation.add_(bias.detach().unsqueeze(1));
            if (l < depth - 1)
            {
                var active = preActivation.gt(0);
                if (trackActivity)
                {
                    var count = active.sum(-1L);
                    fewestActive = fewestActive is null ? count : minimum(fewestActive, count);
                }
                next.narrow(1, 1, k).mul_(active.unsqueeze(1));
                preActivation.relu_();
            }
            state = next;
        }
        return (state.select(1, 0).contiguous(), state.narrow(1, 1, k).transpose(1, 2).contiguous(), fewestActive);
    }

    /// <summary>
    /// J·U for any differentiable module: g(w) = J^T w is linear in w, so the gradient of ⟨g(w), v⟩
    /// with respect to w is J v. Two reverse passes per tangent, no finite differences.
    /// </summary>
    public static Tensor DoubleVjp(nn.Module<Tensor, Tensor> module, Tensor x, Tensor tangents)
    {
        CheckTangents(x, tangents);
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var input = x.detach().requires_grad_(true);
        var output = module.call(input);
        var probe = zeros_like(output).requires_grad_(true);
        var transposedProduct = autograd.grad([output], [input], [probe], create_graph: true)[0];
        long k = tangents.shape[^2];
        var columns = new Tensor[k];
        for (long j = 0; j < k; j++)
            columns[j] = autograd.grad([transposedProduct], [probe], [tangents.select(-2, j)], retain_graph: j < k - 1)[0].detach();
        return stack(columns, -2).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Tangents must be [..., k, n0] for points [..., n0] with the same leading dimensions: a mismatch reaching
    /// libtorch's matmul or autograd would abort the process instead of throwing.
    /// </summary>
    private static void CheckTangents(Tensor x, Tensor tangents)
    {
        if (tangents.dim() != x.dim() + 1 || tangents.shape[^1] != x.shape[^1] || !tangents.shape[..^2].SequenceEqual(x.shape[..^1]))
            throw new ArgumentException($"tangents [{string.Join(",", tangents.shape)}] must be [..., k, n0] for points [{string.Join(",", x.shape)}]");
    }

    /// <summary>The full Jacobian [..., nL, n0] by reverse mode, one backward pass per output coordinate.</summary>
    public static Tensor Reverse(nn.Module<Tensor, Tensor> module, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var input = x.detach().requires_grad_(true);
        var output = module.call(input);
        long outputs = output.shape[^1];
        var rows = new Tensor[outputs];
        for (long j = 0; j < outputs; j++)
        {
            var coordinate = output.select(-1, j);
            rows[j] = autograd.grad([coordinate], [input], [ones_like(coordinate)], retain_graph: j < outputs - 1)[0].detach();
        }
        return stack(rows, -2).MoveToOuterDisposeScope();
    }
}
