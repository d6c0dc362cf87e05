using System.CommandLine;
using System.Text.Json;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>
/// The one check before a command writes a file the user named (measure, bench, plot, merge): never inside a training run
/// folder (its checkpoints and sidecars) or a sweep's runs/ folder, and never over a file that is not an earlier output of the
/// same command, unless --force.
/// </summary>
internal static class OutputGuard
{
    internal static Option<bool> ForceOption() => new("--force")
    {
        Description = "Write even inside a training run or a sweep's runs/ folder, or over a file that is not this command's earlier output",
    };

    /// <param name="isOwnOutput">Recognises an earlier output of the command from the existing file.</param>
    internal static void Check(string path, string option, string command, Func<string, bool> isOwnOutput, bool force)
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

    private static bool Recognised(string file, Func<string, bool> isOwnOutput)
    {
        try { return isOwnOutput(file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or ArgumentException or FormatException) { return false; }
    }

    /// <summary>The first line of a text file (empty for an empty file).</summary>
    internal static string FirstLine(string file)
    {
        using var reader = new StreamReader(file);
        return reader.ReadLine() ?? "";
    }

    /// <summary>Whether a file is a JSON object whose string property <paramref name="name"/> is <paramref name="value"/>.</summary>
    internal static bool JsonMarker(string file, string name, string value)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(file));
        return document.RootElement.ValueKind == JsonValueKind.Object
            && document.RootElement.TryGetProperty(name, out var marker) && marker.ValueKind == JsonValueKind.String && marker.GetString() == value;
    }

    /// <summary>Whether a file is a JSON object holding all these properties.</summary>
    internal static bool JsonHas(string file, params string[] names)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(file));
        return document.RootElement.ValueKind == JsonValueKind.Object && names.All(n => document.RootElement.TryGetProperty(n, out _));
    }
}
