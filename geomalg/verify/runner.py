"""Running selected checks and printing the report table."""

from __future__ import annotations

import importlib
import logging
import math
import pkgutil
import time
from dataclasses import dataclass
from typing import TextIO

from tqdm import tqdm

import geomalg.verify
from geomalg.verify.registry import REGISTRY, Check, CheckSkipped

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """The result of one check: its error, or the exception it raised."""

    check: Check
    error: float
    seconds: float
    exception: str | None = None
    skipped: bool = False

    @property
    def passed(self) -> bool:
        return self.exception is None and math.isfinite(self.error) and self.error <= self.check.tolerance

    @property
    def failed(self) -> bool:
        return not self.passed and not self.skipped


def load_check_modules() -> list[str]:
    """Import every ``geomalg.verify.checks_*`` module so its checks register; return their names."""
    names = []
    for info in pkgutil.iter_modules(geomalg.verify.__path__):
        if info.name.startswith("checks_"):
            importlib.import_module(f"geomalg.verify.{info.name}")
            names.append(info.name)
    return names


def run_checks(checks: list[Check], progress: bool = True) -> list[Outcome]:
    """Run ``checks`` in order; an exception inside a check becomes a failed outcome, not a crash."""
    outcomes = []
    for check in tqdm(checks, desc="verify", unit="check", disable=not progress, leave=False):
        start = time.perf_counter()
        try:
            error = check.run()
            outcomes.append(Outcome(check, error, time.perf_counter() - start))
        except CheckSkipped as reason:
            outcomes.append(Outcome(check, math.nan, time.perf_counter() - start, f"skipped: {reason}", skipped=True))
        except Exception as exception:  # a failing check must not hide the others
            logger.debug("check %s raised", check.label, exc_info=True)
            message = f"{type(exception).__name__}: {exception}"
            outcomes.append(Outcome(check, math.inf, time.perf_counter() - start, message))
    return outcomes


def format_table(outcomes: list[Outcome]) -> str:
    """Return the report: one row per check (check, signature, max abs error, tolerance, pass/fail)."""
    header = ("check", "signature", "max abs error", "tolerance", "result")
    rows = []
    for outcome in outcomes:
        check = outcome.check
        signature = "-" if check.signature is None else "Cl({},{},{})".format(*check.signature)
        error = "-" if outcome.exception else f"{outcome.error:.2e}"
        if outcome.passed:
            result = "pass"
        elif outcome.skipped:
            result = "skip"
        else:
            result = "FAIL"
        rows.append((check.name, signature, error, f"{check.tolerance:.0e}", result))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    for outcome in outcomes:
        if outcome.exception:
            lines.append(f"{outcome.check.label}: {outcome.exception}")
    return "\n".join(lines)


def summary_line(outcomes: list[Outcome], seconds: float) -> str:
    """Return a line such as ``152 passed, 0 failed, 3 skipped in 48.1 s``."""
    passed = sum(outcome.passed for outcome in outcomes)
    failed = sum(outcome.failed for outcome in outcomes)
    skipped = sum(outcome.skipped for outcome in outcomes)
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    return f"{line} in {seconds:.1f} s"


def report(stream: TextIO, outcomes: list[Outcome], seconds: float) -> None:
    """Write the table and the summary line to ``stream``."""
    stream.write(format_table(outcomes) + "\n\n" + summary_line(outcomes, seconds) + "\n")


def registry_checks():
    """Return the registry after loading every check module."""
    load_check_modules()
    return REGISTRY
