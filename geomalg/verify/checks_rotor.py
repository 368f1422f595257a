"""Rotor checks: exp, log, invariant decomposition and sandwiches against ``clifford``.

The reference rotor is computed with ``clifford`` products alone, by scaling
and squaring: :math:`\\exp(B) = \\exp(B / 2^s)^{2^s}` with a 30-term Taylor
series for :math:`\\|B / 2^s\\| \\le 1/4`. It shares no code with
:mod:`geomalg.rotor`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from geomalg import blades
from geomalg.verify.registry import register, signatures_up_to

TAYLOR_TERMS = 30
"""Taylor terms of the reference exponential at norm 1/4; the remainder is far below float64 round-off."""

ALL_UP_TO_8 = [s for s in signatures_up_to(8) if sum(s) >= 2]
"""Every signature with 2 <= n <= 8."""


@functools.lru_cache(maxsize=None)
def clifford_layout(p: int, q: int, r: int):
    """Return the ``clifford`` layout of Cl(p, q, r)."""
    import clifford

    layout, _ = clifford.Cl(p, q, r)
    return layout


def clifford_bivector(layout, bivector: np.ndarray):
    """Return a ``clifford`` multivector with grade-2 coefficients ``bivector``."""
    n = layout.dims
    values = np.zeros(1 << n)
    values[blades.grade_slice(n, 2)] = bivector
    return layout.MultiVector(values)


def clifford_exp(layout, bivector: np.ndarray) -> np.ndarray:
    """Return ``exp(B)`` from ``clifford`` products by scaling and squaring, shape ``(2**n,)``."""
    B = clifford_bivector(layout, bivector)
    norm = float(np.abs(bivector).sum())
    squarings = max(0, math.ceil(math.log2(max(norm, 1e-300) / 0.25))) if norm > 0.25 else 0
    scaled = B * (0.5**squarings)
    total = layout.scalar * 1.0
    term = layout.scalar * 1.0
    for j in range(1, TAYLOR_TERMS + 1):
        term = term * scaled * (1.0 / j)
        total = total + term
    for _ in range(squarings):
        total = total * total
    return total.value


def clifford_sandwich(layout, left: np.ndarray, x: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return ``left * x * ~right`` computed by ``clifford``."""
    R = layout.MultiVector(left)
    S = layout.MultiVector(right)
    return (R * layout.MultiVector(x) * ~S).value


def _random_bivector(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    return scale * np.random.default_rng(seed).standard_normal(math.comb(n, 2))


def _signature(p: int, q: int, r: int) -> tuple[int, ...]:
    return blades.signature_vector(p, q, r)


@register(
    "rotor.exp.clifford",
    tolerance=1e-9,
    signatures=[(3, 0, 0), (2, 1, 0), (3, 0, 1)],
    full_signatures=ALL_UP_TO_8,
)
def exp_matches_clifford(p: int, q: int, r: int) -> float:
    """Compare ``bivector_exp`` (method "auto") with the ``clifford`` scaling-and-squaring reference."""
    from geomalg.rotor import bivector_exp

    layout = clifford_layout(p, q, r)
    n = p + q + r
    error = 0.0
    for seed in range(3):
        bivector = _random_bivector(n, seed)
        expected = clifford_exp(layout, bivector)
        scale = max(1.0, float(np.abs(expected).max()))
        error = max(error, float(np.abs(bivector_exp(bivector, _signature(p, q, r)) - expected).max()) / scale)
    return error


def decomposition_error(layout, bivector: np.ndarray, components: np.ndarray) -> float:
    """Return the max of ``|sum_m b_m - B|``, ``|b_m ^ b_m|`` and ``|b_m b_l - b_l b_m|`` from ``clifford`` products."""
    error = float(np.abs(components.sum(axis=0) - bivector).max())
    parts = [clifford_bivector(layout, component) for component in components]
    for i, part in enumerate(parts):
        error = max(error, float(np.abs((part ^ part).value).max()))
        for other in parts[i + 1 :]:
            error = max(error, float(np.abs((part * other - other * part).value).max()))
    return error


SPLITTABLE_UP_TO_8 = [s for s in ALL_UP_TO_8 if s[2] <= 1 or (s[2] == 2 and (s[0] + s[1]) % 2 == 0)]
"""Signatures with n <= 8 where random bivectors have a simple null part.

With three or more null vectors, or two and an odd number of others, the
part of a random bivector with ``b^2 = 0`` spans several null planes, which
the decomposition rejects.
"""

DRAWS_PER_SIGNATURE = 3
"""Random bivectors checked per signature."""

MAX_SEEDS = 40
"""Seeds tried per signature; loxodromic draws (common when p, q >= 2) are skipped."""


def _decomposable_draws(p: int, q: int, r: int, scale: float = 1.0):
    """Yield ``(bivector, components)`` for the first :data:`DRAWS_PER_SIGNATURE` seeds that decompose."""
    from geomalg.rotor import invariant_decomposition

    n = p + q + r
    found = 0
    for seed in range(MAX_SEEDS):
        bivector = _random_bivector(n, seed, scale)
        try:
            components = invariant_decomposition(bivector, _signature(p, q, r), method="eigh")
        except ValueError as error:
            if "loxodromic" not in str(error):
                raise
            continue
        yield bivector, components
        found += 1
        if found == DRAWS_PER_SIGNATURE:
            return


@register(
    "rotor.log.roundtrip",
    tolerance=1e-9,
    signatures=[(4, 0, 0), (2, 1, 0), (3, 0, 1)],
    full_signatures=SPLITTABLE_UP_TO_8,
)
def log_inverts_exp(p: int, q: int, r: int) -> float:
    """Check ``exp(rotor_log(R)) == R`` for ``clifford`` rotors, relative to the largest coefficient of ``R``.

    All +1 and all -1 signatures use bivectors of scale 2, so angles pass pi.
    Other signatures use scale 1 and only bivectors that decompose, because
    the sign repair of the logarithm needs the decomposition.
    """
    from geomalg.rotor import rotor_log

    layout = clifford_layout(p, q, r)
    signature = _signature(p, q, r)
    euclidean_like = r == 0 and (p == 0 or q == 0)
    error = 0.0
    checked = 0
    for bivector, _ in _decomposable_draws(p, q, r, scale=2.0 if euclidean_like else 1.0):
        rotor = clifford_exp(layout, bivector)
        recovered = rotor_log(rotor, signature)
        scale = max(1.0, float(np.abs(rotor).max()))
        error = max(error, float(np.abs(clifford_exp(layout, recovered) - rotor).max()) / scale)
        checked += 1
    return error if checked else math.inf


@register(
    "rotor.decomposition.clifford",
    tolerance=1e-9,
    signatures=[(0, 5, 0), (3, 1, 1)],
    full_signatures=SPLITTABLE_UP_TO_8,
)
def decomposition_is_valid(p: int, q: int, r: int) -> float:
    """Check with ``clifford`` that the components are simple, commute and sum to B.

    Returns infinity when no drawn bivector could be decomposed.
    """
    layout = clifford_layout(p, q, r)
    error = 0.0
    checked = 0
    for bivector, components in _decomposable_draws(p, q, r):
        error = max(error, decomposition_error(layout, bivector, components))
        checked += 1
    return error if checked else math.inf


def _sandwich_error(p: int, q: int, r: int, mode: str) -> float:
    from geomalg.rotor import sandwich

    layout = clifford_layout(p, q, r)
    n = p + q + r
    signature = _signature(p, q, r)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(1 << n)
    left = _random_bivector(n, 1)
    right = _random_bivector(n, 2)
    left_rotor = clifford_exp(layout, left)
    right_rotor = clifford_exp(layout, right)
    single = sandwich(x, left, signature, mode=mode)
    double = sandwich(x, left, signature, right_bivector=right, mode=mode)
    expected_single = clifford_sandwich(layout, left_rotor, x, left_rotor)
    expected_double = clifford_sandwich(layout, left_rotor, x, right_rotor)
    scale = max(1.0, float(np.abs(expected_double).max()), float(np.abs(expected_single).max()))
    return max(float(np.abs(single - expected_single).max()), float(np.abs(double - expected_double).max())) / scale


@register("rotor.sandwich.structured", tolerance=1e-9, signatures=[(4, 0, 0), (2, 1, 0)], full_signatures=ALL_UP_TO_8)
def structured_sandwich_matches_clifford(p: int, q: int, r: int) -> float:
    """Compare the structured single and double sandwich with ``clifford``'s ``R*x*~S``."""
    return _sandwich_error(p, q, r, "structured")


@register("rotor.sandwich.blocks", tolerance=1e-9, signatures=[(4, 0, 0), (3, 0, 1)], full_signatures=ALL_UP_TO_8)
def block_sandwich_matches_clifford(p: int, q: int, r: int) -> float:
    """Compare the grade- and parity-block sandwich with ``clifford``'s ``R*x*~S``."""
    return _sandwich_error(p, q, r, "blocks")


@register("rotor.sandwich.dense", tolerance=1e-9, signatures=[(3, 0, 0)], full_signatures=ALL_UP_TO_8)
def dense_sandwich_matches_clifford(p: int, q: int, r: int) -> float:
    """Compare the dense reference sandwich with ``clifford``'s ``R*x*~S``."""
    return _sandwich_error(p, q, r, "dense")


def _orthogonal_planes_rotor(layout, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(B, exp(B))`` for ``B = sum_m theta_m a_m ^ b_m`` over orthonormal, mutually orthogonal planes.

    ``exp(B)`` is the product of :math:`\\cos\\theta_m + \\sin\\theta_m a_m b_m`,
    formed with ``clifford`` products; Euclidean signature only.
    """
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((n, n)))
    angles = rng.uniform(-3.0, 3.0, size=n // 2)
    bivector = layout.scalar * 0.0
    rotor = layout.scalar * 1.0
    for m, angle in enumerate(angles):
        a = layout.MultiVector(np.concatenate([[0.0], basis[:, 2 * m], np.zeros((1 << n) - n - 1)]))
        b = layout.MultiVector(np.concatenate([[0.0], basis[:, 2 * m + 1], np.zeros((1 << n) - n - 1)]))
        plane = a ^ b
        bivector = bivector + angle * plane
        rotor = rotor * (math.cos(angle) + math.sin(angle) * plane)
    return bivector.value[blades.grade_slice(n, 2)], rotor.value


# Full-only: on a shared 2-core machine this check took 9 s (clifford's first
# product at n = 11 compiles for about 5 s, later products take about 0.6 s).
@register("rotor.sandwich.cl11", tolerance=1e-9, full_signatures=[(11, 0, 0)])
def sandwich_cl11_matches_clifford(p: int, q: int, r: int) -> float:
    """Compare the structured and block sandwiches at n = 11 with ``clifford``'s ``R*x*~R`` and ``R*x*~S``."""
    from geomalg.rotor import sandwich

    layout = clifford_layout(p, q, r)
    n = p + q + r
    signature = _signature(p, q, r)
    left, left_rotor = _orthogonal_planes_rotor(layout, n, 11)
    right, right_rotor = _orthogonal_planes_rotor(layout, n, 12)
    x = np.random.default_rng(13).standard_normal(1 << n)
    expected_single = clifford_sandwich(layout, left_rotor, x, left_rotor)
    expected_double = clifford_sandwich(layout, left_rotor, x, right_rotor)
    error = 0.0
    for mode in ("structured", "blocks"):
        error = max(error, float(np.abs(sandwich(x, left, signature, mode=mode) - expected_single).max()))
        double = sandwich(x, left, signature, right_bivector=right, mode=mode)
        error = max(error, float(np.abs(double - expected_double).max()))
    return error
