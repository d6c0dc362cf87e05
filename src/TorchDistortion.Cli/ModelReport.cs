using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Output;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>The report of `measure --model`: a table, JSON or CSV.</summary>
internal static class ModelReport
{
    internal static string Format(ModelMeasurement model, string format)
    {
        var (geometry, count, seed, summary) = (model.Geometry, model.Geometries, model.Seed, model.Distortion);
        string quantity = geometry.IsCurve ? "length distortion" : $"{geometry.K}-volume distortion";
        string dimension = $"{model.InputDim}{(model.InputDimInferred ? " (inferred by probing the model)" : "")}";
        string dtype = model.DType.ToString().ToLowerInvariant();
        switch (format)
        {
            case "csv":
                Column<Summary>[] columns =
                [
                    new("mean", r => r.Mean), new("std_err", r => r.StdErr), new("std", r => r.Std), new("median", r => r.Median),
                    new("mean_log", r => r.MeanLog), new("log_mean", r => r.LogMean),
                ];
                return Output.Csv.Write(Column<Summary>.WithSettings(SettingsOf(model, geometry, count, seed, dtype), columns), [summary]);
            case "json":
                var document = new
                {
                    Settings = SettingsOf(model, geometry, count, seed, dtype),
                    Quantity = quantity,
                    Distortion = summary,
                    Theory = (double?)null,
                    TheoryNote = ModelMeasurement.NoLaw,
                };
                return Output.Json.Document(Reports.ModelDocument, document);
            default:
                var writer = new StringWriter();
                var console = Reports.PlainConsole(writer, 120);
                console.WriteLine($"{quantity} of {count} random {geometry} through {Path.GetFileName(model.Path)} (TorchScript, {dtype}, double-VJP)");
                console.WriteLine($"input dimension: {dimension}; seed {seed}");
                var table = new Table().AddColumns("mean", "± s.e.", "std", "median", "quantiles", "mean log");
                table.AddRow(G(summary.Mean), G(summary.StdErr), G(summary.Std), G(summary.Median),
                    string.Join("  ", summary.Quantiles.Select(q => $"q{q.Probability.ToString(CultureInfo.InvariantCulture)}={G(q.Value)}")), G(summary.MeanLog));
                console.Write(table);
                console.WriteLine($"theory: {ModelMeasurement.NoLaw}");
                return writer.ToString();
        }
    }

    private static object SettingsOf(ModelMeasurement model, Geometry.GeometrySpec geometry, int count, long seed, string dtype) => new
    {
        Model = Path.GetFullPath(model.Path),
        model.InputDim,
        model.InputDimInferred,
        Geometry = geometry.Kind,
        geometry.K,
        geometry.Points,
        geometry.Size,
        geometry.Exact,
        Geometries = count,
        Seed = seed,
        DType = dtype,
        Method = "double-vjp",
    };

    private static string G(double v) => double.IsFinite(v) ? v.ToString("G6", CultureInfo.InvariantCulture) : "-";
}
