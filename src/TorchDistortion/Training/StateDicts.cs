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
        if (contents is null && !File.Exists(path)) throw new SettingException("checkpoint", $": file '{path}' does not exist");
        try
        {
            using Stream stream = contents is null ? File.OpenRead(path) : new MemoryStream(contents, writable: false);
            // The contents decide the format, not the name: a .bin or .pt may hold either.
            switch (FormatOf(stream))
            {
                case Format.Safetensors:
                    try { CheckSafetensorsHeader(stream); }
                    catch (Exception e) when (e is InvalidDataException or System.Text.Json.JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
                    {
                        string problem = e switch
                        {
                            InvalidDataException => e.Message,
                            System.Text.Json.JsonException => "its header is not valid JSON",
                            _ => "its header does not give every tensor a dtype, a shape and data_offsets as numbers",
                        };
                        throw new SettingException("checkpoint", $": '{path}' is not a valid safetensors file: {problem}");
                    }
                    return Safetensors.LoadStateDict(stream, leaveOpen: true);
                case Format.PyTorchZip:
                    var table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true);
                    var state = new Dictionary<string, Tensor>();
                    foreach (DictionaryEntry entry in table)
                        if (entry.Value is Tensor t) state[entry.Key.ToString()!] = t;
                        else throw new SettingException("checkpoint", $": '{path}' holds '{entry.Key}', which is not a tensor; save model.state_dict(), not the model");
                    return state;
                case Format.PyTorchLegacy:
                    throw new SettingException("checkpoint", $": '{path}' was saved in PyTorch's legacy (pre-1.6) format; load it in PyTorch and save it again with torch.save(state_dict, path)");
                default:
                    throw new SettingException("checkpoint", $": '{path}' is not a PyTorch state_dict (zip) or safetensors file");
            }
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            throw new SettingException("checkpoint", $": '{path}' is not a readable state_dict (truncated or corrupted: {e.Message.Split('\n')[0].TrimEnd('.')})");
        }
    }

    private enum Format { Unknown, Safetensors, PyTorchZip, PyTorchLegacy }

    // torch.save before PyTorch 1.6 starts with a pickled magic number: protocol 2, LONG1 of 10 bytes, 0x1950a86a20f9469cfc6c.
    private static readonly byte[] LegacyMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    /// <summary>A zip archive (torch.save since PyTorch 1.6), the legacy pickle, or safetensors (8-byte header length, then a JSON object).</summary>
    private static Format FormatOf(Stream stream)
    {
        var head = new byte[LegacyMagic.Length];
        int read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        stream.Position = 0;
        if (read >= 4 && head.AsSpan(0, 4).SequenceEqual("PK\x03\x04"u8)) return Format.PyTorchZip;
        if (read == LegacyMagic.Length && head.AsSpan().SequenceEqual(LegacyMagic)) return Format.PyTorchLegacy;
        if (read >= 9 && head[8] == (byte)'{') return Format.Safetensors;
        return Format.Unknown;
    }

    /// <summary>Bytes per element of the safetensors dtypes.</summary>
    private static readonly Dictionary<string, long> DTypeSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1,
        ["U64"] = 8, ["U32"] = 4, ["U16"] = 2, ["U8"] = 1, ["BOOL"] = 1, ["F8_E4M3"] = 1, ["F8_E5M2"] = 1,
    };

    /// <summary>
    /// Checks a safetensors header against the file before anything is allocated: each tensor's shape and dtype give
    /// exactly the bytes its data_offsets span, the spans are ordered, do not overlap and end where the file ends.
    /// A header that lies would otherwise reach libtorch's allocator (or read past the file).
    /// </summary>
    private static void CheckSafetensorsHeader(Stream stream)
    {
        var reader = new BinaryReader(stream, System.Text.Encoding.UTF8, leaveOpen: true);
        if (stream.Length < 8) throw new InvalidDataException("shorter than its 8-byte header length");
        ulong headerLength = reader.ReadUInt64();
        // The format's own limit (100 MB) keeps a bogus length from becoming a huge read.
        if (headerLength > 100_000_000) throw new InvalidDataException($"its header length {headerLength} is above the format's limit of 100 MB");
        if (headerLength > (ulong)(stream.Length - 8)) throw new InvalidDataException($"its header length {headerLength} runs past the end of the file ({stream.Length} bytes)");
        using var header = System.Text.Json.JsonDocument.Parse(reader.ReadBytes((int)headerLength));
        if (header.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object) throw new InvalidDataException("its header is not a JSON object");
        long data = stream.Length - 8 - (long)headerLength;
        var spans = new List<(long Begin, long End, string Name)>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var tensor = entry.Value;
            string dtype = tensor.GetProperty("dtype").GetString() ?? "";
            if (!DTypeSizes.TryGetValue(dtype, out long bytes)) throw new InvalidDataException($"tensor '{entry.Name}' has unknown dtype '{dtype}'");
            var shape = tensor.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToList();
            string shown = $"[{string.Join(",", shape)}]";
            if (shape.Any(d => d < 0)) throw new InvalidDataException($"tensor '{entry.Name}' has a negative dimension in shape {shown}");
            try { foreach (long d in shape) bytes = checked(bytes * d); }
            catch (OverflowException) { throw new InvalidDataException($"tensor '{entry.Name}' of shape {shown} ({dtype}) would need more bytes than any file holds"); }
            var offsets = tensor.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt64()).ToList();
            if (offsets.Count != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                throw new InvalidDataException($"tensor '{entry.Name}' has data_offsets [{string.Join(",", offsets)}], not [begin,end] with 0 <= begin <= end");
            if (offsets[1] - offsets[0] != bytes)
                throw new InvalidDataException($"tensor '{entry.Name}' of shape {shown} ({dtype}) needs {bytes} bytes but its data_offsets span {offsets[1] - offsets[0]}");
            if (offsets[1] > data)
                throw new InvalidDataException($"tensor '{entry.Name}' ends at byte {offsets[1]} of the data, which has {data} bytes (truncated)");
            spans.Add((offsets[0], offsets[1], entry.Name));
        }
        spans.Sort();
        for (int i = 1; i < spans.Count; i++)
            if (spans[i].Begin < spans[i - 1].End) throw new InvalidDataException($"tensors '{spans[i - 1].Name}' and '{spans[i].Name}' overlap");
        long end = spans.Count == 0 ? 0 : spans[^1].End;
        if (end != data) throw new InvalidDataException($"{stream.Length} bytes where the header describes {8 + (long)headerLength + end}");
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
        if (weightKeys.Count == 0) throw new SettingException("checkpoint", $": '{path}' has no '*.weight' tensors; not an MLP state_dict");
        // Names tell the order only when they differ by layer numbers alone (0.weight, 2.weight; fc1, fc2); a state_dict
        // does not record the order of fc_in, fc_hidden, fc_out, and equal shapes would chain in any order.
        if (weightKeys.Select(k => Digits().Replace(k, "#")).Distinct().Count() > 1)
            throw new SettingException("checkpoint", $": cannot tell the layer order of '{path}' from the names {string.Join(", ", weightKeys.Take(4).Select(k => $"'{k}'"))}; the keys must differ only by layer numbers (e.g. 0.weight, 2.weight or fc1.weight, fc2.weight)");
        var used = new HashSet<string>();
        var weights = new List<Tensor>();
        var biases = new List<Tensor?>();
        foreach (var key in weightKeys)
        {
            var w = state[key];
            if (w.dim() != 2) throw new SettingException("checkpoint", $": '{key}' has shape [{string.Join(",", w.shape)}]; only linear layers (2-D weights) are supported");
            if (weights.Count > 0 && weights[^1].shape[0] != w.shape[1])
                throw new SettingException("checkpoint", $": '{key}' takes {w.shape[1]} inputs but the previous layer gives {weights[^1].shape[0]}; not a chain of linear layers");
            string biasKey = key[..^"weight".Length] + "bias";
            Tensor? b = state.GetValueOrDefault(biasKey);
            if (b is not null && (b.dim() != 1 || b.shape[0] != w.shape[0]))
                throw new SettingException("checkpoint", $": '{biasKey}' has shape [{string.Join(",", b.shape)}], not [{w.shape[0]}]");
            if (b is not null) used.Add(biasKey);
            used.Add(key);
            weights.Add(w);
            biases.Add(b);
        }
        var extra = state.Keys.Where(k => !used.Contains(k)).ToList();
        if (extra.Count > 0)
            throw new SettingException("checkpoint", $": '{path}' also holds '{extra[0]}'{(extra.Count > 1 ? $" and {extra.Count - 1} more" : "")}; only plain Linear/ReLU MLPs can be measured");
        if (weights.Any(w => !w.is_floating_point())) throw new SettingException("checkpoint", $": '{path}' has non-floating-point weights");
        // A NaN bias hides behind the ReLU mask (a silent distortion of 0), so every parameter must be finite.
        foreach (var key in used)
            if (!state[key].isfinite().all().item<bool>()) throw new SettingException("checkpoint", $": '{key}' in '{path}' holds NaN or infinite values");
        // Layers without bias get a zero bias when others have one: the same function.
        if (biases.Any(b => b is not null))
            for (int l = 0; l < biases.Count; l++) biases[l] ??= zeros(weights[l].shape[0], weights[l].dtype);
        var widths = new List<int> { (int)weights[0].shape[1] };
        widths.AddRange(weights.Select(w => (int)w.shape[0]));
        return (widths, weights.ToArray(), biases.ToArray());
    }

    /// <summary>
    /// Loads a state_dict file as one network with <paramref name="spec"/>'s shape, or, without a spec, the shape the file
    /// defines with <paramref name="activation"/> (a state_dict does not record its nonlinearity; ReLU unless given).
    /// </summary>
    internal static Mlp Load(string path, NetworkSpec? spec, ScalarType dtype, Device? device = null, byte[]? contents = null, Activation? activation = null)
    {
        using var scope = NewDisposeScope();
        var state = Read(path, contents);
        var (widths, weights, biases) = Layers(state, path);
        spec ??= new NetworkSpec(widths, InitScheme.Parse("he"), Bias: biases[0] is not null, Nonlinearity: activation);
        if (!spec.Widths.SequenceEqual(widths))
            throw new SettingException("checkpoint", $": '{path}' has widths {string.Join(",", widths)}, but its configuration says {string.Join(",", spec.Widths)}; a checkpoint of a different architecture");
        if (spec.Bias != (biases[0] is not null))
            throw new SettingException("checkpoint", $": '{path}' {(spec.Bias ? "has no biases, but its configuration has" : "has biases, but its configuration has none")}");
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
