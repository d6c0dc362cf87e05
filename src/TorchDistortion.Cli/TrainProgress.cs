using System.Globalization;
using Spectre.Console;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>
/// Progress of `train`: a live display on stderr, or, when the output is redirected (a Slurm log, a pipe), one plain line per
/// evaluation on stdout.
/// </summary>
internal static class TrainProgress
{
    internal static void Show(bool enabled, int runs, Action<Trainer.IProgress?> work)
    {
        // Redirected (a Slurm log, a pipe): one plain line per evaluation on stdout instead of the live display.
        if (Console.IsOutputRedirected || Console.IsErrorRedirected) { work(new LineProgress()); return; }
        if (!enabled) { work(null); return; }
        SweepProgress.OnStderr().Start(context => work(new LiveProgress(context.AddTask("runs", maxValue: runs), context.AddTask("steps", maxValue: 1))));
    }

    /// <summary>One line per evaluation: run, epoch, loss, metric and length distortion.</summary>
    private sealed class LineProgress : Trainer.IProgress
    {
        private TrainSettings? _settings;
        private string _run = "";

        public void Started(string runId, TrainSettings settings, long startStep) => (_settings, _run) = (settings, runId);

        public void Stepped(long step) { }

        public void Evaluated(HistoryRow row)
        {
            if (_settings is null) return;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"run {_run} epoch {row.Epoch:0.##}/{_settings.Epochs} step {row.Step} train loss {row.TrainLoss:G6} test {_settings.Task.MetricName} {row.TestMetric:F4} length D {row.Length:G6}"));
        }
    }

    /// <summary>Progress lines: runs done, and the current run's steps with its latest loss, metric and distortion.</summary>
    private sealed class LiveProgress(ProgressTask overall, ProgressTask current) : Trainer.IProgress
    {
        private TrainSettings? _settings;
        private string _run = "";
        private bool _started;

        public void Started(string runId, TrainSettings settings, long startStep)
        {
            if (_started) overall.Increment(1);
            _started = true;
            _settings = settings;
            _run = $"{(settings.Activation is null ? "" : settings.Activation + " ")}{settings.Init} seed {settings.Seed}";
            current.MaxValue = settings.TotalSteps;
            current.Value = startStep;
            current.Description = Markup.Escape($"{_run}: epoch {startStep / settings.StepsPerEpoch}/{settings.Epochs}" + (startStep > 0 ? " (resumed)" : ""));
        }

        public void Stepped(long step) => current.Value = step;

        public void Evaluated(HistoryRow row)
        {
            if (_settings is null) return;
            string metric = _settings.Task.MetricName;
            string volume = row.Volume is double v ? string.Create(CultureInfo.InvariantCulture, $"  2-vol D {v:F3}") : "";
            current.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"{_run}: epoch {row.Epoch:0.##}/{_settings.Epochs}  loss {row.TrainLoss:G3}  test {metric} {row.TestMetric:F3}  length D {row.Length:F3}{volume}"));
        }
    }

}
