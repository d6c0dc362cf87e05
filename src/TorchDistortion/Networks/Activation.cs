using System.Globalization;
using MathNet.Numerics;
using static TorchSharp.torch;

namespace TorchDistortion.Networks;

/// <summary>
/// The nonlinearity after every hidden layer, and everything the framework needs to know about it: the forward function,
/// its slope for exact tangent propagation, whether it is piecewise linear (exact breakpoints and an exact law), its
/// critical weight variance and its name in the command line, sweep files, results and checkpoints. Adding an activation
/// means one new case here (or one subclass) plus its tests.
/// </summary>
public abstract record Activation
{
    /// <summary>The canonical name, as the command line, sweep files and results spell it (e.g. "leaky-relu:0.2").</summary>
    public abstract string Name { get; }

    /// <summary>True for the piecewise-linear family: breakpoints are exact and the law of the distortion is exact.</summary>
    public virtual bool IsPiecewiseLinear => false;

    /// <summary>
    /// C_W at which E||J u||^2 neither grows nor decays with depth (the edge of chaos): what <c>--init he</c> uses.
    /// For the piecewise-linear family 2 / (a^2 + b^2), PyTorch's <c>calculate_gain</c> squared.
    /// </summary>
    public abstract double CriticalVariance { get; }

    /// <summary>phi(z), out of place.</summary>
    public abstract Tensor Forward(Tensor z);

    /// <summary>phi(z) for one number (the mean-field quadrature).</summary>
    public abstract double Value(double z);

    /// <summary>phi'(z) for one number (the mean-field quadrature).</summary>
    public abstract double Slope(double z);

    /// <summary>
    /// Replaces <paramref name="z"/> by phi(z) in place and returns phi'(z) as a new tensor of z's dtype: the factor by
    /// which tangents are multiplied. (At a kink the slope of the positive side is used only where z &gt; 0.)
    /// </summary>
    internal abstract Tensor ApplyInPlace(Tensor z);

    public sealed override string ToString() => Name;

    /// <summary>ReLU: max(z, 0), the paper's activation and the default.</summary>
    public static PiecewiseLinearActivation ReLU { get; } = new(0.0, 1.0, "relu");

    /// <summary>Leaky ReLU with negative slope <paramref name="alpha"/> (PyTorch's default 0.01).</summary>
    public static PiecewiseLinearActivation LeakyReLU(double alpha = 0.01) =>
        new(RequireFinite(alpha, "leaky-relu slope"), 1.0, $"leaky-relu:{Format(alpha)}");

    /// <summary>|z|: every neuron passes its input's magnitude; the law is exactly a product of chi-squares.</summary>
    public static PiecewiseLinearActivation Abs { get; } = new(-1.0, 1.0, "abs");

    /// <summary>phi(z) = b z for z &gt; 0 and a z for z &lt; 0.</summary>
    public static PiecewiseLinearActivation ABReLU(double a, double b)
    {
        RequireFinite(a, "abrelu slope a");
        RequireFinite(b, "abrelu slope b");
        if (a == 0 && b == 0) throw new SettingException("activation", "abrelu:0,0 is identically zero; at least one slope must be nonzero");
        return new(a, b, $"abrelu:{Format(a)},{Format(b)}");
    }

    private static PiecewiseLinearActivation ABReLU(double[] slopes) => ABReLU(slopes[0], slopes[1]);

    /// <summary>The names <see cref="Parse"/> accepts, with their parameters.</summary>
    public static IReadOnlyList<string> Names { get; } =
        ["relu", "leaky-relu[:alpha]", "abs", "abrelu:a,b", .. SmoothActivation.All.Select(a => a.Name)];

    /// <summary>An activation by name: relu, leaky-relu[:alpha], abs, abrelu:a,b, tanh, gelu, silu, softplus, sigmoid.</summary>
    public static Activation Parse(string text)
    {
        string trimmed = text.Trim().ToLowerInvariant();
        int colon = trimmed.IndexOf(':');
        string name = colon < 0 ? trimmed : trimmed[..colon];
        string? arguments = colon < 0 ? null : trimmed[(colon + 1)..];
        double[] Numbers(int count)
        {
            var parts = (arguments ?? "").Split(',');
            if (parts.Length != count || parts.Any(p => !double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                throw new SettingException("activation", $"'{text}': {name} takes {(count == 1 ? "one number" : $"{count} numbers separated by a comma")}, e.g. {(count == 1 ? "leaky-relu:0.2" : "abrelu:-0.5,1")}");
            return parts.Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        }
        return name switch
        {
            "relu" when arguments is null => ReLU,
            "abs" when arguments is null => Abs,
            "leaky-relu" or "leaky_relu" or "leakyrelu" => arguments is null ? LeakyReLU() : LeakyReLU(Numbers(1)[0]),
            "abrelu" => ABReLU(Numbers(2)),
            _ when arguments is null && SmoothActivation.All.FirstOrDefault(a => a.Name == name) is { } smooth => smooth,
            _ => throw new SettingException("activation", $": unknown activation '{text}'; allowed: {string.Join(", ", Names)}"),
        };
    }

    /// <summary>
    /// Splits a comma-separated list of activation names, keeping the numbers of abrelu:a,b with their name
    /// ("relu,abrelu:-0.5,1,tanh" is three activations): a name never starts with a digit, a sign or a dot.
    /// </summary>
    public static List<string> SplitList(string text)
    {
        var names = new List<string>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (names.Count > 0 && part.Length > 0 && (char.IsDigit(part[0]) || part[0] is '-' or '+' or '.')) names[^1] += "," + part;
            else names.Add(part);
        }
        return names;
    }

    internal static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static double RequireFinite(double value, string what) =>
        double.IsFinite(value) ? value : throw new SettingException("activation", $"{what} must be a finite number, got {value}");
}

/// <summary>
/// phi(z) = b z for z &gt; 0, a z for z &lt; 0 (neural-tangents' ABRelu): ReLU (0, 1), leaky ReLU (alpha, 1), abs (-1, 1).
/// Flipping the sign of a row of (W, b) leaves a symmetric weight law unchanged, so each neuron's slope is a or b with
/// probability 1/2, independently: the distortion's law is exact (../docs and DESIGN.md section 2b).
/// </summary>
public sealed record PiecewiseLinearActivation : Activation
{
    internal PiecewiseLinearActivation(double negativeSlope, double positiveSlope, string name)
    {
        NegativeSlope = negativeSlope;
        PositiveSlope = positiveSlope;
        Name = name;
    }

    /// <summary>a: the slope for z &lt; 0.</summary>
    public double NegativeSlope { get; }
    /// <summary>b: the slope for z &gt; 0.</summary>
    public double PositiveSlope { get; }
    public override string Name { get; }
    public override bool IsPiecewiseLinear => true;
    public override double CriticalVariance => 2.0 / (NegativeSlope * NegativeSlope + PositiveSlope * PositiveSlope);

    /// <summary>ReLU-like: inactive neurons pass nothing, so a k-volume is exactly 0 when fewer than k are active.</summary>
    internal bool HasDeadSide => NegativeSlope == 0;

    public override double Value(double z) => z > 0 ? PositiveSlope * z : NegativeSlope * z;
    public override double Slope(double z) => z > 0 ? PositiveSlope : NegativeSlope;

    public override Tensor Forward(Tensor z)
    {
        if (IsReLU) return nn.functional.relu(z);
        using var positive = z.relu();
        return z.mul(NegativeSlope).add_(positive, PositiveSlope - NegativeSlope);
    }

    internal override Tensor ApplyInPlace(Tensor z)
    {
        // The 0/1 mask as a float tensor, sign(relu(z)): comparisons and bool masks run about 10x slower than float
        // elementwise ops in libtorch's CPU kernels, and a float mask multiplies without type promotion.
        if (IsReLU) return z.relu_().sign();
        var mask = z.relu().sign_();
        // phi(z) = a z + (b - a) relu(z); slope = a + (b - a) 1[z > 0].
        using (var positive = z.relu()) z.mul_(NegativeSlope).add_(positive, PositiveSlope - NegativeSlope);
        return mask.mul_(PositiveSlope - NegativeSlope).add_(NegativeSlope);
    }

    /// <summary>The slope on each piece from its 0/1 activity (exact breakpoints).</summary>
    internal Tensor SlopeOf(Tensor active) =>
        IsReLU ? active.alias() : active.to(float64).mul_(PositiveSlope - NegativeSlope).add_(NegativeSlope);

    private bool IsReLU => NegativeSlope == 0 && PositiveSlope == 1;
}

/// <summary>A smooth activation: exact Jacobians by tangent propagation with phi'(z); the theory is mean-field (large width).</summary>
public sealed record SmoothActivation : Activation
{
    private readonly Func<Tensor, Tensor> _forward;
    private readonly Func<Tensor, Tensor> _slope;
    private readonly Func<double, double> _value;
    private readonly Func<double, double> _derivative;
    private readonly (Action<Tensor> InPlace, Func<Tensor, Tensor> Slope)? _fromValue;
    private readonly Lazy<double> _critical;

    private SmoothActivation(string name, Func<Tensor, Tensor> forward, Func<Tensor, Tensor> slope, Func<double, double> value,
        Func<double, double> derivative, (Action<Tensor> InPlace, Func<Tensor, Tensor> Slope)? fromValue = null)
    {
        Name = name;
        (_forward, _slope, _value, _derivative, _fromValue) = (forward, slope, value, derivative, fromValue);
        _critical = new Lazy<double>(() => Theory.MeanField.CriticalVariance(this, biasVariance: 0.0));
    }

    public override string Name { get; }

    /// <summary>The mean-field edge of chaos at zero bias variance: C_W with chi = 1 at the fixed point of the variance map.</summary>
    public override double CriticalVariance => _critical.Value;

    public override Tensor Forward(Tensor z) => _forward(z);
    public override double Value(double z) => _value(z);
    public override double Slope(double z) => _derivative(z);

    internal override Tensor ApplyInPlace(Tensor z)
    {
        // Where the slope is a function of the value (tanh: 1 - y^2, sigmoid: y (1 - y)), phi runs in place once.
        if (_fromValue is var (inPlace, slopeOfValue))
        {
            inPlace(z);
            return slopeOfValue(z);
        }
        var slope = _slope(z);
        using (var value = _forward(z)) z.copy_(value);
        return slope;
    }

    /// <summary>
    /// A smooth activation of the caller's: phi and phi' on tensors (the network and the engine) and on numbers (the
    /// mean-field quadrature). Not known to <see cref="Activation.Parse"/>, so it cannot appear in files.
    /// </summary>
    public static SmoothActivation Create(string name, Func<Tensor, Tensor> forward, Func<Tensor, Tensor> slope,
        Func<double, double> value, Func<double, double> derivative) => new(name, forward, slope, value, derivative);

    private static double Logistic(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
    private static double NormalCdf(double z) => 0.5 * SpecialFunctions.Erfc(-z / Math.Sqrt(2));
    private static double NormalPdf(double z) => Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);

    public static SmoothActivation Tanh { get; } = new("tanh", z => z.tanh(), z => 1 - z.tanh().square(),
        Math.Tanh, z => 1 - Math.Tanh(z) * Math.Tanh(z), (z => z.tanh_(), y => y.square().neg_().add_(1)));
    public static SmoothActivation Sigmoid { get; } = new("sigmoid", z => z.sigmoid(), z => z.sigmoid() * (-z).sigmoid(),
        Logistic, z => Logistic(z) * Logistic(-z), (z => z.sigmoid_(), y => y.neg().add_(1).mul_(y)));
    /// <summary>log(1 + e^z), written so it neither overflows nor loses digits for large |z|.</summary>
    public static SmoothActivation Softplus { get; } = new("softplus", z => nn.functional.softplus(z), z => z.sigmoid(),
        z => Math.Max(z, 0) + Theory.ExactMath.Log1P(Math.Exp(-Math.Abs(z))), Logistic);
    public static SmoothActivation SiLU { get; } = new("silu", z => nn.functional.silu(z),
        z => z.sigmoid() * (1 + z * (-z).sigmoid()),
        z => z * Logistic(z), z => Logistic(z) * (1 + z * Logistic(-z)));
    /// <summary>GELU with the exact normal CDF (PyTorch's default, approximate='none').</summary>
    public static SmoothActivation GELU { get; } = new("gelu", z => nn.functional.gelu(z),
        z => { var cdf = special.ndtr(z); return cdf + z * (z.square() * -0.5).exp() / Math.Sqrt(2 * Math.PI); },
        z => z * NormalCdf(z), z => NormalCdf(z) + z * NormalPdf(z));

    internal static IReadOnlyList<SmoothActivation> All { get; } = [Tanh, GELU, SiLU, Softplus, Sigmoid];
}
