using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;

namespace TorchDistortion.Output;

/// <summary>
/// One column of a tabular output, declared once: its snake_case name and how to read its value from a row (its format
/// follows from the value's type: <see cref="Csv.Cell"/>). The CSV writer and the JSON rows are both written from the same
/// columns, so the two formats cannot name a field differently.
/// </summary>
/// <param name="Value">A string, an integer, a double (non-finite: empty cell, JSON null), a bool, a list, or null.</param>
public sealed record Column<TRow>(string Name, Func<TRow, object?> Value)
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

    /// <summary>
    /// Columns that repeat a report's settings (an object serialised with <see cref="Json.Options"/>) in every row, so that
    /// each CSV line stands alone and carries the names of the JSON settings; then the row's own columns.
    /// </summary>
    public static IReadOnlyList<Column<TRow>> WithSettings(object settings, IReadOnlyList<Column<TRow>> columns)
    {
        var node = JsonSerializer.SerializeToNode(settings, settings.GetType(), Json.Options)!.AsObject();
        return [.. node.Select(p => new Column<TRow>(p.Key, _ => Plain(p.Value))), .. columns];
    }

    /// <summary>A JSON value as the CSV writer takes it (lists joined by <see cref="Csv.Cell"/>).</summary>
    private static object? Plain(JsonNode? node) => node switch
    {
        null => null,
        JsonArray a => a.Select(Plain).ToList(),
        // Integers stay integers: a seed of 19 digits has no exact double.
        JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.TryGetValue(out long integer) ? (object)integer : v.GetValue<double>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => node.ToJsonString(),
    };
}
