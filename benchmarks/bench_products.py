"""Batched geometric-product throughput of geomalg (Numba, Torch) against clifford, side by side.

Run::

    python benchmarks/bench_products.py            # n = 4, 6, 8, 10
    python benchmarks/bench_products.py --n 4 6    # a subset

For every n it times two cases: full x full multivectors, and vector x bivector.
In the second case geomalg uses its grade-aware kernel, while clifford always
runs its full product.
clifford is timed the way it is used, one ``MultiVector`` product at a time in a
Python loop. Throughput is products per second from the median call time; the
ratio columns divide geomalg's throughput by clifford's. Pass ``--threads 1`` to
pin Torch to one thread. Targets: geomalg at least as fast as clifford
at every n, and batched Torch at least 10x clifford's loop at n = 8.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

from geomalg import Algebra

CASES = ("full x full", "vector x bivector")


def throughput(function, count: int, minimum_seconds: float) -> float:
    """Return ``count`` (products per call) divided by the median call time, after one warm-up call.

    The median keeps one stalled call (another process, a thread pool waking up)
    from dominating the figure.
    """
    function()
    durations = []
    start = time.perf_counter()
    while len(durations) < 3 or time.perf_counter() - start < minimum_seconds:
        before = time.perf_counter()
        function()
        durations.append(time.perf_counter() - before)
    return count / statistics.median(durations)


def operands(n: int, case: str, batch: int, rng: np.random.Generator):
    algebra = Algebra(n)
    a = rng.standard_normal((batch, algebra.dim))
    b = rng.standard_normal((batch, algebra.dim))
    if case == "vector x bivector":
        a = algebra.grade(a, 1)
        b = algebra.grade(b, 2)
        return algebra, a, b, (1, 2)
    return algebra, a, b, None


def measure(n: int, case: str, batch: int, seconds: float) -> dict[str, float]:
    import clifford

    rng = np.random.default_rng(n)
    algebra, a, b, grades = operands(n, case, batch, rng)
    a_tensor, b_tensor = torch.from_numpy(a), torch.from_numpy(b)

    layout, _ = clifford.Cl(n)
    loop_size = max(1, min(batch, 2000))
    a_objects = [layout.MultiVector(x) for x in a[:loop_size]]
    b_objects = [layout.MultiVector(x) for x in b[:loop_size]]

    def clifford_loop():
        for x, y in zip(a_objects, b_objects):
            x * y

    # Torch runs before Numba: Numba's OpenMP worker threads keep spinning for a while after a
    # parallel loop and would take CPU time from Torch's threads on a 2-core machine.
    algebra.backend = "numba"
    results = {
        "clifford": throughput(clifford_loop, loop_size, seconds),
        "torch": throughput(lambda: algebra.geometric_product(a_tensor, b_tensor, grades=grades), batch, seconds),
        "numba": throughput(lambda: algebra.geometric_product(a, b, grades=grades), batch, seconds),
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[4, 6, 8, 10], help="algebra dimensions to measure")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timing window per measurement, in seconds")
    parser.add_argument("--threads", type=int, default=None, help="Torch intra-op threads (default: Torch's choice)")
    arguments = parser.parse_args()
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)

    batches = {4: 65536, 6: 16384, 8: 2048, 10: 256, 12: 16}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    print(f"{'n':>3}  {'case':<18} {'batch':>6}  {'clifford/s':>11}  {'numba/s':>11}  {'torch/s':>11}  {'numba/cl':>8}  {'torch/cl':>8}")
    for n in arguments.n:
        for case in CASES:
            batch = batches.get(n, 64)
            result = measure(n, case, batch, arguments.seconds)
            print(
                f"{n:>3}  {case:<18} {batch:>6}  {result['clifford']:>11.3g}  {result['numba']:>11.3g}  "
                f"{result['torch']:>11.3g}  {result['numba'] / result['clifford']:>7.1f}x  {result['torch'] / result['clifford']:>7.1f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
