using System.Text.Json;
using System.Text.Json.Serialization;

namespace TorchDistortion.Experiments;

/// <summary>The JSON options of sweep files, run files and result sets: snake_case names, strict reading.</summary>
internal static class ExperimentJson
{
    internal static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
