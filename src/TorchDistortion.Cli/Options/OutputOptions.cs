using System.CommandLine;
using TorchDistortion.Experiments;

namespace TorchDistortion.Cli;

/// <summary>The output options every command spells the same way (-o/--output, --force), and writing to them.</summary>
internal static class OutputOptions
{
    internal static Option<string?> Output(string description, string? defaultValue = null)
    {
        var option = new Option<string?>("--output", "-o") { Description = description };
        if (defaultValue is not null) option.DefaultValueFactory = _ => defaultValue;
        return option;
    }

    internal static Option<bool> Force() => new("--force")
    {
        Description = "Write even inside a training run or a sweep's runs/ folder, or over a file that is not this command's earlier output",
    };

    /// <summary>Refuses an output file name that is empty, a folder, or in a folder that cannot be written.</summary>
    internal static void CheckFile(string? output, string option)
    {
        if (output is null) return;
        if (output.Trim().Length == 0) throw new ArgumentException($"{option}: empty file name");
        if (Directory.Exists(output)) throw new ArgumentException($"{option}: '{output}' is a folder; give a file name");
        Files.EnsureWritableFolder(Path.GetDirectoryName(Path.GetFullPath(output))!, option, output);
    }

    /// <summary>Writes a report to the file (atomically) or to stdout.</summary>
    internal static void Emit(string text, string? output)
    {
        if (output is null) { if (text.Length > 0) Console.Write(text); }
        else
        {
            try { Files.WriteAtomically(output, text); }
            catch (IOException e) { throw new IOException($"--output: {e.Message}", e); }
        }
    }
}
