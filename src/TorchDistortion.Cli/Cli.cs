using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace TorchDistortion.Cli;

/// <summary>Runs a command line: bad input gets one line on stderr and exit code 2, never a stack trace.</summary>
internal static class Cli
{
    internal const int UsageError = 2;

    /// <summary>Every command of `torchdist`: one tree for the executable and for the tests that run it in-process.</summary>
    internal static RootCommand Root() => new("TorchDistortion: exact length and volume distortion of random ReLU networks, beside the exact theory.")
    {
        MeasureCommand.Create(),
        ReproduceCommand.Create(),
        TrainCommand.Create(),
        SweepCommand.Create(),
        MergeCommand.Create(),
        PlotCommand.Create(),
        BenchCommand.Create(),
        DoctorCommand.Create(),
    };

    internal static int Run(RootCommand root, string[] args)
    {
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
            return Fail(Describe(root, parsed));
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

    /// <summary>
    /// The first parse error in the user's terms: an unknown command lists the commands, and a value that does not
    /// convert says what was expected instead of naming a .NET type. One place for every command.
    /// </summary>
    private static string Describe(RootCommand root, ParseResult parsed)
    {
        if (parsed.CommandResult.Command == root)
        {
            string commands = string.Join(", ", root.Subcommands.Where(c => !c.Hidden).Select(c => c.Name));
            string? first = parsed.Tokens.FirstOrDefault()?.Value;
            if (first is null) return $"no command given; commands: {commands}";
            return $"unknown {(first.StartsWith('-') ? "option" : "command")} '{first}'; commands: {commands}";
        }
        if (parsed.UnmatchedTokens.FirstOrDefault() is string extra)
            return $"{parsed.CommandResult.Command.Name}: unknown {(extra.StartsWith('-') ? "option" : "argument")} '{extra}'";
        var error = parsed.Errors[0];
        var option = (error.SymbolResult as OptionResult ?? error.SymbolResult?.Parent as OptionResult)?.Option;
        if (option is null) return error.Message;
        var type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        foreach (var token in parsed.GetResult(option)?.Tokens ?? [])
        {
            string v = token.Value;
            try
            {
                if (type == typeof(double)) Double(v, option.Name);
                if (type == typeof(int)) Int(v, option.Name);
                if (type == typeof(long)) Integer(v, option.Name, long.MinValue, long.MaxValue);
            }
            catch (ArgumentException e) { return e.Message; }
            if (type == typeof(bool) && !bool.TryParse(v, out _)) return $"{option.Name}: '{v}' is not true or false";
        }
        return error.Message;
    }

    private static Exception Unwrap(Exception e) => e is AggregateException { InnerException: { } inner } ? Unwrap(inner) : e;

    /// <summary>Parses a separated list; a bad entry is an <see cref="ArgumentException"/> naming the option.</summary>
    internal static List<T> ParseList<T>(string text, string option, Func<string, T> parse, char separator = ',')
    {
        var parts = text.Split(separator, StringSplitOptions.TrimEntries);
        if (parts.Any(string.IsNullOrEmpty)) throw new ArgumentException($"{option}: empty entry in '{text}'");
        try { return parts.Select(parse).ToList(); }
        catch (FormatException) { throw new ArgumentException($"{option}: '{text}' is not a list of numbers"); }
        catch (OverflowException) { throw new ArgumentException($"{option}: a number in '{text}' is out of range"); }
    }

    internal static List<int> Ints(string text, string option) => ParseList(text, option, v => Int(v, option));

    internal static List<double> Doubles(string text, string option) => ParseList(text, option, v => Double(v, option));

    /// <summary>An integer, refused in the words of every parse error: not an integer, or out of range.</summary>
    internal static int Int(string v, string option) => (int)Integer(v, option, int.MinValue, int.MaxValue);

    private static long Integer(string v, string option, long min, long max)
    {
        if (!System.Numerics.BigInteger.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var big))
            throw new ArgumentException($"{option}: '{v}' is not an integer");
        if (big < min || big > max) throw new ArgumentException($"{option}: '{v}' is out of range (at most {max})");
        return (long)big;
    }

    internal static double Double(string v, string option) =>
        double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new ArgumentException($"{option}: '{v}' is not a finite number");
}
