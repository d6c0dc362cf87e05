#!/usr/bin/python3
"""Functorch peer of `torchdist measure`, written as a PyTorch user would: K He-initialised ReLU MLPs (nn.Sequential of
nn.Linear), stacked with functorch.combine_state_for_ensemble, and vmap over jvp for J v at the nodes of one random
segment per network. It computes what `torchdist measure --width W --depth L --networks K --points P` computes: a segment
of length 1 from x0 ~ N(0, I) in a uniform direction, P midpoint nodes, and the length distortion D = mean_t |J(x_t) v| / |v|
per network. Prints one JSON object: the mean of D with its standard error and the time of each stage.
Usage: /usr/bin/python3 scripts/bench_functorch.py [--width 32] [--depth 20] [--networks 1000] [--points 64] [--threads 1]
With --torchdist 'COMMAND' it also runs `COMMAND measure` on the same job and thread count and reports the ratios: wall
time inside each process (ours: elapsed_seconds of its JSON) and CPU time of each whole process (robust on a loaded machine
for one thread; it includes starting Python and importing torch, or starting .NET and loading libtorch).
(Debian 12's python3-torch is PyTorch 1.13: functorch.combine_state_for_ensemble exists there; torch.func does not.)"""
import argparse, json, math, os, resource, subprocess, time

import torch
from functorch import combine_state_for_ensemble, jvp, vmap


def mlp(width, depth, dtype):
    layers = []
    for l in range(depth):
        linear = torch.nn.Linear(width, width, dtype=dtype)
        torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")  # He: N(0, 2 / fan_in)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if l < depth - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--points", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torchdist", help="command that runs torchdist, e.g. 'dotnet src/TorchDistortion.Cli/bin/Release/net10.0/linux-x64/torchdist.dll'")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    dtype = getattr(torch, args.dtype)
    n, k, p = args.width, args.networks, args.points

    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.no_grad():
        models = [mlp(n, args.depth, dtype) for _ in range(k)]
    fmodel, params, buffers = combine_state_for_ensemble(models)
    x0 = torch.randn(k, n, dtype=dtype)
    direction = torch.randn(k, n, dtype=dtype)
    direction = direction / direction.norm(dim=-1, keepdim=True)  # length 1
    built = time.perf_counter()

    nodes = ((torch.arange(p, dtype=dtype) + 0.5) / p).unsqueeze(1)  # midpoints of [0, 1]

    def distortion(params, buffers, x0, v):
        points = x0 + nodes * v  # [P, n]
        _, jv = jvp(lambda x: fmodel(params, buffers, x), (points,), (v.expand(p, n),))
        return jv.norm(dim=-1).mean() / v.norm()

    with torch.no_grad():
        d = vmap(distortion)(params, buffers, x0, direction)
    done = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    mean = d.mean().item()
    report = {
        "torch": torch.__version__, "threads": torch.get_num_threads(), "width": n, "depth": args.depth, "networks": k,
        "points": p, "dtype": args.dtype, "ensemble": "functorch.combine_state_for_ensemble",
        "mean_length_distortion": mean, "std_err": d.std().item() / math.sqrt(k),
        "draw_seconds": built - start, "vmap_jvp_seconds": done - built, "seconds": done - start,
        "cpu_seconds": time.process_time() - cpu_start, "process_cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    if args.torchdist:
        report["torchdist"] = ours = torchdist(args)
        report["ratio_wall"] = report["seconds"] / ours["elapsed_seconds"]
        report["ratio_process_cpu"] = report["process_cpu_seconds"] / ours["process_cpu_seconds"]
        # Both estimate E[D] of the same law from independent draws: z is their difference in joint standard errors.
        report["z_mean"] = (mean - ours["mean_length_distortion"]) / math.hypot(report["std_err"], ours["std_err"])
    print(json.dumps(report))


def torchdist(args):
    """The same job by `torchdist measure` (JSON to a temporary file), with the CPU time of its process."""
    out = f"/tmp/torchdist_functorch_peer_{os.getpid()}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args.torchdist.split() + [
        "measure", "--width", str(args.width), "--depth", str(args.depth), "--networks", str(args.networks),
        "--points", str(args.points), "--dtype", args.dtype, "--threads", str(args.threads), "--seed", str(args.seed),
        "--format", "json", "--no-progress", "--force", "-o", out], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out) as f:
        result = json.load(f)
    os.remove(out)
    summary = result["summary"]
    return {"elapsed_seconds": result["elapsed_seconds"], "mean_length_distortion": summary["mean"], "std_err": summary["std_err"],
            "process_cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


if __name__ == "__main__":
    main()
