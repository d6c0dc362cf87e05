using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchDistortion.Networks;

/// <summary>
/// An ensemble of K fully connected networks of one shape and activation, held as batched weights
/// (layer l: weight [K, n_l, n_{l-1}], bias [K, n_l]) and evaluated with batched matmuls.
/// A single network is an ensemble of one. Forward takes [K, B, n0] and returns [K, B, nL];
/// when K = 1 it also takes [B, n0] and returns [B, nL], like an ordinary MLP.
/// </summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    // Every measurement and training run draws networks first: the allocator's settings are in place before their tensors.
    static Mlp() => Measurement.NativeHeap.Configure();

    private readonly Parameter[] _weights;
    private readonly Parameter?[] _biases;

    /// <summary>The shape, activation and initialization every network of the ensemble shares.</summary>
    public NetworkSpec Spec { get; }
    /// <summary>Number of networks K in the ensemble.</summary>
    public int Count { get; }

    internal IReadOnlyList<Parameter> Weights => _weights;
    internal IReadOnlyList<Parameter?> Biases => _biases;

    private Mlp(NetworkSpec spec, int count, Tensor[] weights, Tensor?[] biases) : base(nameof(Mlp))
    {
        Spec = spec;
        Count = count;
        _weights = new Parameter[weights.Length];
        _biases = new Parameter?[weights.Length];
        for (int l = 0; l < weights.Length; l++)
        {
            _weights[l] = new Parameter(weights[l]);
            register_parameter($"weight_{l + 1}", _weights[l]);
            if (biases[l] is Tensor b)
            {
                _biases[l] = new Parameter(b);
                register_parameter($"bias_{l + 1}", _biases[l]!);
            }
        }
    }

    /// <summary>
    /// Draws networks <paramref name="firstIndex"/> .. firstIndex + count - 1 of the sequence that
    /// <paramref name="seed"/> defines. Network i depends only on (seed, i) and the spec's <see cref="NetworkSpec.Generator"/>, so
    /// any split into chunks reproduces the same weights bit for bit. Weights are drawn in float64 on the CPU, then moved.
    /// </summary>
    public static Mlp Create(NetworkSpec spec, int count = 1, long seed = 0, long firstIndex = 0,
        ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        spec.Validate();
        if (count < 1) throw new SettingException("networks", $"must be at least 1, got {count}");
        int depth = spec.Depth;
        var weights = new Tensor[depth];
        var biases = new Tensor?[depth];
        var init = spec.ResolvedInit;
        using (no_grad())
        {
            for (int l = 0; l < depth; l++)
            {
                weights[l] = empty([count, spec.Widths[l + 1], spec.Widths[l]], float64);
                biases[l] = spec.Bias ? zeros([count, spec.Widths[l + 1]], float64) : null;
            }
            if (DrawsMerged(spec)) DrawMerged(spec, weights, count, seed, firstIndex);
            else if (DrawsInPlace(spec, weights)) DrawInPlace(spec, weights, biases, count, seed, firstIndex);
            else
            {
                for (int i = 0; i < count; i++)
                {
                    using var random = WeightRandom.Create(spec.Generator, Seeds.Derive(seed, firstIndex + i, Seeds.Stream.Weights));
                    for (int l = 0; l < depth; l++)
                    {
                        using var w = weights[l][i];
                        init.Fill(w, random);
                        if (l == depth - 1 && spec.OutputVariance is double cOut)
                            w.mul_(Math.Sqrt(cOut / init.Variance(spec.Widths[l], spec.Widths[l + 1])));
                        if (spec.BiasVariance > 0)
                        {
                            using var b = biases[l]![i];
                            random.Normal(b, Math.Sqrt(spec.BiasVariance));
                        }
                    }
                }
            }
            for (int l = 0; l < depth; l++)
            {
                weights[l] = MoveTo(weights[l], dtype, device);
                if (biases[l] is Tensor b) biases[l] = MoveTo(b, dtype, device);
            }
        }
        return new Mlp(spec, count, weights, biases);
    }

    /// <summary>Whether <see cref="DrawInPlace"/> can draw these networks: ziggurat, a plain normal scheme, layers under 2 GiB.</summary>
    private static bool DrawsInPlace(NetworkSpec spec, Tensor[] weights) =>
        spec.Generator == WeightGenerator.Ziggurat && spec.ResolvedInit.FillsWithNormal && weights.All(w => w.numel() <= int.MaxValue / 8);

    /// <summary>
    /// The ziggurat draw of a plain normal scheme straight into each layer's memory: the numbers of the per-network loop
    /// above (one generator per network, layer by layer, its bias after its weights, the output layer rescaled after its
    /// draw; tested bit for bit), without a tensor view per network and layer, which costs microseconds each and at width
    /// 32 about as much as drawing the layer.
    /// </summary>
    private static void DrawInPlace(NetworkSpec spec, Tensor[] weights, Tensor?[] biases, int count, long seed, long firstIndex)
    {
        var init = spec.ResolvedInit;
        double biasStd = Math.Sqrt(spec.BiasVariance);
        // Each network has its own generator, so drawing layer by layer across the networks gives each the numbers of its
        // own layer-by-layer draw, and each layer's memory is looked up once.
        var randoms = Enumerable.Range(0, count).Select(i => new WeightRandom.ZigguratRandom(Seeds.Derive(seed, firstIndex + i, Seeds.Stream.Weights))).ToArray();
        for (int l = 0; l < spec.Depth; l++)
        {
            int fanIn = spec.Widths[l], fanOut = spec.Widths[l + 1], size = fanIn * fanOut;
            double std = init.NormalStd(fanIn, fanOut);
            double? scale = l == spec.Depth - 1 && spec.OutputVariance is double cOut ? Math.Sqrt(cOut / init.Variance(fanIn, fanOut)) : null;
            var layer = WeightRandom.ZigguratRandom.Values(weights[l]);
            var bias = spec.BiasVariance > 0 ? WeightRandom.ZigguratRandom.Values(biases[l]!) : default;
            for (int i = 0; i < count; i++)
            {
                var w = layer.Slice(i * size, size);
                randoms[i].Normal(w, std);
                if (scale is double c)
                    for (int j = 0; j < w.Length; j++) w[j] *= c;
                if (spec.BiasVariance > 0) randoms[i].Normal(bias.Slice(i * fanOut, fanOut), biasStd);
            }
        }
    }

    /// <summary>
    /// With the torch generator, one normal_ call per network for all its layers draws the same numbers as one call per layer when the scheme is a
    /// plain normal draw, no bias is drawn between layers, and every layer has a multiple of 16 entries: libtorch first draws
    /// all the uniforms in order, then pairs them by Box-Muller in blocks of 16 (redrawing a shorter tail), so the blocks
    /// line up. It saves the overhead of a call per small layer (at width 32 about a quarter of drawing a network).
    /// </summary>
    private static bool DrawsMerged(NetworkSpec spec) =>
        spec.Generator == WeightGenerator.Torch && spec.ResolvedInit.FillsWithNormal && spec.BiasVariance == 0
        && Enumerable.Range(0, spec.Depth).All(l => (long)spec.Widths[l] * spec.Widths[l + 1] % 16 == 0);

    /// <summary>
    /// The merged draw: at unit scale, then each layer times its standard deviation, which rounds as normal_'s own
    /// x * std + 0 does (tested bit for bit against the per-layer draw). Networks are drawn a few at a time into a small
    /// buffer (under glibc's mmap threshold, so it is reused, and the peak memory stays that of the weights).
    /// </summary>
    private static void DrawMerged(NetworkSpec spec, Tensor[] weights, int count, long seed, long firstIndex)
    {
        var init = spec.ResolvedInit;
        var sizes = Enumerable.Range(0, spec.Depth).Select(l => (long)spec.Widths[l] * spec.Widths[l + 1]).ToArray();
        long total = sizes.Sum();
        int batch = (int)Math.Clamp((8L << 20) / (8 * total), 1, count);
        using var buffer = empty([batch, total], float64);
        for (int first = 0; first < count; first += batch)
        {
            int n = Math.Min(batch, count - first);
            for (int j = 0; j < n; j++)
            {
                using var generator = new Generator(Seeds.Derive(seed, firstIndex + first + j, Seeds.Stream.Weights));
                using var row = buffer[j];
                row.normal_(0.0, 1.0, generator);
            }
            long offset = 0;
            for (int l = 0; l < spec.Depth; l++)
            {
                using (var slice = buffer.narrow(0, 0, n).narrow(1, offset, sizes[l]))
                using (var layer = slice.view(n, spec.Widths[l + 1], spec.Widths[l]))
                using (var target = weights[l].narrow(0, first, n))
                    target.copy_(layer);
                offset += sizes[l];
            }
        }
        for (int l = 0; l < spec.Depth; l++)
        {
            weights[l].mul_(init.NormalStd(spec.Widths[l], spec.Widths[l + 1]));
            if (l == spec.Depth - 1 && spec.OutputVariance is double cOut)
                weights[l].mul_(Math.Sqrt(cOut / init.Variance(spec.Widths[l], spec.Widths[l + 1])));
        }
    }

    /// <summary>
    /// One network from given layer tensors: weights [n_l, n_{l-1}], biases [n_l] (all null for no bias), e.g. a
    /// loaded checkpoint. The shapes must match <paramref name="spec"/>; the tensors are copied.
    /// </summary>
    internal static Mlp FromLayers(NetworkSpec spec, IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor?> biases,
        ScalarType dtype, Device? device = null)
    {
        spec.Validate();
        if (weights.Count != spec.Depth || biases.Count != spec.Depth)
            throw new ArgumentException($"{weights.Count} weight layers do not fit widths of depth {spec.Depth}");
        using (no_grad())
        {
            var w = new Tensor[spec.Depth];
            var b = new Tensor?[spec.Depth];
            for (int l = 0; l < spec.Depth; l++)
            {
                if (!weights[l].shape.SequenceEqual([spec.Widths[l + 1], (long)spec.Widths[l]]))
                    throw new ArgumentException($"layer {l + 1}: weight [{string.Join(",", weights[l].shape)}] does not fit widths {spec.Widths[l]} -> {spec.Widths[l + 1]}");
                if ((biases[l] is null) == spec.Bias || (biases[l] is Tensor bias && !bias.shape.SequenceEqual([(long)spec.Widths[l + 1]])))
                    throw new ArgumentException($"layer {l + 1}: bias does not fit the network (expected {(spec.Bias ? $"[{spec.Widths[l + 1]}]" : "none")})");
                // Owned by the network, not by the caller's dispose scope.
                w[l] = weights[l].detach().to(dtype, device ?? CPU, copy: true).unsqueeze(0).contiguous().DetachFromDisposeScope();
                b[l] = biases[l]?.detach().to(dtype, device ?? CPU, copy: true).unsqueeze(0).contiguous().DetachFromDisposeScope();
            }
            return new Mlp(spec, 1, w, b);
        }
    }

    /// <summary>
    /// The networks of <paramref name="nets"/> (each of one or more) as one ensemble, in order; the tensors are copied.
    /// They must share widths, activation and biases; the init may differ (the ensemble keeps the first one's spec).
    /// </summary>
    internal static Mlp Stack(IReadOnlyList<Mlp> nets)
    {
        var spec = nets[0].Spec;
        foreach (var net in nets)
            if (!net.Spec.Widths.SequenceEqual(spec.Widths) || net.Spec.Activation != spec.Activation || net.Spec.Bias != spec.Bias)
                throw new ArgumentException("an ensemble needs networks of one shape: widths, activation and biases");
        using (no_grad())
        {
            var w = new Tensor[spec.Depth];
            var b = new Tensor?[spec.Depth];
            for (int l = 0; l < spec.Depth; l++)
            {
                w[l] = cat(nets.Select(n => n._weights[l].detach()).ToArray(), 0).DetachFromDisposeScope();
                b[l] = spec.Bias ? cat(nets.Select(n => n._biases[l]!.detach()).ToArray(), 0).DetachFromDisposeScope() : null;
            }
            return new Mlp(spec, nets.Sum(n => n.Count), w, b);
        }
    }

    /// <summary>
    /// Network <paramref name="index"/> as a PyTorch state_dict of nn.Sequential(Linear, activation, ..., Linear):
    /// "0.weight", "0.bias", "2.weight", ... (CPU copies), so torch can load it into that module directly.
    /// </summary>
    internal Dictionary<string, Tensor> SequentialStateDict(int index = 0)
    {
        var state = new Dictionary<string, Tensor>();
        for (int l = 0; l < _weights.Length; l++)
        {
            state[$"{2 * l}.weight"] = _weights[l][index].detach().cpu().contiguous().clone();
            if (_biases[l] is Parameter b) state[$"{2 * l}.bias"] = b[index].detach().cpu().contiguous().clone();
        }
        return state;
    }

    private static Tensor MoveTo(Tensor t, ScalarType dtype, Device? device)
    {
        var moved = t.to(dtype, device ?? CPU);
        if (!ReferenceEquals(moved, t)) t.Dispose();
        return moved;
    }

    /// <summary>The networks' outputs: [K, B, n0] to [K, B, nL]; for one network also [B, n0] to [B, nL].</summary>
    public override Tensor forward(Tensor input)
    {
        bool single = input.dim() == 2;
        if (single && Count != 1)
            throw new ArgumentException($"an ensemble of {Count} networks takes input [K, B, n0]; got [{string.Join(",", input.shape)}]");
        CheckInput(input, single ? 2 : 3);
        using var scope = NewDisposeScope();
        var h = single ? input.unsqueeze(0) : input;
        for (int l = 0; l < _weights.Length; l++)
        {
            h = bmm(h, _weights[l].transpose(1, 2));
            if (_biases[l] is Parameter b) h = h.add(b.unsqueeze(1));
            if (l < _weights.Length - 1) h = Spec.Activation.Forward(h);
        }
        return (single ? h.squeeze(0) : h).MoveToOuterDisposeScope();
    }

    internal void CheckInput(Tensor input, int rank)
    {
        if (input.dim() != rank || input.shape[^1] != Spec.InputDim || (rank == 3 && input.shape[0] != Count))
            throw new ArgumentException(
                $"input shape [{string.Join(",", input.shape)}] does not fit {Count} network(s) with input dimension {Spec.InputDim}");
    }
}
