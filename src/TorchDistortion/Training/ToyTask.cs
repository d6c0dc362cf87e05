using System.Globalization;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>The generated toy tasks: classification in 2-D (and a Gaussian mixture in any dimension), regression in any dimension.</summary>
public enum TaskKind { Spirals, Circles, Moons, Xor, Checkerboard, Mixture, Sines, Teacher }

/// <summary>
/// A seeded toy task with a train and a test split drawn from the same distribution.
/// Classification tasks use cross-entropy on logits (one output per class) and report accuracy;
/// regression tasks use mean squared error and report R^2 = 1 - MSE / Var(y) on the split.
/// </summary>
/// <param name="Kind">Which task.</param>
/// <param name="InputDim">n0: fixed to 2 for the 2-D tasks; any for mixture, sines and teacher.</param>
/// <param name="Classes">Number of classes of the mixture (the 2-D tasks have 2).</param>
/// <param name="TrainSize">Training examples.</param>
/// <param name="TestSize">Test examples.</param>
/// <param name="Noise">Input noise (2-D tasks), cluster spread (mixture) or target noise (regression); null: the task's default.</param>
/// <param name="TeacherWidth">Hidden width of the teacher network.</param>
/// <param name="TeacherDepth">Weight layers of the teacher network.</param>
public sealed record TaskSpec(
    TaskKind Kind = TaskKind.Spirals,
    int InputDim = 2,
    int Classes = 2,
    int TrainSize = 2000,
    int TestSize = 1000,
    double? Noise = null,
    int TeacherWidth = 32,
    int TeacherDepth = 3)
{
    public static IReadOnlyList<string> KindNames { get; } = Enum.GetNames<TaskKind>().Select(n => n.ToLowerInvariant()).ToArray();

    public static TaskKind ParseKind(string name) =>
        KindNames.Contains(name.ToLowerInvariant())
            ? Enum.Parse<TaskKind>(name, ignoreCase: true)
            : throw new SettingException("task", $": unknown task '{name}'; allowed: {string.Join(", ", KindNames)}");

    public bool IsClassification => Kind is not (TaskKind.Sines or TaskKind.Teacher);

    /// <summary>The input dimension of a task when none is given: 2 for the planar tasks, 10 for the mixture, 4 otherwise.</summary>
    public static int DefaultInputDim(TaskKind kind) =>
        kind is TaskKind.Spirals or TaskKind.Circles or TaskKind.Moons or TaskKind.Xor or TaskKind.Checkerboard ? 2 : kind == TaskKind.Mixture ? 10 : 4;

    /// <summary>Network outputs: one logit per class, or one regression target.</summary>
    public int OutputDim => IsClassification ? (Kind == TaskKind.Mixture ? Classes : 2) : 1;

    public double NoiseOrDefault => Noise ?? Kind switch
    {
        TaskKind.Spirals or TaskKind.Circles => 0.05,
        TaskKind.Moons => 0.1,
        TaskKind.Xor or TaskKind.Checkerboard => 0.0,
        TaskKind.Mixture => 1.0,
        _ => 0.05,
    };

    public string LossName => IsClassification ? "cross-entropy" : "mse";
    public string MetricName => IsClassification ? "accuracy" : "r2";

    public TaskSpec Validate()
    {
        bool planar = Kind is TaskKind.Spirals or TaskKind.Circles or TaskKind.Moons or TaskKind.Xor or TaskKind.Checkerboard;
        if (planar && InputDim != 2) throw new SettingException("n0", $": task {Kind.ToString().ToLowerInvariant()} is 2-D; got n0 = {InputDim}");
        if (InputDim < 1 || InputDim > 4096) throw new SettingException("n0", $"must be between 1 and 4096, got {InputDim}");
        if (Kind == TaskKind.Mixture && (Classes < 2 || Classes > 1000)) throw new SettingException("classes", $"must be between 2 and 1000, got {Classes}");
        if (Kind != TaskKind.Mixture && Classes != 2 && IsClassification) throw new SettingException("classes", "applies to the mixture task only");
        if (TrainSize < 2 || TrainSize > 10_000_000) throw new SettingException("train_size", $"must be between 2 and 10000000, got {TrainSize}");
        if (TestSize < 1 || TestSize > 10_000_000) throw new SettingException("test_size", $"must be between 1 and 10000000, got {TestSize}");
        if (!(NoiseOrDefault >= 0 && NoiseOrDefault <= 1000)) throw new SettingException("noise", $"must be between 0 and 1000, got {NoiseOrDefault}");
        if (Kind == TaskKind.Teacher && (TeacherWidth < 1 || TeacherDepth < 1 || TeacherWidth > 65536 || TeacherDepth > 1000))
            throw new SettingException("teacher_width", "must be between 1 and 65536 and the teacher depth between 1 and 1000");
        return this;
    }

    public override string ToString() =>
        $"{Kind.ToString().ToLowerInvariant()} (n0={InputDim}{(Kind == TaskKind.Mixture ? $", {Classes} classes" : "")}, {TrainSize} train / {TestSize} test, noise {NoiseOrDefault:G3})";
}

/// <summary>A task's data: inputs [N, n0] and targets (class indices [N] int64, or values [N, 1]), float64 on the CPU.</summary>
internal sealed record ToyData(TaskSpec Spec, Tensor TrainX, Tensor TrainY, Tensor TestX, Tensor TestY) : IDisposable
{
    public void Dispose()
    {
        TrainX.Dispose(); TrainY.Dispose(); TestX.Dispose(); TestY.Dispose();
    }

    /// <summary>
    /// The data segment's endpoints: the first training input and the first one of another class (regression:
    /// the first two inputs). A curve through the data, fixed for the whole run.
    /// </summary>
    internal (double[] Start, double[] End) DataSegment()
    {
        var x = TrainX.data<double>().ToArray();
        int n0 = Spec.InputDim;
        int other = 1;
        if (Spec.IsClassification)
        {
            var labels = TrainY.data<long>().ToArray();
            other = Array.FindIndex(labels, l => l != labels[0]);
            if (other < 0) throw new SettingException("train_size", ": the training split has a single class; use more examples");
        }
        return (x[..n0], x[(other * n0)..((other + 1) * n0)]);
    }
}

/// <summary>Draws the data of the toy tasks.</summary>
public static class ToyTasks
{

    /// <summary>Draws the train and test splits from <paramref name="seed"/>: the same seed gives the same data bit for bit.</summary>
    internal static ToyData Generate(TaskSpec spec, long seed)
    {
        spec.Validate();
        using var scope = NewDisposeScope();
        using var generator = new Generator(Seeds.Derive(seed, 0, Seeds.Stream.ToyData));
        // Task parameters (teacher, frequencies, cluster means) first, then the examples: train, then test.
        var task = Parameters(spec, generator, seed);
        var (trainX, trainY) = Draw(spec, task, spec.TrainSize, generator);
        var (testX, testY) = Draw(spec, task, spec.TestSize, generator);
        return new ToyData(spec, trainX.MoveToOuterDisposeScope(), trainY.MoveToOuterDisposeScope(),
            testX.MoveToOuterDisposeScope(), testY.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Writes the splits of <paramref name="spec"/> drawn from <paramref name="seed"/> as train.csv and test.csv in
    /// <paramref name="folder"/> (columns x0..x{n0-1} and label or y; float64 in round-trip notation). Returns the paths.
    /// </summary>
    public static string[] Export(TaskSpec spec, long seed, string folder)
    {
        Files.EnsureWritableFolder(folder, "--export-data");
        using var data = Generate(spec, seed);
        var paths = new[] { Path.Combine(folder, "train.csv"), Path.Combine(folder, "test.csv") };
        Files.WriteAtomically(paths[0], Csv(spec, data.TrainX, data.TrainY));
        Files.WriteAtomically(paths[1], Csv(spec, data.TestX, data.TestY));
        return paths;
    }

    private static string Csv(TaskSpec spec, Tensor x, Tensor y)
    {
        int n0 = spec.InputDim;
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Join(",", Enumerable.Range(0, n0).Select(i => $"x{i}").Append(spec.IsClassification ? "label" : "y")));
        var inputs = x.data<double>().ToArray();
        var targets = spec.IsClassification ? y.data<long>().ToArray().Select(l => l.ToString(CultureInfo.InvariantCulture)).ToArray()
            : y.data<double>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray();
        for (int i = 0; i < targets.Length; i++)
        {
            for (int j = 0; j < n0; j++) text.Append(inputs[i * n0 + j].ToString("R", CultureInfo.InvariantCulture)).Append(',');
            text.AppendLine(targets[i]);
        }
        return text.ToString();
    }

    private sealed record TaskParameters(Tensor? Frequencies, Tensor? Phases, Tensor? Means, Mlp? Teacher);

    private static TaskParameters Parameters(TaskSpec spec, Generator generator, long seed)
    {
        int n0 = spec.InputDim;
        switch (spec.Kind)
        {
            case TaskKind.Sines:
                // Four plane waves sin(w . x + phase), w ~ N(0, I / n0) so the target varies on the unit scale whatever n0.
                return new TaskParameters(randn([4, n0], float64, generator: generator).div_(Math.Sqrt(n0)).mul_(2.0),
                    rand([4], float64, generator: generator).mul_(2 * Math.PI), null, null);
            case TaskKind.Mixture:
                // Class means ~ N(0, 4 I / sqrt(n0)): neighbouring clusters overlap a little at the default spread 1.
                return new TaskParameters(null, null, randn([spec.Classes, n0], float64, generator: generator).mul_(2.0 / Math.Pow(n0, 0.25)), null);
            case TaskKind.Teacher:
                var widths = NetworkSpec.Shorthand(spec.TeacherWidth, spec.TeacherDepth, n0, 1);
                long teacherSeed = (long)Seeds.Derive(seed, 1, Seeds.Stream.ToyData);
                return new TaskParameters(null, null, null, Mlp.Create(new NetworkSpec(widths, InitScheme.Parse("he"), Generator: WeightGenerator.Torch), 1, teacherSeed));
            default:
                return new TaskParameters(null, null, null, null);
        }
    }

    private static (Tensor X, Tensor Y) Draw(TaskSpec spec, TaskParameters task, int count, Generator generator)
    {
        double noise = spec.NoiseOrDefault;
        // Balanced classes: example i has label i mod C.
        var labels = arange(count, int64).remainder_(spec.OutputDim);
        var c = labels.to(float64);
        switch (spec.Kind)
        {
            case TaskKind.Spirals:
            {
                // Two interleaved spirals of 1.5 turns, radius growing to 1; class 1 is class 0 turned by pi.
                var t = rand([count], float64, generator: generator).sqrt_();
                var angle = t * (3 * Math.PI) + c * Math.PI;
                var x = stack([t * angle.cos(), t * angle.sin()], 1);
                return (x.add_(randn([count, 2], float64, generator: generator).mul_(noise)), labels);
            }
            case TaskKind.Circles:
            {
                // Concentric circles: class 0 on radius 1, class 1 on radius 0.5.
                var angle = rand([count], float64, generator: generator).mul_(2 * Math.PI);
                var radius = 1.0 - 0.5 * c;
                var x = stack([radius * angle.cos(), radius * angle.sin()], 1);
                return (x.add_(randn([count, 2], float64, generator: generator).mul_(noise)), labels);
            }
            case TaskKind.Moons:
            {
                // Two interleaving half circles, centred on the origin.
                var angle = rand([count], float64, generator: generator).mul_(Math.PI);
                var upper = stack([angle.cos(), angle.sin()], 1);
                var lower = stack([1.0 - angle.cos(), 0.5 - angle.sin()], 1);
                var x = where(labels.unsqueeze(1).eq(0), upper, lower).sub_(tensor(new[] { 0.5, 0.25 }, float64));
                return (x.add_(randn([count, 2], float64, generator: generator).mul_(noise)), labels);
            }
            case TaskKind.Xor or TaskKind.Checkerboard:
            {
                // A 2x2 (xor) or 4x4 (checkerboard) board on [-1, 1]^2; the label is the colour of the cell. Example i
                // falls uniformly in a random cell of colour i mod 2: row r, column 2q + ((r + label) mod 2).
                int cells = spec.Kind == TaskKind.Xor ? 2 : 4;
                var row = randint(cells, [count], dtype: int64, generator: generator);
                var column = randint(cells / 2, [count], dtype: int64, generator: generator).mul_(2).add_(row.add(labels).remainder_(2));
                var x = stack([column, row], 1).to(float64).add_(rand([count, 2], float64, generator: generator)).mul_(2.0 / cells).sub_(1);
                return (x.add_(randn([count, 2], float64, generator: generator).mul_(noise)), labels);
            }
            case TaskKind.Mixture:
            {
                var x = task.Means!.index_select(0, labels);
                return (x.add_(randn([count, spec.InputDim], float64, generator: generator).mul_(noise)), labels);
            }
            case TaskKind.Sines:
            {
                var x = rand([count, spec.InputDim], float64, generator: generator).mul_(4).sub_(2);
                var y = x.matmul(task.Frequencies!.t()).add_(task.Phases!).sin_().sum(1, keepdim: true).div_(2.0);
                return (x, y.add_(randn([count, 1], float64, generator: generator).mul_(noise)));
            }
            case TaskKind.Teacher:
            {
                var x = randn([count, spec.InputDim], float64, generator: generator);
                Tensor y;
                using (no_grad()) y = task.Teacher!.call(x);
                return (x, y.add_(randn([count, 1], float64, generator: generator).mul_(noise)));
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(spec));
        }
    }
}
