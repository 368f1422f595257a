"""Time the baseline layers side by side with ``nn.Linear`` at one width.

Usage::

    python benchmarks/bench_layers.py --threads 2
    python benchmarks/bench_layers.py --in-features 640 --out-features 1024 --device cuda

Each layer is timed on three cases: forward at batch 1 (decoding), forward
at batch 512, and forward plus backward at batch 256.  Times are medians of
``torch.utils.benchmark.Timer.blocked_autorange``.  A new layer is one more
entry in :func:`layer_factories`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils import benchmark

import geomalg.nn as geomalg_nn
from geomalg.nn.accounting import layer_cost

LayerFactory = Callable[[int, int], nn.Module]

CASES = (
    ("forward b=1", 1, False),
    ("forward b=512", 512, False),
    ("fwd+bwd b=256", 256, True),
)

# Speed goals of the rotor layers against dense, as (layer, case, least
# speed-up over dense).  A speed-up of 0.5 means at most twice as slow.
TARGETS = (
    ("rotor", "forward b=1", 5.0),
    ("rotor gadget W=3 D=2", "forward b=1", 1.0),
    ("rotor", "fwd+bwd b=256", 0.5),
    ("rotor gadget W=3 D=2", "fwd+bwd b=256", 0.5),
)


def layer_factories(rank: int, block_size: int) -> list[tuple[str, LayerFactory]]:
    """Return the named layers to time; the first is the reference for the speed ratios."""
    factories: list[tuple[str, LayerFactory]] = [
        ("dense nn.Linear", lambda n_in, n_out: nn.Linear(n_in, n_out)),
        (f"low-rank r={rank}", lambda n_in, n_out: geomalg_nn.LowRankLinear(n_in, n_out, rank)),
        (f"block-Hadamard b={block_size}",
         lambda n_in, n_out: geomalg_nn.BlockHadamardLinear(n_in, n_out, block_size=block_size)),
    ]
    rotor_class = getattr(geomalg_nn, "RotorLinear", None)
    if rotor_class is not None:
        factories.append(("rotor", lambda n_in, n_out: rotor_class(n_in, n_out)))
        factories.append(("rotor gadget W=3 D=2", lambda n_in, n_out: geomalg_nn.RotorGadget(n_in, n_out)))
        factories.append(("rotor c=64 + scales",
                          lambda n_in, n_out: rotor_class(n_in, n_out, chunk_size=64, feature_scales=True)))
    return factories


def time_case(module: nn.Module, x: torch.Tensor, backward: bool, min_run_time: float) -> float:
    """Return the median seconds of one forward, or one forward and backward, of ``module`` on ``x``."""
    # Inference runs in eval mode, where layers may cache derived operators;
    # training runs in train mode.
    module.train(backward)
    if backward:
        inputs = x.clone().requires_grad_(True)
        gradient = torch.randn(*x.shape[:-1], module.out_features, device=x.device, dtype=x.dtype)
        statement = "module(inputs).backward(gradient)"
        names = {"module": module, "inputs": inputs, "gradient": gradient}
    else:
        statement = "with torch.no_grad(): module(inputs)"
        names = {"module": module, "inputs": x, "torch": torch}
    timer = benchmark.Timer(stmt=statement, globals=names, num_threads=torch.get_num_threads())
    return timer.blocked_autorange(min_run_time=min_run_time).median


def main() -> None:
    parser = argparse.ArgumentParser(description="Time baseline linear layers against nn.Linear.")
    parser.add_argument("--in-features", type=int, default=2048, help="input width (default 2048)")
    parser.add_argument("--out-features", type=int, default=2048, help="output width (default 2048)")
    parser.add_argument("--rank", type=int, default=64, help="low-rank rank (default 64)")
    parser.add_argument("--block-size", type=int, default=64, help="block-Hadamard block size (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64", "bfloat16", "float16"),
                        help="parameter and input dtype (default float32)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    parser.add_argument("--min-run-time", type=float, default=0.5,
                        help="seconds of repeated runs per measurement (default 0.5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)

    rows = []
    for name, factory in layer_factories(args.rank, args.block_size):
        module = factory(args.in_features, args.out_features).to(device=args.device, dtype=dtype)
        row = {"layer": name, "params": layer_cost(module).params}
        for case, batch, backward in CASES:
            x = torch.randn(batch, args.in_features, device=args.device, dtype=dtype)
            row[case] = time_case(module, x, backward, args.min_run_time)
        rows.append(row)

    reference = rows[0]
    print(f"{args.in_features}->{args.out_features}, {args.dtype} on {args.device}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
          "median milliseconds (speed-up over the first row)")
    header = f"{'layer':<22}{'params':>12}" + "".join(f"{case:>24}" for case, _, _ in CASES)
    print(header)
    for row in rows:
        cells = "".join(
            f"{1e3 * row[case]:>14.3f} ({reference[case] / row[case]:5.2f}x)" for case, _, _ in CASES)
        print(f"{row['layer']:<22}{row['params']:>12,}{cells}")

    print("\nGoals (speed-up over dense):")
    by_name = {row["layer"]: row for row in rows}
    for layer, case, least in TARGETS:
        if layer not in by_name:
            continue
        speedup = reference[case] / by_name[layer][case]
        verdict = "met" if speedup >= least else "missed"
        print(f"  {layer}, {case}: {speedup:.2f}x, goal at least {least:g}x: {verdict}")
    if args.json is not None:
        args.json.write_text(json.dumps({"arguments": vars(args) | {"json": str(args.json)}, "rows": rows},
                                        indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
