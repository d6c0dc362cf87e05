using System.Text.Json;
using TorchDistortion.Differentiation;
using TorchDistortion.Geometry;
using TorchDistortion.Measurement;
using TorchDistortion.Networks;
using TorchDistortion.Tests.Training;
using static TorchSharp.torch;

namespace TorchDistortion.Tests.Networks;

/// <summary>
/// TorchScript models saved by PyTorch (a scripted residual MLP, a scripted tanh MLP, a traced 1-D CNN): J u by our
/// double-VJP through the loaded module against PyTorch's own torch.autograd.functional.jvp on the same points.
/// </summary>
public sealed class ScriptedModelTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("torchdist-script").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    internal static string MakeModels(string folder)
    {
        var script = Path.Combine(Path.GetDirectoryName(PyTorch.Script())!, "torchscript_models.py");
        var (code, output) = PyTorch.Run(PyTorch.Python!, script, folder);
        Assert.True(code == 0, output);
        return folder;
    }

    [PyTorchFact]
    public void DoubleVjpThroughLoadedModulesMatchesPyTorchsJvp()
    {
        MakeModels(_folder);
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(_folder, "reference.json")));
        foreach (var (name, n0Given) in new[] { ("residual", (int?)null), ("tanh", null), ("cnn", 10) })
        {
            using var scope = NewDisposeScope();
            var entry = reference.RootElement.GetProperty(name);
            using var model = ScriptedModel.Load(Path.Combine(_folder, $"{name}.pt"), n0Given);
            Assert.Equal(entry.GetProperty("n0").GetInt32(), model.InputDim);
            Assert.Equal(n0Given is null, model.InputDimInferred);
            Assert.Equal(ScalarType.Float64, model.DType);
            var points = Matrix(entry.GetProperty("points"));
            var tangents = Matrix(entry.GetProperty("tangents"));
            var expected = Matrix(entry.GetProperty("jvp"));
            var ours = Jacobians.DoubleVjp(model.Module, points, tangents.unsqueeze(1)).squeeze(1);
            double scale = expected.abs().max().item<double>();
            double difference = (ours - expected).abs().max().item<double>();
            Assert.True(difference <= 1e-12 * scale, $"{name}: |ours - PyTorch jvp| = {difference:G3} (scale {scale:G3})");
        }
    }

    [PyTorchFact]
    public void MeasuringAModelGivesTheMeanOfItsPerGeometryDistortions()
    {
        MakeModels(_folder);
        using var model = ScriptedModel.Load(Path.Combine(_folder, "tanh.pt"));
        var geometry = new GeometrySpec(GeometryKind.Patch, Points: 2, K: 2);
        var all = Distortion.MeasureModule(model.Module, model.InputDim, geometry, 12, seed: 3).LogDistortions;
        var again = Distortion.MeasureModule(model.Module, model.InputDim, geometry, 12, seed: 3).LogDistortions;
        Assert.Equal(all, again);
        Assert.All(all, v => Assert.True(double.IsFinite(v)));
        // The reverse-mode reference gives the same log-volumes.
        var reverse = Distortion.MeasureModule(model.Module, model.InputDim, geometry, 12, seed: 3, JacobianMethod.Reverse).LogDistortions;
        for (int i = 0; i < all.Length; i++) Assert.Equal(reverse[i], all[i], 10);
    }

    [PyTorchFact]
    public void BadModelsAreRefusedInOneLine()
    {
        MakeModels(_folder);
        string cnn = Path.Combine(_folder, "cnn.pt");
        Assert.Contains("cannot find the input dimension", Assert.Throws<SettingException>(() => ScriptedModel.Load(cnn)).Message);
        Assert.Contains("does not take inputs of dimension 7", Assert.Throws<SettingException>(() => ScriptedModel.Load(cnn, 7)).Message);
        string random = Path.Combine(_folder, "random.pt");
        File.WriteAllBytes(random, Enumerable.Range(0, 300).Select(i => (byte)(i * 37)).ToArray());
        Assert.Contains("is not a TorchScript file", Assert.Throws<SettingException>(() => ScriptedModel.Load(random)).Message);
        string stateDict = Path.Combine(_folder, "state.pt");
        var (code, output) = PyTorch.Run(PyTorch.Python!, "-c", $"import torch; torch.save(torch.nn.Linear(3, 2).state_dict(), '{stateDict}')");
        Assert.True(code == 0, output);
        Assert.Contains("holds no TorchScript code", Assert.Throws<SettingException>(() => ScriptedModel.Load(stateDict)).Message);
        Assert.Contains("no such file", Assert.Throws<SettingException>(() => ScriptedModel.Load(Path.Combine(_folder, "missing.pt"))).Message);
    }

    [PyTorchFact]
    public void MeasureModelReportsTheDistortionAndRefusesBadInputInOneLine()
    {
        MakeModels(_folder);
        string tanh = Path.Combine(_folder, "tanh.pt"), report = Path.Combine(_folder, "report.json");
        var ok = Cli.CliRunner.Run("measure", "--model", tanh, "--geometries", "20", "--format", "json", "-o", report);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        using (var document = JsonDocument.Parse(File.ReadAllText(report)))
        {
            Assert.Equal(5, document.RootElement.GetProperty("settings").GetProperty("input_dim").GetInt32());
            Assert.True(document.RootElement.GetProperty("settings").GetProperty("input_dim_inferred").GetBoolean());
            Cli.OutputSchemaTests.AssertValid(report, "measure_model");
            // The method spelled as measure spells it (the output seam's enum names), not a second literal.
            var measure = Cli.CliRunner.RunInProcess("measure", "--width", "4", "--depth", "2", "--networks", "2", "--method", "double-vjp", "--format", "json");
            Assert.True(measure.ExitCode == 0, measure.Stderr);
            using var random = JsonDocument.Parse(measure.Stdout);
            Assert.Equal("double_vjp", random.RootElement.GetProperty("settings").GetProperty("method").GetString());
            Assert.Equal("double_vjp", document.RootElement.GetProperty("settings").GetProperty("method").GetString());
            // The same numbers as the library's measurement of the same geometries.
            using var model = ScriptedModel.Load(tanh);
            var logs = Distortion.MeasureModule(model.Module, 5, new GeometrySpec(GeometryKind.Segment), 20, seed: 0).LogDistortions;
            Assert.Equal(logs.Select(Math.Exp).Average(), document.RootElement.GetProperty("distortion").GetProperty("mean").GetDouble(), 12);
        }
        var before = Directory.GetFiles(_folder).ToDictionary(f => f, File.ReadAllBytes);
        string notAModule = Path.Combine(_folder, "reference.json");
        foreach (var (args, subject) in new[]
        {
            (new[] { "--model", tanh, "--n0", "3" }, "does not take inputs of dimension 3"),
            (new[] { "--model", notAModule }, "is not a TorchScript file"),
            (new[] { "--model", tanh, "--exact" }, "--exact"),
            (new[] { "--model", tanh, "--activation", "tanh" }, "drop --activation"),
            (new[] { "--model", Path.Combine(_folder, "none.pt") }, "no such file"),
        })
        {
            var result = Cli.CliRunner.Run(["measure", .. args, "-o", Path.Combine(_folder, "out.json")]);
            Cli.CliRunner.AssertOneLineError(result, subject);
        }
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(_folder).Order());
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    private static Tensor Matrix(JsonElement rows) =>
        tensor(rows.EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray().SelectMany(r => r).ToArray(), float64)
            .reshape(rows.GetArrayLength(), -1);
}
