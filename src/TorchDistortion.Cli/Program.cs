using TorchDistortion.Cli;

return Cli.Run(Cli.Root(), args);
