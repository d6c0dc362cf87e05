using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;

namespace TorchDistortion.Plots;

/// <summary>
/// `reproduce`: one sweep per claim into data/&lt;figure&gt;/ (resumable), then figures/ (PNG and SVG) and report.md,
/// which states each claim and what was measured against the exact law.
/// </summary>
public static class Reproduction
{
    private const string Marker = "reproduce.json";

    /// <summary>The marker: the scale, and the generator of the networks (absent in a folder written before generators existed: torch).</summary>
    internal sealed record Info(string Scale, int SchemaVersion = 1, string Generator = "torch");

    /// <summary>Runs every figure's sweep into <paramref name="output"/> (resuming finished runs), then draws the figures and the report.</summary>
    public static void Run(string output, Scale scale, DeviceSpec device, SweepRunner.IProgress? progress, Action<string>? status = null)
    {
        Files.EnsureWritableFolder(output, "--output");
        string marker = Path.Combine(output, Marker);
        string scaleName = scale.ToString().ToLowerInvariant();
        var info = File.Exists(marker) ? ReadInfo(output) : new Info(scaleName, Generator: WeightGenerators.Default.Name());
        if (info.Scale != scaleName)
            throw new ArgumentException($"--output: '{output}' holds a {info.Scale} reproduction; use another folder for --{scaleName}");
        Files.WriteAtomically(marker, JsonSerializer.Serialize(info));
        var stopwatch = Stopwatch.StartNew();
        // All figures' runs as one pool: the workers do not wait at the end of each figure for its longest run. A folder
        // keeps the generator it was started with, so an earlier version's reproduction resumes with the same networks.
        status?.Invoke($"{PaperFigures.All.Count} figures");
        SweepRunner.Run(PaperFigures.All.Select(f => (f.Sweep(scale) with { Generator = info.Generator }, DataFolder(output, f))).ToList(), Shard.All, device, progress);
        Redraw(output, stopwatch.Elapsed);
    }

    /// <summary>Whether a folder holds a reproduction (its marker file).</summary>
    public static bool IsReproduction(string folder) => File.Exists(Path.Combine(folder, Marker));

    /// <summary>Draws every figure and writes the report from the result files alone.</summary>
    public static void Redraw(string output, TimeSpan? elapsed = null)
    {
        var info = ReadInfo(output);
        string figures = Path.Combine(output, "figures");
        Files.EnsureWritableFolder(figures, "--output");
        var report = new StringBuilder();
        report.AppendLine("# Deep ReLU networks preserve expected length: reproduction report").AppendLine();
        report.AppendLine($"Hanin, Jeong and Rolnick (ICLR 2022), reproduced with TorchDistortion at **{info.Scale}** scale. " +
            "Every measured value is compared with the exact law of the pointwise distortion (README, How it measures: Theory); " +
            "z = (measured - exact) / standard error, with the standard error the exact law itself gives the sample mean " +
            "(sqrt((E[D^2m] - E[D^m]^2) / N); for a curve's length an upper bound). The sample standard error is shown beside it. " +
            "The data of each figure is in `data/<figure>/results.csv`.").AppendLine();
        ResultSet? first = null;
        int index = 1;
        foreach (var figure in PaperFigures.All)
        {
            string folder = DataFolder(output, figure);
            var set = ResultSet.Read(folder);
            first ??= set;
            report.AppendLine($"## {index++}. {figure.Title}").AppendLine();
            foreach (var (file, drawing) in figure.Draw(set, folder))
            {
                FigureExporter.Save(drawing, Path.Combine(figures, file));
                report.AppendLine($"![{drawing.Title}](figures/{file}.png)").AppendLine();
            }
            report.AppendLine($"**Claim.** {figure.Claim}").AppendLine();
            AppendVerdict(report, set.Rows.Where(figure.Checked).ToList());
        }
        if (first is not null)
        {
            var p = first.Provenance;
            report.AppendLine("## Provenance").AppendLine();
            report.AppendLine($"TorchDistortion {p.ProjectVersion} ({p.Commit}), TorchSharp {p.TorchSharp}, libtorch {p.LibTorch}, " +
                $"{p.Device}, {p.DType}, {p.Threads} thread(s), {p.Machine}; networks drawn by the {info.Generator} generator; computed {p.Date:yyyy-MM-dd HH:mm} UTC" +
                (elapsed is TimeSpan t ? $"; this invocation took {t.TotalSeconds:F0} s." : "."));
        }
        Files.WriteAtomically(Path.Combine(output, "report.md"), report.ToString());
    }

    private static void AppendVerdict(StringBuilder report, List<ResultRow> rows)
    {
        // The verdict uses the exact law's own standard error: heavy tails make the sample one too small (see below).
        var equal = rows.Where(r => r.Relation == "=" && r.ZExact is double z && double.IsFinite(z)).ToList();
        double Z(ResultRow r) => Math.Abs(r.ZExact!.Value);
        int within2 = equal.Count(r => Z(r) <= 2), within3 = equal.Count(r => Z(r) <= 3);
        var worst = equal.OrderByDescending(Z).FirstOrDefault();
        double threshold = FamilyThreshold(equal.Count);
        int beyond = equal.Count(r => Z(r) > threshold);
        string verdict = equal.Count == 0 ? "no exact comparison applies"
            : beyond == 0 ? $"**agrees with the exact theory**: every |z| is within {threshold.ToString("F2", CultureInfo.InvariantCulture)}, the threshold that a " +
                $"correct measurement of {equal.Count} comparisons exceeds by chance at most once in 100 reproductions" +
                (within3 < equal.Count ? $" ({equal.Count - within3} beyond 3, where {equal.Count * 0.0027:F2} are expected by chance)" : "")
            : $"**{beyond} of {equal.Count} comparisons lie beyond {threshold.ToString("F2", CultureInfo.InvariantCulture)} standard errors** (listed first below)";
        report.AppendLine($"**Measured.** {equal.Count} comparisons with the exact law: {within2} within 2 exact standard errors, {within3} within 3; " +
            $"largest |z| = {(worst is null ? "-" : Z(worst).ToString("F2", CultureInfo.InvariantCulture))}. Verdict: {verdict}.").AppendLine();
        var heavy = equal.Where(r => r.ExactStdErr > 2 * r.StdErr).ToList();
        if (heavy.Count > 0)
            report.AppendLine($"Heavy tails: in {heavy.Count} of these the exact standard error exceeds the sample one more than twice " +
                $"(up to {heavy.Max(r => r.ExactStdErr!.Value / r.StdErr!.Value):F0}x): the rare large distortions that carry the mean were not drawn, " +
                "so the sample mean sits low and the sample standard error understates its spread; z against the sample standard error " +
                $"is beyond 3 in {heavy.Count(r => Math.Abs(r.Z ?? 0) > 3)} of them.").AppendLine();
        var notExact = rows.Count(r => r.Relation != "=");
        if (notExact > 0) report.AppendLine($"{notExact} further values have no exact counterpart (bounds, or non-Gaussian schemes) and are shown, not tested.").AppendLine();
        var shown = equal.Where(r => Z(r) > 3).Concat(heavy).Concat(equal).Distinct().Take(12).ToList();
        if (shown.Count == 0) return;
        report.AppendLine("| run | statistic | measured | sample s.e. | exact | exact s.e. | ratio | z (sample s.e.) | z (exact s.e.) |")
            .AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        foreach (var r in shown)
            report.AppendLine($"| {Describe(r)} | {r.Statistic} | {G(r.Value)} | {G(r.StdErr ?? double.NaN)} | {G(r.Theory ?? double.NaN)} | " +
                $"{G(r.ExactStdErr ?? double.NaN)} | {(r.Ratio ?? double.NaN).ToString("F4", CultureInfo.InvariantCulture)} | " +
                $"{(r.Z ?? double.NaN).ToString("F2", CultureInfo.InvariantCulture)} | {r.ZExact!.Value.ToString("F2", CultureInfo.InvariantCulture)} |");
        if (equal.Count > shown.Count) report.AppendLine($"| ... {equal.Count - shown.Count} more rows in the data file | | | | | | | | |");
        report.AppendLine();
    }

    /// <summary>
    /// The |z| a figure's comparisons may reach: 3, or more where there are many of them. Asking every one of 234
    /// comparisons to lie within 3 (0.27% each) fails by chance in about half of all reproductions of a correct
    /// measurement, so the verdict holds a figure's chance of a false alarm at 1% (Bonferroni: P(|Z| > z) = 1% / n).
    /// </summary>
    internal static double FamilyThreshold(int comparisons) =>
        comparisons == 0 ? 3 : Math.Max(3, MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, 1 - 0.005 / comparisons));

    private static string Describe(ResultRow r) =>
        $"{(r.Activation == "relu" ? "" : r.Activation + ", ")}{r.Init}{(TorchDistortion.Networks.InitScheme.TakesWeightVariance(r.Init) ? $" C_W={G(r.CW)}" : "")}, n0={r.N0}, width {r.Width}, nL={r.NL}, depth {r.Depth}, {r.Geometry}{(r.Geometry == "patch" ? $" k={r.K}" : "")}, {r.Networks} nets";

    private static string G(double v) => v.ToString("G5", CultureInfo.InvariantCulture);

    private static string DataFolder(string output, PaperFigure figure) => Path.Combine(output, "data", figure.Name);

    private static Info ReadInfo(string output)
    {
        string marker = Path.Combine(output, Marker);
        if (!File.Exists(marker)) throw new ArgumentException($"'{output}' is not a reproduction folder (no {Marker})");
        return JsonSerializer.Deserialize<Info>(File.ReadAllText(marker)) ?? throw new ArgumentException($"'{marker}' is empty");
    }
}
