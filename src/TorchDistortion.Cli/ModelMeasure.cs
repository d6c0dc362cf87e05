using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Output;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>`measure --model`: the distortion of a TorchScript model of the user's over random geometries, by double-VJP.</summary>
internal static class ModelMeasure
{
    private const string NoLaw = "no law is known for an arbitrary architecture; the exact and mean-field laws cover the fully connected networks of `measure` without --model";

    internal static int Run(ParseResult parse, string format, string? output)
    {
        var given = MeasureCommand.NetworkOptions.Append(MeasureCommand.ActivationName).Append(MeasureCommand.Checkpoint).Append(MeasureCommand.ExportPoints)
            .FirstOrDefault(o => o != MeasureCommand.InputDimOption && parse.GetResult(o) is { Implicit: false });
        if (given is not null) throw new ArgumentException($"--model: the model replaces the random networks; drop {given.Name}");
        string path = parse.GetValue(MeasureCommand.Model)!;
        if (output is not null && Path.GetFullPath(output) == Path.GetFullPath(path))
            throw new ArgumentException($"--output: '{output}' is the model being measured; choose another name");
        var geometry = MeasureCommand.GeometryOf(parse);
        if (geometry.Exact) throw new ArgumentException("--exact needs a piecewise-linear network of known layers; a TorchScript model is measured by quadrature");
        int count = parse.GetValue(MeasureCommand.Geometries);
        if (count < 1 || count > 10_000_000) throw new ArgumentException($"--geometries must be between 1 and 10000000, got {count}");
        long seed = MeasureCommand.SeedOf(parse);
        try
        {
            using var model = ScriptedModel.Load(path, parse.GetValue(MeasureCommand.InputDimOption));
            geometry.Validate([model.InputDim]);
            var logs = Distortion.MeasureModule(model.Module, model.InputDim, geometry, count, seed);
            if (logs.Any(v => double.IsNaN(v) || double.IsPositiveInfinity(v)))
                throw new ArgumentException($"--model: '{path}' gives a NaN or infinite distortion on these geometries");
            var summary = Summary.FromLog(logs, MeasureCommand.MomentsOf(parse), MeasureCommand.QuantilesOf(parse));
            MeasureCommand.Emit(Report(model, geometry, count, seed, summary, format), output);
            return 0;
        }
        catch (ArgumentException e) when (e.Message.StartsWith("model:", StringComparison.Ordinal))
        {
            throw new ArgumentException("--" + e.Message);
        }
    }

    private static string Report(ScriptedModel model, Geometry.GeometrySpec geometry, int count, long seed, Summary summary, string format)
    {
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
                    TheoryNote = NoLaw,
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
                console.WriteLine($"theory: {NoLaw}");
                return writer.ToString();
        }
    }

    private static object SettingsOf(ScriptedModel model, Geometry.GeometrySpec geometry, int count, long seed, string dtype) => new
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
