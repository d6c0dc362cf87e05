using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Measurement;

namespace TorchDistortion.Training;

/// <summary>
/// The one check before a command writes a file the user named (measure, bench, plot, merge): never inside a training run
/// folder (its checkpoints and sidecars) or a sweep's runs/ folder, and never over a file that is not an earlier output of the
/// same command, unless --force.
/// </summary>
public static class OutputGuard
{
    /// <summary>Refuses <paramref name="path"/> (an <see cref="ArgumentException"/> naming <paramref name="option"/>) unless it is safe to write.</summary>
    /// <param name="isOwnOutput">Recognises an earlier output of the command from the existing file.</param>
    public static void Check(string path, string option, string command, Func<string, bool> isOwnOutput, bool force)
    {
        if (force) return;
        string full = Path.GetFullPath(path);
        for (var folder = Path.GetDirectoryName(full); folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (Checkpoints.IsRunFolder(folder))
                throw new ArgumentException($"{option}: '{path}' is inside the training run folder '{folder}', whose checkpoints it could replace; choose another path (or --force)");
            if (Path.GetFileName(folder) == "runs" && File.Exists(Path.Combine(Path.GetDirectoryName(folder)!, "sweep.json")))
                throw new ArgumentException($"{option}: '{path}' is inside the runs folder '{folder}' of a sweep; choose another path (or --force)");
        }
        if (File.Exists(full) && !Recognised(full, isOwnOutput))
            throw new ArgumentException($"{option}: '{path}' exists and is not an earlier output of {command}; choose another name (or --force to replace it)");
    }

    /// <summary>Refuses an output file name that is empty, a folder, or in a folder that cannot be written.</summary>
    public static void CheckFile(string? output, string option)
    {
        if (output is null) return;
        if (output.Trim().Length == 0) throw new ArgumentException($"{option}: empty file name");
        if (Directory.Exists(output)) throw new ArgumentException($"{option}: '{output}' is a folder; give a file name");
        Files.EnsureWritableFolder(Path.GetDirectoryName(Path.GetFullPath(output))!, option, output);
    }

    /// <summary>The files `merge` writes into <paramref name="folder"/>: each may only replace an earlier merge's (or sweep's) own.</summary>
    public static void CheckMergeFolder(string folder, bool force)
    {
        Check(Path.Combine(folder, "sweep.json"), "--output", "merge", f => SweepSpec.Load(f) is not null, force);
        Check(Path.Combine(folder, "results.json"), "--output", "merge", f => ResultSet.Read(f) is not null, force);
        Check(Path.Combine(folder, "results.csv"), "--output", "merge",
            f => File.ReadLines(f).SkipWhile(l => l.StartsWith('#')).FirstOrDefault() is { } header && ResultRow.IsHeader(header), force);
    }

    /// <summary>
    /// Whether a file is an earlier report of `measure` (<see cref="MeasureResult"/>, <see cref="CheckpointMeasurement"/>,
    /// <see cref="ModelMeasurement"/>), in any of its formats and versions, the tables included.
    /// </summary>
    public static bool IsMeasureReport(string file)
    {
        string first = FirstLine(file);
        if (first.StartsWith('{'))
            return new[] { MeasureResult.DocumentType, CheckpointMeasurement.DocumentType, ModelMeasurement.DocumentType }.Any(d => JsonMarker(file, "document", d))
                || JsonMarker(file, "tool", "torchdistortion"); // the unversioned format
        return first.StartsWith("schema_version,widths,activation,init,") || first.StartsWith("schema_version,checkpoint,")
            || first.StartsWith("schema_version,model,")
            || first.StartsWith("statistic,measured,stderr,theory,") || first.StartsWith("checkpoint,step,epoch,geometries,")
            || first.StartsWith("model,input_dim,")
            || System.Text.RegularExpressions.Regex.IsMatch(first, @"^(length|[0-9]+-volume) distortion of [0-9]+ random ");
    }

    private static bool Recognised(string file, Func<string, bool> isOwnOutput)
    {
        try { return isOwnOutput(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ArgumentException or FormatException) { return false; }
    }

    /// <summary>The first line of a text file (empty for an empty file).</summary>
    public static string FirstLine(string file)
    {
        using var reader = new StreamReader(file);
        return reader.ReadLine() ?? "";
    }

    /// <summary>Whether a file is a JSON object whose string property <paramref name="name"/> is <paramref name="value"/>.</summary>
    public static bool JsonMarker(string file, string name, string value)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(file));
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(name, out var marker) && marker.ValueKind == JsonValueKind.String && marker.GetString() == value;
    }

    /// <summary>Whether a file is a JSON object holding all these properties.</summary>
    public static bool JsonHas(string file, params string[] names)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(file));
        return document.RootElement.ValueKind == JsonValueKind.Object && names.All(n => document.RootElement.TryGetProperty(n, out _));
    }
}
