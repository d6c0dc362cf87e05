namespace TorchDistortion;

/// <summary>
/// A setting the library was given is invalid. <see cref="Setting"/> is the library's name for it (C_W, width, points),
/// <see cref="Problem"/> what is wrong, in words that follow the name: "C_W must be a finite number > 0, got -1", or,
/// starting with a colon, "k: a curve is one-dimensional". Front ends name the setting their own way (the CLI as --cw,
/// a sweep file as "file.json: cw") with <see cref="Naming"/>.
/// </summary>
public sealed class SettingException(string setting, string problem) : ArgumentException(Join(setting, problem))
{
    public string Setting { get; } = setting;
    public string Problem { get; } = problem;

    /// <summary>The message with the setting called <paramref name="name"/>.</summary>
    public string Naming(string name) => Join(name, Problem);

    private static string Join(string name, string problem) => problem.StartsWith(':') ? name + problem : $"{name} {problem}";
}
