using TorchDistortion.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion.Differentiation;

/// <summary>How J·U is computed. All three are exact; they differ in cost and in what they accept.</summary>
public enum JacobianMethod
{
    /// <summary>Push the tangents through the network beside the input (<see cref="Mlp"/> ensembles; the default).</summary>
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
    public static Tensor Apply(nn.IModule<Tensor, Tensor> module, JacobianMethod method, Tensor x, Tensor tangents)
    {
        CheckTangents(x, tangents);
        switch (method)
        {
            case JacobianMethod.TangentPropagation:
                if (module is not Mlp net)
                    throw new ArgumentException("tangent propagation needs an Mlp; use DoubleVjp for other modules");
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
    /// point and its tangents together, and the activation's slope at the point's pre-activation scales all of them.
    /// x [K, B, n0] and U [K, B, k, n0] give y [K, B, nL] and JU [K, B, k, nL].
    /// </summary>
    public static (Tensor Output, Tensor JacobianTangents) TangentPropagation(Mlp net, Tensor x, Tensor tangents)
    {
        var (output, product, _, _) = TangentPropagation(net, x, tangents, frame: false);
        return (output, product);
    }

    /// <summary>
    /// As <see cref="TangentPropagation(Mlp, Tensor, Tensor)"/>; with <paramref name="frame"/> the k tangents are
    /// carried as a frame for k-volumes: re-orthonormalised after every hidden layer (modified Gram-Schmidt), the log of
    /// each step's scale summed into LogScale [K, B] (float64), so vol(J U) = exp(LogScale) vol(returned block). Without it
    /// the columns of a deep, narrow product align until their Gram determinant is rounding noise. FewestActive [K, B] is
    /// the fewest active neurons over the hidden layers, for activations with a dead side (ReLU-like; null otherwise): J U
    /// has rank below k exactly when that is below k, which rounding cannot tell.
    /// </summary>
    internal static (Tensor Output, Tensor JacobianTangents, Tensor? FewestActive, Tensor? LogScale) TangentPropagation(Mlp net, Tensor x, Tensor tangents, bool frame)
    {
        net.CheckInput(x, 3);
        long networks = x.shape[0], points = x.shape[1], k = tangents.shape[2];
        if (tangents.dim() != 4 || tangents.shape[0] != networks || tangents.shape[1] != points || tangents.shape[3] != x.shape[2])
            throw new ArgumentException($"tangents [{string.Join(",", tangents.shape)}] must be [K, B, k, n0] for points [{string.Join(",", x.shape)}]");
        using var scope = NewDisposeScope();
        // Blocks of points, then groups of networks, small enough that a layer's state stays in cache: the masks and adds
        // are memory-bound, and a state far beyond the cache makes them (and the small matmuls) run at memory speed.
        // Grouping networks before splitting points also reads each network's weights once.
        long rowBytes = (1 + k) * net.Spec.Widths.Max() * (x.dtype == ScalarType.Float64 ? 8 : 4);
        long block = Math.Min(points, Math.Max(64, CacheBytes / rowBytes));
        long groups = (networks * block * rowBytes + CacheBytes - 1) / CacheBytes;
        long group = (networks + groups - 1) / groups;
        bool single = networks == 1;
        // BLAS takes the transposed weights as they are (a contiguous copy only pays for small matmuls over many blocks).
        // One network runs on 2-D tensors: plain GEMMs, which can also read the inputs and write the results in place.
        var weights = net.Weights.Select(w => single ? w.detach()[0].t() : w.detach().transpose(1, 2)).ToArray();
        var biases = net.Biases.Select(b => single ? b?.detach()[0] : b?.detach().unsqueeze(1)).ToArray();
        long outputs = net.Spec.OutputDim;
        var output = empty([networks, points, outputs], x.dtype, x.device);
        var product = empty([networks, points, k, outputs], x.dtype, x.device);
        bool hidden = frame && weights.Length > 1;
        var activation = net.Spec.Activation;
        var fewestActive = hidden && activation is PiecewiseLinearActivation { HasDeadSide: true } ? empty([networks, points], x.dtype, x.device) : null;
        var logScale = hidden && k > 1 ? zeros([networks, points], float64, x.device) : null;
        // A Scalar made implicitly per add_ is freed only by the GC; its small native chunks between the large states
        // fragment the heap, which then grows (with page faults) instead of reusing freed states.
        using var one = 1.ToScalar();
        // Several threads only pay when each op is large: libgomp wakes its sleeping threads (OMP_WAIT_POLICY=PASSIVE)
        // for every op, which costs more than splitting a small matmul or mask saves.
        int threads = get_num_threads();
        long work = group * block * (1 + k) * net.Spec.Widths.Max() * net.Spec.Widths.Max();
        if (threads > 1 && work < ParallelWork) set_num_threads(1);
        try
        {
        for (long firstNetwork = 0; firstNetwork < networks; firstNetwork += group)
        for (long first = 0; first < points; first += block)
        {
            using var blockScope = NewDisposeScope();
            long size = Math.Min(group, networks - firstNetwork), count = Math.Min(block, points - first);
            // Each block reads its slice of the inputs and writes its slice of the results.
            Tensor Slice(Tensor t) => single ? t[0].narrow(0, first, count) : t.narrow(0, firstNetwork, size).narrow(1, first, count);
            PropagateBlock(size == networks ? weights : weights.Select(w => w.narrow(0, firstNetwork, size)).ToArray(),
                size == networks ? biases : biases.Select(b => b?.narrow(0, firstNetwork, size)).ToArray(),
                activation, Slice(x), Slice(tangents), Slice(output), Slice(product), fewestActive is null ? null : Slice(fewestActive),
                logScale is null ? null : Slice(logScale), one);
        }
        }
        finally { if (get_num_threads() != threads) set_num_threads(threads); }
        return (output.MoveToOuterDisposeScope(), product.MoveToOuterDisposeScope(), fewestActive?.to(int64).MoveToOuterDisposeScope(),
            logScale?.MoveToOuterDisposeScope());
    }

    /// <summary>Multiply-adds of one block's matmul below which one thread is faster than several.</summary>
    private const long ParallelWork = 1L << 26; // measured: width 1024 gains from two threads, width 256 loses

    /// <summary>Bytes of one layer's state that keep the elementwise work in cache.</summary>
    // Measured (one thread, whole measure jobs, 2-core EPYC with 1 MiB L2 per core), 256 / 512 / 1024 / 2048 KiB: width 32,
    // depth 20, 64 nodes, float64 0.58 / 0.57 / 0.55 / 0.52 s; width 64, 1000 nodes, float32 5.64 / 5.38 / 5.14 / 5.12 s;
    // width 256, 256 nodes, float32 1.22 / 1.18 / 1.18 / 1.22 s: fewer, larger blocks save per-op overhead until the
    // state no longer fits the cache.
    private const long CacheBytes = 1024 << 10;

    /// <summary>
    /// One block through all layers: x [K, B, n0] and U [K, B, k, n0] (one network: without K) to y and JU, written into
    /// <paramref name="output"/> and <paramref name="product"/>; with <paramref name="fewestActive"/> given, the fewest
    /// active neurons over the hidden layers; with <paramref name="logScale"/> given, the tangents re-orthonormalised after
    /// each hidden layer and the logs of the scales removed added to it.
    /// </summary>
    private static void PropagateBlock(Tensor[] weights, Tensor?[] biases, Activation activation, Tensor x, Tensor tangents, Tensor output, Tensor product,
        Tensor? fewestActive, Tensor? logScale, Scalar one)
    {
        bool single = x.dim() == 2;
        int rows = single ? 0 : 1; // the dimension of points
        long points = x.shape[rows], k = tangents.shape[rows + 1];
        int depth = weights.Length;
        // State [K, (1 + k) B, n]: rows 0..B-1 hold the points, rows (1 + j) B.. tangent j. Each block is contiguous, so the
        // bias, the activation test and the mask run on contiguous memory, and one matmul serves all blocks.
        Tensor? state = null;
        for (int l = 0; l < depth; l++)
        {
            bool last = l == depth - 1;
            Tensor next;
            if (single && (l == 0 || last))
            {
                // One network: 1 + k GEMMs read the inputs (tangent j is a strided slice) and write the results in
                // place, so neither the inputs nor the results are copied between layouts.
                next = last ? output : empty([(1 + k) * points, weights[l].shape[1]], x.dtype, x.device);
                for (long j = 0; j <= k; j++)
                {
                    using var source = l == 0 ? (j == 0 ? x.alias() : tangents.select(1, j - 1)) : state!.narrow(0, j * points, points);
                    using var target = last ? (j == 0 ? output.alias() : product.select(1, j - 1)) : next.narrow(0, j * points, points);
                    target.addmm_(source, weights[l], 0, 1);
                }
            }
            else
            {
                if (state is null)
                    using (var joined = cat([x.unsqueeze(1), tangents.transpose(1, 2)], 1))
                        state = joined.flatten(1, 2);
                next = single ? state.mm(weights[l]) : bmm(state, weights[l]);
            }
            // Freed at once, so the allocator hands the same cache-hot memory to the next layer instead of fresh pages.
            state?.Dispose();
            state = next;
            using (var preActivation = next.narrow(rows, 0, points))
            {
                if (biases[l] is Tensor bias) preActivation.add_(bias, one);
                if (last) break;
                // phi(z) in place; its slope phi'(z) scales every tangent of the point.
                using var slope = activation.ApplyInPlace(preActivation);
                using (var masked = next.narrow(rows, points, k * points))
                using (var blocks = k == 1 ? masked.alias() : masked.unflatten(rows, [k, points]))
                using (var mask = k == 1 || single ? slope.alias() : slope.unsqueeze(1))
                    blocks.mul_(mask);
                if (fewestActive is not null)
                {
                    using var count = slope.ne(0).sum(-1L);
                    if (l == 0) fewestActive.copy_(count);
                    else using (var least = minimum(fewestActive, count)) fewestActive.copy_(least);
                }
            }
            if (logScale is not null)
                using (var masked = next.narrow(rows, points, k * points))
                using (var blocks = masked.unflatten(rows, [k, points]))
                    Orthonormalize(blocks, rows, logScale);
        }
        if (single) return; // the last layer wrote the results
        using (var y = state!.narrow(1, 0, points)) output.copy_(y);
        using (var ju = state.narrow(1, points, k * points).unflatten(1, [k, points])) product.copy_(ju.transpose(1, 2));
        state.Dispose();
    }

    /// <summary>
    /// Modified Gram-Schmidt on the k tangent rows of <paramref name="blocks"/> ([K, k, B, n], or [k, B, n] with
    /// <paramref name="dim"/> 0), in place, adding log |diag R| per point to <paramref name="logScale"/>. A row that is
    /// exactly zero stays zero and adds -inf: the volume is then exactly 0.
    /// </summary>
    private static void Orthonormalize(Tensor blocks, int dim, Tensor logScale)
    {
        long k = blocks.shape[dim];
        for (long j = 0; j < k; j++)
        {
            using var scope = NewDisposeScope();
            var row = blocks.select(dim, j);
            for (long i = 0; i < j; i++)
            {
                var previous = blocks.select(dim, i);
                row.sub_(previous * (previous * row).sum(-1L, keepdim: true));
            }
            var norm = linalg.vector_norm(row, dims: [-1L], keepdim: true);
            row.div_(norm.clamp_min(double.Epsilon));
            logScale.add_(norm.squeeze(-1).to(float64).log_());
        }
    }

    /// <summary>
    /// J·U for any differentiable module: g(w) = J^T w is linear in w, so the gradient of ⟨g(w), v⟩
    /// with respect to w is J v. Two reverse passes per tangent, no finite differences.
    /// </summary>
    public static Tensor DoubleVjp(nn.IModule<Tensor, Tensor> module, Tensor x, Tensor tangents)
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
    public static Tensor Reverse(nn.IModule<Tensor, Tensor> module, Tensor x)
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
