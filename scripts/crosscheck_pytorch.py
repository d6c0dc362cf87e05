#!/usr/bin/env python3
"""Cross-check TorchDistortion's distortions against PyTorch's own autograd.

  check NETWORK NODES [--tolerance 1e-6] [--device auto|cpu|cuda]
      NETWORK: a .safetensors checkpoint written by `torchdist train` (read here without the safetensors
      package), or a PyTorch .pt/.pth state_dict. NODES: the JSON that
      `torchdist measure --checkpoint NETWORK --export-points NODES` writes: the quadrature nodes, tangents, and
      our log-volume per node and log distortion per geometry. The network is rebuilt as Linear/ReLU layers in
      float64, J u is recomputed with torch.autograd.functional.jvp, and both are compared.
      Exit code 0 when every relative difference is within the tolerance, 1 otherwise.

  make-pt OUT.pt [--widths 3,32,32,2] [--seed 0]
      Saves the state_dict of a randomly initialised PyTorch MLP (nn.Linear defaults, float64, keys
      "layers.0.weight", ...) for the reverse check: our loader reads a file that PyTorch wrote.
"""
import argparse
import json
import math
import pickle
import re
import struct
import sys

try:
    import torch
except ImportError:
    print("error: PyTorch is not installed (Debian: apt-get install python3-torch)", file=sys.stderr)
    sys.exit(2)

SAFETENSORS_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (header_length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_length])
    body = data[8 + header_length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        dtype = SAFETENSORS_DTYPES[entry["dtype"]]
        tensors[name] = torch.frombuffer(bytearray(body[start:end]), dtype=dtype).reshape(entry["shape"])
    return tensors


def natural_key(name):
    return re.sub(r"[0-9]+", lambda m: m.group(0).zfill(12), name)


def linear_layers(state):
    """The (weight, bias) pairs of a Linear/ReLU MLP state_dict, in natural key order."""
    keys = sorted((k for k in state if k.endswith("weight")), key=natural_key)
    layers = []
    for key in keys:
        bias = state.get(key[: -len("weight")] + "bias")
        layers.append((state[key].to(torch.float64), None if bias is None else bias.to(torch.float64)))
    return layers


def make_network(layers, device):
    layers = [(w.to(device), None if b is None else b.to(device)) for w, b in layers]

    def f(x):
        for i, (w, b) in enumerate(layers):
            x = torch.nn.functional.linear(x, w, b)
            if i < len(layers) - 1:
                x = torch.relu(x)
        return x

    return f


def log_volumes(rows):
    """log sqrt(det(R R^T)) for row blocks R [N, k, n]; -inf where the rows are dependent."""
    gram = rows @ rows.transpose(-1, -2)
    sign, logdet = torch.linalg.slogdet(gram)
    return torch.where(sign > 0, 0.5 * logdet, torch.full_like(logdet, -math.inf))


def check(args):
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    state = read_safetensors(args.network) if args.network.endswith(".safetensors") else torch.load(args.network, map_location="cpu")
    layers = linear_layers(state)
    f = make_network(layers, device)
    with open(args.nodes) as handle:
        nodes = json.load(handle)
    widths = [layers[0][0].shape[1]] + [w.shape[0] for w, _ in layers]
    if list(nodes["widths"]) != widths:
        raise ValueError(f"the nodes were exported from a network of widths {nodes['widths']}, but {args.network} has widths {widths}")
    x = torch.tensor(nodes["points"], dtype=torch.float64, device=device)
    u = torch.tensor(nodes["tangents"], dtype=torch.float64, device=device)  # [N, k, n0]
    k = u.shape[1]
    # f acts on each row separately, so the JVP of the batch gives J(x_i) u_i for every node at once.
    images = torch.stack([torch.autograd.functional.jvp(f, x, u[:, j, :])[1] for j in range(k)], dim=1)
    theirs = log_volumes(images)
    # JSON writes infinite values as strings ("-Infinity": a k-volume that is exactly 0).
    ours = torch.tensor([float(v) for v in nodes["log_volumes"]], dtype=torch.float64, device=device)
    # Where we report an exact zero (fewer than k active neurons in some layer), PyTorch's determinant of the
    # rank-deficient Gram matrix is rounding noise: the volume relative to the rows' norms must be negligible.
    row_norms = images.norm(dim=-1).clamp_min(1e-300).log().sum(-1)
    their_zero = (theirs - row_norms < math.log(1e-6)) | torch.isinf(theirs)
    zero = torch.isinf(ours) & (ours < 0)
    node_diff = torch.where(zero, (~their_zero).double(), (ours - theirs).exp() - 1).abs()
    per_geometry = nodes["nodes_per_geometry"]
    input_volumes = log_volumes(u).reshape(-1, per_geometry).logsumexp(1)
    their_distortion = torch.where(zero, ours, theirs).reshape(-1, per_geometry).logsumexp(1) - input_volumes
    our_distortion = torch.tensor([float(v) for v in nodes["log_distortions"]], dtype=torch.float64, device=device)
    geometry_diff = ((our_distortion - their_distortion).exp() - 1).abs()
    worst_node = node_diff.max().item()
    worst_geometry = geometry_diff.max().item()
    ok = math.isfinite(worst_node) and worst_node <= args.tolerance and worst_geometry <= args.tolerance
    print(f"PyTorch {torch.__version__} on {device}, float64: {x.shape[0]} nodes ({int(zero.sum())} of zero volume), {our_distortion.shape[0]} geometries, k = {k}")
    print(f"max relative difference: per node {worst_node:.3e}, per distortion {worst_geometry:.3e} (tolerance {args.tolerance:g})")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def make_pt(args):
    widths = [int(w) for w in args.widths.split(",")]
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"--widths needs at least two positive widths, got {args.widths}")
    torch.manual_seed(args.seed)

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            modules = []
            for i in range(len(widths) - 1):
                modules.append(torch.nn.Linear(widths[i], widths[i + 1]))
                if i < len(widths) - 2:
                    modules.append(torch.nn.ReLU())
            self.layers = torch.nn.Sequential(*modules)

    model = MLP().double()
    torch.save(model.state_dict(), args.out)
    print(f"wrote {args.out}: widths {widths}, keys {list(model.state_dict())}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("network")
    c.add_argument("nodes")
    c.add_argument("--tolerance", type=float, default=1e-6)
    c.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    m = sub.add_parser("make-pt")
    m.add_argument("out")
    m.add_argument("--widths", default="3,32,32,2")
    m.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    try:
        return check(args) if args.command == "check" else make_pt(args)
    except (OSError, ValueError, KeyError, RuntimeError, struct.error, pickle.UnpicklingError) as error:
        # Bad input is exit code 2 with one line; 1 is reserved for a real disagreement.
        print(f"error: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
