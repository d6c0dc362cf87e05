using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchDistortion.Measurement;

namespace TorchDistortion.Experiments;

/// <summary>Where and with what a result was computed: written at the head of every result file.</summary>
public sealed record Provenance(
    string ProjectVersion,
    string Commit,
    string TorchSharp,
    string LibTorch,
    string Device,
    string DType,
    int Threads,
    string Machine,
    DateTimeOffset Date)
{
    internal static Provenance Current(string device, string dtype)
    {
        var info = RuntimeInfo.Current();
        return new Provenance(info.TorchDistortionVersion, info.Commit, info.TorchSharpVersion, info.LibTorchVersion, device, dtype,
            info.Threads, $"{info.OperatingSystem}, {info.ProcessorCount} cores", DateTimeOffset.UtcNow);
    }
}

/// <summary>
/// One tidy row: one run x one statistic, with the run's settings as columns and the exact theory beside the
/// measurement where an exact value exists (empty for median, quantiles and mean log).
/// </summary>
public sealed record ResultRow(
    string SweepId,
    string RunId,
    string Widths,
    int N0,
    int NL,
    int Width,
    int Depth,
    string Init,
    double CW,
    double COut,
    double CB,
    string Geometry,
    int K,
    int Points,
    int Networks,
    long Seed,
    string Statistic,
    double Value,
    double? StdErr,
    double? Theory,
    string? Relation,
    double? Ratio,
    double? RatioStdErr,
    double? Z,
    double? ExactStdErr,
    double? ZExact,
    double? LogValue,
    double? LogTheory,
    string Activation = "relu")
{
    internal static readonly string[] Columns =
    [
        "sweep_id", "run_id", "widths", "n0", "nl", "width", "depth", "init", "c_w", "c_out", "c_b", "geometry", "k", "points",
        "networks", "seed", "statistic", "value", "stderr", "theory", "relation", "ratio", "ratio_stderr", "z", "exact_stderr", "z_exact", "log_value", "log_theory", "activation",
    ];

    internal string ToCsv()
    {
        static string N(double? v) => Numbers.Csv(v);
        return string.Join(",", SweepId, RunId, Widths, N0, NL, Width, Depth, Init, N(CW), N(COut), N(CB), Geometry, K, Points,
            Networks, Seed, Statistic, N(Value), N(StdErr), N(Theory), Relation ?? "", N(Ratio), N(RatioStdErr), N(Z), N(ExactStdErr), N(ZExact), N(LogValue), N(LogTheory), Csv(Activation));
    }

    /// <summary>A text cell: quoted when it holds a comma (abrelu:a,b).</summary>
    private static string Csv(string text) => text.Contains(',') ? $"\"{text}\"" : text;

    internal static ResultRow FromCsv(string line)
    {
        var f = SplitCsv(line);
        // Files of the previous version end before the activation column: their networks are ReLU.
        if (f.Length == Columns.Length - 1) f = [.. f, "relu"];
        if (f.Length != Columns.Length) throw new FormatException($"expected {Columns.Length} columns, got {f.Length}");
        // An empty cell is a value that is undefined or beyond the double range (its log column holds it).
        static double D(string s) => s.Length == 0 ? double.NaN : double.Parse(s, CultureInfo.InvariantCulture);
        static double? O(string s) => s.Length == 0 ? null : D(s);
        return new ResultRow(f[0], f[1], f[2], int.Parse(f[3]), int.Parse(f[4]), int.Parse(f[5]), int.Parse(f[6]), f[7], D(f[8]), D(f[9]),
            D(f[10]), f[11], int.Parse(f[12]), int.Parse(f[13]), int.Parse(f[14]), long.Parse(f[15]), f[16], D(f[17]), O(f[18]), O(f[19]),
            f[20].Length == 0 ? null : f[20], O(f[21]), O(f[22]), O(f[23]), O(f[24]), O(f[25]), O(f[26]), O(f[27]), f[28]);
    }

    /// <summary>Cells of one line; a cell in double quotes may hold commas.</summary>
    private static string[] SplitCsv(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        foreach (char c in line)
        {
            if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString());
        return cells.ToArray();
    }

    /// <summary>The tidy rows of one finished run.</summary>
    internal static List<ResultRow> FromMeasurement(string sweepId, string runId, RunSpec run, long seed, Measurement.MeasureResult m)
    {
        var variances = m.Settings.Network.LayerVariances();
        var w = run.Widths;
        ResultRow Row(string statistic, double value, double? stdErr = null, double? theory = null, string? relation = null,
            double? ratio = null, double? ratioStdErr = null, double? z = null, double? exactStdErr = null, double? zExact = null,
            double? logValue = null, double? logTheory = null) =>
            new(sweepId, runId, string.Join(";", w), w[0], w[^1], w.Count > 2 ? w[1] : w[0], run.Depth, run.Network.Init.Name,
                m.Settings.Network.ResolvedInit.Variance(w[0], w[1]), variances[^1], run.Network.BiasVariance, run.Geometry.Kind.ToString().ToLowerInvariant(),
                run.Geometry.K, run.Geometry.Points, run.Networks, seed,
                statistic, value, stdErr, theory, relation, ratio, ratioStdErr, z, exactStdErr, zExact, logValue, logTheory,
                m.Settings.Network.Activation.Name);

        var rows = new List<ResultRow>();
        foreach (var t in m.Theory.Rows)
            rows.Add(Row(t.Statistic, t.Measured, t.StdErr, t.Theory, t.Relation, t.Ratio, t.RatioStdErr, t.Z, t.ExactStdErr, t.ZExact, t.LogMeasured, t.LogTheory));
        // Var(length) <= Var(D) because E[len] = E[D] and E[len^2] <= E[D^2]: the pointwise std is a bound (exact at a point).
        var second = m.Theory.Rows.Count > 1 ? m.Theory.Rows[1] : null;
        double? stdTheory = second is null ? null : Math.Sqrt(Math.Max(second.Theory - m.Theory.Rows[0].Theory * m.Theory.Rows[0].Theory, 0));
        rows.Add(Row("std", m.Summary.Std, theory: stdTheory, relation: second?.Relation));
        rows.Add(Row("median", m.Summary.Median));
        foreach (var q in m.Summary.Quantiles) rows.Add(Row($"q{q.Probability.ToString(CultureInfo.InvariantCulture)}", q.Value));
        rows.Add(Row("mean_log", m.Summary.MeanLog));
        rows.Add(Row("zeros", m.Summary.Zeros));
        if (m.QuadratureError is double e) rows.Add(Row(run.Geometry.Exact ? "quadrature_error_vs_exact" : "quadrature_error", e));
        if (m.Regions is { } regions) rows.Add(Row("regions_per_length", regions.Mean, regions.StdErr));
        return rows;
    }
}

/// <summary>What one finished run leaves on disk: runs/&lt;run_id&gt;.json.</summary>
public sealed record RunFile(string SweepId, string RunId, RunSpec Run, long Seed, double ElapsedSeconds, Provenance Provenance,
    List<ResultRow> Rows, double[] LogDistortions);

/// <summary>A merged result set: results.csv (tidy, provenance as # comment lines) and results.json.</summary>
public sealed record ResultSet(string SweepId, Provenance Provenance, List<ResultRow> Rows)
{
    internal static readonly JsonSerializerOptions Json = new(SweepSpec.JsonOptions) { UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip };
    // The result set is for other programs: a number is a number or null (runs/*.json keep -infinity logs for ourselves).
    private static readonly JsonSerializerOptions FiniteJson = new(Json) { Converters = { new Numbers.FiniteConverter() } };

    public void Write(string folder)
    {
        var csv = new StringBuilder();
        foreach (var p in typeof(Provenance).GetProperties())
            csv.Append("# ").Append(JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name)).Append(": ").Append(Convert.ToString(p.GetValue(Provenance), CultureInfo.InvariantCulture)).Append('\n');
        csv.Append(string.Join(",", ResultRow.Columns)).Append('\n');
        foreach (var row in Rows) csv.Append(row.ToCsv()).Append('\n');
        Files.WriteAtomically(Path.Combine(folder, "results.csv"), csv.ToString());
        Files.WriteAtomically(Path.Combine(folder, "results.json"), JsonSerializer.Serialize(this, FiniteJson));
    }

    /// <summary>Reads results.json of a folder (or the file itself).</summary>
    public static ResultSet Read(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "results.json") : path;
        if (!File.Exists(file)) throw new ArgumentException($"no result file at '{file}'");
        try { return JsonSerializer.Deserialize<ResultSet>(File.ReadAllText(file), FiniteJson) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new ArgumentException($"'{file}' is not a result file ({e.Message.Split('.')[0]})"); }
    }
}

/// <summary>
/// Numbers in files for other programs: a JSON number is a number or null, a CSV cell a number or empty; never
/// "NaN" or "Infinity". Undefined and out-of-range values have log fields beside them.
/// </summary>
public static class Numbers
{
    public static string Csv(double? v) => v is double d && double.IsFinite(d) ? d.ToString("R", CultureInfo.InvariantCulture) : "";

    /// <summary>Writes a non-finite double as null; reads null (and the named literals of older files) back as NaN or infinity.</summary>
    public sealed class FiniteConverter : System.Text.Json.Serialization.JsonConverter<double>
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
}

/// <summary>Atomic file writes: a temporary file in the same folder, then a rename, so readers never see half a file.</summary>
public static class Files
{
    public static void WriteAtomically(string path, string text) => WriteAtomically(path, new UTF8Encoding(false).GetBytes(text));

    public static void WriteAtomically(string path, byte[] bytes)
    {
        string full = Path.GetFullPath(path);
        // A unique temporary name: shards on several machines may share the folder (and a PID).
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            KillPoint.Reached(full);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write '{path}': {Reason(Path.GetDirectoryName(full)!, e)}", e);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Creates the folder if needed and proves it writable before any computation; errors name <paramref name="target"/>
    /// (the file the user gave, to be written into the folder) where given.
    /// </summary>
    public static void EnsureWritableFolder(string folder, string option, string? target = null)
    {
        try
        {
            Directory.CreateDirectory(folder);
            string probe = Path.Combine(folder, $".write-probe-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option}: cannot write '{target ?? folder}': {Reason(folder, e)}", e);
        }
    }

    /// <summary>
    /// Why a write into <paramref name="folder"/> failed, in a few words: the runtime's messages repeat the path and
    /// rarely name the cause the user can act on.
    /// </summary>
    internal static string Reason(string folder, Exception e)
    {
        for (string? f = Path.GetFullPath(folder); f is not null; f = Path.GetDirectoryName(f))
            if (File.Exists(f)) return $"'{f}' is a file, not a folder";
        return e switch
        {
            IOException { InnerException: { } inner } when inner is IOException or UnauthorizedAccessException => Reason(folder, inner),
            UnauthorizedAccessException => "permission denied",
            DirectoryNotFoundException or FileNotFoundException => "no such directory",
            PathTooLongException => "the path is too long",
            // errno values, which .NET on Unix keeps as the HResult of an IOException it has no own type for.
            IOException { HResult: 28 } => "disk full",
            IOException { HResult: 30 } => "read-only file system",
            IOException { HResult: 122 } => "disk quota exceeded",
            _ => e.Message.Split('\n')[0].Trim().TrimEnd('.'),
        };
    }
}

/// <summary>
/// Fault injection for the kill tests: with TORCHDIST_KILL_AT set to a regular expression, the process kills itself
/// (SIGKILL) at the TORCHDIST_KILL_AT_NTH-th (default first) atomic write whose full path matches, after the temporary
/// file is written and before the rename: a deterministic point mid-write. Unset in normal use.
/// </summary>
internal static class KillPoint
{
    private static readonly System.Text.RegularExpressions.Regex? Pattern =
        Environment.GetEnvironmentVariable("TORCHDIST_KILL_AT") is { Length: > 0 } p ? new(p) : null;
    private static readonly int Nth = int.TryParse(Environment.GetEnvironmentVariable("TORCHDIST_KILL_AT_NTH"), out int n) ? n : 1;
    private static int _seen;

    internal static void Reached(string path)
    {
        if (Pattern is null || !Pattern.IsMatch(path.Replace('\\', '/'))) return;
        if (Interlocked.Increment(ref _seen) == Nth) System.Diagnostics.Process.GetCurrentProcess().Kill();
    }
}
