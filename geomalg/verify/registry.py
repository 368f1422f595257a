"""Registry of numerical checks run by ``python -m geomalg.verify``.

A check is a function that computes the largest absolute error of one result
against an independent reference (``clifford``, ``galgebra``, a dense float64
computation or an identity) and returns it as a float. Registration records the
tolerance that error must stay within and the signatures to run it on.
Modules named ``geomalg.verify.checks_*`` are imported automatically, so adding
a check means adding a decorated function to such a module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

Signature = tuple[int, int, int]


class CheckSkipped(Exception):
    """Raised by a check that cannot run here (for example, its reference is not installed).

    The report lists it as skipped with the message, and it does not fail the run.
    """


@dataclass(frozen=True)
class Check:
    """One registered check bound to one signature (or to none)."""

    name: str
    signature: Signature | None
    tolerance: float
    full_only: bool
    function: Callable[..., float] = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """Name and signature as shown in the report, such as ``product.gp.numba Cl(3,0,1)``."""
        if self.signature is None:
            return self.name
        p, q, r = self.signature
        return f"{self.name} Cl({p},{q},{r})"

    def run(self) -> float:
        """Run the check and return its largest absolute error."""
        if self.signature is None:
            return float(self.function())
        return float(self.function(*self.signature))


@dataclass
class Registry:
    """An ordered collection of checks."""

    checks: list[Check] = field(default_factory=list)

    def register(
        self,
        name: str,
        tolerance: float,
        signatures: Iterable[Signature] | None = None,
        full_signatures: Iterable[Signature] | None = None,
    ) -> Callable[[Callable[..., float]], Callable[..., float]]:
        """Register a check function under ``name``.

        Parameters
        ----------
        name
            Dotted name such as ``"product.geometric.numba"``; ``--only`` matches against it.
        tolerance
            The largest absolute error that still passes.
        signatures
            Signatures ``(p, q, r)`` run by default. ``None`` registers a check that takes no arguments.
        full_signatures
            Extra signatures run only with ``--full``.
        """

        def decorator(function: Callable[..., float]) -> Callable[..., float]:
            if signatures is None and full_signatures is None:
                self.checks.append(Check(name, None, tolerance, False, function))
                return function
            default = list(signatures or [])
            for signature in default:
                self.checks.append(Check(name, tuple(signature), tolerance, False, function))
            for signature in full_signatures or []:
                if tuple(signature) not in default:
                    self.checks.append(Check(name, tuple(signature), tolerance, True, function))
            return function

        return decorator

    def select(self, full: bool = False, patterns: Sequence[str] = ()) -> list[Check]:
        """Return the checks to run: default ones (plus ``--full`` ones) whose label matches a pattern."""
        import fnmatch

        selected = []
        for check in self.checks:
            if check.full_only and not full:
                continue
            if patterns and not any(_matches(check.label, pattern, fnmatch) for pattern in patterns):
                continue
            selected.append(check)
        return selected


def _matches(label: str, pattern: str, fnmatch) -> bool:
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatchcase(label, pattern) or fnmatch.fnmatchcase(label.split(" ")[0], pattern)
    return pattern in label


REGISTRY = Registry()
"""The registry that ``python -m geomalg.verify`` runs."""

register = REGISTRY.register


def signatures_up_to(n_max: int) -> list[Signature]:
    """Return every signature (p, q, r) with p + q + r <= n_max, ordered by n."""
    result = []
    for n in range(n_max + 1):
        for r in range(n + 1):
            for q in range(n - r + 1):
                result.append((n - q - r, q, r))
    return result
