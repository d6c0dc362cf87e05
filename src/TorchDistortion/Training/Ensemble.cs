using TorchDistortion.Networks;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchDistortion.Training;

public static partial class Trainer
{
    /// <summary>
    /// Runs (or continues) every run of <paramref name="runs"/>, each in <paramref name="checkpointRoot"/>/run-id as
    /// <see cref="Run"/> does; results in the order of <paramref name="runs"/>. With <paramref name="ensemble"/>, runs that
    /// differ only in seed, init and C_W and stand at the same step train together as one batched network (see
    /// <see cref="TrainEnsemble"/>); each writes the same files, and reaches the same weights up to rounding, as alone.
    /// Runs at different steps (a resume after an interrupted call that trained some further) train as separate ensembles.
    /// </summary>
    /// <param name="tensorboard">Per run, a folder for its TensorBoard event files, or null.</param>
    public static List<TrainingResult> RunAll(IReadOnlyList<TrainSettings> runs, string checkpointRoot, DeviceSpec? device = null, IProgress? progress = null,
        CancellationToken cancel = default, Action<string>? warn = null, Retention? keep = null, IReadOnlyList<string?>? tensorboard = null,
        bool ensemble = true)
    {
        if (runs.Select(r => r.RunId()).Distinct().Count() != runs.Count) throw new SettingException("runs", ": each run once (two runs have the same settings)");
        var results = new TrainingResult?[runs.Count];
        string? Log(int i) => tensorboard?[i];
        // The work: each run alone, or each group of runs of one shape (an ensemble). Items are independent (their own
        // folders, seeds and networks), so they train on up to Parallelism.Threads workers at once, each with one libtorch
        // thread: the same numbers as one after another.
        var items = ensemble
            ? Enumerable.Range(0, runs.Count).GroupBy(i => ShapeKey(runs[i])).Select(g => g.ToList()).ToList()
            : Enumerable.Range(0, runs.Count).Select(i => new List<int> { i }).ToList();
        int workers = Math.Min(Measurement.Parallelism.Threads, items.Count);
        var shared = workers > 1 && progress is not null ? new SynchronizedProgress(progress) : progress;
        Measurement.Parallelism.ForEach(items.Count, workers, new Measurement.StageTimes(), (item, _) =>
        {
            var members = items[item];
            if (members.Count == 1)
            {
                results[members[0]] = Run(runs[members[0]], checkpointRoot, device, shared, cancel, warn, keep, Log(members[0]));
                return;
            }
            var sessions = new List<(int Index, Session Session)>();
            try
            {
                foreach (int i in members)
                {
                    var (runId, folder) = RunFolder(runs[i], checkpointRoot);
                    sessions.Add((i, Session.Open(folder, runId, runs[i], device ?? DeviceSpec.Cpu, "checkpoints", warn, keep ?? Retention.Thinned, Log(i), shared)));
                }
                foreach (var atStep in sessions.GroupBy(s => s.Session.Step))
                {
                    var group = atStep.ToList();
                    TrainEnsemble(group.Select(s => s.Session).ToList(), shared, cancel);
                    foreach (var (index, session) in group) results[index] = session.Finish();
                }
            }
            finally
            {
                foreach (var (_, session) in sessions) session.Dispose();
            }
        }, cancel);
        return results.ToList()!;
    }

    /// <summary>Progress reports from several workers, one call at a time.</summary>
    private sealed class SynchronizedProgress(IProgress inner) : IProgress
    {
        public void Started(string runId, TrainSettings settings, long startStep) { lock (this) inner.Started(runId, settings, startStep); }
        public void Stepped(long step) { lock (this) inner.Stepped(step); }
        public void Evaluated(string runId, TrainSettings settings, HistoryRow row) { lock (this) inner.Evaluated(runId, settings, row); }
    }

    /// <summary>What runs must share to train as one ensemble: everything but the seed, the init scheme and its C_W.</summary>
    private static TrainSettings ShapeKey(TrainSettings settings) => settings with { Seed = 0, Init = "", CW = null };

    /// <summary>
    /// Trains runs of one shape, all at the same step, as one batched network: weights [K, out, in], one bmm per layer.
    /// Network k sees the batches of its own seed (gathered as [K, B, n0]); the loss is the sum of the K per-network mean
    /// losses, so each network's gradient is its own, and Adam and SGD, elementwise with a step count shared by all K, keep
    /// per-network state. At every evaluation the weights and optimizer state go back to each run's own network and
    /// optimizer, which are evaluated and checkpointed as a run trained alone. A run that diverges leaves the ensemble there;
    /// the others go on.
    /// </summary>
    private static void TrainEnsemble(List<Session> runs, IProgress? progress, CancellationToken cancel)
    {
        foreach (var run in runs) progress?.Started(run.RunId, run.Settings, run.Step);
        foreach (var run in runs) run.EvaluateAtStart();
        var settings = runs[0].Settings;
        var active = runs.Where(r => r.Step < settings.TotalSteps).ToList();
        if (active.Count == 0) return;
        long step = active[0].Step;
        Mlp? net = null;
        optim.Optimizer? optimizer = null;
        Tensor? orders = null;
        long orderEpoch = -1;
        try
        {
            Rebuild();
            while (active.Count > 0 && step < settings.TotalSteps)
            {
                cancel.ThrowIfCancellationRequested();
                long epoch = step / settings.StepsPerEpoch;
                if (epoch != orderEpoch)
                {
                    orders?.Dispose();
                    var each = Members().Select(r => BatchOrder(r.Settings, epoch, r.Target)).ToArray();
                    orders = stack(each, 0);
                    foreach (var order in each) order.Dispose();
                    orderEpoch = epoch;
                }
                long first = step % settings.StepsPerEpoch * settings.BatchSize;
                var losses = EnsembleStep(net!, optimizer!, settings, active[0].TrainX, active[0].TrainY,
                    orders!.narrow(1, first, Math.Min(settings.BatchSize, settings.Task.TrainSize - first)));
                var diverged = Enumerable.Range(0, active.Count).Where(k => !double.IsFinite(losses[k])).ToList();
                if (diverged.Count > 0)
                {
                    // No network took this step: the diverged ones stop, the others take it again without them.
                    foreach (int k in diverged) active[k].Fail($"the loss became {losses[k]}", step + 1);
                    Leave(diverged);
                    continue;
                }
                step++;
                foreach (var run in active) run.Step = step;
                progress?.Stepped(step);
                if (!settings.IsEvaluationStep(step)) continue;
                Scatter(net!, optimizer!, active);
                var failed = Enumerable.Range(0, active.Count).Where(k => !active[k].EvaluateAndRecord()).ToList();
                if (failed.Count > 0) Leave(failed);
            }
        }
        finally
        {
            orders?.Dispose();
            optimizer?.Dispose();
            net?.Dispose();
        }

        // The runs that diverged leave the ensemble; the others' state goes back to them and a smaller ensemble is stacked.
        void Leave(List<int> gone)
        {
            Scatter(net!, optimizer!, active);
            active = active.Where((_, k) => !gone.Contains(k)).ToList();
            orderEpoch = -1;
            if (active.Count > 0) Rebuild();
        }

        // libtorch's bmm of a single matrix with one output column takes another BLAS path (gemv) than a batch of two or
        // more, which round alike whatever their number: a run left alone here (by a resume or by the others' divergence)
        // trains beside a copy of itself, which is never read back, so that it computes as in any larger ensemble.
        List<Session> Members() => active.Count == 1 ? [active[0], active[0]] : active;

        void Rebuild()
        {
            optimizer?.Dispose();
            net?.Dispose();
            net = Mlp.Stack(Members().Select(r => r.Net).ToList());
            optimizer = CreateOptimizer(settings, net);
            Gather(optimizer, Members().Select(r => r.Optimizer).ToList());
        }
    }

    /// <summary>One step of all K networks; returns their losses, and takes no step (for any) if one of them is not finite.</summary>
    internal static double[] EnsembleStep(Mlp net, optim.Optimizer optimizer, TrainSettings settings, Tensor x, Tensor y, Tensor batches)
    {
        using var scope = NewDisposeScope();
        optimizer.zero_grad();
        long k = batches.shape[0], b = batches.shape[1];
        var flat = batches.reshape(-1);
        var inputs = x.index_select(0, flat).view(k, b, x.shape[1]);
        var output = net.call(inputs);
        var targets = y.index_select(0, flat);
        // Per network, the mean over its batch, with the gradient the run alone gets bit for bit: cross-entropy's mean
        // backward is -1/B per example either way; mse_loss's mean backward scales by 2/N inside, so it is taken per network.
        var losses = settings.Task.IsClassification
            ? nn.functional.cross_entropy(output.reshape(k * b, -1), targets, reduction: nn.Reduction.None).view(k, b).mean([1])
            : stack(Enumerable.Range(0, (int)k).Select(i => nn.functional.mse_loss(output[i], targets.view(output.shape)[i])).ToArray());
        var values = losses.detach().to(float64).cpu().data<double>().ToArray();
        if (values.Any(v => !double.IsFinite(v))) return values;
        losses.sum().backward();
        optimizer.step();
        return values;
    }

    /// <summary>The ensemble's weights and optimizer state of network k go back to run k's own network and optimizer.</summary>
    private static void Scatter(Mlp net, optim.Optimizer optimizer, IReadOnlyList<Session> runs)
    {
        using var noGrad = no_grad();
        for (int k = 0; k < runs.Count; k++)
        {
            var own = runs[k].Net;
            for (int l = 0; l < net.Weights.Count; l++)
            {
                own.Weights[l].copy_(net.Weights[l].narrow(0, k, 1));
                own.Biases[l]?.copy_(net.Biases[l]!.narrow(0, k, 1));
            }
        }
        Transfer(optimizer, runs.Select(r => r.Optimizer).ToList(), toEnsemble: false);
    }

    /// <summary>The optimizer state of the runs, stacked into the ensemble's optimizer (its parameters are the stacked ones).</summary>
    private static void Gather(optim.Optimizer optimizer, IReadOnlyList<optim.Optimizer> runs) => Transfer(optimizer, runs, toEnsemble: true);

    /// <summary>
    /// Copies per-parameter optimizer state between the ensemble (parameters [K, ...]) and its K runs ([1, ...] each):
    /// Adam's moments and step count, SGD's momentum buffer (absent before the first step).
    /// </summary>
    private static void Transfer(optim.Optimizer ensemble, IReadOnlyList<optim.Optimizer> runs, bool toEnsemble)
    {
        using var noGrad = no_grad();
        var whole = ((OptimizerHelper)ensemble).state_dict().State;
        var parts = runs.Select(r => ((OptimizerHelper)r).state_dict().State).ToList();
        for (int p = 0; p < whole.Count; p++)
        {
            for (int k = 0; k < runs.Count; k++)
            {
                switch (whole[p], parts[k][p])
                {
                    case (Adam.State all, Adam.State one):
                        if (toEnsemble) all.step = one.step; else one.step = all.step;
                        Copy(all.exp_avg, one.exp_avg, k, toEnsemble);
                        Copy(all.exp_avg_sq, one.exp_avg_sq, k, toEnsemble);
                        break;
                    case (SGD.State all, SGD.State one):
                        if ((toEnsemble ? one.momentum_buffer : all.momentum_buffer) is null) break; // no step taken yet
                        if (toEnsemble)
                            all.momentum_buffer ??= zeros([runs.Count, .. one.momentum_buffer!.shape[1..]], one.momentum_buffer.dtype, one.momentum_buffer.device).DetachFromDisposeScope();
                        else
                            one.momentum_buffer ??= zeros([1, .. all.momentum_buffer!.shape[1..]], all.momentum_buffer.dtype, all.momentum_buffer.device).DetachFromDisposeScope();
                        Copy(all.momentum_buffer!, one.momentum_buffer!, k, toEnsemble);
                        break;
                    default:
                        throw new InvalidOperationException($"no ensemble state transfer for {whole[p].GetType().Name}");
                }
            }
        }

        static void Copy(Tensor all, Tensor one, int k, bool toEnsemble)
        {
            using var slice = all.narrow(0, k, 1);
            if (toEnsemble) slice.copy_(one); else one.copy_(slice);
        }
    }
}
