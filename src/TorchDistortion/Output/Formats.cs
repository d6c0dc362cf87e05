using System.Globalization;

namespace TorchDistortion.Output;

/// <summary>The version of every JSON and CSV document this library writes, and how values become text in them.</summary>
public static class Schema
{
    /// <summary>
    /// Version 1: one set of snake_case names in every output, this field in every document (a top-level JSON field; the
    /// first CSV column), dates ISO-8601 UTC. Files without it are of the earlier, unversioned format (read as version 0).
    /// </summary>
    public const int Version = 1;
    public const string Field = "schema_version";

    /// <summary>One number format everywhere: round-trip ("R"), invariant culture; undefined or non-finite is empty (CSV) or null (JSON).</summary>
    public static string Number(double? value) =>
        value is double d && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>ISO-8601 in UTC to the second: 2026-12-04T20:15:00Z.</summary>
    public static string Date(DateTimeOffset date) => date.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>
    /// The format of a command's output: --format where given, else the extension of -o (.json, .csv), else a table.
    /// "-" (or no -o) is stdout. A --format that contradicts the extension is refused.
    /// </summary>
    public static string ChooseFormat(string? format, string? output, IReadOnlyCollection<string> allowed)
    {
        string? given = format?.Trim().ToLowerInvariant();
        if (given is not null && !allowed.Contains(given))
            throw new SettingException("format", $": unknown format '{format}'; allowed: {string.Join(", ", allowed)}");
        string? implied = IsStdout(output) ? null : Path.GetExtension(output!).ToLowerInvariant() switch
        {
            ".json" => "json",
            ".csv" => "csv",
            _ => null,
        };
        if (implied is not null && !allowed.Contains(implied)) implied = null;
        if (given is not null && implied is not null && given != implied)
            throw new SettingException("format", $"{given} contradicts the output '{output}' (a .{implied} file); drop the format or change the extension");
        return given ?? implied ?? (allowed.Contains("table") ? "table" : allowed.First());
    }

    /// <summary>Whether an --output value means stdout: absent, or "-".</summary>
    public static bool IsStdout([System.Diagnostics.CodeAnalysis.NotNullWhen(false)] string? output) => output is null || output == "-";
}
