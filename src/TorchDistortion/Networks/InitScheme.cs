using static TorchSharp.torch;

namespace TorchDistortion.Networks;

/// <summary>
/// How the weights of one layer are drawn. Every scheme draws from the network's own <see cref="WeightRandom"/>, so a
/// seed reproduces the weights bit for bit. <see cref="Variance"/> gives C such that Var(W_ij) = C / fan_in,
/// the quantity the exact theory needs.
/// </summary>
public abstract record InitScheme
{
    /// <summary>The scheme's name as the command line spells it.</summary>
    public abstract string Name { get; }

    /// <summary>C with Var(W_ij) = C / fan_in for a layer of this shape.</summary>
    public abstract double Variance(int fanIn, int fanOut);

    /// <summary>C_W of a scheme that takes one (<see cref="TakesWeightVariance"/>); null for a scheme that fixes its own variance.</summary>
    public virtual double? WeightVariance => null;

    /// <summary>Whether the scheme named <paramref name="name"/> takes a weight variance C_W: variance and orthogonal; the others fix their own.</summary>
    public static bool TakesWeightVariance(string name) => name.ToLowerInvariant() is "variance" or "orthogonal";

    /// <summary>True when the entries are i.i.d. Gaussian, the case in which the exact law holds.</summary>
    public virtual bool IsGaussian => true;

    /// <summary>Fills <paramref name="weight"/> ([fan_out, fan_in]) in place.</summary>
    internal virtual void Fill(Tensor weight, WeightRandom random)
    {
        var (fanOut, fanIn) = ((int)weight.shape[0], (int)weight.shape[1]);
        random.Normal(weight, NormalStd(fanIn, fanOut));
    }

    /// <summary>True when <see cref="Fill"/> is one normal_ draw with standard deviation <see cref="NormalStd"/>.</summary>
    internal virtual bool FillsWithNormal => true;

    internal double NormalStd(int fanIn, int fanOut) => Math.Sqrt(Variance(fanIn, fanOut) / fanIn);

    /// <summary>
    /// He / Kaiming normal: N(0, C / fan_in) with C the activation's critical variance (2 for ReLU; 2 / (a^2 + b^2) for the
    /// piecewise-linear family, as PyTorch's calculate_gain; the mean-field edge of chaos for smooth activations).
    /// </summary>
    public static InitScheme He { get; } = new GaussianScheme("he", 2.0);

    /// <summary>This scheme for networks with <paramref name="activation"/>: He takes the activation's critical variance.</summary>
    internal InitScheme For(Activation activation) =>
        ReferenceEquals(this, He) && activation != Activation.ReLU ? new GaussianScheme("he", activation.CriticalVariance) : this;
    /// <summary>LeCun normal: N(0, 1 / fan_in).</summary>
    public static InitScheme LeCun { get; } = new GaussianScheme("lecun", 1.0);
    /// <summary>Glorot / Xavier normal: N(0, 2 / (fan_in + fan_out)).</summary>
    public static InitScheme GlorotNormal { get; } = new GlorotScheme(Uniform: false);
    /// <summary>Glorot / Xavier uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)).</summary>
    public static InitScheme GlorotUniform { get; } = new GlorotScheme(Uniform: true);
    /// <summary>N(0, C_W / fan_in) for any C_W &gt; 0.</summary>
    public static InitScheme WithVariance(double cW) => new GaussianScheme("variance", RequirePositive(cW));
    /// <summary>A (semi-)orthogonal matrix scaled so that Var(W_ij) = C_W / fan_in for square layers.</summary>
    public static InitScheme Orthogonal(double cW = 2.0) => new OrthogonalScheme(RequirePositive(cW));

    /// <summary>The names <see cref="Parse"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["he", "lecun", "glorot-normal", "glorot-uniform", "orthogonal", "variance"];

    /// <summary>
    /// A scheme by name. <paramref name="cW"/> is the variance for "variance" and "orthogonal"
    /// (default 2); the fixed-variance schemes reject it.
    /// </summary>
    public static InitScheme Parse(string name, double? cW = null)
    {
        InitScheme scheme = name.ToLowerInvariant() switch
        {
            "he" or "kaiming" => He,
            "lecun" => LeCun,
            "glorot-normal" or "xavier-normal" => GlorotNormal,
            "glorot-uniform" or "xavier-uniform" => GlorotUniform,
            "orthogonal" => Orthogonal(cW ?? 2.0),
            "variance" => WithVariance(cW ?? throw new SettingException("C_W", "is required by init 'variance' (a finite number > 0)")),
            _ => throw new SettingException("init", $": unknown init scheme '{name}'; allowed: {string.Join(", ", Names)}"),
        };
        if (cW is not null && !TakesWeightVariance(scheme.Name))
            throw new SettingException("C_W", $": init '{scheme.Name}' fixes its own variance; use init 'variance' to choose C_W");
        return scheme;
    }

    internal static double RequirePositive(double value, string setting = "C_W") =>
        double.IsFinite(value) && value > 0 ? value
            : throw new SettingException(setting, $"must be a finite number > 0, got {value}");

    private sealed record GaussianScheme(string SchemeName, double CW) : InitScheme
    {
        public override string Name => SchemeName;
        public override double Variance(int fanIn, int fanOut) => CW;
        public override double? WeightVariance => SchemeName == "variance" ? CW : null;
        public override string ToString() => SchemeName == "variance" || (SchemeName == "he" && CW != 2.0) ? $"{SchemeName}(C_W={CW:G6})" : SchemeName;
    }

    private sealed record GlorotScheme(bool Uniform) : InitScheme
    {
        public override string Name => Uniform ? "glorot-uniform" : "glorot-normal";
        public override double Variance(int fanIn, int fanOut) => 2.0 * fanIn / (fanIn + fanOut);
        public override bool IsGaussian => !Uniform;
        internal override bool FillsWithNormal => !Uniform;
        internal override void Fill(Tensor weight, WeightRandom random)
        {
            if (!Uniform) { base.Fill(weight, random); return; }
            var (fanOut, fanIn) = (weight.shape[0], weight.shape[1]);
            double a = Math.Sqrt(6.0 / (fanIn + fanOut));
            random.Uniform(weight, -a, a);
        }
        public override string ToString() => Name;
    }

    private sealed record OrthogonalScheme(double CW) : InitScheme
    {
        public override string Name => "orthogonal";
        // Rows (or columns) are orthonormal, so Var(W_ij) = 1 / max(fan_in, fan_out) before scaling.
        public override double Variance(int fanIn, int fanOut) => CW * fanIn / Math.Max(fanIn, fanOut);
        public override double? WeightVariance => CW;
        public override bool IsGaussian => false;
        internal override bool FillsWithNormal => false;
        internal override void Fill(Tensor weight, WeightRandom random)
        {
            using var scope = NewDisposeScope();
            var (rows, cols) = (weight.shape[0], weight.shape[1]);
            bool tall = rows >= cols;
            var gaussian = empty(tall ? [rows, cols] : [cols, rows], float64);
            random.Normal(gaussian, 1.0);
            var (q, r) = linalg.qr(gaussian);
            // Sign correction makes Q Haar-distributed.
            q.mul_(r.diagonal().sign().unsqueeze(0));
            if (!tall) q = q.t();
            weight.copy_(q.mul(Math.Sqrt(CW)));
        }
        public override string ToString() => $"orthogonal(C_W={CW:G6})";
    }
}
