"""Shared fixtures: algebras, random coefficient arrays and the ``clifford`` reference."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from geomalg import blades

REFERENCE_SIGNATURES = [
    (0, 0, 0),
    (1, 0, 0),
    (0, 1, 0),
    (0, 0, 1),
    (2, 0, 0),
    (1, 1, 0),
    (0, 2, 0),
    (3, 0, 0),
    (2, 1, 0),
    (0, 3, 0),
    (2, 0, 1),
    (3, 0, 1),
    (1, 3, 0),
    (4, 1, 0),
]
"""Signatures compared with ``clifford``: every kind of square, both kernel modes, n up to 5."""


@functools.lru_cache(maxsize=None)
def clifford_layout(p: int, q: int, r: int):
    """Return the ``clifford`` layout of Cl(p, q, r), whose basis order geomalg shares."""
    import clifford

    layout, _ = clifford.Cl(p, q, r)
    return layout


def clifford_batch(layout, operation, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Apply a ``clifford`` operation one multivector at a time, as the reference."""
    rows = np.broadcast_arrays(a, b)
    return np.array([operation(layout.MultiVector(x), layout.MultiVector(y)).value for x, y in zip(*rows)])


@pytest.fixture
def rng():
    return np.random.default_rng(20251204)


def random_multivectors(rng, n: int, batch: int, grades=None) -> np.ndarray:
    """Return standard-normal coefficients, zero outside ``grades``."""
    values = rng.standard_normal((batch, 1 << n))
    if grades is not None:
        values *= np.isin(blades.blade_grades(n), grades)
    return values
