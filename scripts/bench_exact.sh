#!/usr/bin/env bash
# Exact piecewise-linear length vs midpoint quadrature on width 64, depth 20 (n0 = nL = 64), He, unit segments,
# one thread: time per network and the quadrature's relative error against the exact length.
# Usage: scripts/bench_exact.sh [networks]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
networks=${1:-20}
dotnet build src/TorchDistortion.Cli -c Release -v quiet -nologo >/dev/null
td() { dotnet src/TorchDistortion.Cli/bin/Release/net10.0/linux-x64/torchdist.dll measure --width 64 --depth 20 --networks "$networks" \
         --seed 1 --threads 1 --format json --no-progress "$@"; }
field() { grep -m1 "\"$1\"" | sed -E 's/.*: ([^,]*),?/\1/'; }
exact_s=$(td --exact | field elapsed_seconds)
printf '%-28s %14s %22s\n' method "ms / network" "relative error"
printf '%-28s %14.2f %22s\n' "exact (all breakpoints)" "$(awk -v s="$exact_s" -v n="$networks" 'BEGIN { print s * 1000 / n }')" "0 (by construction)"
for n in 1000 10000 100000; do
  q_s=$(td --points "$n" --chunk 1 | field elapsed_seconds)
  err=$(td --exact --points "$n" --chunk 1 | field quadrature_error_estimate)
  printf '%-28s %14.2f %22s\n' "quadrature, $n nodes" "$(awk -v s="$q_s" -v n="$networks" 'BEGIN { print s * 1000 / n }')" "$err"
done
