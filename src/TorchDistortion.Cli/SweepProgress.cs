using Spectre.Console;
using TorchDistortion.Experiments;

namespace TorchDistortion.Cli;

/// <summary>
/// Progress for sweeps on stderr: overall runs (with time left) and the networks of the current run.
/// Silent when output is redirected or --no-progress is given.
/// </summary>
internal sealed class SweepProgress : SweepRunner.IProgress
{
    private ProgressTask? _overall, _current;

    internal static void Show(bool enabled, Action<SweepProgress?> work)
    {
        if (!enabled) { work(null); return; }
        OnStderr().Start(context =>
            {
                var progress = new SweepProgress
                {
                    _overall = context.AddTask("runs", maxValue: 1),
                    _current = context.AddTask("networks", maxValue: 1),
                };
                progress.Context = context;
                work(progress);
            });
    }

    private ProgressContext? Context { get; set; }

    /// <summary>The progress display every command uses: on stderr (stdout stays for results), cleared when done, with time left.</summary>
    internal static Progress OnStderr() =>
        AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }).Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn());

    /// <summary>Names the stage (e.g. the figure being computed) in the overall line.</summary>
    internal void Stage(string name)
    {
        if (_overall is not null) _overall.Description = Markup.Escape(name.Length > 48 ? name[..48] : name);
    }

    public void RunStarted(int index, int count, RunSpec run)
    {
        if (_overall is null || _current is null) return;
        _overall.MaxValue = count;
        _overall.Value = index;
        _current.Description = Markup.Escape($"run {index + 1}/{count}: depth {run.Depth}, width {run.Widths.Max()}, {run.Init}");
        _current.MaxValue = run.Networks;
        _current.Value = 0;
    }

    public void NetworksDone(int done, int total)
    {
        if (_current is null) return;
        _current.Value = done;
        if (done == total && _overall is not null) _overall.Increment(1);
    }
}
