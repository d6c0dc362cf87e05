using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using TorchDistortion.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Cli;

/// <summary>`measure --checkpoint`: the distortion of a saved network (or of every checkpoint of a run) over random geometries.</summary>
internal static class CheckpointMeasure
{
    private sealed record Row(string Checkpoint, long? Step, double? Epoch, Summary Distortion, Summary? Regions);

    internal static int Run(ParseResult parse, string format, string? output)
    {
        var given = MeasureCommand.NetworkOptions.FirstOrDefault(o => parse.GetResult(o) is { Implicit: false });
        if (given is not null) throw new ArgumentException($"--checkpoint: the saved network replaces the random ones; drop {given.Name}");
        string path = parse.GetValue(MeasureCommand.Checkpoint)!;
        var geometry = MeasureCommand.GeometryOf(parse);
        // Only a foreign state_dict, which does not record it, takes --activation.
        var activation = parse.GetResult(MeasureCommand.ActivationName) is { Implicit: false } ? MeasureCommand.ActivationOf(parse) ?? Activation.ReLU : null;
        var dtype = MeasureCommand.DTypeOf(parse);
        var device = MeasureCommand.DeviceOf(parse).Resolve();
        int count = parse.GetValue(MeasureCommand.Geometries);
        long seed = MeasureCommand.SeedOf(parse);
        var quantiles = MeasureCommand.QuantilesOf(parse);
        int moments = MeasureCommand.MomentsOf(parse);
        string? export = parse.GetValue(MeasureCommand.ExportPoints);
        // --output went through the guard in MeasureCommand; the guard alone would let --force replace the file being read.
        foreach (var (file, option) in new[] { (output, "--output"), (export, "--export-points") })
            if (file is not null && Path.GetFullPath(file) == Path.GetFullPath(path))
                throw new ArgumentException($"{option}: '{file}' is the checkpoint being measured; choose another name");
        if (export is not null)
            OutputGuard.Check(export, "--export-points", "measure --export-points", f => OutputGuard.JsonHas(f, "checkpoint", "log_volumes"), parse.GetValue(MeasureCommand.Force));

        if (Directory.Exists(path))
        {
            if (export is not null) throw new ArgumentException("--export-points needs one checkpoint file, not a run folder");
            var checkpoints = Checkpoints.List(path);
            if (checkpoints.Count == 0) throw new ArgumentException($"--checkpoint: folder '{path}' holds no complete checkpoint");
            var rows = new List<Row>();
            NetworkSpec? spec = null;
            foreach (var (file, info) in checkpoints)
            {
                if (activation is not null) throw new ArgumentException("--activation: a run folder of train records its activation; drop --activation");
                var (net, _) = Checkpoints.LoadNetwork(file, dtype, device);
                using (net)
                {
                    spec = net.Spec;
                    rows.Add(Measure(net, Path.GetFileNameWithoutExtension(file), info.Step, info.Epoch, geometry, count, seed, moments, quantiles));
                }
            }
            MeasureCommand.Emit(Report(rows, spec!, geometry, count, format, run: true), output);
            return 0;
        }
        var (network, checkpoint) = Checkpoints.LoadNetwork(path, dtype, device, activation);
        using (network)
        {
            if (export is not null)
            {
                MeasureCommand.CheckOutputFile(export, "--export-points");
                if (geometry.Exact) throw new ArgumentException("--export-points exports quadrature nodes; drop --exact");
            }
            var row = Measure(network, Path.GetFileName(path), checkpoint?.Step, checkpoint?.Epoch, geometry, count, seed, moments, quantiles);
            // Written only once the measurement has succeeded: a failed command leaves no file that looks complete.
            if (export is not null) Files.WriteAtomically(export, ExportNodes(network, geometry, count, seed, path));
            MeasureCommand.Emit(Report([row], network.Spec, geometry, count, format, run: false,
                checkpoint is null ? EstimateVariances(network) : null), output);
        }
        return 0;
    }

    private static Row Measure(Mlp net, string name, long? step, double? epoch, GeometrySpec geometry, int count, long seed, int moments, List<double> quantiles)
    {
        var measured = Distortion.MeasureNetwork(net, geometry, count, seed);
        if (measured.LogDistortions.Any(v => double.IsNaN(v) || double.IsPositiveInfinity(v)))
            throw new ArgumentException($"--checkpoint: '{name}' gives a NaN or infinite distortion (non-finite weights, or use --dtype float64)");
        return new Row(name, step, epoch, Summary.FromLog(measured.LogDistortions, moments, quantiles),
            measured.LogRegionsPerLength is { } r ? Summary.FromLog(r, 2, quantiles) : null);
    }

    /// <summary>
    /// Per-layer C_W = fan_in x sample variance of the weights and C_b = sample variance of the biases: a foreign
    /// state_dict names no init, and assuming He gives a law for other networks (PyTorch's nn.Linear default has C_W = 1/3).
    /// </summary>
    internal static (double[] CW, double[] CB) EstimateVariances(Mlp net)
    {
        using var scope = NewDisposeScope();
        var cw = new double[net.Spec.Depth];
        var cb = new double[net.Spec.Depth];
        for (int l = 0; l < cw.Length; l++)
        {
            var w = net.Weights[l].detach().to(float64);
            cw[l] = w.numel() > 1 ? net.Spec.Widths[l] * w.var().item<double>() : double.NaN;
            cb[l] = net.Biases[l] is { } b && b.numel() > 1 ? b.detach().to(float64).var().item<double>() : 0;
        }
        return (cw, cb);
    }

    private static string Report(List<Row> rows, NetworkSpec spec, GeometrySpec geometry, int count, string format, bool run,
        (double[] CW, double[] CB)? estimated = null)
    {
        string quantity = geometry.IsCurve ? "length distortion" : $"{geometry.K}-volume distortion";
        double theory = estimated is { } est ? EstimatedLaw(spec, est.CW, geometry.K) : Math.Exp(TheoryLaw.For(spec, geometry.K).LogMoment(1));
        string theoryNote = estimated is { } e
            ? $"E[{quantity}] for per-layer C_W = {List(e.CW)}, C_b = {List(e.CB)}, estimated from the weights; exact only for Gaussian weights at initialization: {G(theory)}"
            : $"E[{quantity}] at initialization ({spec.Activation}, {spec.Init}); the law describes initialization, not the trained network: {G(theory)}";
        static string F(double? v) => Numbers.Csv(v);
        switch (format)
        {
            case "csv":
                var csv = new StringBuilder("checkpoint,step,epoch,geometries,mean,stderr,std,median,mean_log,regions_per_length,regions_stderr,theory_at_init\n");
                foreach (var r in rows)
                    csv.AppendLine(string.Join(",", r.Checkpoint, r.Step?.ToString(CultureInfo.InvariantCulture) ?? "", F(r.Epoch), count.ToString(CultureInfo.InvariantCulture),
                        F(r.Distortion.Mean), F(r.Distortion.StdErr), F(r.Distortion.Std), F(r.Distortion.Median), F(r.Distortion.MeanLog),
                        F(r.Regions?.Mean), F(r.Regions?.StdErr), F(theory)));
                return csv.ToString();
            case "json":
                var document = new
                {
                    Tool = "torchdistortion",
                    Format = Reports.MeasureFormat,
                    Quantity = quantity,
                    Widths = spec.Widths,
                    Init = estimated is null ? spec.Init.ToString() : null,
                    EstimatedCw = estimated?.CW,
                    EstimatedCb = estimated?.CB,
                    TheoryNote = theoryNote,
                    Geometry = geometry.ToString(),
                    Geometries = count,
                    TheoryAtInit = theory,
                    Checkpoints = rows.Select(r => new { r.Checkpoint, r.Step, r.Epoch, r.Distortion, RegionsPerLength = r.Regions }),
                };
                return JsonSerializer.Serialize(document, new JsonSerializerOptions(TrainSettings.Json) { Converters = { new Numbers.FiniteConverter() } }) + "\n";
            default:
                var writer = new StringWriter();
                var console = Reports.PlainConsole(writer, 140);
                console.WriteLine($"{quantity} of {count} random {geometry} on {(run ? "each checkpoint of a run" : "one saved network")}");
                console.WriteLine($"network: {(estimated is null ? spec.ToString() : $"[{string.Join(",", spec.Widths)}] (foreign state_dict: init unknown)")}");
                var table = new Table().AddColumns("checkpoint", "epoch", "mean", "± s.e.", "std", "median", "q5 .. q95");
                if (rows.Any(r => r.Regions is not null)) table.AddColumn("regions per unit length");
                foreach (var r in rows)
                {
                    var cells = new List<string>
                    {
                        Markup.Escape(r.Checkpoint), r.Epoch?.ToString("0.##", CultureInfo.InvariantCulture) ?? "-", G(r.Distortion.Mean), G(r.Distortion.StdErr),
                        G(r.Distortion.Std), G(r.Distortion.Median),
                        $"{G(r.Distortion.Quantiles.First().Value)} .. {G(r.Distortion.Quantiles.Last().Value)}",
                    };
                    if (r.Regions is { } regions) cells.Add($"{G(regions.Mean)} ± {G(regions.StdErr)}");
                    table.AddRow(cells.ToArray());
                }
                console.Write(table);
                console.WriteLine($"theory: {theoryNote}");
                return writer.ToString();
        }
    }

    /// <summary>The mean under the law of the network's activation for estimated per-layer variances; NaN where none is known.</summary>
    private static double EstimatedLaw(NetworkSpec spec, double[] variances, int k) => spec.Activation switch
    {
        var a when a == Activation.ReLU => ExactTheory.Moment(spec.Widths, variances, k, 1),
        PiecewiseLinearActivation pl when k == 1 => PiecewiseLinearLaw.Moment(spec.Widths, variances, new PiecewiseLinearLaw.Slopes(pl.NegativeSlope, pl.PositiveSlope), 1),
        _ => double.NaN,
    };

    private static string G(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
    private static string List(double[] values) => string.Join(",", values.Select(v => v.ToString("G4", CultureInfo.InvariantCulture)));

    /// <summary>
    /// The quadrature nodes and tangents of the geometries, with our log vol(J U) per node and log distortion per
    /// geometry: what scripts/crosscheck_pytorch.py recomputes with PyTorch's autograd.
    /// </summary>
    private static string ExportNodes(Mlp net, GeometrySpec geometry, int count, long seed, string checkpoint)
    {
        using var scope = NewDisposeScope();
        var weight = net.parameters().First();
        using var sample = GeometrySampler.Sample(geometry, net.Spec.InputDim, count, seed, 0, weight.dtype, weight.device);
        var (nodes, distortion) = Distortion.NodeLogVolumes(net, sample);
        long n0 = net.Spec.InputDim, k = geometry.K, total = sample.Points.shape[0] * sample.Points.shape[1];
        var points = sample.Points.to(float64).cpu().reshape(total, n0).data<double>().ToArray();
        var tangents = sample.Tangents.to(float64).cpu().reshape(total, k * n0).data<double>().ToArray();
        var document = new
        {
            Checkpoint = Path.GetFullPath(checkpoint),
            Widths = net.Spec.Widths,
            DType = weight.dtype.ToString().ToLowerInvariant(),
            K = k,
            Geometries = count,
            NodesPerGeometry = sample.Points.shape[1],
            Points = points.Chunk((int)n0),
            Tangents = tangents.Chunk((int)(k * n0)).Select(t => t.Chunk((int)n0)),
            LogVolumes = nodes.cpu().reshape(total).data<double>().ToArray(),
            LogDistortions = distortion.cpu().data<double>().ToArray(),
        };
        return JsonSerializer.Serialize(document, new JsonSerializerOptions(TrainSettings.Json) { WriteIndented = false }) + "\n";
    }
}
