using System.CommandLine;
using TorchDistortion.Experiments;
using TorchDistortion.Training;

namespace TorchDistortion.Cli;

/// <summary>`merge`: the shard folders of one sweep into one result set.</summary>
internal static class MergeCommand
{
    internal static Command Create()
    {
        var folders = new Argument<string[]>("folders") { Description = "Sweep folders (shards) to combine", Arity = ArgumentArity.OneOrMore };
        var output = OutputOptions.Output("Folder for the merged result set");
        output.Required = true;
        var allowPartial = new Option<bool>("--allow-partial") { Description = "Merge even when runs of the sweep are missing" };
        var force = OutputOptions.Force();
        var command = new Command("merge", "Combine shard outputs of one sweep into one result set.") { folders, output, allowPartial, SweepCommand.MaxRuns, force };
        command.SetAction(parse =>
        {
            string target = parse.GetValue(output)!;
            if (File.Exists(target)) throw new ArgumentException($"--output: '{target}' is a file; give a folder");
            OutputGuard.CheckMergeFolder(target, parse.GetValue(force));
            var (runs, expected) = SweepRunner.Merge(parse.GetValue(folders)!, target, parse.GetValue(allowPartial), SweepCommand.MaxRunsOf(parse));
            Console.WriteLine($"merged {runs} of {expected} runs into {target}");
            if (runs < expected) Console.Error.WriteLine($"warning: {expected - runs} run(s) of the sweep are missing; run their shards, then merge again");
            return 0;
        });
        return command;
    }
}
