using System.Globalization;
using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Theory;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>How a saved network is measured: the random geometries, their seed, the statistics, and where it runs.</summary>
public sealed record CheckpointMeasureSettings(
    GeometrySpec Geometry, int Geometries, long Seed, ScalarType DType, DeviceSpec Device, Activation? Activation, int Moments, IReadOnlyList<double> Quantiles);

/// <summary>`measure --checkpoint`: the distortion of a saved network (or of every checkpoint of a run) over random geometries.</summary>
public static class CheckpointMeasure
{
    /// <summary>
    /// Measures the checkpoint, state_dict or run folder at <paramref name="path"/>. With <paramref name="exportPoints"/>, also
    /// writes the nodes, tangents and per-node volumes of the geometries there (one checkpoint file only).
    /// </summary>
    public static CheckpointMeasurement Measure(string path, CheckpointMeasureSettings s, string? exportPoints = null)
    {
        var device = s.Device.Resolve();
        var quantiles = s.Quantiles.ToList();
        if (Directory.Exists(path))
        {
            if (exportPoints is not null) throw new SettingException("export_points", "needs one checkpoint file, not a run folder");
            var checkpoints = Checkpoints.List(path);
            if (checkpoints.Count == 0) throw new SettingException("checkpoint", $": folder '{path}' holds no complete checkpoint");
            if (s.Activation is not null) throw new SettingException("activation", ": a run folder of train records its activation; give none");
            var rows = new List<CheckpointRow>();
            NetworkSpec? spec = null;
            foreach (var (file, info) in checkpoints)
            {
                var (net, _) = Checkpoints.LoadNetwork(file, s.DType, device);
                using (net)
                {
                    spec = net.Spec;
                    rows.Add(Measure(net, Path.GetFileNameWithoutExtension(file), info.Step, info.Epoch, s.Geometry, s.Geometries, s.Seed, s.Moments, quantiles));
                }
            }
            return Result(rows, spec!, s, isRun: true, estimated: null);
        }
        var (network, checkpoint) = Checkpoints.LoadNetwork(path, s.DType, device, s.Activation);
        using (network)
        {
            if (exportPoints is not null && s.Geometry.Exact) throw new SettingException("export_points", "exports quadrature nodes, not an exact measurement");
            var row = Measure(network, Path.GetFileName(path), checkpoint?.Step, checkpoint?.Epoch, s.Geometry, s.Geometries, s.Seed, s.Moments, quantiles);
            // Written only once the measurement has succeeded: a failed command leaves no file that looks complete.
            if (exportPoints is not null) Files.WriteAtomically(exportPoints, ExportNodes(network, s.Geometry, s.Geometries, s.Seed, path));
            return Result([row], network.Spec, s, isRun: false, checkpoint is null ? EstimateVariances(network) : null);
        }
    }

    private static CheckpointMeasurement Result(List<CheckpointRow> rows, NetworkSpec spec, CheckpointMeasureSettings s, bool isRun, (double[] CW, double[] CB)? estimated)
    {
        var geometry = s.Geometry;
        string quantity = geometry.Quantity;
        double theory = estimated is { } est ? EstimatedLaw(spec, est.CW, geometry.K) : Math.Exp(TheoryLaw.For(spec, geometry.K).LogMoment(1));
        string note = estimated is { } e
            ? $"E[{quantity}] for per-layer C_W = {List(e.CW)}, C_b = {List(e.CB)}, estimated from the weights; exact only for Gaussian weights at initialization: {G(theory)}"
            : $"E[{quantity}] at initialization ({spec.Activation}, {spec.Init}); the law describes initialization, not the trained network: {G(theory)}";
        return new CheckpointMeasurement(rows, spec, geometry, s.Geometries, isRun, estimated?.CW, estimated?.CB, theory, quantity, note, s);
    }
    private static CheckpointRow Measure(Mlp net, string name, long? step, double? epoch, GeometrySpec geometry, int count, long seed, int moments, List<double> quantiles)
    {
        var measured = Distortion.MeasureNetwork(net, geometry, count, seed);
        if (measured.LogDistortions.Any(v => double.IsNaN(v) || double.IsPositiveInfinity(v)))
            throw new SettingException("checkpoint", $": '{name}' gives a NaN or infinite distortion (non-finite weights, or use the dtype float64)");
        return new CheckpointRow(name, step, epoch, Summary.FromLog(measured.LogDistortions, moments, quantiles),
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
