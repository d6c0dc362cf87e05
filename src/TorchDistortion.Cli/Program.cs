using System.CommandLine;
using TorchDistortion.Cli;

var root = new RootCommand("TorchDistortion: exact length and volume distortion of random ReLU networks, beside the exact theory.")
{
    MeasureCommand.Create(),
    ExperimentCommands.Reproduce(),
    TrainCommand.Create(),
    ExperimentCommands.Sweep(),
    ExperimentCommands.Merge(),
    ExperimentCommands.Plot(),
    TorchDistortion.Cli.Bench.BenchCommand.Create(),
    DoctorCommand.Create(),
};
return Cli.Run(root, args);
