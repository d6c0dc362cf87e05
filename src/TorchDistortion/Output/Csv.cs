using System.Globalization;
using System.Text;

namespace TorchDistortion.Output;

/// <summary>
/// The one CSV writer: a header of snake_case names led by schema_version (so pandas.read_csv reads every file as it is),
/// one line per row, numbers in <see cref="Schema.Number"/>'s format, text quoted where it holds a comma or a quote.
/// </summary>
public static class Csv
{
    /// <param name="comments">Lines written first, each behind "# " (results.csv's provenance; read with comment="#").</param>
    public static string Write<TRow>(IReadOnlyList<Column<TRow>> columns, IEnumerable<TRow> rows, IEnumerable<string>? comments = null)
    {
        var text = new StringBuilder();
        foreach (var line in comments ?? []) text.Append("# ").Append(line).Append('\n');
        text.Append(Header(columns)).Append('\n');
        string version = Schema.Version.ToString(CultureInfo.InvariantCulture);
        foreach (var row in rows)
        {
            text.Append(version);
            foreach (var c in columns) text.Append(',').Append(Cell(c.Value(row)));
            text.Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The header line of these columns (readers recognise their files by it).</summary>
    public static string Header<TRow>(IEnumerable<Column<TRow>> columns) => Schema.Field + "," + string.Join(",", columns.Select(c => c.Name));

    /// <summary>One cell: empty for null and non-finite numbers; text quoted where it holds a comma, a quote or a line break.</summary>
    public static string Cell(object? value) => value is string or System.Collections.IEnumerable ? Quote(Text(value)) : Text(value);

    /// <summary>A value as text, unquoted (the provenance comment lines use it).</summary>
    public static string Text(object? value) => value switch
    {
        null => "",
        double d => Schema.Number(d),
        float f => Schema.Number(f),
        bool b => b ? "true" : "false",
        DateTimeOffset date => Schema.Date(date),
        string s => s,
        System.Collections.IEnumerable list => string.Join(";", list.Cast<object?>().Select(Text)),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    private static string Quote(string text) =>
        text.IndexOfAny([',', '"', '\n', '\r']) < 0 ? text : $"\"{text.Replace("\"", "\"\"")}\"";
}
