using System.Text.Json;
using System.Text.Json.Serialization;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>
/// Everything that defines one training run. Its id is a hash of these settings, so the same command finds the
/// same run folder again and continues it; the device and thread count are not part of it.
/// </summary>
/// <param name="Task">The toy task.</param>
/// <param name="DataSeed">Seed of the task's data and of the probe geometry (shared by all runs of a command).</param>
/// <param name="Width">Hidden width.</param>
/// <param name="Depth">Weight layers L (L - 1 hidden layers).</param>
/// <param name="Init">Init scheme name (see <see cref="InitScheme.Names"/>).</param>
/// <param name="CW">C_W for the variance and orthogonal schemes.</param>
/// <param name="Bias">Layers with (trainable, zero-initialised) biases.</param>
/// <param name="Optimizer">"adam" or "sgd" (with momentum).</param>
/// <param name="LearningRate">Step size.</param>
/// <param name="Momentum">SGD momentum (ignored by Adam).</param>
/// <param name="WeightDecay">L2 weight decay, as torch.optim applies it.</param>
/// <param name="BatchSize">Examples per step; the last batch of an epoch may be smaller.</param>
/// <param name="Epochs">Passes over the training split.</param>
/// <param name="ProbeSteps">Evaluate, probe and checkpoint every this many steps; 0: at the end of every epoch.</param>
/// <param name="Probes">Random probe segments and k = 2 patches measured at every evaluation.</param>
/// <param name="PatchPoints">Quadrature nodes per side of a probe patch.</param>
/// <param name="Seed">Seed of the initial weights and of the batch order.</param>
/// <param name="DType">"float32" or "float64".</param>
/// <param name="Activation">Canonical activation name (see <see cref="Networks.Activation.Names"/>); null for ReLU, and then left out
/// of the JSON so that ReLU runs keep the ids they had before activations existed.</param>
/// <param name="DataProbes">Pairs of test inputs of the same class, and as many of different classes, whose segments are measured
/// at every evaluation (0: none; left out of the JSON then, for the same reason).</param>
public sealed record TrainSettings(
    TaskSpec Task,
    long DataSeed = 0,
    int Width = 64,
    int Depth = 6,
    string Init = "he",
    double? CW = null,
    bool Bias = true,
    string Optimizer = "adam",
    double LearningRate = 3e-3,
    double Momentum = 0.9,
    double WeightDecay = 0.0,
    int BatchSize = 64,
    int Epochs = 40,
    int ProbeSteps = 0,
    int Probes = 16,
    int PatchPoints = 8,
    long Seed = 0,
    string DType = "float32",
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Activation = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int DataProbes = 0)
{
    /// <summary>The JSON options of run.json, checkpoint sidecars and the reports of saved networks: snake_case, indented.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The network trained. Its initial weights come from the torch generator, as in every earlier version: a run's id
    /// stands for its numbers, and drawing a few networks costs nothing beside training them.</summary>
    public NetworkSpec Network() =>
        new(NetworkSpec.Shorthand(Width, Depth, Task.InputDim, Task.OutputDim), InitScheme.Parse(Init, CW), Bias: Bias, Nonlinearity: Nonlinearity(),
            Generator: WeightGenerator.Torch);

    /// <summary>The activation these settings name; null for ReLU (the default).</summary>
    internal Networks.Activation? Nonlinearity() => Activation is null ? null : Networks.Activation.Parse(Activation);

    /// <summary>The value of <see cref="Activation"/> for an activation the user named: canonical, and null for ReLU.</summary>
    public static string? ActivationField(string name)
    {
        var activation = Networks.Activation.Parse(name);
        return activation == Networks.Activation.ReLU ? null : activation.Name;
    }

    public ScalarType ScalarType => DTypes.Parse(DType);

    public int StepsPerEpoch => (int)(((long)Task.TrainSize + BatchSize - 1) / BatchSize);

    public long TotalSteps => (long)StepsPerEpoch * Epochs;

    /// <summary>Readable and unique: task, activation (unless ReLU), init, seed, and twelve hex digits of the settings' hash.</summary>
    public string RunId() =>
        $"{Task.Kind.ToString().ToLowerInvariant()}-{(Activation is null ? "" : Activation.Replace(":", "").Replace(',', '_') + "-")}{Init}{(CW is double c ? c.ToString("G4", System.Globalization.CultureInfo.InvariantCulture) : "")}-seed{Seed}-" +
        RunSpec.Hash(JsonSerializer.Serialize(this, Json));

    public TrainSettings Validate()
    {
        // A hand-edited run.json or sidecar may lack fields that the command line always fills.
        if (Task is null || Init is null || Optimizer is null || DType is null)
            throw new ArgumentException("settings: task, init, optimizer and dtype are required");
        Task.Validate();
        if (Width < 1 || Width > 65536) throw new SettingException("width", $"must be between 1 and 65536, got {Width}");
        if (Depth < 1 || Depth > 1000) throw new SettingException("depth", $"must be between 1 and 1000, got {Depth}");
        Network().Validate();
        if (Optimizer is not ("adam" or "sgd")) throw new SettingException("optimizer", $": unknown optimizer '{Optimizer}'; allowed: adam, sgd");
        if (!(LearningRate > 0 && LearningRate <= 1e30)) throw new SettingException("lr", $"must be a positive number up to 1e30, got {LearningRate}");
        if (!(Momentum >= 0 && Momentum < 1)) throw new SettingException("momentum", $"must be in [0, 1), got {Momentum}");
        if (!(WeightDecay >= 0) || !double.IsFinite(WeightDecay)) throw new SettingException("weight_decay", $"must be a finite number >= 0, got {WeightDecay}");
        if (BatchSize < 1 || BatchSize > 10_000_000) throw new SettingException("batch_size", $"must be between 1 and 10000000, got {BatchSize}");
        if (Epochs < 1 || Epochs > 1_000_000) throw new SettingException("epochs", $"must be between 1 and 1000000, got {Epochs}");
        if (ProbeSteps < 0) throw new SettingException("probe_steps", $"must be >= 0 (0 = every epoch), got {ProbeSteps}");
        if (Probes < 1 || Probes > 100_000) throw new SettingException("probes", $"must be between 1 and 100000, got {Probes}");
        if (PatchPoints < 2 || PatchPoints > 256) throw new SettingException("patch_points", $"must be between 2 and 256, got {PatchPoints}");
        if (!DTypes.Names.Contains(DType)) throw new SettingException("dtype", $": unknown dtype '{DType}'; allowed: float32, float64");
        // A hand-edited file may spell ReLU or an activation otherwise: one spelling per activation keeps one run id per run.
        if (Activation is not null && ActivationField(Activation) != Activation)
            throw new SettingException("activation", $": '{Activation}' is not the canonical name (relu is left out; otherwise '{ActivationField(Activation)}')");
        if (DataProbes < 0 || DataProbes > 10_000) throw new SettingException("data_probes", $"must be between 0 and 10000, got {DataProbes}");
        if (DataProbes > 0 && !Task.IsClassification)
            throw new SettingException("data_probes", "needs a classification task: its pairs are of the same class or of different classes");
        if (DataProbes > Task.TestSize) throw new SettingException("data_probes", $"must be at most the test size ({Task.TestSize}), got {DataProbes}");
        return this;
    }

    /// <summary>Whether the run evaluates, probes and checkpoints after <paramref name="step"/> steps (always at 0 and at the end).</summary>
    internal bool IsEvaluationStep(long step) =>
        step == 0 || step == TotalSteps || (ProbeSteps > 0 ? step % ProbeSteps == 0 : step % StepsPerEpoch == 0);
}
