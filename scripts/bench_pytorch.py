#!/usr/bin/python3
"""PyTorch eager peer of TorchDistortion's tangent propagation: the same algorithm (point and tangents stacked,
one matmul per layer, the point's activation pattern masks all rows) on the same shape, float32, one thread.
Prints one JSON object. Usage: /usr/bin/python3 scripts/bench_pytorch.py [--width 64] [--depth 20] [--batch 4096]"""
import argparse, json, os, statistics, time

import torch


def blas():
    for path in ("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", "/etc/alternatives/libblas.so.3"):
        if os.path.exists(path):
            return os.path.realpath(path)
    return "unknown"


def timed(fn, seconds):
    fn()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < seconds and len(times) < 200):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, batch = args.width, args.batch
    weights = [torch.randn(n, n) * (2.0 / n) ** 0.5 for _ in range(args.depth)]
    biases = [torch.zeros(n) for _ in range(args.depth)]
    x = torch.randn(batch, n)
    u = torch.randn(batch, 1, n)

    @torch.no_grad()
    def forward():
        h = x
        for l, (w, b) in enumerate(zip(weights, biases)):
            h = h @ w.t().contiguous() + b
            if l < args.depth - 1:
                h = torch.relu(h)
        return h

    @torch.no_grad()
    def tangent():
        state = torch.cat([x.unsqueeze(1), u], 1)  # [B, 1 + k, n]
        for l, (w, b) in enumerate(zip(weights, biases)):
            state = (state.reshape(-1, n) @ w.t().contiguous()).view(batch, -1, n)
            state[:, 0, :] += b
            if l < args.depth - 1:
                state = state * (state[:, 0:1, :] > 0)
        return state

    forward_s, tangent_s = timed(forward, args.seconds), timed(tangent, args.seconds)
    print(json.dumps({
        "torch": torch.__version__, "blas": blas(), "threads": torch.get_num_threads(),
        "width": n, "depth": args.depth, "batch": batch, "dtype": "float32",
        "forward_points_per_second": batch / forward_s, "tangent_k1_points_per_second": batch / tangent_s,
        "tangent_over_forward": tangent_s / forward_s,
    }))


if __name__ == "__main__":
    main()
