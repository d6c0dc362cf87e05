#!/usr/bin/env bash
# Benchmark: `torchdist bench` (engine vs forward pass, all sizes), then, when Debian's python3-torch is installed
# (apt-get install python3-torch libopenblas0-openmp), the PyTorch eager peer on width 64, depth 20, float32, one
# thread, and the functorch peer of a whole `measure` job (scripts/bench_functorch.py) at 1 and 2 threads.
# Usage: scripts/bench.sh [bench options, e.g. --widths 64 --seconds 1]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE
out=results/bench.json
dotnet run --project src/TorchDistortion.Cli -c Release -- bench -o "$out" "$@"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  peer=$(/usr/bin/python3 scripts/bench_pytorch.py --width 64 --depth 20 --batch 4096 --threads 1)
  echo "PyTorch peer: $peer"
  /usr/bin/python3 - "$out" "$peer" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
peer = json.loads(sys.argv[2])
case = next(c for c in ours["cases"] if c["case"] == "tangent k=1" and c["width"] == 64 and c["dtype"] == "float32" and c["threads"] == 1)
ratio = case["points_per_second"] / peer["tangent_k1_points_per_second"]
print(f"tangent k=1, width 64, depth 20, float32, 1 thread: TorchDistortion {case['points_per_second']:,.0f} points/s, "
      f"PyTorch {peer['torch']} eager {peer['tangent_k1_points_per_second']:,.0f} points/s (BLAS {peer['blas']}): {ratio:.2f}x")
ours["pytorch_peer"] = peer
ours["pytorch_ratio_tangent_k1_width64"] = ratio
json.dump(ours, open(sys.argv[1], "w"), indent=2)
PY
  # The functorch peer of a whole `measure` job (combine_state_for_ensemble, vmap over jvp), at 1 and 2 threads.
  for threads in 1 2; do
    peer=$(/usr/bin/python3 scripts/bench_functorch.py --width 32 --depth 20 --networks 1000 --points 64 --dtype float64 \
      --threads "$threads" --torchdist "dotnet src/TorchDistortion.Cli/bin/Release/net10.0/linux-x64/torchdist.dll")
    echo "functorch peer, $threads thread(s): $peer"
    /usr/bin/python3 - "$out" "$peer" "$threads" <<'PY'
import json, sys
ours, peer, threads = json.load(open(sys.argv[1])), json.loads(sys.argv[2]), sys.argv[3]
print(f"measure --width 32 --depth 20 --networks 1000 --points 64 --dtype float64, {threads} thread(s): functorch "
      f"{peer['seconds']:.2f} s, TorchDistortion {peer['torchdist']['elapsed_seconds']:.2f} s: {peer['ratio_wall']:.2f}x "
      f"(whole processes' CPU time: {peer['ratio_process_cpu']:.2f}x); mean D {peer['mean_length_distortion']:.4f} vs "
      f"{peer['torchdist']['mean_length_distortion']:.4f}, z = {peer['z_mean']:.2f}")
ours.setdefault("functorch_peer", {})[threads] = peer
json.dump(ours, open(sys.argv[1], "w"), indent=2)
PY
  done
else
  echo "PyTorch peer skipped: Debian's python3-torch is not installed (apt-get install python3-torch libopenblas0-openmp)"
fi
