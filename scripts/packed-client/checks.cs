// The packed client's checks: scripts/packed-client-check appends this file to the C# example of the README's
// "As a library" section (which defines spec, result, exact and own) to make the client's Program.cs.
int failures = 0;
void Check(bool ok, string what)
{
    Console.WriteLine($"{(ok ? "ok  " : "FAIL")} {what}");
    if (!ok) failures++;
}

double z = (result.Summary.Mean - exact) / result.Summary.StdErr;
Check(Math.Abs(z) <= 4, $"He ReLU MLP: measured mean within 4 standard errors of the exact law (z = {z:F2})");
Check(Math.Abs(result.Theory.Rows[0].Theory / exact - 1) < 1e-12, "the measurement's own theory row is the exact law");
Check(own.Distortions.All(d => Math.Abs(d - 3) < 1e-12) && own.LogDistortions.All(l => Math.Abs(l - Math.Log(3)) < 1e-12),
    "3x stretch: every distortion exactly 3, its log log 3");

// A user-defined module: its input twice over, times 1.5, stretches every length by 1.5 sqrt 2 and every area by 4.5.
using var twice = new Twice();
var lengths = Distortion.MeasureModule(twice, inputDim: 5, new GeometrySpec(GeometryKind.Fourier), count: 3, seed: 7);
var areas = Distortion.MeasureModule(twice, inputDim: 5, new GeometrySpec(GeometryKind.Patch, Points: 3, K: 2), count: 3, seed: 7);
Check(lengths.Distortions.All(d => Math.Abs(d - 1.5 * Math.Sqrt(2)) < 1e-12), $"custom module: length distortion 1.5 sqrt 2 = {1.5 * Math.Sqrt(2):F12}");
Check(areas.Distortions.All(d => Math.Abs(d - 4.5) < 1e-12), "custom module: 2-volume distortion 4.5");

// A PyTorch-style state_dict (nn.Sequential names) loads as an Mlp that measures as the module it came from.
string folder = Directory.CreateTempSubdirectory("packed-client-").FullName;
var sequential = nn.Sequential(nn.Linear(4, 16, dtype: float64), nn.ReLU(), nn.Linear(16, 3, dtype: float64));
string weights = Path.Combine(folder, "sequential.safetensors");
using (var file = File.Create(weights)) TorchSharp.PyBridge.Safetensors.SaveStateDict(file, sequential.state_dict());
var (loaded, info) = TorchDistortion.Training.Checkpoints.LoadNetwork(weights, float64);
var viaMlp = Distortion.MeasureNetwork(loaded, new GeometrySpec(), count: 6, seed: 2);
var viaModule = Distortion.MeasureModule(sequential, inputDim: 4, new GeometrySpec(), count: 6, seed: 2);
Check(info is null && loaded.Spec.Widths.SequenceEqual([4, 16, 3])
    && viaMlp.LogDistortions.Zip(viaModule.LogDistortions).All(p => Math.Abs(p.First - p.Second) < 1e-10),
    "state_dict: loaded as an MLP 4-16-3, the same distortions as the TorchSharp module");

// TorchDistortion.Plots: the measured distortions as a PNG figure.
var index = Enumerable.Range(0, result.LogDistortions.Length).Select(i => (double)i).ToArray();
TorchDistortion.Plots.FigureExporter.Save(new TorchDistortion.Plots.Figure("packed client", "network", "length distortion",
    [new TorchDistortion.Plots.Series("measured", index, Array.ConvertAll(result.LogDistortions, Math.Exp))]), Path.Combine(folder, "figure"));
Check(File.ReadAllBytes(Path.Combine(folder, "figure.png")).Take(4).SequenceEqual(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), "Plots: a PNG figure");
Directory.Delete(folder, recursive: true);

Console.WriteLine(failures == 0 ? "packed client: all checks passed" : $"packed client: {failures} check(s) failed");
return failures == 0 ? 0 : 1;

/// <summary>x -> 1.5 (x, x): a module of the user's own, without parameters.</summary>
sealed class Twice() : nn.Module<Tensor, Tensor>(nameof(Twice))
{
    public override Tensor forward(Tensor input) => cat([input, input], -1).mul(1.5);
}
