using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace TorchDistortion.Output;

/// <summary>
/// The one set of JSON options for every output document: snake_case names, enums as snake_case strings, a non-finite
/// number as null (read back as NaN), dates ISO-8601 UTC; and the writer that puts schema_version and the document type first.
/// </summary>
public static class Json
{
    /// <summary>
    /// snake_case, with the paper's variances spelled as in the paper (C_W: c_w, C_b: c_b, C_out: c_out) and dtype as in
    /// PyTorch, wherever a property of that name appears.
    /// </summary>
    public static readonly JsonNamingPolicy Names = new SnakeCase();

    // After Names: static fields initialise in order.
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions
        {
            PropertyNamingPolicy = Names,
            WriteIndented = true,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
            Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower), new FiniteDouble(), new UtcDate() },
        };
        options.MakeReadOnly();
        return options;
    }

    private sealed class SnakeCase : JsonNamingPolicy
    {
        public override string ConvertName(string name) => name switch
        {
            "CW" => "c_w",
            "CB" => "c_b",
            "COut" => "c_out",
            "DType" => "dtype",
            "EstimatedCW" => "estimated_c_w",
            "EstimatedCB" => "estimated_c_b",
            "GFlops" => "gflops",
            "PeakResidentMiB" => "peak_resident_mib",
            _ => SnakeCaseLower.ConvertName(name),
        };
    }

    /// <summary>
    /// A document: {"schema_version": 1, "document": type, ...the object's own fields}. <paramref name="body"/> is a record
    /// or an anonymous object serialised with <see cref="Options"/> (or options derived from them).
    /// </summary>
    public static string Document(string type, object body, JsonSerializerOptions? options = null)
    {
        options ??= Options;
        var node = JsonSerializer.SerializeToNode(body, body.GetType(), options)!.AsObject();
        var document = new JsonObject { [Schema.Field] = Schema.Version, ["document"] = type };
        foreach (var (name, value) in node.ToList())
        {
            node.Remove(name);
            if (name is not (Schema.Field or "document")) document[name] = value;
        }
        return document.ToJsonString(options) + "\n";
    }

    /// <summary>Rows as JSON objects with the same names and values as the CSV columns.</summary>
    public static JsonArray Rows<TRow>(IReadOnlyList<Column<TRow>> columns, IEnumerable<TRow> rows)
    {
        var array = new JsonArray();
        foreach (var row in rows)
        {
            var o = new JsonObject();
            foreach (var c in columns) o[c.Name] = Value(c.Value(row));
            array.Add(o);
        }
        return array;
    }

    private static JsonNode? Value(object? value) => value switch
    {
        null => null,
        double d => double.IsFinite(d) ? JsonValue.Create(d) : null,
        _ => JsonSerializer.SerializeToNode(value, value.GetType(), Options),
    };

    /// <summary>
    /// The schema version of a JSON document (0 for files of the earlier, unversioned format). Readers rename the fields an
    /// older version named differently before deserialising.
    /// </summary>
    public static int VersionOf(JsonObject document) =>
        document[Schema.Field] is JsonValue v && v.TryGetValue(out int version) ? version : 0;

    /// <summary>Renames fields of an object (an older version's names to today's), keeping the rest.</summary>
    public static void Rename(JsonObject? o, IReadOnlyDictionary<string, string> renames)
    {
        if (o is null) return;
        foreach (var (old, now) in renames)
            if (o.ContainsKey(old) && !o.ContainsKey(now))
            {
                var value = o[old];
                o.Remove(old);
                o[now] = value;
            }
    }

    /// <summary>Writes a non-finite double as null; reads null (and the named literals of older files) back as NaN or infinity.</summary>
    public sealed class FiniteDouble : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.Null => double.NaN,
            JsonTokenType.String => double.Parse(reader.GetString()!, CultureInfo.InvariantCulture),
            _ => reader.GetDouble(),
        };

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }

    /// <summary>Dates as ISO-8601 UTC strings (2026-12-04T20:15:00Z); reads any ISO-8601 date.</summary>
    private sealed class UtcDate : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type type, JsonSerializerOptions options) =>
            DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Schema.Date(value));
    }
}
