using System.IO.Compression;
using static TorchSharp.torch;

namespace TorchDistortion.Networks;

/// <summary>
/// Any model a user brings: a TorchScript module saved by PyTorch (<c>torch.jit.script</c> or <c>torch.jit.trace</c>,
/// then <c>.save</c>) that maps points [B, n0] to outputs [B, nL]. It is measured by the double-VJP path, which needs
/// nothing but autograd through the module; no law of the distortion is known for an arbitrary architecture.
/// </summary>
public sealed class ScriptedModel : IDisposable
{
    private ScriptedModel(jit.ScriptModule<Tensor, Tensor> module, string path, int inputDim, bool inputDimInferred, ScalarType dtype)
    {
        (Module, Path, InputDim, InputDimInferred, DType) = (module, path, inputDim, inputDimInferred, dtype);
    }

    /// <summary>The loaded module, in evaluation mode.</summary>
    public jit.ScriptModule<Tensor, Tensor> Module { get; }
    public string Path { get; }
    /// <summary>n0: given, or found by probing the module.</summary>
    public int InputDim { get; }
    /// <summary>True when <see cref="InputDim"/> was found by probing rather than given.</summary>
    public bool InputDimInferred { get; }
    /// <summary>The dtype of the module's parameters (float64 when it has none): the points are made in it.</summary>
    public ScalarType DType { get; }

    /// <summary>
    /// Loads <paramref name="path"/>. Without <paramref name="inputDim"/>, the input dimension is found by calling the
    /// module on [2, d] for every d among its parameters' dimensions; it must fit exactly one of them.
    /// </summary>
    public static ScriptedModel Load(string path, int? inputDim = null)
    {
        if (!File.Exists(path)) throw new SettingException("model", $": no such file '{path}'");
        CheckArchive(path);
        jit.ScriptModule<Tensor, Tensor> module;
        try { module = jit.load<Tensor, Tensor>(path); }
        catch (Exception e) when (e is not ArgumentException)
        {
            throw new SettingException("model", $": '{path}' is not a TorchScript module libtorch can load ({FirstLine(e.Message)})");
        }
        try
        {
            module.eval();
            var parameters = module.parameters().ToList();
            var dtype = parameters.FirstOrDefault(p => p.is_floating_point())?.dtype ?? ScalarType.Float64;
            if (inputDim is int given)
            {
                if (given < 1) throw new SettingException("model", $": the input dimension must be a positive integer, got {given}");
                if (Probe(module, given, dtype) is string problem)
                    throw new SettingException("model", $": '{path}' does not take inputs of dimension {given} ({problem})");
                return new ScriptedModel(module, path, given, false, dtype);
            }
            var candidates = parameters.SelectMany(p => p.shape).Where(d => d is >= 1 and <= 1 << 20).Select(d => (int)d).Distinct().Order().ToList();
            var fitting = candidates.Where(d => Probe(module, d, dtype) is null).ToList();
            return fitting.Count switch
            {
                1 => new ScriptedModel(module, path, fitting[0], true, dtype),
                0 => throw new SettingException("model", $": cannot find the input dimension of '{path}' (it takes none of its parameters' dimensions); give it with --n0"),
                _ => throw new SettingException("model", $": the input dimension of '{path}' is ambiguous (it takes {string.Join(", ", fitting.Take(8))}); give it with --n0"),
            };
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Null when the module maps [2, d] to a finite [2, m]; otherwise what went wrong.</summary>
    private static string? Probe(jit.ScriptModule<Tensor, Tensor> module, int d, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        try
        {
            var output = module.call(randn([2, d], dtype, generator: new Generator(0)));
            if (output.dim() != 2 || output.shape[0] != 2) return $"output shape [{string.Join(",", output.shape)}] is not [B, nL] for input [2, {d}]";
            return null;
        }
        catch (Exception e) { return FirstLine(e.Message); }
    }

    /// <summary>
    /// A TorchScript file is a zip archive with a code/ folder; a state_dict saved by torch.save is a zip without one.
    /// Checked first, because libtorch's own messages for other files run to many lines.
    /// </summary>
    private static void CheckArchive(string path)
    {
        try
        {
            using var archive = ZipFile.OpenRead(path);
            if (!archive.Entries.Any(e => e.FullName.Contains("/code/", StringComparison.Ordinal) || e.FullName.StartsWith("code/", StringComparison.Ordinal)))
                throw new SettingException("model", $": '{path}' holds no TorchScript code (a state_dict saved by torch.save? use --checkpoint for those)");
        }
        catch (InvalidDataException)
        {
            throw new SettingException("model", $": '{path}' is not a TorchScript file (not a zip archive; save the module with torch.jit.script(m).save(path))");
        }
    }

    /// <summary>The line that says what failed: TorchScript puts a traceback first and "RuntimeError: ..." last.</summary>
    private static string FirstLine(string message)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.LastOrDefault(l => l.Contains("Error: ", StringComparison.Ordinal)) ?? lines.FirstOrDefault() ?? "unknown error";
    }

    public void Dispose() => Module.Dispose();
}
