using System.Text.Json;
using System.Text.Json.Serialization;

namespace TorchDistortion.Experiments;

/// <summary>The JSON options of sweep files, run files and result sets: snake_case names, strict reading.</summary>
internal static class ExperimentJson
{
    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads a sweep declaration (measurement or training): every problem is one <see cref="ArgumentException"/> in the
    /// file's words, naming the field (an unknown field, a missing schema_version, a field given twice, a wrong type).
    /// </summary>
    internal static T ReadDeclaration<T>(string path) where T : class
    {
        string name = Path.GetFileName(path);
        if (!File.Exists(path)) throw new ArgumentException($"sweep file '{path}' does not exist");
        T? spec;
        try { spec = JsonSerializer.Deserialize<T>(File.ReadAllText(path), Options); }
        catch (JsonException e)
        {
            string field = e.Path is { Length: > 2 } p ? p[2..] : "(document)";
            string property = System.Text.RegularExpressions.Regex.Match(e.Message, "property '([^']+)'").Groups[1].Value;
            throw new ArgumentException(e.Message.Contains("could not be mapped") ? $"{name}: unknown field '{property}'"
                : e.Message.Contains("missing required") ? $"{name}: missing required field schema_version"
                : e.Message.Contains("Duplicate") ? $"{name}: {(property.Length > 0 ? property : field)}: given more than once"
                : $"{name}: {field}: wrong type or malformed value");
        }
        return spec ?? throw new ArgumentException($"{name}: empty document");
    }

    /// <summary>Refuses a declaration of a schema version this build does not read.</summary>
    internal static void CheckSchemaVersion(string source, int version)
    {
        if (version != SweepSpec.CurrentSchemaVersion)
            throw new ArgumentException($"{source}: schema_version: unsupported version {version}; this build reads {SweepSpec.CurrentSchemaVersion}");
    }

    /// <summary>
    /// Runs <paramref name="action"/> with the library's errors in a declaration file's words: "&lt;file&gt;: &lt;field&gt;: &lt;problem&gt;"
    /// (the field named by the setting, or <paramref name="field"/>); an error that already names the file passes as it is.
    /// </summary>
    internal static T InFile<T>(string source, Func<T> action, string? field = null)
    {
        try { return action(); }
        catch (SettingException e) { throw new ArgumentException($"{source}: {Field(e.Setting)}: {e.Problem.TrimStart(':', ' ')}"); }
        catch (ArgumentException e) when (e.Message.StartsWith(source + ":", StringComparison.Ordinal)) { throw; }
        catch (ArgumentException e) when (field is not null) { throw new ArgumentException($"{source}: {field}: {e.Message}"); }
        catch (ArgumentException e) { throw new ArgumentException($"{source}: {e.Message}"); }
    }

    /// <summary>A declaration file's field for a library setting: its JSON name (cw for C_W, cout for C_out).</summary>
    internal static string Field(string setting) => setting switch
    {
        "C_W" => "cw",
        "C_out" => "cout",
        "C_b" => "cb",
        _ => setting.ToLowerInvariant(),
    };
}
