using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Output;

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

    /// <summary>"name: value" lines (results.csv writes them as # comments).</summary>
    internal IEnumerable<string> Lines() =>
        Column<Provenance>.Of().Select(c => $"{c.Name}: {Csv.Text(c.Value(this))}");
}

/// <summary>
/// One tidy row: one run x one statistic, with the run's settings as columns and the exact theory beside the
/// measurement where an exact value exists (empty for median, quantiles and mean log). Its JSON properties are its CSV
/// columns (<see cref="Columns"/>).
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
    string Activation = "relu",
    string Generator = "torch")
{
    /// <summary>The columns of results.csv and the fields of a row in results.json and runs/*.json, declared once (by the record).</summary>
    public static readonly IReadOnlyList<Column<ResultRow>> Columns = Column<ResultRow>.Of();

    /// <summary>Field names of the unversioned format (before schema_version 1) that changed: old name to new.</summary>
    internal static readonly IReadOnlyDictionary<string, string> Renamed = new Dictionary<string, string>
    {
        ["cw"] = "c_w", ["cb"] = "c_b", ["d_type"] = "dtype",
    };

    /// <summary>The header line of results.csv in the unversioned format (merge still replaces such a file).</summary>
    internal const string UnversionedHeader =
        "sweep_id,run_id,widths,n0,nl,width,depth,init,c_w,c_out,c_b,geometry,k,points,networks,seed,statistic,value,stderr,theory,relation,ratio,ratio_stderr,z,exact_stderr,z_exact,log_value,log_theory";

    /// <summary>Whether a line is the header of results.csv, of this format or an earlier one (with or without the activation
    /// column; schema_version 1 before the generator column).</summary>
    internal static bool IsHeader(string line) =>
        line == Csv.Header(Columns) || line == Csv.Header(Columns.SkipLast(1))
        || line == UnversionedHeader || line == UnversionedHeader + ",activation";

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
                m.Settings.Network.Activation.Name, m.Settings.Network.Generator.Name());

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

    /// <summary>Renames the fields of rows written before schema_version 1.</summary>
    internal static void Upgrade(JsonObject document)
    {
        if (Output.Json.VersionOf(document) > 0) return;
        foreach (var row in document["rows"]?.AsArray() ?? []) Output.Json.Rename(row?.AsObject(), Renamed);
        Output.Json.Rename(document["provenance"]?.AsObject(), Renamed);
        Output.Json.Rename(document["run"]?.AsObject(), Renamed);
    }
}

/// <summary>
/// What one finished run leaves on disk: runs/&lt;run_id&gt;.json. A state file for ourselves as much as for other programs:
/// its log distortions keep -Infinity (a network of distortion 0) as the string "-Infinity".
/// </summary>
public sealed record RunFile(string SweepId, string RunId, RunSpec Run, long Seed, double ElapsedSeconds, Provenance Provenance,
    List<ResultRow> Rows, double[] LogDistortions)
{
    internal const string DocumentType = "sweep_run";

    /// <summary>The options of run files: <see cref="Output.Json.Options"/> with non-finite numbers kept as named literals.</summary>
    internal static readonly JsonSerializerOptions Json = Lossless();

    private static JsonSerializerOptions Lossless()
    {
        var options = new JsonSerializerOptions(Output.Json.Options) { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };
        options.Converters.Remove(options.Converters.OfType<Output.Json.FiniteDouble>().Single());
        return options;
    }

    internal string ToJson() => Output.Json.Document(DocumentType, this, Json);

    /// <summary>Reads a run file of this or the unversioned format.</summary>
    internal static RunFile? Parse(string text)
    {
        if (JsonNode.Parse(text) is not JsonObject document) return null;
        ResultRow.Upgrade(document);
        return document.Deserialize<RunFile>(Json);
    }
}

/// <summary>A merged result set: results.csv (tidy, provenance as # comment lines) and results.json.</summary>
public sealed record ResultSet(string SweepId, Provenance Provenance, List<ResultRow> Rows)
{
    internal const string DocumentType = "sweep_results";

    public void Write(string folder)
    {
        Files.WriteAtomically(Path.Combine(folder, "results.csv"), Csv.Write(ResultRow.Columns, Rows, Provenance.Lines()));
        // The result set is for other programs: a number is a number or null (runs/*.json keep -infinity logs for ourselves).
        Files.WriteAtomically(Path.Combine(folder, "results.json"), Output.Json.Document(DocumentType, this));
    }

    /// <summary>Reads results.json of a folder (or the file itself), of this or the unversioned format.</summary>
    public static ResultSet Read(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "results.json") : path;
        if (!File.Exists(file)) throw new ArgumentException($"no result file at '{file}'");
        try
        {
            if (JsonNode.Parse(File.ReadAllText(file)) is not JsonObject document) throw new JsonException("not an object");
            ResultRow.Upgrade(document);
            return document.Deserialize<ResultSet>(Output.Json.Options) ?? throw new JsonException("empty");
        }
        catch (JsonException e) { throw new ArgumentException($"'{file}' is not a result file ({e.Message.Split('.')[0]})"); }
    }
}

/// <summary>
/// Numbers in files for other programs: a JSON number is a number or null, a CSV cell a number or empty; never
/// "NaN" or "Infinity". Undefined and out-of-range values have log fields beside them.
/// </summary>
public static class Numbers
{
    public static string Csv(double? v) => Schema.Number(v);
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
            Probe(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option}: cannot write '{target ?? folder}': {Reason(folder, e)}", e);
        }
    }

    /// <summary>
    /// The same proof as <see cref="EnsureWritableFolder"/>, but creates nothing: the folder, or where it does not exist yet
    /// the nearest existing folder above it, takes a file; nothing on the way is a file. A command with several output
    /// folders checks them all first, so a refused call leaves no empty folder behind.
    /// </summary>
    public static void CheckWritableFolder(string folder, string option)
    {
        try
        {
            string? existing = Path.GetFullPath(folder);
            for (; existing is not null && !Directory.Exists(existing); existing = Path.GetDirectoryName(existing))
                if (File.Exists(existing)) throw new IOException("a file in the way"); // Reason names it.
            if (existing is not null) Probe(existing);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{option}: cannot write '{folder}': {Reason(folder, e)}", e);
        }
    }

    /// <summary>Writes and deletes an empty file in an existing folder.</summary>
    private static void Probe(string folder)
    {
        string probe = Path.Combine(folder, $".write-probe-{Environment.ProcessId}");
        File.WriteAllText(probe, "");
        File.Delete(probe);
    }

    /// <summary>
    /// Why a write into <paramref name="folder"/> failed, in a few words: the runtime's messages repeat the path and
    /// rarely name the cause the user can act on.
    /// </summary>
    public static string Reason(string folder, Exception e)
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
