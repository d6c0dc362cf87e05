using System.CommandLine;
using TorchDistortion.Differentiation;
using TorchDistortion.Measurement;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>`measure`: random networks (<see cref="MeasureSettings"/>), a saved network (--checkpoint) or a TorchScript model (--model).</summary>
internal static class MeasureCommand
{
    private static readonly RuntimeOptions Runtime = RuntimeOptions.Measuring();
    private static readonly NetworkOptions Network = new(width: 32, depth: 20);
    private static readonly GeometryOptions Geometry = new();
    private static readonly Option<int> Networks = new("--networks") { Description = "Number of random networks", DefaultValueFactory = _ => 200 };
    private static readonly Option<long> Seed = new("--seed") { Description = "Master seed (network i depends only on seed and i)", DefaultValueFactory = _ => 0 };
    private static readonly Option<string> Method = new("--method") { Description = "Jacobian method: tangent (default), double-vjp, reverse", DefaultValueFactory = _ => "tangent" };
    private static readonly Option<int> Moments = new("--moments") { Description = "Highest moment E[D^m] to report", DefaultValueFactory = _ => 4 };
    private static readonly Option<string> Quantiles = new("--quantiles") { Description = "Quantile probabilities, comma separated", DefaultValueFactory = _ => "0.05,0.25,0.75,0.95" };
    private static readonly Option<int> Chunk = new("--chunk") { Description = "Networks per batch (0 = automatic)", DefaultValueFactory = _ => 0 };
    private static readonly Option<string?> Format = new("--format") { Description = "table, json or csv (default: from --output's extension .json or .csv, else table)" };
    private static readonly Option<string?> Output = OutputOptions.Output("Write the result to this file (atomically); - or absent: stdout");
    private static readonly Option<bool> Force = OutputOptions.Force();
    private static readonly Option<string?> Checkpoint = new("--checkpoint") { Description = "Measure a saved network instead: a checkpoint (.safetensors with sidecar), a PyTorch state_dict (.pt/.safetensors), or a run folder (every checkpoint: distortion vs epoch)" };
    private static readonly Option<string?> Model = new("--model") { Description = "Measure a TorchScript model saved by PyTorch (torch.jit.script/trace then save) by double-VJP; its input dimension is --n0 or found by probing" };
    private static readonly Option<int> Geometries = new("--geometries") { Description = "With --checkpoint or --model: random curves or patches measured on the saved network", DefaultValueFactory = _ => 200 };
    private static readonly Option<string?> ExportPoints = new("--export-points") { Description = "With --checkpoint: write the nodes, tangents and our per-node volumes as JSON (for scripts/crosscheck_pytorch.py)" };

    internal static Command Create()
    {
        var command = new Command("measure", "Measure length or volume distortion over random networks, beside the exact theory.");
        foreach (var option in Network.All.Concat(Geometry.All).Concat([Networks, Seed, Method, Runtime.Device, Runtime.DType, Runtime.Threads, Moments, Quantiles,
            Chunk, Format, Output, Force, Runtime.NoProgress, Checkpoint, Model, Geometries, ExportPoints]))
            command.Options.Add(option);
        command.SetAction(Run);
        return command;
    }

    /// <summary>Options that describe random networks, which a saved network replaces.</summary>
    private static IEnumerable<Option> RandomNetworkOptions => Network.All.Where(o => o != Network.Activation).Concat([Networks, Method, Chunk]);

    private static int Run(ParseResult parse)
    {
        string? output = parse.GetValue(Output);
        string format = TorchDistortion.Output.Schema.ChooseFormat(parse.GetValue(Format), output, Formats);
        if (TorchDistortion.Output.Schema.IsStdout(output)) output = null;
        Runtime.ApplyThreads(parse);
        OutputGuard.CheckFile(output, "--output");
        if (output is not null) OutputGuard.Check(output, "--output", "measure", OutputGuard.IsMeasureReport, parse.GetValue(Force));
        if (parse.GetValue(Model) is string model)
        {
            var m = MeasureModel(parse, model, output);
            OutputOptions.Emit(Render(format, m.ToJson, m.ToCsv, () => Tables.Model(m)), output);
        }
        else if (parse.GetValue(Checkpoint) is string checkpoint)
        {
            var m = MeasureCheckpoint(parse, checkpoint, output);
            OutputOptions.Emit(Render(format, m.ToJson, m.ToCsv, () => Tables.Checkpoint(m)), output);
        }
        else MeasureRandom(parse, format, output);
        return 0;
    }

    private static readonly string[] Formats = ["table", "json", "csv"];

    /// <summary>The report in the chosen format: the documents are the library's, the table is the CLI's.</summary>
    private static string Render(string format, Func<string> json, Func<string> csv, Func<string> table) =>
        format switch { "json" => json(), "csv" => csv(), _ => table() };

    private static void MeasureRandom(ParseResult parse, string format, string? output)
    {
        foreach (var option in new Option[] { Geometries, ExportPoints })
            if (parse.GetResult(option) is { Implicit: false }) throw new ArgumentException($"{option.Name} needs --checkpoint or --model");
        var settings = new MeasureSettings(Network.Spec(parse), Geometry.Spec(parse), parse.GetValue(Networks), parse.GetValue(Seed), Runtime.DTypeOf(parse),
            Runtime.DeviceOf(parse), MethodOf(parse), parse.GetValue(Moments), QuantilesOf(parse), parse.GetValue(Chunk));
        settings.Validate();

        if (settings.Networks >= 1_000_000) Console.Error.WriteLine(TimeEstimate.For(settings));
        var measurement = Runtime.Progress(parse) ? WithProgress(settings) : Distortion.Measure(settings);
        var info = RuntimeInfo.Current();
        OutputOptions.Emit(Render(format, () => measurement.ToJson(info), measurement.ToCsv, () => Tables.Measure(measurement, info, toConsole: output is null)), output);
        // The table on screen carries its notes; a file or a CSV/JSON consumer gets them on stderr too, so nothing is silent.
        if (format != "table" || output is not null)
            foreach (var note in measurement.Notes()) Console.Error.WriteLine($"note: {note}");
    }

    private static CheckpointMeasurement MeasureCheckpoint(ParseResult parse, string path, string? output)
    {
        var given = RandomNetworkOptions.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false });
        if (given is not null) throw new ArgumentException($"--checkpoint: the saved network replaces the random ones; drop {given.Name}");
        // Only a foreign state_dict, which does not record it, takes --activation.
        var geometry = Geometry.Spec(parse);
        var activation = parse.GetResult(Network.Activation) is { Implicit: false }
            ? NetworkOptions.ActivationOf(parse.GetValue(Network.Activation)!) ?? TorchDistortion.Networks.Activation.ReLU : null;
        var settings = new CheckpointMeasureSettings(geometry, parse.GetValue(Geometries), parse.GetValue(Seed), Runtime.DTypeOf(parse),
            Runtime.DeviceOf(parse), activation, parse.GetValue(Moments), QuantilesOf(parse));
        string? export = parse.GetValue(ExportPoints);
        // --output went through the guard in Run; the guard alone would let --force replace the file being read.
        foreach (var (file, option) in new[] { (output, "--output"), (export, "--export-points") })
            if (file is not null && Path.GetFullPath(file) == Path.GetFullPath(path))
                throw new ArgumentException($"{option}: '{file}' is the checkpoint being measured; choose another name");
        if (export is not null)
        {
            OutputGuard.Check(export, "--export-points", "measure --export-points", f => OutputGuard.JsonHas(f, "checkpoint", "log_volumes"), parse.GetValue(Force));
            OutputGuard.CheckFile(export, "--export-points");
        }
        return CheckpointMeasure.Measure(path, settings, export);
    }

    private static ModelMeasurement MeasureModel(ParseResult parse, string path, string? output)
    {
        var given = RandomNetworkOptions.Append(Network.Activation).Append(Checkpoint).Append(ExportPoints)
            .FirstOrDefault(o => o != Network.N0 && parse.GetResult(o) is { Implicit: false });
        if (given is not null) throw new ArgumentException($"--model: the model replaces the random networks; drop {given.Name}");
        if (output is not null && Path.GetFullPath(output) == Path.GetFullPath(path))
            throw new ArgumentException($"--output: '{output}' is the model being measured; choose another name");
        var settings = new ModelMeasureSettings(Geometry.Spec(parse), parse.GetValue(Geometries), parse.GetValue(Seed),
            NetworkOptions.One(NetworkOptions.Ints(parse, Network.N0), Network.N0), parse.GetValue(Moments), QuantilesOf(parse));
        return ModelMeasure.Measure(path, settings);
    }

    private static JacobianMethod MethodOf(ParseResult parse) => parse.GetValue(Method)!.ToLowerInvariant() switch
    {
        "tangent" => JacobianMethod.TangentPropagation,
        "double-vjp" => JacobianMethod.DoubleVjp,
        "reverse" => JacobianMethod.Reverse,
        var other => throw new ArgumentException($"--method: unknown method '{other}'; allowed: tangent, double-vjp, reverse"),
    };

    private static List<double> QuantilesOf(ParseResult parse) => Cli.Doubles(parse.GetValue(Quantiles)!, "--quantiles");

    private static Measurement.MeasureResult WithProgress(MeasureSettings settings)
    {
        Measurement.MeasureResult? result = null;
        SweepProgress.OnStderr().Start(context =>
            {
                var task = context.AddTask("networks", maxValue: settings.Networks);
                result = Distortion.Measure(settings, done => task.Value = done);
            });
        return result!;
    }
}
