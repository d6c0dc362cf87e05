using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Measurement;
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
                return "model,input_dim,dtype,geometry,geometries,seed,mean,stderr,std,median,mean_log,log_mean\n" + string.Join(",",
                    Path.GetFileName(model.Path), model.InputDim.ToString(CultureInfo.InvariantCulture), dtype, $"\"{geometry}\"",
                    count.ToString(CultureInfo.InvariantCulture), seed.ToString(CultureInfo.InvariantCulture), Numbers.Csv(summary.Mean),
                    Numbers.Csv(summary.StdErr), Numbers.Csv(summary.Std), Numbers.Csv(summary.Median), Numbers.Csv(summary.MeanLog),
                    Numbers.Csv(summary.LogMean)) + "\n";
            case "json":
                var document = new
                {
                    Tool = "torchdistortion",
                    Format = Reports.MeasureFormat,
                    Model = Path.GetFullPath(model.Path),
                    InputDim = model.InputDim,
                    InputDimInferred = model.InputDimInferred,
                    DType = dtype,
                    Quantity = quantity,
                    Geometry = geometry.ToString(),
                    Geometries = count,
                    Seed = seed,
                    Method = "double-vjp",
                    Distortion = summary,
                    Theory = (double?)null,
                    TheoryNote = ModelMeasurement.NoLaw,
                };
                return JsonSerializer.Serialize(document, new JsonSerializerOptions(TrainSettings.Json) { Converters = { new Numbers.FiniteConverter() } }) + "\n";
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

    private static string G(double v) => double.IsFinite(v) ? v.ToString("G6", CultureInfo.InvariantCulture) : "-";
}
