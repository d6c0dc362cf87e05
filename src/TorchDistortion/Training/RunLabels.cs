using System.Text.Json;

namespace TorchDistortion.Training;

/// <summary>Names for the runs of one train command, e.g. for their TensorBoard folders.</summary>
public static class RunLabels
{
    /// <summary>
    /// A name per run from the settings that vary between the runs ("activation=tanh,init=he,seed=1"); the run id where
    /// nothing varies. Settings are compared as they are stored (run.json), so a setting that becomes a list needs nothing here.
    /// </summary>
    public static List<string> For(IReadOnlyList<TrainSettings> runs)
    {
        var flat = runs.Select(r => Flatten(JsonSerializer.SerializeToElement(r, TrainSettings.Json), "")).ToList();
        var keys = flat.SelectMany(f => f.Keys).Distinct().Where(key => flat.Select(f => f.GetValueOrDefault(key, "")).Distinct().Count() > 1).ToList();
        if (keys.Count == 0) return runs.Select(r => r.RunId()).ToList();
        // A field left out of the JSON has its default: ReLU for the activation, none otherwise.
        return flat.Select(f => string.Join(",", keys.Select(key => $"{key}={f.GetValueOrDefault(key) ?? (key == "activation" ? "relu" : "none")}")).Replace('/', '_')).ToList();

        static Dictionary<string, string> Flatten(JsonElement element, string prefix)
        {
            var values = new Dictionary<string, string>();
            foreach (var property in element.EnumerateObject())
            {
                if (property.Value.ValueKind == JsonValueKind.Object)
                    foreach (var (key, value) in Flatten(property.Value, property.Name + ".")) values[key] = value;
                else if (property.Value.ValueKind != JsonValueKind.Null)
                    values[prefix + property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
            }
            return values;
        }
    }

}
