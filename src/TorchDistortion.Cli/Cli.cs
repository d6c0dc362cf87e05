using System.CommandLine;

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

    /// <summary>Parses a separated list of numbers; a bad entry is an <see cref="ArgumentException"/> naming the option.</summary>
    internal static List<T> ParseList<T>(string text, string option, Func<string, T> parse, char separator = ',')
    {
        var parts = text.Split(separator, StringSplitOptions.TrimEntries);
        if (parts.Any(string.IsNullOrEmpty)) throw new ArgumentException($"{option}: empty entry in '{text}'");
        try { return parts.Select(parse).ToList(); }
        catch (FormatException) { throw new ArgumentException($"{option}: '{text}' is not a list of numbers"); }
        catch (OverflowException) { throw new ArgumentException($"{option}: a number in '{text}' is out of range"); }
    }

    internal static List<int> Ints(string text, string option) =>
        ParseList(text, option, s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture));

    internal static List<double> Doubles(string text, string option) =>
        ParseList(text, option, s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture));
}
