"""Time rotor sandwich operators side by side with ``torch.nn.Linear``.

For each n it times, in float32 on the CPU:

* building the operator from bivector parameters, forward only and forward
  plus backward (the gradient of a scalar loss with respect to the bivector).
  The cases are the single-rotor grade blocks, the double-rotor parity blocks
  and the dense reference. The structured mode has no separate build step, so
  it is timed as decomposition, apply and backward on one vector;
* applying a built operator to batches of vectors (no gradient). The
  structured mode at batch 512 builds and applies the block operator, since
  ``structured_apply`` routes batches of ``BLOCK_ROUTE_ROWS`` rows or more
  there, so its time includes that build;
* ``torch.nn.Linear(2**n, 2**n)`` on the same batches.

It then prints the ratios behind two targets at n = 11 and batch 1: the
structured or block apply against ``nn.Linear``, and the block build with
gradients against the dense reference. Run::

    python benchmarks/bench_rotor.py                 # n = 8, 10, 11, 12
    python benchmarks/bench_rotor.py --sizes 8 10 --threads 1

Timings are medians over ``--repeat`` runs after one warm-up run; a case that
takes longer than ``--budget`` seconds is run once more only. Use
``--threads 1`` on small shared machines: with 2 threads, tiny matrix
products stalled for about 32 ms each on a loaded 2-core machine.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import statistics
import time
from typing import Callable

import torch

from geomalg.rotor import sandwich_operator
from geomalg.rotor.sandwich import structured_apply

logger = logging.getLogger("bench_rotor")


def measure(function: Callable[[], object], repeat: int, budget: float) -> float:
    """Return the median wall time of ``function`` in seconds, after one warm-up call."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    runs = 1 if first > budget else repeat
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_cases(signature: tuple[int, ...]) -> dict[str, Callable[[torch.Tensor, torch.Tensor], object]]:
    """Return the operator builders, each mapping bivectors to something that can be applied."""
    return {
        "blocks (single)": lambda b, c: sandwich_operator(b, signature, mode="blocks"),
        "blocks (double)": lambda b, c: sandwich_operator(b, signature, c, mode="blocks"),
        "dense (single)": lambda b, c: sandwich_operator(b, signature, mode="dense"),
        "dense (double)": lambda b, c: sandwich_operator(b, signature, c, mode="dense"),
    }


def operator_loss(operator) -> torch.Tensor:
    """Return a scalar that depends on every entry of a built operator."""
    if hasattr(operator, "blocks"):
        return sum(block.sum() for block in operator.blocks)
    if hasattr(operator, "even"):
        return operator.even.sum() + operator.odd.sum()
    return operator.matrix.sum()


def run_size(n: int, batches: list[int], repeat: int, budget: float) -> dict[str, float]:
    """Time every case for one n and return the times in seconds, keyed by a label."""
    signature = (1,) * n
    generator = torch.Generator().manual_seed(n)
    left = 0.3 * torch.randn(math.comb(n, 2), generator=generator)
    right = 0.3 * torch.randn(math.comb(n, 2), generator=generator)
    results: dict[str, float] = {}

    for label, build in build_cases(signature).items():
        with torch.no_grad():
            results[f"build {label}"] = measure(lambda: build(left, right), repeat, budget)

        def forward_backward():
            b = left.clone().requires_grad_()
            c = right.clone().requires_grad_()
            operator_loss(build(b, c)).backward()

        results[f"build+grad {label}"] = measure(forward_backward, repeat, budget)

    def structured_loss():
        b = left.clone().requires_grad_()
        x = torch.randn(1, 1 << n, generator=generator)
        structured_apply(x, b, None, signature, "eigh").sum().backward()

    results["build+grad structured (single, batch 1)"] = measure(structured_loss, repeat, budget)

    with torch.no_grad():
        operators = {
            "blocks (single)": sandwich_operator(left, signature, mode="blocks"),
            "blocks (double)": sandwich_operator(left, signature, right, mode="blocks"),
            "dense (single)": sandwich_operator(left, signature, mode="dense"),
        }
        linear = torch.nn.Linear(1 << n, 1 << n)
        for batch in batches:
            x = torch.randn(batch, 1 << n, generator=generator)
            for label, operator in operators.items():
                results[f"apply {label} batch {batch}"] = measure(lambda: operator.apply(x), repeat, budget)
            results[f"apply structured (single) batch {batch}"] = measure(
                lambda: structured_apply(x, left, None, signature, "eigh"), repeat, budget
            )
            results[f"apply structured (double) batch {batch}"] = measure(
                lambda: structured_apply(x, left, right, signature, "eigh"), repeat, budget
            )
            results[f"nn.Linear batch {batch}"] = measure(lambda: linear(x), repeat, budget)
    return results


def format_seconds(seconds: float) -> str:
    """Return a time in ms with three significant digits."""
    return f"{seconds * 1e3:.3g} ms"


def print_machine() -> None:
    """Print the CPU, thread count, library versions and current load."""
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, Python {platform.python_version()}")
    print(f"load average at start (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")


def print_results(all_results: dict[int, dict[str, float]]) -> None:
    """Print one table with a column per n, then the target ratios."""
    sizes = sorted(all_results)
    labels = list(next(iter(all_results.values())))
    width = max(len(label) for label in labels)
    print()
    print(f"{'case':<{width}}  " + "  ".join(f"{'n = ' + str(n):>12}" for n in sizes))
    for label in labels:
        cells = [format_seconds(all_results[n][label]) if label in all_results[n] else "-" for n in sizes]
        print(f"{label:<{width}}  " + "  ".join(f"{cell:>12}" for cell in cells))

    print()
    for n in sizes:
        results = all_results[n]
        linear = results.get("nn.Linear batch 1")
        if linear is None:
            continue
        for mode in ("blocks (single)", "structured (single)", "blocks (double)", "structured (double)"):
            key = f"apply {mode} batch 1"
            print(f"n = {n}: nn.Linear / {mode} apply at batch 1 = {linear / results[key]:.2f}x")
        for mode in ("single", "double"):
            dense = results[f"build+grad dense ({mode})"]
            blocks = results[f"build+grad blocks ({mode})"]
            print(f"n = {n}: dense / blocks build with gradient ({mode} rotor) = {dense / blocks:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 10, 11, 12], help="values of n to time")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 512], help="numbers of vectors per apply")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case after the warm-up run")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds above which a case runs once only")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print_machine()
    all_results = {}
    for n in args.sizes:
        logger.info("timing n = %d", n)
        all_results[n] = run_size(n, args.batches, args.repeat, args.budget)
    print_results(all_results)
    load = os.getloadavg()
    print(f"load average at end (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")


if __name__ == "__main__":
    main()
