using System.CommandLine;
using TorchDistortion.Networks;

namespace TorchDistortion.Cli;

/// <summary>
/// The network options of measure, sweep and train, defined once. Values are comma-separated lists: sweep takes the
/// cross product, train one run per activation and init, measure one value of each.
/// </summary>
internal sealed class NetworkOptions
{
    internal Option<string?> Widths { get; } = new("--widths") { Description = "Layer widths n0,n1,...,nL (e.g. 32,64,64,32; several shapes in sweep: separate them with ';'); or use --width/--depth" };
    internal Option<string?> Width { get; } = new("--width") { Description = "Hidden width" };
    internal Option<string?> Depth { get; } = new("--depth") { Description = "Number of weight layers L" };
    internal Option<string?> N0 { get; } = new("--n0") { Description = "Input dimension (default: --width)" };
    internal Option<string?> NL { get; } = new("--nL", "--nl") { Description = "Output dimension (default: --width)" };
    internal Option<string> Activation { get; } = new("--activation") { Description = $"Activation after every hidden layer: {string.Join(", ", Networks.Activation.Names)}", DefaultValueFactory = _ => "relu" };
    internal Option<string> Init { get; } = new("--init") { Description = $"Init scheme: {string.Join(", ", InitScheme.Names)}", DefaultValueFactory = _ => "he" };
    internal Option<string?> CW { get; } = new("--cw") { Description = "Weight variance C_W for --init variance or orthogonal" };
    internal Option<string?> COut { get; } = new("--cout") { Description = "Output-layer variance C_out (default: the scheme's own)" };
    internal Option<string> CB { get; } = new("--cb") { Description = "Bias variance C_b (0 = zero biases)", DefaultValueFactory = _ => "0" };
    internal Option<bool> NoBias { get; } = new("--no-bias") { Description = "Layers without bias parameters" };
    internal Option<string> Generator { get; } = new("--generator")
    {
        Description = "Random number generator of the weights: ziggurat (xoshiro256++ and a ziggurat, about 6x faster) or torch (libtorch's, the networks of earlier versions)",
        DefaultValueFactory = _ => WeightGenerators.Default.Name(),
    };

    /// <param name="width">Default hidden width (null: none).</param><param name="depth">Default depth (null: none).</param>
    /// <param name="cw">Default C_W (null: none).</param>
    internal NetworkOptions(int? width, int? depth, double? cw = null)
    {
        if (width is int w) Width.DefaultValueFactory = _ => w.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (depth is int d) Depth.DefaultValueFactory = _ => d.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (cw is double c) CW.DefaultValueFactory = _ => c.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Every option, for a command that takes them all and for refusing them beside a saved network.</summary>
    internal Option[] All => [Widths, Width, Depth, N0, NL, Activation, Init, CW, COut, CB, NoBias, Generator];

    internal static List<int>? Ints(ParseResult parse, Option<string?> option) => parse.GetValue(option) is string text ? Cli.Ints(text, option.Name) : null;

    internal static List<double>? Doubles(ParseResult parse, Option<string?> option) => parse.GetValue(option) is string text ? Cli.Doubles(text, option.Name) : null;

    /// <summary>The single value of a list option (measure, train), or null when it is absent.</summary>
    internal static T? One<T>(List<T>? values, Option option) where T : struct =>
        values is null ? null : values.Count == 1 ? values[0] : throw new ArgumentException($"{option.Name}: give one value, got {values.Count}");

    internal static List<string> Names(ParseResult parse, Option<string> option) => Cli.ParseList(parse.GetValue(option)!, option.Name, s => s);

    /// <summary>One network (measure): --widths, or the --width/--depth/--n0/--nL shorthand.</summary>
    internal NetworkSpec Spec(ParseResult parse)
    {
        IReadOnlyList<int> widths;
        if (parse.GetValue(Widths) is string list)
        {
            if (new Option[] { Width, Depth, N0, NL }.Any(o => parse.GetResult(o) is { Implicit: false }))
                throw new ArgumentException("--widths: give either --widths or the --width/--depth/--n0/--nL shorthand, not both");
            if (list.Contains(';')) throw new ArgumentException($"--widths: give one shape, got '{list}'");
            widths = Cli.Ints(list, "--widths");
        }
        else
        {
            int width = One(Ints(parse, Width), Width)!.Value, depth = One(Ints(parse, Depth), Depth)!.Value;
            if (width < 1) throw new ArgumentException($"--width must be a positive integer, got {width}");
            widths = NetworkSpec.Shorthand(width, depth, One(Ints(parse, N0), N0), One(Ints(parse, NL), NL));
        }
        var init = InitScheme.Parse(parse.GetValue(Init)!, One(Doubles(parse, CW), CW));
        return new NetworkSpec(widths, init, One(Doubles(parse, COut), COut), !parse.GetValue(NoBias), One(Cli.Doubles(parse.GetValue(CB)!, "--cb"), CB)!.Value,
            ActivationOf(parse.GetValue(Activation)!), WeightGenerators.Parse(parse.GetValue(Generator)!)).Validate();
    }

    /// <summary>An activation by name; ReLU stays null so that settings (and run ids) without it are unchanged.</summary>
    internal static Activation? ActivationOf(string name)
    {
        try
        {
            var activation = Networks.Activation.Parse(name);
            return activation == Networks.Activation.ReLU ? null : activation;
        }
        catch (ArgumentException e) { throw new ArgumentException($"--activation: {e.Message}"); }
    }
}
