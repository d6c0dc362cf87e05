using System.Collections;
using System.Text.RegularExpressions;
using TorchDistortion.Networks;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

/// <summary>
/// Reads and writes the weights of one fully connected network as a PyTorch state_dict: safetensors (ours and
/// PyTorch's) or a torch.save'd .pt/.pth file. A state_dict holds no activations: ReLU between the linear layers is assumed.
/// </summary>
internal static partial class StateDicts
{
    /// <summary>
    /// The tensors of a safetensors or .pt/.pth file, by name: read from <paramref name="contents"/> when given (bytes already
    /// verified against a sidecar, so what was checked is what loads), else from the file. Unreadable contents are an
    /// <see cref="ArgumentException"/> naming the file.
    /// </summary>
    internal static Dictionary<string, Tensor> Read(string path, byte[]? contents = null)
    {
        if (contents is null && !File.Exists(path)) throw new ArgumentException($"--checkpoint: file '{path}' does not exist");
        string extension = Path.GetExtension(path).ToLowerInvariant();
        try
        {
            using Stream stream = contents is null ? File.OpenRead(path) : new MemoryStream(contents, writable: false);
            switch (extension)
            {
                case ".safetensors":
                    CheckSafetensorsSize(stream);
                    return Safetensors.LoadStateDict(stream, leaveOpen: true);
                case ".pt" or ".pth" or ".bin":
                    var table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true);
                    var state = new Dictionary<string, Tensor>();
                    foreach (DictionaryEntry entry in table)
                        if (entry.Value is Tensor t) state[entry.Key.ToString()!] = t;
                        else throw new ArgumentException($"--checkpoint: '{path}' holds '{entry.Key}', which is not a tensor; save model.state_dict(), not the model");
                    return state;
                default:
                    throw new ArgumentException($"--checkpoint: '{path}' is neither .safetensors nor a PyTorch .pt/.pth file");
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            throw new ArgumentException($"--checkpoint: '{path}' is not a readable {extension.TrimStart('.')} state_dict (truncated or corrupted: {e.Message.Split('\n')[0].TrimEnd('.')})");
        }
    }

    /// <summary>A safetensors file must be as long as its header says; a truncated one is refused before any tensor is read.</summary>
    private static void CheckSafetensorsSize(Stream stream)
    {
        var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (stream.Length < 8) throw new InvalidDataException("shorter than its 8-byte header length");
        ulong headerLength = reader.ReadUInt64();
        if (headerLength > (ulong)(stream.Length - 8)) throw new InvalidDataException("the header runs past the end of the file");
        var header = System.Text.Json.JsonDocument.Parse(reader.ReadBytes((int)headerLength));
        long end = 0;
        foreach (var entry in header.RootElement.EnumerateObject())
            if (entry.Name != "__metadata__")
                end = Math.Max(end, entry.Value.GetProperty("data_offsets")[1].GetInt64());
        if (8 + (long)headerLength + end != stream.Length)
            throw new InvalidDataException($"{stream.Length} bytes where the header describes {8 + (long)headerLength + end}");
        stream.Position = 0;
    }

    /// <summary>
    /// The linear layers of a state_dict: every 2-D "*weight" tensor in natural key order (so "fc2" precedes "fc10"),
    /// each with its "*bias" if present, chained by shape. Anything else in the file is an error: a state_dict of
    /// another kind of model must not load as a wrong MLP.
    /// </summary>
    internal static (IReadOnlyList<int> Widths, Tensor[] Weights, Tensor?[] Biases) Layers(Dictionary<string, Tensor> state, string path)
    {
        var weightKeys = state.Keys.Where(k => k == "weight" || k.EndsWith(".weight") || k.EndsWith("_weight")).OrderBy(NaturalKey, StringComparer.Ordinal).ToList();
        if (weightKeys.Count == 0) throw new ArgumentException($"--checkpoint: '{path}' has no '*.weight' tensors; not an MLP state_dict");
        // Names tell the order only when they differ by layer numbers alone (0.weight, 2.weight; fc1, fc2); a state_dict
        // does not record the order of fc_in, fc_hidden, fc_out, and equal shapes would chain in any order.
        if (weightKeys.Select(k => Digits().Replace(k, "#")).Distinct().Count() > 1)
            throw new ArgumentException($"--checkpoint: cannot tell the layer order of '{path}' from the names {string.Join(", ", weightKeys.Take(4).Select(k => $"'{k}'"))}; the keys must differ only by layer numbers (e.g. 0.weight, 2.weight or fc1.weight, fc2.weight)");
        var used = new HashSet<string>();
        var weights = new List<Tensor>();
        var biases = new List<Tensor?>();
        foreach (var key in weightKeys)
        {
            var w = state[key];
            if (w.dim() != 2) throw new ArgumentException($"--checkpoint: '{key}' has shape [{string.Join(",", w.shape)}]; only linear layers (2-D weights) are supported");
            if (weights.Count > 0 && weights[^1].shape[0] != w.shape[1])
                throw new ArgumentException($"--checkpoint: '{key}' takes {w.shape[1]} inputs but the previous layer gives {weights[^1].shape[0]}; not a chain of linear layers");
            string biasKey = key[..^"weight".Length] + "bias";
            Tensor? b = state.GetValueOrDefault(biasKey);
            if (b is not null && (b.dim() != 1 || b.shape[0] != w.shape[0]))
                throw new ArgumentException($"--checkpoint: '{biasKey}' has shape [{string.Join(",", b.shape)}], not [{w.shape[0]}]");
            if (b is not null) used.Add(biasKey);
            used.Add(key);
            weights.Add(w);
            biases.Add(b);
        }
        var extra = state.Keys.Where(k => !used.Contains(k)).ToList();
        if (extra.Count > 0)
            throw new ArgumentException($"--checkpoint: '{path}' also holds '{extra[0]}'{(extra.Count > 1 ? $" and {extra.Count - 1} more" : "")}; only plain Linear/ReLU MLPs can be measured");
        if (weights.Any(w => !w.is_floating_point())) throw new ArgumentException($"--checkpoint: '{path}' has non-floating-point weights");
        // A NaN bias hides behind the ReLU mask (a silent distortion of 0), so every parameter must be finite.
        foreach (var key in used)
            if (!state[key].isfinite().all().item<bool>()) throw new ArgumentException($"--checkpoint: '{key}' in '{path}' holds NaN or infinite values");
        // Layers without bias get a zero bias when others have one: the same function.
        if (biases.Any(b => b is not null))
            for (int l = 0; l < biases.Count; l++) biases[l] ??= zeros(weights[l].shape[0], weights[l].dtype);
        var widths = new List<int> { (int)weights[0].shape[1] };
        widths.AddRange(weights.Select(w => (int)w.shape[0]));
        return (widths, weights.ToArray(), biases.ToArray());
    }

    /// <summary>Loads a state_dict file as one network with <paramref name="spec"/>'s shape, or, without a spec, the shape the file defines.</summary>
    internal static Mlp Load(string path, NetworkSpec? spec, ScalarType dtype, Device? device = null, byte[]? contents = null)
    {
        using var scope = NewDisposeScope();
        var state = Read(path, contents);
        var (widths, weights, biases) = Layers(state, path);
        spec ??= new NetworkSpec(widths, InitScheme.Parse("he"), Bias: biases[0] is not null);
        if (!spec.Widths.SequenceEqual(widths))
            throw new ArgumentException($"--checkpoint: '{path}' has widths {string.Join(",", widths)}, but its configuration says {string.Join(",", spec.Widths)}; a checkpoint of a different architecture");
        if (spec.Bias != (biases[0] is not null))
            throw new ArgumentException($"--checkpoint: '{path}' {(spec.Bias ? "has no biases, but its configuration has" : "has biases, but its configuration has none")}");
        return Mlp.FromLayers(spec, weights, biases, dtype, device);
    }

    /// <summary>The network's state_dict as the bytes of a safetensors file.</summary>
    internal static byte[] SafetensorsBytes(Mlp net)
    {
        using var scope = NewDisposeScope();
        using var stream = new MemoryStream();
        Safetensors.SaveStateDict(stream, net.SequentialStateDict(), leaveOpen: true);
        return stream.ToArray();
    }

    private static string NaturalKey(string key) => Digits().Replace(key, m => m.Value.PadLeft(12, '0'));

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();
}
