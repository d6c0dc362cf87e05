namespace TorchDistortion.Networks;

/// <summary>
/// The shape, nonlinearity and initialization of a fully connected network: widths [n0, n1, ..., nL], the activation
/// after every hidden layer, a linear output layer.
/// </summary>
/// <param name="Widths">n0 (input), the hidden widths, nL (output); at least two entries.</param>
/// <param name="Init">How hidden-layer weights are drawn.</param>
/// <param name="OutputVariance">C_out: Var(W_L) = C_out / n_{L-1}. Null: the scheme's own rule.</param>
/// <param name="Bias">Whether the layers have a bias.</param>
/// <param name="BiasVariance">C_b: biases drawn from N(0, C_b); 0 gives zero biases.</param>
/// <param name="Nonlinearity">The activation after every hidden layer; null means ReLU.</param>
/// <param name="Generator">The random number generator that draws the weights and biases from a seed.</param>
public sealed record NetworkSpec(
    IReadOnlyList<int> Widths,
    InitScheme Init,
    double? OutputVariance = null,
    bool Bias = true,
    double BiasVariance = 0.0,
    Activation? Nonlinearity = null,
    WeightGenerator Generator = WeightGenerators.Default)
{
    /// <summary>The activation after every hidden layer (ReLU unless set).</summary>
    public Activation Activation => Nonlinearity ?? Activation.ReLU;

    /// <summary>The init scheme with He resolved to the activation's critical variance.</summary>
    internal InitScheme ResolvedInit => Init.For(Activation);

    /// <summary>Number of weight layers L.</summary>
    public int Depth => Widths.Count - 1;
    /// <summary>n0, the input dimension.</summary>
    public int InputDim => Widths[0];
    /// <summary>nL, the output dimension.</summary>
    public int OutputDim => Widths[^1];

    /// <summary>Widths n0..nL from the shorthand: <paramref name="depth"/> weight layers, hidden width <paramref name="width"/>.</summary>
    public static IReadOnlyList<int> Shorthand(int width, int depth, int? inputDim = null, int? outputDim = null)
    {
        if (depth < 1) throw new SettingException("depth", $"must be at least 1, got {depth}");
        var widths = new int[depth + 1];
        Array.Fill(widths, width);
        widths[0] = inputDim ?? width;
        widths[^1] = outputDim ?? width;
        return widths;
    }

    /// <summary>C_l for layer l = 1..L with Var(W_l) = C_l / n_{l-1}: what the exact theory needs.</summary>
    public double[] LayerVariances()
    {
        var c = new double[Depth];
        for (int l = 1; l <= Depth; l++)
            c[l - 1] = l == Depth && OutputVariance is double cOut ? cOut : ResolvedInit.Variance(Widths[l - 1], Widths[l]);
        return c;
    }

    /// <summary>Number of weights of one network (biases aside).</summary>
    public long WeightCount()
    {
        long total = 0;
        for (int l = 1; l < Widths.Count; l++) total += (long)Widths[l - 1] * Widths[l];
        return total;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public NetworkSpec Validate()
    {
        if (Widths is null || Widths.Count < 2)
            throw new SettingException("widths", "needs at least two entries (input and output), e.g. 32,64,32");
        for (int i = 0; i < Widths.Count; i++)
            if (Widths[i] < 1)
                throw new SettingException("widths", $": every width must be a positive integer, got {Widths[i]} at position {i}");
        // One network's float64 weights beyond 8 GiB cannot be drawn on a machine of this class.
        if (WeightCount() > (1L << 30))
            throw new SettingException("widths", $": one network of these widths has {WeightCount():N0} weights ({WeightCount() * 8.0 / (1 << 30):F0} GiB in float64); at most 2^30 are supported");
        if (OutputVariance is double c) InitScheme.RequirePositive(c, "C_out");
        if (!double.IsFinite(BiasVariance) || BiasVariance < 0)
            throw new SettingException("C_b", $"must be a finite number >= 0, got {BiasVariance}");
        if (!Bias && BiasVariance > 0)
            throw new SettingException("C_b", ": a bias variance needs biases (bias is off)");
        return this;
    }

    public override string ToString() =>
        $"[{CompactWidths()}]" + (Activation == Activation.ReLU ? "" : $" activation={Activation}") + $" init={ResolvedInit}" + (OutputVariance is double c ? $" C_out={c:G6}" : "") +
        (Bias ? $" C_b={BiasVariance:G6}" : " no-bias") + (Generator == WeightGenerators.Default ? "" : $" generator={Generator.Name()}");

    /// <summary>Widths with runs folded: 32,64x19,10.</summary>
    private string CompactWidths()
    {
        var parts = new List<string>();
        for (int i = 0; i < Widths.Count;)
        {
            int run = 1;
            while (i + run < Widths.Count && Widths[i + run] == Widths[i]) run++;
            parts.Add(run > 2 ? $"{Widths[i]}x{run}" : string.Join(",", Enumerable.Repeat(Widths[i], run)));
            i += run;
        }
        return string.Join(",", parts);
    }
}
