"""Run every derivation in :mod:`proofs` and report each result.

Usage: ``python -m proofs.run_all [--full] [NAME ...]``. The exit status is 0
when every selected derivation passes and 1 when any fails.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import logging
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

logger = logging.getLogger(__name__)

DERIVATIONS = (
    "exp_simple_bivector",
    "invariant_decomposition",
    "power_iteration",
    "sandwich_compound",
    "double_rotor_parity",
    "rotor_log",
)
"""Module names under :mod:`proofs`, in the order the documentation presents them."""


@dataclass(frozen=True)
class Result:
    """The outcome of one derivation: ``error`` is ``None`` when every check passed."""

    name: str
    seconds: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None


def run_derivation(name: str, full: bool = False) -> Result:
    """Import ``proofs.<name>`` and run its ``main``; a failed check becomes a failed :class:`Result`.

    ``full`` is passed to a ``main`` that accepts it and selects its extra, slower cases.

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`DERIVATIONS`.
    """
    if name not in DERIVATIONS:
        raise ValueError(f"unknown derivation {name!r}; use one of {', '.join(DERIVATIONS)}")
    module = importlib.import_module(f"proofs.{name}")
    keywords = {"full": full} if "full" in inspect.signature(module.main).parameters else {}

    start = time.perf_counter()
    try:
        module.main(**keywords)
    except Exception as exception:  # one failing derivation must not hide the others
        logger.error("derivation %s failed: %s", name, exception)
        return Result(name, time.perf_counter() - start, f"{type(exception).__name__}: {exception}")
    return Result(name, time.perf_counter() - start)


def run_all(names: tuple[str, ...] = DERIVATIONS, full: bool = False, progress: bool = True) -> list[Result]:
    """Run the named derivations in order and return one :class:`Result` each."""
    results = []
    for name in tqdm(names, desc="derivations", unit="proof", disable=not progress, leave=False):
        results.append(run_derivation(name, full))
    return results


def format_report(results: list[Result]) -> str:
    """Return one line per derivation (name, pass or FAIL, seconds) and each failure's message."""
    width = max(len(result.name) for result in results)
    lines = [f"{result.name.ljust(width)}  {'pass' if result.passed else 'FAIL'}  {result.seconds:6.1f} s" for result in results]
    lines += [f"{result.name}: {result.error}" for result in results if not result.passed]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the derivations, print the report and return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m proofs.run_all", description="Run the SymPy derivations and report each result.")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"derivations to run (default: all of {', '.join(DERIVATIONS)})")
    parser.add_argument("--full", action="store_true", help="also run the slower cases (more signatures, up to n = 8)")
    parser.add_argument("--verbose", action="store_true", help="log each check as it passes")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in DERIVATIONS]
    if unknown:
        parser.error(f"unknown derivation {', '.join(unknown)}; choose from {', '.join(DERIVATIONS)}")
    logging.basicConfig(level=logging.INFO if arguments.verbose else logging.WARNING, format="%(name)s: %(message)s")

    results = run_all(tuple(arguments.names) or DERIVATIONS, full=arguments.full)
    print(format_report(results))
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
