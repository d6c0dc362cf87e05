using System.CommandLine;
using System.Text;

namespace TorchDistortion.Cli;

/// <summary>Runs a command line: bad input gets one line on stderr and exit code 2, never a stack trace.</summary>
internal static class Cli
{
    internal const int UsageError = 2;

    internal static int Run(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
            return Fail(parsed.Errors[0].Message);
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Unwrap(e) is ArgumentException or FormatException or IOException or UnauthorizedAccessException)
        {
            return Fail(Unwrap(e).Message);
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted");
            return 130;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: internal failure: {Unwrap(e).Message.Split('\n')[0].Trim()} (please report this)");
            return 1;
        }
    }

    internal static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message.Split('\n')[0].Trim()}");
        return UsageError;
    }

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerException: { } inner } ? Unwrap(inner) : e;

    /// <summary>Writes text to a file atomically: a temporary file beside it, then a rename.</summary>
    internal static void WriteAtomically(string path, string text)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory)) throw new IOException($"--output: folder '{directory}' does not exist");
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, text, new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        catch (UnauthorizedAccessException)
        {
            throw new IOException($"--output: cannot write to '{directory}' (permission denied)");
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
