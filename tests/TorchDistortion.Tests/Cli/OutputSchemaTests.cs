using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using TorchDistortion.Benchmarks;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Training;

namespace TorchDistortion.Tests.Cli;

/// <summary>
/// Real outputs of measure, measure --checkpoint, sweep, train and bench against the JSON Schemas in docs/schemas, and the
/// promises of docs/output-formats.md: schema_version everywhere, CSV columns equal to the JSON rows' fields, one naming,
/// the format from -o's extension, and folders of the unversioned format still read.
/// </summary>
public sealed class OutputSchemaTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-schema").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly string Schemas = FindSchemas();
    private static readonly Dictionary<string, JsonSchema> Loaded = [];

    private static string FindSchemas()
    {
        string folder = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(folder, "docs", "schemas"))) folder = Path.GetDirectoryName(folder)!;
        return Path.Combine(folder, "docs", "schemas");
    }

    /// <summary>Validates a document against docs/schemas/&lt;its document type&gt;.schema.json, naming every failing location.</summary>
    internal static JsonObject AssertValid(string file, string document)
    {
        var node = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
        Assert.Equal(1, (int)node["schema_version"]!);
        Assert.Equal(document, (string)node["document"]!);
        JsonSchema schema;
        // A schema registers its $id once per process.
        lock (Loaded) schema = Loaded.TryGetValue(document, out var known) ? known : Loaded[document] = JsonSchema.FromFile(Path.Combine(Schemas, document + ".schema.json"));
        using var instance = JsonDocument.Parse(File.ReadAllText(file));
        var result = schema.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}")).ToList();
        Assert.True(result.IsValid, $"{Path.GetFileName(file)} does not match {document}.schema.json:\n{string.Join("\n", errors.Take(20))}");
        return node;
    }

    private static string[] Header(string csv) => csv.Split('\n').First(l => !l.StartsWith('#')).Split(',');

    private static CliRunner.Result Ok(CliRunner.Result result)
    {
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result;
    }

    [Fact]
    public void MeasureReportsMatchTheirSchemaAndTheirCsvColumnsAreTheJsonRowFields()
    {
        string json = Path.Combine(_root, "m.json"), exact = Path.Combine(_root, "exact.json"), csv = Path.Combine(_root, "m.csv");
        string[] common = ["measure", "--widths", "4,10,10,3", "--networks", "12", "--seed", "5", "--no-progress"];
        // No --format: the extension decides.
        Ok(CliRunner.RunInProcess([.. common, "-o", json]));
        Ok(CliRunner.RunInProcess([.. common, "-o", csv]));
        Ok(CliRunner.RunInProcess("measure", "--width", "6", "--depth", "3", "--exact", "--activation", "leaky_relu", "--networks", "8", "-o", exact));
        var report = AssertValid(json, "measure");
        AssertValid(exact, "measure");
        // The schemas are closed: a field they do not describe fails.
        var extended = JsonNode.Parse(File.ReadAllText(json))!.AsObject();
        extended["settings"]!["widht"] = 3;
        File.WriteAllText(exact, extended.ToJsonString());
        Assert.Throws<Xunit.Sdk.TrueException>(() => AssertValid(exact, "measure"));
        Assert.Equal(5, (long)report["settings"]!["seed"]!);

        string text = File.ReadAllText(csv);
        var header = Header(text);
        Assert.Equal("schema_version", header[0]);
        var rowFields = report["theory"]!["rows"]![0]!.AsObject().Select(p => p.Key).ToArray();
        Assert.Equal(rowFields, header[^rowFields.Length..]);
        // The settings lead every CSV row, under the names of the JSON settings.
        var settings = report["settings"]!.AsObject().Select(p => p.Key).ToArray();
        Assert.Equal(settings, header[1..(1 + settings.Length)]);
        var mean = text.Split('\n')[1].Split(',');
        Assert.Equal("5", mean[Array.IndexOf(header, "seed")]);
        Assert.Equal((double)report["theory"]!["rows"]![0]!["value"]!, double.Parse(mean[Array.IndexOf(header, "value")], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>A JSON document without what differs between two runs of one measurement: the environment and the time taken.</summary>
    private static string Reproducible(string json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        node.Remove("environment");
        node.Remove("elapsed_seconds");
        return node.ToJsonString();
    }

    [Fact]
    public void TheLibraryWritesTheSameDocumentsAsMeasure()
    {
        // Random networks: the CLI's defaults spelled out as library settings.
        string[] random = ["measure", "--widths", "4,10,10,3", "--networks", "7", "--seed", "3", "--exact", "--points", "8", "--no-progress"];
        var measured = Distortion.Measure(new MeasureSettings(new NetworkSpec([4, 10, 10, 3], InitScheme.He),
            new GeometrySpec(Points: 8, Exact: true), Networks: 7, Seed: 3, Device: DeviceSpec.Auto).Validate());
        Assert.Equal(Ok(CliRunner.RunInProcess([.. random, "--format", "csv"])).Stdout, measured.ToCsv());
        Assert.Equal(Reproducible(Ok(CliRunner.RunInProcess([.. random, "--format", "json"])).Stdout), Reproducible(measured.ToJson(RuntimeInfo.Current())));

        // A foreign state_dict: its C_W estimated from the weights, and the law for it beside the measurement.
        string path = Path.Combine(_root, "net.safetensors");
        using (var net = Mlp.Create(new NetworkSpec([3, 8, 8, 2], InitScheme.LeCun), 1, seed: 2))
            File.WriteAllBytes(path, StateDicts.SafetensorsBytes(net));
        string[] checkpoint = ["measure", "--checkpoint", path, "--geometries", "6", "--seed", "4", "--no-progress"];
        var saved = CheckpointMeasure.Measure(path, new CheckpointMeasureSettings(new GeometrySpec(), 6, 4, TorchSharp.torch.ScalarType.Float64,
            DeviceSpec.Auto, null, 4, Summary.DefaultQuantiles));
        Assert.NotNull(saved.EstimatedCW);
        Assert.Equal(Ok(CliRunner.RunInProcess([.. checkpoint, "--format", "csv"])).Stdout, saved.ToCsv());
        Assert.Equal(Ok(CliRunner.RunInProcess([.. checkpoint, "--format", "json"])).Stdout, saved.ToJson());
    }

    [Fact]
    public void TheFormatFollowsTheOutputAndAContradictionIsRefused()
    {
        string[] common = ["measure", "--widths", "3,5,2", "--networks", "3", "--no-progress"];
        CliRunner.AssertOneLineError(CliRunner.RunInProcess([.. common, "--format", "csv", "-o", Path.Combine(_root, "x.json")]), "contradicts");
        Assert.False(File.Exists(Path.Combine(_root, "x.json")));
        var stdout = Ok(CliRunner.RunInProcess([.. common, "--format", "json", "-o", "-"]));
        Assert.Equal("measure", (string)JsonNode.Parse(stdout.Stdout)!["document"]!);
        Assert.False(File.Exists("-"));
        Assert.Contains("measured vs exact theory", Ok(CliRunner.RunInProcess([.. common, "-o", "-"])).Stdout);
        // An extension that names no format leaves --format (or the table) in charge.
        string text = Path.Combine(_root, "report.txt");
        Ok(CliRunner.RunInProcess([.. common, "--format", "csv", "-o", text]));
        Assert.StartsWith("schema_version,", File.ReadAllText(text));
    }

    [Fact]
    public void TrainingHistoryAndCheckpointReportsMatchTheirSchemas()
    {
        var settings = new TrainSettings(new TaskSpec(TaskKind.Moons, TrainSize: 64, TestSize: 32), Width: 8, Depth: 3, Epochs: 1, BatchSize: 32,
            Probes: 2, PatchPoints: 3, DType: "float64", DataProbes: 2);
        var run = Trainer.Run(settings, Path.Combine(_root, "ck"));
        var history = AssertValid(Path.Combine(run.Folder, "history.json"), "training_history");
        // history.csv and history.json carry the same fields under the same names.
        var header = Header(File.ReadAllText(Path.Combine(run.Folder, "history.csv")));
        Assert.Equal("schema_version", header[0]);
        Assert.Equal(history["history"]![0]!.AsObject().Select(p => p.Key), header[1..]);
        Assert.Equal(settings.Seed, (long)history["settings"]!["seed"]!);

        string report = Path.Combine(_root, "checkpoints.json"), csv = Path.Combine(_root, "checkpoints.csv");
        const string seed = "7861891779206348300"; // beyond the doubles' exact integers
        Ok(CliRunner.RunInProcess("measure", "--checkpoint", run.Folder, "--geometries", "6", "--seed", seed, "-o", report));
        Ok(CliRunner.RunInProcess("measure", "--checkpoint", run.Folder, "--geometries", "6", "--seed", seed, "-o", csv));
        var document = AssertValid(report, "measure_checkpoint");
        Assert.Equal(long.Parse(seed), (long)document["settings"]!["seed"]!);
        var csvHeader = Header(File.ReadAllText(csv));
        Assert.Equal(document["settings"]!.AsObject().Select(p => p.Key), csvHeader[1..(1 + document["settings"]!.AsObject().Count)]);
        Assert.Equal(seed, File.ReadAllLines(csv)[1].Split(',')[Array.IndexOf(csvHeader, "seed")]);
    }

    [Fact]
    public void SweepResultsAndRunFilesMatchTheirSchemas()
    {
        string folder = Path.Combine(_root, "sweep");
        Ok(CliRunner.RunInProcess("sweep", "--width", "6", "--depth", "2", "--init", "he,variance", "--cw", "1.5", "--networks", "8", "--seed", "2", "-o", folder, "--no-progress"));
        var results = AssertValid(Path.Combine(folder, "results.json"), "sweep_results");
        foreach (var run in Directory.GetFiles(Path.Combine(folder, "runs"), "*.json")) AssertValid(run, "sweep_run");
        var header = Header(File.ReadAllText(Path.Combine(folder, "results.csv")));
        Assert.Equal("schema_version", header[0]);
        Assert.Equal(results["rows"]![0]!.AsObject().Select(p => p.Key), header[1..]);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", (string)results["provenance"]!["date"]!);
        Assert.Contains(File.ReadLines(Path.Combine(folder, "results.csv")), l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^# date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"));
    }

    [Fact]
    public void ABenchReportMatchesItsSchema()
    {
        // The writer of `bench` on a small report (a real bench run takes over a minute).
        var report = new BenchReport(RuntimeInfo.Current(), "test machine",
            [new BenchCase("forward", 16, 20, "float64", 1, 1, 4096, 0.01, 4e5, double.NaN, 1)],
            [new BenchTarget("tangent / forward", 2.1, 3, true, "note")], 100, DateTimeOffset.UtcNow, new Dictionary<string, double> { ["draw networks"] = 0.5 });
        string file = Path.Combine(_root, "bench.json");
        File.WriteAllText(file, TorchDistortion.Output.Json.Document(BenchReport.DocumentType, report));
        var document = AssertValid(file, "bench");
        Assert.Null(document["cases"]![0]!["gflops"]); // NaN is null
    }

    [Fact]
    public void DoctorJsonMatchesItsSchema()
    {
        var result = CliRunner.RunInProcess("doctor", "--format", "json");
        Assert.True(result.ExitCode == 0, result.Stderr);
        string file = Path.Combine(_root, "doctor.json");
        File.WriteAllText(file, result.Stdout);
        AssertValid(file, "doctor");
    }

    [Fact]
    public void SweepFoldersOfTheUnversionedFormatStillMergeResumeAndRead()
    {
        string folder = Path.Combine(_root, "old");
        string[] sweep = ["sweep", "--width", "6", "--depth", "2", "--init", "he,variance", "--cw", "1.5", "--networks", "8", "--seed", "2", "-o", folder, "--no-progress"];
        Ok(CliRunner.RunInProcess(sweep));
        var today = ResultSet.Read(folder);
        // Rewrite the folder as the previous version wrote it: no schema_version, cw/cb and d_type, offset dates, the old CSV header.
        var renames = new Dictionary<string, string> { ["c_w"] = "cw", ["c_b"] = "cb", ["dtype"] = "d_type" };
        void Unversion(string file)
        {
            var node = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            node.Remove("schema_version");
            node.Remove("document");
            foreach (var o in (node["rows"]?.AsArray() ?? []).Append(node["run"]).Append(node["provenance"]).OfType<JsonObject>())
                foreach (var (now, old) in renames)
                    if (o[now] is { } value) { o.Remove(now); o[old] = value.DeepClone(); }
            node["provenance"]!["date"] = "2026-11-30T06:41:31.1234567+00:00";
            File.WriteAllText(file, node.ToJsonString());
        }
        foreach (var file in Directory.GetFiles(Path.Combine(folder, "runs"), "*.json").Append(Path.Combine(folder, "results.json"))) Unversion(file);
        Assert.Equal(today.Rows, ResultSet.Read(folder).Rows);

        // merge reads the old run files and replaces an old merge's results (its CSV header is the previous version's).
        string merged = Path.Combine(_root, "merged");
        Directory.CreateDirectory(merged);
        File.Copy(Path.Combine(folder, "results.json"), Path.Combine(merged, "results.json"));
        File.WriteAllLines(Path.Combine(merged, "results.csv"), ["# date: 11/30/2026 06:41:31 +00:00", ResultRow.UnversionedHeader + ",activation"]);
        Ok(CliRunner.RunInProcess("merge", folder, "-o", merged));
        Assert.Equal(today.Rows, ResultSet.Read(merged).Rows);
        AssertValid(Path.Combine(merged, "results.json"), "sweep_results");
        // Resume finds every old run finished and computes nothing.
        Assert.Contains("computed 0 run(s)", Ok(CliRunner.RunInProcess(sweep)).Stdout);
        Assert.Equal(today.Rows, ResultSet.Read(folder).Rows);
        AssertValid(Path.Combine(folder, "results.json"), "sweep_results");
    }
}
