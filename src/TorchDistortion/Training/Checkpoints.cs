using System.Security.Cryptography;
using System.Text.Json;
using TorchDistortion.Experiments;
using TorchDistortion.Networks;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>
/// The JSON sidecar of a checkpoint: the run's full configuration, where it stands, the SHA-256 of the weights and
/// optimizer files, the history so far and the build's provenance. Written after the files it describes, so
/// its presence marks a complete checkpoint.
/// </summary>
public sealed record CheckpointInfo(
    string Format,
    int Version,
    string RunId,
    TrainSettings Settings,
    IReadOnlyList<int> Widths,
    long Step,
    double Epoch,
    string Weights,
    string WeightsSha256,
    string OptimizerState,
    string OptimizerSha256,
    IReadOnlyList<HistoryRow> History,
    Provenance Provenance)
{
    internal const string FormatName = "torchdistortion-checkpoint";
}

/// <summary>
/// Checkpoints of a training run: per evaluation, weights (safetensors, PyTorch nn.Sequential names), optimizer state
/// (TorchSharp's binary format) and the sidecar, each written atomically, the sidecar last. Public: loading a network
/// (<see cref="LoadNetwork"/>, also any PyTorch state_dict of an MLP) and listing a run's checkpoints (<see cref="List"/>).
/// </summary>
public static class Checkpoints
{
    internal const string RunFile = "run.json";

    /// <summary>"epoch-0005" at an epoch boundary, else "step-00000123".</summary>
    internal static string Name(TrainSettings settings, long step) =>
        step % settings.StepsPerEpoch == 0 ? $"epoch-{step / settings.StepsPerEpoch:D4}" : $"step-{step:D8}";

    internal static void Save(string folder, string runId, TrainSettings settings, long step, Mlp net, optim.Optimizer optimizer,
        IReadOnlyList<HistoryRow> history, string device)
    {
        string name = Name(settings, step);
        try
        {
            byte[] weights = StateDicts.SafetensorsBytes(net);
            byte[] state = OptimizerBytes(optimizer);
            Files.WriteAtomically(Path.Combine(folder, name + ".safetensors"), weights);
            Files.WriteAtomically(Path.Combine(folder, name + ".optimizer"), state);
            var info = new CheckpointInfo(CheckpointInfo.FormatName, 1, runId, settings, net.Spec.Widths, step, (double)step / settings.StepsPerEpoch,
                name + ".safetensors", Sha256(weights), name + ".optimizer", Sha256(state), history, Provenance.Current(device, settings.DType));
            Files.WriteAtomically(Path.Combine(folder, name + ".json"), JsonSerializer.Serialize(info, TrainSettings.Json));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write checkpoint '{Path.Combine(folder, name)}': {Files.Reason(folder, e)}; earlier checkpoints are intact");
        }
    }

    /// <summary>
    /// Deletes the checkpoints of earlier evaluations that <paramref name="keep"/> leaves out, after the newest was written:
    /// the sidecar first, so a checkpoint half deleted by a kill reads as incomplete and is never used. Only those kept one
    /// evaluation earlier can be there, unless <paramref name="everything"/> (the first prune of a session: a rerun may have
    /// been started with another --keep).
    /// </summary>
    internal static void Prune(string folder, TrainSettings settings, IReadOnlyList<HistoryRow> history, Retention keep, bool everything)
    {
        for (int i = 0; i < history.Count - 1; i++)
        {
            if (keep.Keeps(i, history.Count) || !(everything || keep.Keeps(i, history.Count - 1))) continue;
            string name = Name(settings, history[i].Step);
            foreach (var extension in new[] { ".json", ".safetensors", ".optimizer" })
                File.Delete(Path.Combine(folder, name + extension));
        }
    }

    private static byte[] OptimizerBytes(optim.Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(writer);
        return stream.ToArray();
    }

    /// <summary>Restores the optimizer from verified bytes; state of another shape or kind is refused naming the file and <paramref name="option"/>.</summary>
    internal static void LoadOptimizer(optim.Optimizer optimizer, byte[] state, string path, TrainSettings settings, string option)
    {
        using var reader = new BinaryReader(new MemoryStream(state));
        try { ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(reader); }
        catch (Exception e)
        {
            // TorchSharp says "Mismatched tensor shape while loading..." for moments of other shapes; other failures are another optimizer's format.
            string why = e.Message.StartsWith("Mismatched tensor shape") ? "its tensors have other shapes than the network's parameters"
                : $"it is not the state of {settings.Optimizer} on this network";
            throw new ArgumentException($"{option}: optimizer state '{path}' does not fit this run: {why}");
        }
    }

    /// <summary>
    /// The newest checkpoint of a run folder whose files are intact, with its network and verified optimizer bytes. Damaged
    /// ones (unreadable sidecar, a file missing or not matching its hash) are passed over and listed in <paramref name="skipped"/>;
    /// null when none is intact. Any other problem (a checkpoint of another run or architecture) is an error, not damage.
    /// </summary>
    internal static (CheckpointInfo Info, Mlp Network, byte[] OptimizerState, string Path)? LoadLatest(string folder, TrainSettings settings,
        ScalarType dtype, Device device, List<(string Name, string Problem)> skipped)
    {
        var sidecars = Directory.EnumerateFiles(folder, "*.json").Where(p => IsCheckpointFile(Path.GetFileName(p), ".json"))
            .OrderByDescending(p => StepOf(Path.GetFileNameWithoutExtension(p), settings));
        foreach (var sidecar in sidecars)
        {
            Mlp? net = null;
            try
            {
                (net, var info) = LoadNetwork(sidecar, dtype, device);
                byte[] state = ReadVerified(Path.Combine(folder, info!.OptimizerState), info.OptimizerSha256);
                return (info, net, state, sidecar);
            }
            catch (DamagedCheckpointException e)
            {
                net?.Dispose();
                skipped.Add((Path.GetFileNameWithoutExtension(sidecar), e.Problem));
            }
        }
        return null;
    }

    /// <summary>The step a checkpoint name stands for: epoch-NNNN is NNNN epochs of steps, step-NNNNNNNN the step itself.</summary>
    private static long StepOf(string name, TrainSettings settings) =>
        name.StartsWith("epoch-") ? long.Parse(name[6..]) * settings.StepsPerEpoch : long.Parse(name[5..]);

    /// <summary>The complete checkpoints of a run folder (those with a readable sidecar), oldest first.</summary>
    public static List<(string Path, CheckpointInfo Info)> List(string folder)
    {
        var found = new List<(string, CheckpointInfo)>();
        if (!Directory.Exists(folder)) return found;
        foreach (var path in Directory.EnumerateFiles(folder, "*.json"))
            if (IsCheckpointFile(Path.GetFileName(path), ".json")) found.Add((path, ReadInfo(path)));
        return found.OrderBy(c => c.Item2.Step).ToList();
    }

    /// <summary>Whether a file name is one of a checkpoint's files: epoch-NNNN or step-NNNNNNNN with that extension.</summary>
    internal static bool IsCheckpointFile(string name, string extension) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^(epoch-[0-9]{4,}|step-[0-9]{8,})" + System.Text.RegularExpressions.Regex.Escape(extension) + "$");

    /// <summary>Whether a folder is a training run's: it holds run.json or a checkpoint sidecar.</summary>
    internal static bool IsRunFolder(string folder) =>
        File.Exists(Path.Combine(folder, RunFile))
        || (Directory.Exists(folder) && Directory.EnumerateFiles(folder, "*-*.json").Any(f => IsCheckpointFile(Path.GetFileName(f), ".json")));

    internal static CheckpointInfo ReadInfo(string sidecar)
    {
        try
        {
            var info = JsonSerializer.Deserialize<CheckpointInfo>(File.ReadAllText(sidecar), TrainSettings.Json);
            if (info is null || info.Format != CheckpointInfo.FormatName || info.Settings is null || info.Widths is null || info.History is null
                || info.RunId is null || info.Weights is null || info.WeightsSha256 is null || info.OptimizerState is null || info.OptimizerSha256 is null)
                throw new JsonException("fields are missing");
            info.Settings.Validate();
            return info;
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new DamagedCheckpointException($"sidecar '{sidecar}' is not a readable checkpoint description ({e.Message.Split(". ")[0]})");
        }
    }

    /// <summary>The run id that the run folder's run.json names, or null where the folder is not a run folder.</summary>
    internal static string? RunIdOf(string folder)
    {
        string path = Path.Combine(folder, RunFile);
        if (!File.Exists(path)) return null;
        try { return JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("run_id").GetString(); }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ArgumentException($"--checkpoint: '{path}' is not a readable run description");
        }
    }

    /// <summary>
    /// The network of a checkpoint file (.safetensors with our sidecar, or any PyTorch state_dict), in <paramref name="dtype"/>.
    /// Our checkpoints are verified against the sidecar's hash and architecture; a file in a run folder without its sidecar is refused.
    /// A foreign state_dict records no activation: <paramref name="foreignActivation"/> gives it (ReLU when null). Its layers are
    /// the 2-D "*weight" tensors (with their "*bias") in the order of their names: nn.Sequential's "0.weight", "2.weight", ...
    /// Info is the sidecar of our checkpoints, null for a foreign state_dict. Unreadable or unfit files throw an <see cref="ArgumentException"/>.
    /// </summary>
    public static (Mlp Network, CheckpointInfo? Info) LoadNetwork(string path, ScalarType dtype, Device? device = null, Activation? foreignActivation = null)
    {
        if (Directory.Exists(path)) throw new ArgumentException($"--checkpoint: '{path}' is a folder; give a checkpoint file (or use it as a run folder)");
        if (!File.Exists(path)) throw new ArgumentException($"--checkpoint: file '{path}' does not exist");
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".safetensors" or ".json" or ".pt" or ".pth" or ".bin"))
            throw new ArgumentException($"--checkpoint: '{path}' is not a network file: give a .safetensors checkpoint (or its .json sidecar) or a PyTorch .pt/.pth state_dict");
        string sidecar = Path.ChangeExtension(path, ".json");
        if (extension == ".json" || (extension == ".safetensors" && File.Exists(sidecar)))
        {
            if (!File.Exists(sidecar)) throw new ArgumentException($"--checkpoint: sidecar '{sidecar}' does not exist");
            if (foreignActivation is not null)
                throw new ArgumentException($"--activation: '{path}' is a checkpoint of train, which records its activation; drop --activation");
            var info = ReadInfo(sidecar);
            string folder = Path.GetDirectoryName(Path.GetFullPath(sidecar))!;
            // A checkpoint copied in from another run must not pass for one of this run.
            if (RunIdOf(folder) is string runId && runId != info.RunId)
                throw new ArgumentException($"--checkpoint: '{sidecar}' belongs to run {info.RunId}, not to {runId} of the folder it is in");
            string weights = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(sidecar))!, info.Weights);
            byte[] verified = ReadVerified(weights, info.WeightsSha256);
            var spec = info.Settings.Network();
            if (!spec.Widths.SequenceEqual(info.Widths))
                throw new ArgumentException($"--checkpoint: sidecar '{sidecar}' is inconsistent: widths {string.Join(",", info.Widths)} against its settings {string.Join(",", spec.Widths)}");
            return (StateDicts.Load(weights, spec, dtype, device, verified), info);
        }
        if (extension == ".safetensors" && File.Exists(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, RunFile)))
            throw new ArgumentException($"--checkpoint: '{path}' has no sidecar '{Path.GetFileName(sidecar)}': an incomplete checkpoint (the run was interrupted while writing it)");
        return (StateDicts.Load(path, null, dtype, device, activation: foreignActivation), null);
    }

    /// <summary>The file's bytes, refused unless their SHA-256 matches the sidecar: a truncated or altered checkpoint never loads.</summary>
    internal static byte[] ReadVerified(string path, string sha256)
    {
        if (!File.Exists(path)) throw new DamagedCheckpointException($"'{path}' named by its sidecar is missing");
        byte[] bytes = File.ReadAllBytes(path);
        if (Sha256(bytes) != sha256)
            throw new DamagedCheckpointException($"'{path}' is corrupted or truncated: its SHA-256 does not match the sidecar");
        return bytes;
    }

    /// <summary>A checkpoint whose files are damaged (unreadable, missing, altered): a resumed run can fall back to an earlier one.</summary>
    internal sealed class DamagedCheckpointException(string problem) : ArgumentException($"--checkpoint: {problem}")
    {
        internal string Problem { get; } = problem;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
