using TorchDistortion.Networks;
using TorchDistortion.Output;

namespace TorchDistortion.Measurement;

/// <summary>A finished measurement: one distortion per network, its statistics and the exact theory beside it.</summary>
/// <param name="QuadratureError">Mean relative quadrature error: against the half-node rule, or, for an exact
/// measurement with Points &gt; 1, against the exact length.</param>
/// <param name="Regions">Exact measurements only: linear regions crossed per unit input length, over networks.</param>
public sealed record MeasureResult(
    MeasureSettings Settings,
    double[] LogDistortions,
    double? QuadratureError,
    Summary Summary,
    TheoryComparison Theory,
    string DeviceUsed,
    TimeSpan Elapsed,
    Summary? Regions = null,
    IReadOnlyDictionary<string, double>? SecondsByStage = null) // CPU seconds of the worker threads per stage
{
    /// <summary>The document type of <see cref="ToJson"/> (docs/schemas/measure.schema.json).</summary>
    public const string DocumentType = "measure";

    /// <summary>
    /// The JSON report: the settings, the environment, the summary, the exact theory with one row per statistic
    /// (<see cref="ToCsv"/>'s rows), the <see cref="Notes"/> and the elapsed time.
    /// </summary>
    public string ToJson(RuntimeInfo environment)
    {
        var s = Settings;
        var document = new
        {
            Settings = SettingsDocument(),
            Environment = environment,
            Quantity = s.Geometry.Quantity,
            Summary,
            QuadratureErrorEstimate = QuadratureError,
            QuadratureErrorReference = QuadratureError is null ? null : s.Geometry.Exact ? "exact length" : "half the nodes",
            RegionsPerUnitLength = Regions,
            Theory = new
            {
                Theory.Exact,
                Theory.Note,
                CW = Theory.CW,
                COut = Theory.COut,
                HeThreshold = s.Network.Activation is PiecewiseLinearActivation ? s.Network.Activation.CriticalVariance : (double?)null,
                Theory.Regime,
                Theory.MeanBound,
                Theory.LogMeanBound,
                Theory.MeanAsymptotic,
                Theory.LogMeanAsymptotic,
                Rows = Json.Rows(StatisticColumns, Theory.Rows.Select(StatisticRow.Of)),
            },
            Notes = Notes(),
            ElapsedSeconds = Elapsed.TotalSeconds,
        };
        return Json.Document(DocumentType, document);
    }

    /// <summary>
    /// Tidy CSV: one row per statistic, the settings (seed included) in every row, the exact theory beside it where there
    /// is one, and the logs of every value that can leave the double range. An undefined or out-of-range value is an empty cell.
    /// </summary>
    public string ToCsv()
    {
        var rows = Theory.Rows.Select(StatisticRow.Of).ToList();
        void Plain(string name, double value, double? log = null) => rows.Add(new StatisticRow(name, value, LogValue: log));
        Plain("std", Summary.Std, Summary.LogStd);
        Plain("median", Summary.Median, Summary.LogMedian);
        foreach (var q in Summary.Quantiles) Plain(q.Label(), q.Value, q.LogValue);
        Plain("mean_log", Summary.MeanLog);
        Plain("std_log", Summary.StdLog);
        if (QuadratureError is double e) Plain(Settings.Geometry.Exact ? "quadrature_error_vs_exact" : "quadrature_error", e);
        if (Regions is { } regions)
            rows.Add(new StatisticRow("regions_per_length", regions.Mean, regions.StdErr, LogValue: regions.LogMean, LogStdErr: regions.LogStdErr));
        return Csv.Write(Column<StatisticRow>.WithSettings(SettingsDocument(), StatisticColumns), rows);
    }

    /// <summary>
    /// One line per kind of statistic that is undefined or beyond the double range (null in JSON, empty in CSV), saying why.
    /// Empty when every number is an ordinary one.
    /// </summary>
    public List<string> Notes()
    {
        var outOfRange = new List<string>();
        var undefined = new List<string>();
        void Check(string name, double value, double log)
        {
            if (double.IsFinite(value)) return;
            (double.IsFinite(log) ? outOfRange : undefined).Add(name);
        }
        foreach (var r in Theory.Rows)
        {
            Check(r.Statistic, r.Measured, r.LogMeasured);
            Check($"s.e. of {r.Statistic}", r.StdErr, r.LogStdErr);
            // No law for this statistic (the theory line says why): its theory columns are empty, not undefined.
            if (double.IsNaN(r.LogTheory)) continue;
            Check($"exact {r.Statistic}", r.Theory, r.LogTheory);
            if (!double.IsNaN(r.LogExactStdErr)) Check($"exact s.e. of {r.Statistic}", r.ExactStdErr, r.LogExactStdErr);
            Check($"ratio of {r.Statistic}", r.Ratio, r.LogMeasured - r.LogTheory);
            Check($"ratio s.e. of {r.Statistic}", r.RatioStdErr, r.LogStdErr - r.LogTheory);
            Check($"z of {r.Statistic}", r.Z, double.NaN);
            if (!double.IsNaN(r.LogExactStdErr)) Check($"z (exact s.e.) of {r.Statistic}", r.ZExact, double.NaN);
        }
        Check("std", Summary.Std, Summary.LogStd);
        Check("median", Summary.Median, Summary.LogMedian);
        foreach (var q in Summary.Quantiles) Check(q.Label(), q.Value, q.LogValue);
        Check("mean log D", Summary.MeanLog, double.NaN);
        Check("std log D", Summary.StdLog, double.NaN);
        var notes = new List<string>();
        int zeros = Summary.Zeros, n = Summary.Count;
        if (zeros > 0)
            notes.Add((zeros == n ? $"every one of the {n} networks has" : $"{zeros} of {n} networks have") +
                $" distortion exactly 0 (a hidden layer with fewer than k = {Settings.Geometry.K} active neurons): log D is -infinity" +
                (zeros == n ? ", standard errors are 0 and z is undefined" : ""));
        else if (n == 1) notes.Add("one network: standard errors and spreads are undefined");
        if (outOfRange.Count > 0) notes.Add($"beyond the double range (null in JSON, empty in CSV; the log fields hold them): {string.Join(", ", outOfRange)}");
        if (undefined.Count > 0) notes.Add($"undefined (null in JSON, empty in CSV): {string.Join(", ", undefined)}");
        return notes;
    }

    /// <summary>The settings of the measurement, as they appear in its JSON report and in every row of its CSV report.</summary>
    private object SettingsDocument()
    {
        var s = Settings;
        return new
        {
            Widths = s.Network.Widths,
            Activation = s.Network.Activation.Name,
            Init = s.Network.Init.ToString(),
            CW = Theory.CW,
            COut = Theory.COut,
            CB = s.Network.BiasVariance,
            Bias = s.Network.Bias,
            LayerVariances = s.Network.LayerVariances(),
            Geometry = s.Geometry.Kind,
            s.Geometry.K,
            s.Geometry.Points,
            Nodes = s.Geometry.NodeCount,
            s.Geometry.Size,
            s.Geometry.Exact,
            s.Networks,
            s.Seed,
            Generator = s.Network.Generator.Name(),
            Dtype = DTypes.Name(s.DType),
            Device = DeviceUsed,
            s.Method,
            Moments = s.MaxMoment,
            Quantiles = s.Quantiles ?? Summary.DefaultQuantiles,
        };
    }

    /// <summary>One statistic beside its exact value: a row of the JSON report's theory.rows and of the CSV report.</summary>
    private sealed record StatisticRow(string Statistic, double Value, double? StdErr = null, double? Theory = null, string? Relation = null,
        double? Ratio = null, double? RatioStdErr = null, double? Z = null, double? ExactStdErr = null, double? ZExact = null,
        double? LogValue = null, double? LogStdErr = null, double? LogTheory = null, double? LogExactStdErr = null)
    {
        internal static StatisticRow Of(TheoryRow r) => new(r.Statistic, r.Measured, r.StdErr, r.Theory, r.Relation, r.Ratio, r.RatioStdErr, r.Z,
            r.ExactStdErr, r.ZExact, r.LogMeasured, r.LogStdErr, r.LogTheory, r.LogExactStdErr);
    }

    private static readonly IReadOnlyList<Column<StatisticRow>> StatisticColumns = Column<StatisticRow>.Of();
}
