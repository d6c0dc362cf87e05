using Google.Protobuf;
using Tensorboard;

namespace TorchDistortion.Training;

/// <summary>
/// TensorBoard event files of one run: TFRecord framing (length, masked CRC32C of it, the serialized Event, masked CRC32C
/// of that) around TensorBoard's own Event/Summary messages, which TorchSharp ships. TorchSharp's SummaryWriter is not used:
/// it stamps events with DateTime ticks or 0 instead of Unix seconds (its walltime is a float, 128 s apart today), and
/// takes the step as an int.
/// </summary>
internal sealed class TensorBoardLog
{
    private readonly string _file;
    private readonly string _folder;

    /// <summary>A new event file in <paramref name="folder"/>; earlier ones stay until <see cref="DropEarlierFiles"/>.</summary>
    internal TensorBoardLog(string folder)
    {
        Experiments.Files.EnsureWritableFolder(folder, "--tensorboard");
        _folder = folder;
        _file = Path.Combine(folder, $"events.out.tfevents.{DateTimeOffset.UtcNow.ToUnixTimeSeconds()}.torchdist.{Environment.ProcessId}.{Guid.NewGuid():N}");
        Append(new Event { WallTime = Now(), FileVersion = "brain.Event:2" });
    }

    internal string FilePath => _file;

    /// <summary>One event at <paramref name="step"/> holding every scalar (TensorBoard stores simple values as float32).</summary>
    internal void Write(long step, IEnumerable<(string Tag, double Value)> scalars)
    {
        var summary = new Summary();
        foreach (var (tag, value) in scalars) summary.Value.Add(new Summary.Types.Value { Tag = tag, SimpleValue = (float)value });
        Append(new Event { WallTime = Now(), Step = step, Summary = summary });
    }

    /// <summary>
    /// Removes the run's older event files once this one holds the whole history: a resumed or rerun run replays its history
    /// into a new file, and TensorBoard would otherwise show the evaluations before the interruption twice.
    /// </summary>
    internal void DropEarlierFiles()
    {
        foreach (var file in Directory.EnumerateFiles(_folder, "events.out.tfevents.*"))
            if (file != _file) File.Delete(file);
    }

    private static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    private void Append(Event message)
    {
        byte[] data = message.ToByteArray();
        var record = new byte[data.Length + 16];
        BitConverter.TryWriteBytes(record.AsSpan(0, 8), (ulong)data.LongLength);
        BitConverter.TryWriteBytes(record.AsSpan(8, 4), MaskedCrc(record.AsSpan(0, 8)));
        data.CopyTo(record, 12);
        BitConverter.TryWriteBytes(record.AsSpan(12 + data.Length, 4), MaskedCrc(data));
        try
        {
            using var stream = new FileStream(_file, FileMode.Append, FileAccess.Write);
            stream.Write(record);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"--tensorboard: cannot write '{_file}': {Experiments.Files.Reason(_folder, e)}");
        }
    }

    /// <summary>TFRecord's checksum: CRC32C rotated right by 15 bits plus a constant.</summary>
    private static uint MaskedCrc(ReadOnlySpan<byte> bytes)
    {
        uint crc = Crc32C(bytes);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }

    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(i =>
    {
        uint c = (uint)i;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        return c;
    }).ToArray();

    private static uint Crc32C(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in bytes) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }
}
