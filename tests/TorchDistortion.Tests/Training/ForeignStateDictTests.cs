using System.Text.Json;
using TorchDistortion.Tests.Cli;
using TorchDistortion.Theory;

namespace TorchDistortion.Tests.Training;

/// <summary>
/// A state_dict that `train` did not write names no init: the law shown beside it must come from variances estimated
/// from its weights. PyTorch's nn.Linear default (kaiming_uniform with a = sqrt(5), bias uniform(+-1/sqrt(fan_in)))
/// has C_W = 1/3 and C_b = 1/(3 fan_in), far from He's C_W = 2.
/// </summary>
public class ForeignStateDictTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("torchdist-foreign").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private const string MakeNetworks = """
        import sys, torch
        torch.set_default_dtype(torch.float64)
        for s in range(int(sys.argv[2])):
            torch.manual_seed(s)
            m = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32))
            torch.save(m.state_dict(), f"{sys.argv[1]}/net{s}.pt")
        """;

    [PyTorchFact]
    public void TheLawOfEstimatedVariancesMatchesFreshPyTorchNetworks()
    {
        const int networks = 16;
        int[] widths = [8, 32, 32, 32];
        var (code, log) = PyTorch.Run(PyTorch.Python!, "-c", MakeNetworks, _root, networks.ToString());
        Assert.True(code == 0, log);
        var differences = new List<double>();
        var heDifferences = new List<double>();
        var cw = new List<(double Value, int Count)>();
        var cbScaled = new List<(double Value, int Count)>();
        double he = ExactTheory.Moment(widths, [2, 2, 2], 1, 1);
        for (int s = 0; s < networks; s++)
        {
            string output = Path.Combine(_root, $"m{s}.json");
            // Pointwise (one node): the law's mean is an identity there, not a bound.
            var result = CliRunner.RunInProcess("measure", "--checkpoint", Path.Combine(_root, $"net{s}.pt"), "--points", "1", "--geometries", "400",
                "--seed", s.ToString(), "--format", "json", "-o", output);
            Assert.True(result.ExitCode == 0, result.Stderr);
            using var document = JsonDocument.Parse(File.ReadAllText(output));
            var root = document.RootElement;
            Assert.Contains("estimated from the weights; exact only for Gaussian weights at initialization", root.GetProperty("theory_note").GetString());
            double measured = root.GetProperty("checkpoints")[0].GetProperty("distortion").GetProperty("mean").GetDouble();
            differences.Add(measured - root.GetProperty("theory_at_init").GetDouble());
            heDifferences.Add(measured - he);
            var estimatedCw = root.GetProperty("estimated_c_w").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var estimatedCb = root.GetProperty("estimated_c_b").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int l = 0; l < 3; l++)
            {
                cw.Add((estimatedCw[l], widths[l] * widths[l + 1]));
                cbScaled.Add((widths[l] * estimatedCb[l], widths[l + 1]));
            }
        }
        // A uniform sample variance of N draws has relative standard deviation sqrt(0.8 / N) (excess kurtosis -1.2).
        static void NearOneThird(List<(double Value, int Count)> estimates, string what)
        {
            double mean = estimates.Average(e => e.Value);
            double se = Math.Sqrt(estimates.Sum(e => 0.8 / e.Count)) / estimates.Count / 3;
            Assert.True(Math.Abs(mean - 1.0 / 3) < 4 * se, $"{what}: {mean} against 1/3 (s.e. {se})");
        }
        NearOneThird(cw, "C_W");
        NearOneThird(cbScaled, "fan_in x C_b");

        static double Z(List<double> d) => d.Average() / (Math.Sqrt(d.Sum(x => (x - d.Average()) * (x - d.Average())) / (d.Count - 1)) / Math.Sqrt(d.Count));
        Assert.True(Math.Abs(Z(differences)) < 4, $"measured - estimated law: z = {Z(differences)}");
        // The check has power: the He law the old report showed is many standard errors away.
        Assert.True(Math.Abs(Z(heDifferences)) > 20, $"measured - He law: z = {Z(heDifferences)}");
    }

    private const string JvpOfExport = """
        import json, sys, torch
        torch.set_default_dtype(torch.float64)
        act = {"tanh": torch.nn.Tanh(), "leaky-relu:0.2": torch.nn.LeakyReLU(0.2)}[sys.argv[3]]
        m = torch.nn.Sequential(torch.nn.Linear(6, 24), act, torch.nn.Linear(24, 24), act, torch.nn.Linear(24, 3))
        if sys.argv[4] == "make":
            torch.manual_seed(3)
            torch.save(m.state_dict(), sys.argv[1])
            sys.exit(0)
        m.load_state_dict(torch.load(sys.argv[1]))
        e = json.load(open(sys.argv[2]))
        x = torch.tensor(e["points"]); u = torch.tensor(e["tangents"])[:, 0, :]
        _, ju = torch.autograd.functional.jvp(m, x, u)
        ours = torch.tensor(e["log_volumes"])
        print(float((ju.norm(dim=1).log() - ours).abs().max()))
        """;

    [PyTorchFact]
    public void AForeignStateDictTakesItsActivationAndMatchesPyTorchsJvp()
    {
        foreach (var activation in new[] { "tanh", "leaky-relu:0.2" })
        {
            string model = Path.Combine(_root, $"{activation}.pt"), export = Path.Combine(_root, $"{activation}.json");
            var (code, log) = PyTorch.Run(PyTorch.Python!, "-c", JvpOfExport, model, export, activation, "make");
            Assert.True(code == 0, log);
            var result = CliRunner.Run("measure", "--checkpoint", model, "--activation", activation, "--geometries", "10", "--export-points", export, "--format", "json");
            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Contains(activation, result.Stdout);
            (code, log) = PyTorch.Run(PyTorch.Python!, "-c", JvpOfExport, model, export, activation, "check");
            Assert.True(code == 0, log);
            double gap = double.Parse(log.Trim().Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(gap < 1e-12, $"{activation}: |log ||J u|| ours - PyTorch| = {gap:G3}");
        }
    }
}
