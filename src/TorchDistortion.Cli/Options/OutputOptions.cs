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
