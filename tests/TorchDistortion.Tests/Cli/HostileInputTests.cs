using System.Text;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Tests.Cli;

/// <summary>
/// What a training run, a finished sweep and a file to keep look like on disk, made once for the whole catalogue.
/// Every case works in a folder of its own below <see cref="Root"/> and may read (never change) the shared files.
/// </summary>
public sealed class HostileFixture : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("torchdist-hostile").FullName;
    /// <summary>A finished training run folder (epochs 0..2, float64).</summary>
    public string Run { get; }
    /// <summary>A finished sweep folder (2 runs).</summary>
    public string Sweep { get; }

    public HostileFixture()
    {
        var settings = new TrainSettings(new TaskSpec(TaskKind.Moons, TrainSize: 64, TestSize: 32), Width: 6, Depth: 3, Epochs: 2, BatchSize: 32,
            Probes: 2, PatchPoints: 2, DType: "float64");
        Trainer.Run(settings, Path.Combine(Root, "checkpoints"));
        Run = Directory.GetDirectories(Path.Combine(Root, "checkpoints")).Single();
        Sweep = Path.Combine(Root, "sweep");
        SweepRunner.Run(new SweepSpec { SchemaVersion = 1, Width = [4], Depth = [1, 2], Networks = [5], Points = [2], Seed = 1 }, Sweep, Shard.All, DeviceSpec.Cpu);
        File.WriteAllText(Path.Combine(Root, "keep.txt"), "keep me");
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary>
/// The catalogue of hostile inputs and faults: malformed options, sweep files, corrupted or forged checkpoints and run
/// folders, unwritable paths, and kills mid-write. Each must give one line on stderr and a non-zero exit (a kill: the
/// SIGKILL exit), and leave every file already on disk as it was. Run in-process except the kills.
/// </summary>
public class HostileInputTests(HostileFixture fixture) : IClassFixture<HostileFixture>
{
    /// <summary>One hostile case: its class, and the setup that writes its files into the case folder and returns the command line.</summary>
    private sealed record Case(string Class, Func<HostileFixture, string, string[]> Make, string? KillAt = null, int KillNth = 1);

    private static readonly Dictionary<string, Case> Cases = Build();

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void HostileInputGetsOneLineAndChangesNothing(string name)
    {
        var hostile = Cases[name];
        string folder = Path.Combine(fixture.Root, "case-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(name)))[..10]);
        if (Directory.Exists(folder)) Directory.Delete(folder, true);
        Directory.CreateDirectory(folder);
        var args = hostile.Make(fixture, folder);
        var before = MessageTests.Snapshot(fixture.Root);
        if (hostile.KillAt is string pattern)
        {
            var killed = CliRunner.RunKilledAt(pattern, hostile.KillNth, args);
            Assert.True(killed.ExitCode == CliRunner.Killed, $"not killed (exit {killed.ExitCode}): {killed.Stderr}");
            Assert.Equal("", killed.Stderr);
            // A kill may leave new files (the half-written one as a temporary file), never a changed one.
            var after = MessageTests.Snapshot(fixture.Root);
            foreach (var (file, hash) in before) Assert.True(after.TryGetValue(file, out var now) && now == hash, $"{file} changed or lost");
            Assert.Contains(after.Keys, f => f.EndsWith(".tmp"));
            return;
        }
        string cwd = Environment.CurrentDirectory;
        Environment.CurrentDirectory = folder; // default output paths (results/, checkpoints/) land where the snapshot sees them
        CliRunner.Result result;
        try { result = CliRunner.RunInProcess(args); }
        finally { Environment.CurrentDirectory = cwd; }
        Assert.True(result.ExitCode == 2, $"exit {result.ExitCode}: {result.Stderr}");
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: "), $"expected one error line, got:\n{result.Stderr}");
        Assert.DoesNotContain("   at ", result.Stderr + result.Stdout);
        Assert.DoesNotContain("System.", lines[0]);
        Assert.Equal(before, MessageTests.Snapshot(fixture.Root));
    }

    [Fact]
    public void TheCatalogueHoldsAtLeastAHundredCasesInEveryClass()
    {
        var perClass = Cases.Values.GroupBy(c => c.Class).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(Cases.Count >= 100, string.Join(", ", perClass.Select(p => $"{p.Key}: {p.Value}")));
        Assert.Equal(["checkpoints", "kills", "options", "paths", "run and sweep folders", "sweep files"], perClass.Keys.Order());
    }

    // ----- building the cases -----

    private static Dictionary<string, Case> Build()
    {
        var cases = new Dictionary<string, Case>();
        void Add(string cls, string name, Func<HostileFixture, string, string[]> make, string? killAt = null, int nth = 1) =>
            cases.Add($"{cls}: {name}", new Case(cls, make, killAt, nth));
        void Options(string line) => Add("options", line, (_, d) => [.. line.Split(' '), .. Outputs(line, d)]);

        // Malformed options, each of every command.
        foreach (var line in new[]
        {
            "measure --width 0", "measure --width -3", "measure --width 1e3", "measure --depth 0", "measure --depth 99999999999",
            "measure --widths 8", "measure --widths 8,,8", "measure --widths 8;8", "measure --widths 8,8 --width 4",
            "measure --n0 0", "measure --nL -1", "measure --init", "measure --init He2", "measure --init variance --cw 0",
            "measure --init variance --cw inf", "measure --init orthogonal --cw -2", "measure --init lecun --cw 1",
            "measure --cout -1", "measure --cout nan", "measure --cb inf", "measure --no-bias --cb 0.5", "measure --networks -5",
            "measure --networks 1.5", "measure --seed x", "measure --points -1", "measure --size 0", "measure --size -inf",
            "measure --geometry patch --k 0", "measure --geometry patch --k 33", "measure --geometry fourier --modes 0",
            "measure --geometry polyline --n0 2 --polyline 0,0", "measure --geometry polyline --n0 2 --polyline a,b;c,d",
            "measure --moments 0", "measure --quantiles 1.5", "measure --quantiles 0.5,", "measure --chunk -1", "measure --geometry circle --n0 1", "measure --threads -1",
            "measure --dtype float128", "measure --method", "measure --format yaml", "measure --geometries 5",
            "measure --exact --geometry circle", "measure --exact --method double-vjp", "measure --exact --geometry fourier", "measure --activation sigmoid2",
            "sweep --width 0", "sweep --width 8 --depth x", "sweep --cw -1 --init variance", "sweep --shard 1/0", "sweep --shard -1/2",
            "sweep --shard a/b", "sweep --max-runs -1", "sweep --geometry torus", "sweep --dtype half", "sweep --networks 0",
            "train --epochs 0", "train --width 0", "train --depth 1001", "train --lr -1", "train --lr nan", "train --batch-size 0",
            "train --task mnist", "train --optimizer rmsprop", "train --seeds 1,,2", "train --dtype float16", "train --init variance",
            "train --momentum 2x", "train --probes -1", "train --train-size 0", "train --classes 1 --task mixture",
            "bench --widths 0", "bench --dtypes float16", "bench --seconds -1", "bench --threads 0",
            "plot", "merge", "merge --allow-partial", "reproduce --threads 0", "reproduce --device tpu", "doctor --threads x",
            "measure extra-argument", "sweep --list --frobnicate", "--version-please",
        })
            Options(line);

        // Sweep files.
        foreach (var (name, json) in new (string, string)[]
        {
            ("empty file", ""), ("not JSON", "width: [8]"), ("JSON array", "[1, 2]"), ("JSON null", "null"), ("truncated", "{\"schema_version\": 1, \"width\": [8"),
            ("unknown field", "{\"schema_version\": 1, \"widht\": [8]}"), ("string for a list", "{\"schema_version\": 1, \"depth\": \"deep\"}"),
            ("depth 0", "{\"schema_version\": 1, \"depth\": [0]}"), ("k above width", "{\"schema_version\": 1, \"width\": [4], \"geometry\": [\"patch\"], \"k\": [5]}"),
            ("unknown init", "{\"schema_version\": 1, \"init\": [\"xavier-magic\"]}"), ("no schema_version", "{\"width\": [8]}"),
            ("schema_version 2", "{\"schema_version\": 2}"), ("schema_version as string", "{\"schema_version\": \"1\"}"),
            ("width and widths", "{\"schema_version\": 1, \"width\": [8], \"widths\": [[8, 8]]}"), ("null init", "{\"schema_version\": 1, \"init\": null}"),
            ("empty list", "{\"schema_version\": 1, \"width\": []}"), ("huge widths", "{\"schema_version\": 1, \"widths\": [[100000, 100000, 100000]]}"),
            ("duplicate key", "{\"schema_version\":1,\"width\":[8],\"width\":[16]}"), ("negative cw", "{\"schema_version\": 1, \"init\": [\"variance\"], \"cw\": [-1]}"),
            ("exact patch", "{\"schema_version\": 1, \"geometry\": [\"patch\"], \"k\": [2], \"exact\": [true]}"),
            ("1.28e9 runs", "{\"schema_version\":1,\"width\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"depth\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"networks\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"points\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"n0\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"nl\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20],\"cb\":[0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9]}"),
            ("dtype float16", "{\"schema_version\": 1, \"dtype\": \"float16\"}"), ("moments 0", "{\"schema_version\": 1, \"moments\": 0}"),
            ("networks as string", "{\"schema_version\": 1, \"networks\": [\"many\"]}"), ("unknown activation", "{\"schema_version\": 1, \"activation\": [\"swish9\"]}"),
            ("seed as float", "{\"schema_version\": 1, \"seed\": 1.5}"), ("binary garbage", "\u0001\u0002\u0003\u00ff"),
        })
            Add("sweep files", name, (_, d) => { File.WriteAllText(Path.Combine(d, "s.json"), json); return ["sweep", Path.Combine(d, "s.json"), "-o", Path.Combine(d, "out")]; });
        Add("sweep files", "file is a folder", (_, d) => ["sweep", d, "--list"]);
        Add("sweep files", "file missing", (_, d) => ["sweep", Path.Combine(d, "none.json"), "--list"]);
        Add("sweep files", "file and options", (_, d) => { File.WriteAllText(Path.Combine(d, "s.json"), "{\"schema_version\": 1}"); return ["sweep", Path.Combine(d, "s.json"), "--width", "8", "--list"]; });

        // Corrupted or forged checkpoints, measured with measure --checkpoint.
        string[] Measure(string path) => ["measure", "--checkpoint", path, "--geometries", "3"];
        void Checkpoint(string name, string file, Func<HostileFixture, byte[]> bytes) =>
            Add("checkpoints", name, (f, d) => { File.WriteAllBytes(Path.Combine(d, file), bytes(f)); return Measure(Path.Combine(d, file)); });
        void Header(string name, string header, int data) => Checkpoint(name, "forged.safetensors", _ => Safetensors(header, new byte[data]));
        Checkpoint("empty .pt", "model.pt", _ => []);
        Checkpoint("random bytes .pt", "model.pt", _ => Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251)).ToArray());
        Checkpoint("legacy pickle", "model.pt", _ => [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, .. new byte[64]]);
        Checkpoint("zip header then junk", "model.pt", _ => [.. "PK\x03\x04"u8, .. new byte[200]]);
        Checkpoint("zip of text", "model.pt", _ => Zip("data.pkl", "not a pickle"u8.ToArray()));
        Checkpoint("truncated safetensors", "half.safetensors", f => Weights(f)[..(Weights(f).Length / 2)]);
        Checkpoint("safetensors with a byte appended", "long.safetensors", f => [.. Weights(f), 0]);
        Checkpoint("8 bytes only", "short.safetensors", _ => BitConverter.GetBytes(10UL));
        Checkpoint("header length above 100 MB", "big.safetensors", _ => [.. BitConverter.GetBytes(200_000_000UL), .. "{}"u8]);
        Checkpoint("header length past the end", "past.safetensors", _ => [.. BitConverter.GetBytes(1000UL), .. "{}"u8]);
        Checkpoint("header not JSON", "bad.safetensors", _ => [.. BitConverter.GetBytes(5UL), .. "{nope"u8]);
        Header("header a JSON array", "[1,2]", 0);
        Header("10^16 doubles announced", """{"0.weight":{"dtype":"F64","shape":[100000000,100000000],"data_offsets":[0,32]}}""", 32);
        Header("shape overflows", """{"0.weight":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,32]}}""", 32);
        Header("negative dimension", """{"0.weight":{"dtype":"F64","shape":[-2,-2],"data_offsets":[0,32]}}""", 32);
        Header("overlapping tensors", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[24,40]}}""", 40);
        Header("offsets past the data", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[32,64]}}""", 32);
        Header("offsets reversed", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[16,0]}}""", 32);
        Header("unknown dtype", """{"0.weight":{"dtype":"Q7","shape":[2,2],"data_offsets":[0,32]}}""", 32);
        Header("no dtype", """{"0.weight":{"shape":[2,2],"data_offsets":[0,32]}}""", 32);
        Header("shape as string", """{"0.weight":{"dtype":"F64","shape":"2x2","data_offsets":[0,32]}}""", 32);
        Header("no weights", """{"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}""", 16);
        Header("a 4-D (conv) weight", """{"0.weight":{"dtype":"F64","shape":[1,1,2,2],"data_offsets":[0,32]}}""", 32);
        Header("layers that do not chain", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"2.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[32,80]}}""", 80);
        Header("bias of the wrong shape", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"0.bias":{"dtype":"F64","shape":[3],"data_offsets":[32,56]}}""", 56);
        Header("a BatchNorm tensor beside", """{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"1.running_mean":{"dtype":"F64","shape":[2],"data_offsets":[32,48]}}""", 48);
        Header("integer weights", """{"0.weight":{"dtype":"I64","shape":[2,2],"data_offsets":[0,32]}}""", 32);
        Header("names that do not tell the order", """{"fc_in.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"fc_out.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[32,64]}}""", 64);
        Checkpoint("NaN weights", "nan.safetensors", _ => Safetensors("""{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]}}""",
            new[] { double.NaN, 1, 0, 1 }.SelectMany(BitConverter.GetBytes).ToArray()));
        Checkpoint("infinite bias", "inf.safetensors", _ => Safetensors("""{"0.weight":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]},"0.bias":{"dtype":"F64","shape":[2],"data_offsets":[32,48]}}""",
            new[] { 1, 0, 0, 1, double.PositiveInfinity, 0 }.SelectMany(BitConverter.GetBytes).ToArray()));
        Add("checkpoints", "file missing", (_, d) => Measure(Path.Combine(d, "none.safetensors")));
        Add("checkpoints", "wrong extension", (_, d) => { File.WriteAllText(Path.Combine(d, "model.txt"), "x"); return Measure(Path.Combine(d, "model.txt")); });
        Add("checkpoints", "folder without checkpoints", (_, d) => Measure(d));
        // Forged run checkpoints: a copy of the run with one thing changed.
        void Forged(string name, Func<string, string> forge) => Add("checkpoints", name, (f, d) => Measure(forge(CopyRun(f, d))));
        Forged("weights altered (SHA-256 mismatch)", run => { Flip(Path.Combine(run, "epoch-0001.safetensors"), 200); return Path.Combine(run, "epoch-0001.safetensors"); });
        Forged("weights truncated", run => { Truncate(Path.Combine(run, "epoch-0001.safetensors")); return Path.Combine(run, "epoch-0001.safetensors"); });
        Forged("sidecar not JSON", run => { File.WriteAllText(Path.Combine(run, "epoch-0001.json"), "{"); return Path.Combine(run, "epoch-0001.json"); });
        Forged("sidecar without hashes", run => { File.WriteAllText(Path.Combine(run, "epoch-0001.json"), "{}"); return Path.Combine(run, "epoch-0001.json"); });
        Forged("sidecar missing, in a run folder", run => { File.Delete(Path.Combine(run, "epoch-0001.json")); return Path.Combine(run, "epoch-0001.safetensors"); });
        Forged("weights missing", run => { File.Delete(Path.Combine(run, "epoch-0001.safetensors")); return Path.Combine(run, "epoch-0001.json"); });
        Forged("sidecar of another run", run =>
        {
            File.WriteAllText(Path.Combine(run, "run.json"), File.ReadAllText(Path.Combine(run, "run.json")).Replace("moons-he", "moons-hx"));
            return Path.Combine(run, "epoch-0001.json");
        });
        Forged("run.json not JSON", run => { File.WriteAllText(Path.Combine(run, "run.json"), "]"); return Path.Combine(run, "epoch-0001.json"); });
        Add("checkpoints", "output onto its own sidecar", (f, d) =>
        {
            string run = CopyRun(f, d);
            return [.. Measure(Path.Combine(run, "epoch-0001.safetensors")), "-o", Path.Combine(run, "epoch-0001.json")];
        });

        // Run folders (resume) and sweep folders (merge, plot).
        string[] Resume(string run, string d) => ["train", "--resume", run, "--out", Path.Combine(d, "out"), "--no-progress"];
        Add("run and sweep folders", "resume: folder missing", (_, d) => Resume(Path.Combine(d, "none"), d));
        Add("run and sweep folders", "resume: not a run folder", (_, d) => Resume(d, d));
        Add("run and sweep folders", "resume: run.json edited", (f, d) =>
        {
            string run = CopyRun(f, d);
            File.WriteAllText(Path.Combine(run, "run.json"), File.ReadAllText(Path.Combine(run, "run.json")).Replace("\"width\": 6", "\"width\": 7"));
            return Resume(run, d);
        });
        Add("run and sweep folders", "resume: every checkpoint damaged", (f, d) =>
        {
            string run = CopyRun(f, d);
            foreach (var w in Directory.GetFiles(run, "*.safetensors")) Flip(w, 100);
            return Resume(run, d);
        });
        Add("run and sweep folders", "resume: run.json not JSON", (f, d) => { string run = CopyRun(f, d); File.WriteAllText(Path.Combine(run, "run.json"), "{"); return Resume(run, d); });
        Add("run and sweep folders", "resume with other settings", (f, d) => [.. Resume(CopyRun(f, d), d), "--width", "9"]);
        Add("run and sweep folders", "merge: folder missing", (_, d) => ["merge", Path.Combine(d, "none"), "-o", Path.Combine(d, "m")]);
        Add("run and sweep folders", "merge: not a sweep folder", (_, d) => ["merge", d, "-o", Path.Combine(d, "m")]);
        Add("run and sweep folders", "merge into an input", (f, d) => ["merge", f.Sweep, "-o", f.Sweep]);
        Add("run and sweep folders", "merge: sweep.json corrupt", (f, d) =>
        {
            string copy = CopyFolder(f.Sweep, Path.Combine(d, "sweep"));
            File.WriteAllText(Path.Combine(copy, "sweep.json"), "{");
            return ["merge", copy, "-o", Path.Combine(d, "m")];
        });
        Add("run and sweep folders", "merge: two different sweeps", (f, d) =>
        {
            string other = Path.Combine(d, "other");
            SweepRunner.Run(new SweepSpec { SchemaVersion = 1, Width = [4], Depth = [1], Networks = [5], Points = [2], Seed = 2 }, other, Shard.All, DeviceSpec.Cpu);
            return ["merge", f.Sweep, other, "-o", Path.Combine(d, "m")];
        });
        Add("run and sweep folders", "merge: duplicate runs disagree", (f, d) =>
        {
            string copy = CopyFolder(f.Sweep, Path.Combine(d, "sweep"));
            string run = Directory.GetFiles(Path.Combine(copy, "runs"), "*.json").First();
            var text = File.ReadAllText(run);
            int at = text.IndexOf("\"value\": ") + "\"value\": ".Length;
            File.WriteAllText(run, text[..at] + "1" + text[at..]);
            return ["merge", f.Sweep, copy, "-o", Path.Combine(d, "m")];
        });
        Add("run and sweep folders", "merge: missing runs", (f, d) =>
        {
            string copy = CopyFolder(f.Sweep, Path.Combine(d, "sweep"));
            File.Delete(Directory.GetFiles(Path.Combine(copy, "runs"), "*.json").First());
            foreach (var r in Directory.GetFiles(copy, "results.*")) File.Delete(r);
            return ["merge", copy, "-o", Path.Combine(d, "m")];
        });
        Add("run and sweep folders", "plot: folder missing", (_, d) => ["plot", Path.Combine(d, "none")]);
        Add("run and sweep folders", "plot: results.json corrupt", (f, d) =>
        {
            string copy = CopyFolder(f.Sweep, Path.Combine(d, "sweep"));
            File.WriteAllText(Path.Combine(copy, "results.json"), "{\"rows\": 3");
            return ["plot", copy];
        });
        Add("run and sweep folders", "plot: unknown x", (f, d) => ["plot", CopyFolder(f.Sweep, Path.Combine(d, "sweep")), "--x", "colour"]);
        Add("run and sweep folders", "plot: unknown statistic", (f, d) => ["plot", CopyFolder(f.Sweep, Path.Combine(d, "sweep")), "--statistic", "E[D^9]"]);
        Add("run and sweep folders", "sweep into another sweep's folder", (f, d) =>
            ["sweep", "--width", "5", "--networks", "3", "-o", CopyFolder(f.Sweep, Path.Combine(d, "sweep")), "--no-progress"]);

        // Unwritable paths.
        void Path_(string name, Func<HostileFixture, string, string[]> make) => Add("paths", name, make);
        string Keep(HostileFixture f) => Path.Combine(f.Root, "keep.txt");
        Path_("measure -o /proc", (_, _) => ["measure", "--networks", "2", "-o", "/proc/torchdist-no/r.json"]);
        Path_("measure -o /sys", (_, _) => ["measure", "--networks", "2", "-o", "/sys/r.json"]);
        Path_("measure -o below a file", (f, _) => ["measure", "--networks", "2", "-o", Path.Combine(Keep(f), "r.json")]);
        Path_("measure -o a folder", (_, d) => ["measure", "--networks", "2", "-o", d]);
        Path_("measure -o empty name", (_, _) => ["measure", "--networks", "2", "-o", " "]);
        Path_("measure -o into a run folder", (f, d) => ["measure", "--checkpoint", Path.Combine(CopyRun(f, d), "epoch-0001.safetensors"), "-o", Path.Combine(d, "run", "run.json")]);
        Path_("--export-points below a file", (f, d) => ["measure", "--checkpoint", Path.Combine(f.Run, "epoch-0001.safetensors"), "--export-points", Path.Combine(Keep(f), "n.json")]);
        Path_("sweep -o /proc", (_, _) => ["sweep", "--width", "4", "--networks", "2", "-o", "/proc/torchdist-no"]);
        Path_("sweep -o a file", (f, _) => ["sweep", "--width", "4", "--networks", "2", "-o", Keep(f)]);
        Path_("train --checkpoints below a file", (f, d) => ["train", "--epochs", "1", "--checkpoints", Path.Combine(Keep(f), "c"), "--out", Path.Combine(d, "o")]);
        Path_("train --out /proc", (_, d) => ["train", "--epochs", "1", "--checkpoints", Path.Combine(d, "c"), "--out", "/proc/torchdist-no"]);
        Path_("merge -o /proc", (f, _) => ["merge", f.Sweep, "-o", "/proc/torchdist-no"]);
        Path_("merge -o a file", (f, _) => ["merge", f.Sweep, "-o", Keep(f)]);
        Path_("bench -o /proc", (_, _) => ["bench", "--widths", "16", "--dtypes", "float32", "--threads", "1", "--seconds", "0.01", "-o", "/proc/torchdist-no/b.json"]);
        Path_("reproduce -o /sys", (_, _) => ["reproduce", "-o", "/sys/torchdist-no"]);
        Path_("reproduce -o a file", (f, _) => ["reproduce", "-o", Keep(f)]);

        // Kills mid-write (SIGKILL between writing the temporary file and renaming it), in a real process.
        Add("kills", "measure -o", (_, d) => ["measure", "--networks", "3", "--points", "2", "-o", Path.Combine(d, "r.json")], @"/r\.json$");
        Add("kills", "sweep, first run file", (_, d) => ["sweep", "--width", "4", "--depth", "1,2", "--networks", "3", "--points", "2", "-o", Path.Combine(d, "s"), "--no-progress"], @"/runs/[0-9a-f]{12}\.json$");
        Add("kills", "sweep, results.csv", (_, d) => ["sweep", "--width", "4", "--depth", "1,2", "--networks", "3", "--points", "2", "-o", Path.Combine(d, "s"), "--no-progress"], @"/results\.csv$");
        Add("kills", "merge, results.json", (f, d) => ["merge", f.Sweep, "-o", Path.Combine(d, "m")], @"/results\.json$");
        Add("kills", "resume, history rewrite", (f, d) =>
        {
            string run = CopyRun(f, d);
            foreach (var file in Directory.GetFiles(run, "epoch-0002.*")) File.Delete(file);
            return Resume(run, d);
        }, @"/history\.csv$");
        Add("kills", "export-points", (f, d) => ["measure", "--checkpoint", Path.Combine(f.Run, "epoch-0001.safetensors"), "--geometries", "2", "--export-points", Path.Combine(d, "n.json")], @"/n\.json$");
        return cases;
    }

    /// <summary>Output paths for option cases that might get past validation: into the case folder, never the working folder.</summary>
    private static string[] Outputs(string line, string folder) => line.Split(' ')[0] switch
    {
        "train" => ["--checkpoints", Path.Combine(folder, "c"), "--out", Path.Combine(folder, "o"), "--no-progress", .. line.Contains("--train-size") ? [] : new[] { "--train-size", "64" }],
        "sweep" when !line.Contains("--list") => ["-o", Path.Combine(folder, "s"), "--no-progress"],
        "bench" => ["-o", Path.Combine(folder, "b.json")],
        "reproduce" => ["-o", Path.Combine(folder, "r")],
        _ => [],
    };

    private static byte[] Weights(HostileFixture f) => File.ReadAllBytes(Path.Combine(f.Run, "epoch-0001.safetensors"));

    private static byte[] Safetensors(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. data];
    }

    private static byte[] Zip(string entry, byte[] contents)
    {
        using var stream = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        using (var s = zip.CreateEntry("archive/" + entry).Open()) s.Write(contents);
        return stream.ToArray();
    }

    private static string CopyRun(HostileFixture f, string folder) => CopyFolder(f.Run, Path.Combine(folder, "run"));

    private static string CopyFolder(string from, string to)
    {
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        return to;
    }

    private static void Flip(string file, int at)
    {
        var bytes = File.ReadAllBytes(file);
        bytes[Math.Min(at, bytes.Length - 1)] ^= 0xff;
        File.WriteAllBytes(file, bytes);
    }

    private static void Truncate(string file)
    {
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
    }
}
