#!/usr/bin/env python3
"""Makes small TorchScript models for `torchdist measure --model` and PyTorch's own J u on random points.

    python3 scripts/torchscript_models.py OUT_DIR

writes OUT_DIR/{residual,tanh,cnn}.pt (float64, scripted or traced as a user would) and OUT_DIR/reference.json with,
per model, points [P, n0], tangents [P, n0] and torch.autograd.functional.jvp's J u [P, nL]. The tests load the same
files in TorchSharp and compare their double-VJP J u with these numbers.
"""
import json
import sys

import torch
from torch import nn


class ResidualMlp(nn.Module):
    def __init__(self, n0: int, width: int, blocks: int, n_out: int):
        super().__init__()
        self.inp = nn.Linear(n0, width)
        self.blocks = nn.ModuleList([nn.Linear(width, width) for _ in range(blocks)])
        self.out = nn.Linear(width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.inp(x))
        for block in self.blocks:
            h = h + torch.relu(block(h))
        return self.out(h)


class Cnn1d(nn.Module):
    """Points [B, n0] read as one-channel signals of length n0."""

    def __init__(self, n0: int):
        super().__init__()
        self.conv1 = nn.Conv1d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv1d(4, 4, 3, padding=1)
        self.head = nn.Linear(4 * n0, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.gelu(self.conv1(x.unsqueeze(1)))
        h = torch.tanh(self.conv2(h))
        return self.head(h.flatten(1))


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: torchscript_models.py OUT_DIR")
    out = sys.argv[1]
    torch.manual_seed(0)
    models = {
        "residual": (torch.jit.script(ResidualMlp(6, 24, 3, 4).double()), 6),
        "tanh": (torch.jit.script(nn.Sequential(nn.Linear(5, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3)).double()), 5),
        "cnn": (torch.jit.trace(Cnn1d(10).double(), torch.randn(2, 10, dtype=torch.float64)), 10),
    }
    reference = {}
    for name, (module, n0) in models.items():
        module.save(f"{out}/{name}.pt")
        points = torch.randn(20, n0, dtype=torch.float64)
        tangents = torch.randn(20, n0, dtype=torch.float64)
        _, jvp = torch.autograd.functional.jvp(module, points, tangents)
        reference[name] = {"n0": n0, "points": points.tolist(), "tangents": tangents.tolist(), "jvp": jvp.tolist()}
    with open(f"{out}/reference.json", "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    main()
