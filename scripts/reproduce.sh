#!/usr/bin/env bash
# Reproduce the paper's results: figures, data and report. Usage: scripts/reproduce.sh [--full] [-o folder] [--threads N]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
exec dotnet run --project src/TorchDistortion.Cli -c Release -- reproduce "$@"
