#!/usr/bin/env bash
# The foundation's acceptance runs: width 32, depth 20 (n0 = nL = 32), 2000 networks each, measured mean
# against the exact value. Usage: scripts/acceptance.sh [extra measure options, e.g. --threads 2]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
dotnet build src/TorchDistortion.Cli -c Release -v quiet -nologo >/dev/null
run() { dotnet run --project src/TorchDistortion.Cli -c Release --no-build -- measure --width 32 --depth 20 --networks 2000 --format csv --no-progress "$@"; }
printf '%-34s %12s %10s %12s %8s %8s\n' case measured "s.e." exact ratio z
# Distinct seeds: with zero bias, C_W only rescales the same draws, so equal seeds would repeat one sample.
for case in "He length|--init he --seed 1" "He 2-volume|--init he --geometry patch --k 2 --seed 2" \
            "C_W=1 length|--init variance --cw 1 --seed 3" "C_W=3 length|--init variance --cw 3 --seed 4"; do
  name=${case%%|*}; options=${case#*|}
  # shellcheck disable=SC2086
  run $options "${@}" | awk -F, -v name="$name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["statistic"] == "mean" { printf "%-34s %12.6g %10.4g %12.6g %8.4f %8.2f\n", name, $col["value"], $col["std_err"], $col["theory"], $col["ratio"], $col["z"] }'
done
