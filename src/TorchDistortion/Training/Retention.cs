using System.Globalization;

namespace TorchDistortion.Training;

/// <summary>
/// Which checkpoints of a run stay on disk (the history keeps every evaluation whatever this says). The last one is always
/// kept, so a run can be resumed; a checkpoint once thinned out is never needed again, so pruning only ever deletes.
/// </summary>
public sealed record Retention
{
    /// <summary>The default keeps every evaluation up to this many, then thins to at most this many.</summary>
    internal const int DefaultLimit = 50;

    private Retention(string name, int every) { Name = name; Every = every; }

    /// <summary>all, last, every:N, or thinned (the default).</summary>
    public string Name { get; }

    /// <summary>N of every:N (0 otherwise).</summary>
    public int Every { get; }

    public static Retention All { get; } = new("all", 0);
    public static Retention Last { get; } = new("last", 0);
    public static Retention Thinned { get; } = new("thinned", 0);

    /// <summary>all, last or every:N (N &gt;= 1); errors name <c>--keep</c>.</summary>
    public static Retention Parse(string text)
    {
        string value = text.Trim().ToLowerInvariant();
        if (value == "all") return All;
        if (value == "last") return Last;
        if (value.StartsWith("every:"))
        {
            if (!int.TryParse(value[6..], NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new SettingException("keep", $": every:N needs a whole number N >= 1, got '{text[6..]}'");
            return new("every", n);
        }
        throw new SettingException("keep", $": expected all, last or every:N, got '{text}'");
    }

    /// <summary>Whether evaluation <paramref name="index"/> (0: at initialization) of <paramref name="count"/> keeps its checkpoint.</summary>
    internal bool Keeps(int index, int count) => index == count - 1 || Name switch
    {
        "all" => true,
        "last" => false,
        "every" => index % Every == 0,
        _ => index % Stride(count) == 0,
    };

    /// <summary>
    /// The default's spacing: 1 up to <see cref="DefaultLimit"/> evaluations, then the smallest power of two that leaves at
    /// most DefaultLimit - 1 multiples (plus the last). Powers of two nest, so a larger stride keeps a subset of a smaller one.
    /// </summary>
    private static int Stride(int count)
    {
        if (count <= DefaultLimit) return 1;
        int stride = 2;
        while ((count - 1) / stride + 1 > DefaultLimit - 1) stride *= 2;
        return stride;
    }

    public override string ToString() => Name == "every" ? $"every:{Every}" : Name;
}
