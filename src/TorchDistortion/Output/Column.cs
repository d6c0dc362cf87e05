using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace TorchDistortion.Output;

/// <summary>
/// One column of a tabular output, declared once: its snake_case name, how to read its value from a row, and its unit
/// (empty for a pure number). The CSV writer and the JSON rows are both written from the same columns, so the two formats
/// cannot name a field differently.
/// </summary>
/// <param name="Value">A string, an integer, a double (non-finite: empty cell, JSON null), a bool, or null.</param>
public sealed record Column<TRow>(string Name, Func<TRow, object?> Value, string Unit = "")
{
    /// <summary>
    /// The columns of a record type: its JSON properties, in declaration order, named as <see cref="Json.Options"/> names
    /// them (snake_case, or a [JsonPropertyName]). A record's JSON and CSV then agree by construction.
    /// </summary>
    public static IReadOnlyList<Column<TRow>> Of(JsonSerializerOptions? options = null)
    {
        var info = (options ?? Json.Options).GetTypeInfo(typeof(TRow));
        return info.Properties.Where(p => p.Get is not null)
            .Select(p => new Column<TRow>(p.Name, row => p.Get!(row!)))
            .ToList();
    }
}
