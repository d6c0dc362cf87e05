using TorchSharp;
using static TorchSharp.torch;

namespace TorchDistortion;

/// <summary>Where to compute: auto (CUDA when available, else the CPU), cpu, cuda (the current GPU) or cuda:N. Parsed once.</summary>
public sealed record DeviceSpec
{
    private DeviceSpec(string name, int? index = null) => (Name, Index) = (name, index);

    /// <summary>auto, cpu or cuda.</summary>
    public string Name { get; }
    /// <summary>The GPU's index for cuda:N; null otherwise.</summary>
    public int? Index { get; }

    public static DeviceSpec Auto { get; } = new("auto");
    public static DeviceSpec Cpu { get; } = new("cpu");
    public static DeviceSpec Cuda(int? index = null) => index is null ? CudaDefault : new("cuda", index >= 0 ? index : throw Unknown($"cuda:{index}"));
    private static readonly DeviceSpec CudaDefault = new("cuda");

    /// <summary>auto, cpu, cuda or cuda:N.</summary>
    public static DeviceSpec Parse(string text)
    {
        string name = text.Trim().ToLowerInvariant();
        if (name == "auto") return Auto;
        if (name == "cpu") return Cpu;
        if (name == "cuda") return CudaDefault;
        if (name.StartsWith("cuda:") && int.TryParse(name[5..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index))
            return new("cuda", index);
        throw Unknown(text);
    }

    private static SettingException Unknown(string text) => new("device", $": unknown device '{text}'; allowed: auto, cpu, cuda, cuda:N");

    /// <summary>The TorchSharp device; refused with one line where CUDA (or GPU N) is not there.</summary>
    public Device Resolve()
    {
        if (Name == "cpu" || (Name == "auto" && !cuda.is_available())) return CPU;
        if (Name == "auto") return CUDA;
        if (!Measurement.Backend.HasCuda()) throw new SettingException("device", $"{this}: this build has no CUDA backend (see README)");
        if (!cuda.is_available()) throw new SettingException("device", $"{this}: CUDA is not available on this machine (try auto or cpu)");
        if (Index is int i)
            return i < cuda.device_count() ? new Device(DeviceType.CUDA, i)
                : throw new SettingException("device", $"{this}: there is no GPU {i}; this machine has {cuda.device_count()}, numbered from 0");
        return CUDA;
    }

    public override string ToString() => Index is int i ? $"{Name}:{i}" : Name;
}
