"""Checks of the algebra core: every product and involution against ``clifford``, symbolic against numeric, identities."""

from __future__ import annotations

import functools

import numpy as np
import torch

from geomalg import Algebra, blades
from geomalg.verify.registry import register, signatures_up_to

TOLERANCE = 1e-11
"""Absolute error allowed against ``clifford`` for standard-normal float64 inputs (n <= 8 sums at most 256 terms)."""

BATCH = 8

DEFAULT_SIGNATURES = [(3, 0, 0), (2, 1, 0), (3, 0, 1), (1, 3, 0), (4, 1, 0), (2, 2, 2), (8, 0, 0)]
FULL_SIGNATURES = signatures_up_to(8)

PRODUCTS = {
    "geometric_product": lambda x, y: x * y,
    "outer_product": lambda x, y: x ^ y,
    "left_contraction": lambda x, y: x << y,
}


@functools.lru_cache(maxsize=None)
def _layout(p: int, q: int, r: int):
    import clifford

    layout, _ = clifford.Cl(p, q, r)
    return layout


@functools.lru_cache(maxsize=None)
def _algebra(p: int, q: int, r: int) -> Algebra:
    return Algebra(p, q, r)


def _operands(p: int, q: int, r: int, seed: int, count: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng([p, q, r, seed])
    return [rng.standard_normal((BATCH, 1 << (p + q + r))) for _ in range(count)]


def _reference(p: int, q: int, r: int, function, *operands: np.ndarray) -> np.ndarray:
    layout = _layout(p, q, r)
    rows = zip(*operands)
    return np.array([function(*(layout.MultiVector(x) for x in row)).value for row in rows])


def _evaluate(algebra: Algebra, backend: str, name: str, *operands: np.ndarray) -> np.ndarray:
    if backend == "torch":
        result = getattr(algebra, name)(*(torch.from_numpy(x) for x in operands))
        return result.numpy()
    algebra.backend = backend
    return getattr(algebra, name)(*operands)


def _register_product_check(operation: str, backend: str) -> None:
    @register(f"product.{operation}.{backend}", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
    def check(p: int, q: int, r: int) -> float:
        a, b = _operands(p, q, r, seed=1)
        expected = _reference(p, q, r, PRODUCTS[operation], a, b)
        return float(np.abs(_evaluate(_algebra(p, q, r), backend, operation, a, b) - expected).max())


for _operation in PRODUCTS:
    for _backend in ("numba", "numpy", "torch"):
        _register_product_check(_operation, _backend)


@register("product.vector_bivector.numba", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def vector_times_bivector(p: int, q: int, r: int) -> float:
    """Grade-aware kernel for a vector times a bivector against ``clifford``'s full product."""
    algebra = _algebra(p, q, r)
    if algebra.n < 2:
        return 0.0
    a, b = _operands(p, q, r, seed=2)
    a = algebra.grade(a, 1)
    b = algebra.grade(b, 2)
    expected = _reference(p, q, r, PRODUCTS["geometric_product"], a, b)
    algebra.backend = "numba"
    return float(np.abs(algebra.geometric_product(a, b, grades=(1, 2)) - expected).max())


_INVOLUTIONS = {
    "reverse": lambda x: ~x,
    "grade_involution": lambda x: x.gradeInvol(),
    "clifford_conjugate": lambda x: x.conjugate(),
}


@register("unary.involutions", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def involutions(p: int, q: int, r: int) -> float:
    """Reverse, grade involution and Clifford conjugate against ``clifford``."""
    (a,) = _operands(p, q, r, seed=3, count=1)
    algebra = _algebra(p, q, r)
    errors = [np.abs(getattr(algebra, name)(a) - _reference(p, q, r, f, a)).max() for name, f in _INVOLUTIONS.items()]
    return float(max(errors))


@register("metric.dual_norm", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def dual_and_norm(p: int, q: int, r: int) -> float:
    """Dual (non-degenerate metrics only) and norm against ``clifford``."""
    (a,) = _operands(p, q, r, seed=4, count=1)
    algebra = _algebra(p, q, r)
    layout = _layout(p, q, r)
    norm = np.array([abs(layout.MultiVector(x)) for x in a])
    error = np.abs(algebra.norm(a) - norm).max()
    if r == 0:
        error = max(error, np.abs(algebra.dual(a) - _reference(p, q, r, lambda x: x.dual(), a)).max())
    return float(error)


@register("metric.versor_inverse", 1e-9, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def versor_inverse(p: int, q: int, r: int) -> float:
    """Inverse of a product of three non-null vectors against ``clifford``'s ``inv``."""
    algebra = _algebra(p, q, r)
    if p + q == 0:
        return 0.0
    rng = np.random.default_rng([p, q, r, 5])
    vectors = np.zeros((3, BATCH, algebra.dim))
    non_null = [1 + i for i, square in enumerate(algebra.signature) if square != 0]
    vectors[..., non_null] = rng.standard_normal((3, BATCH, len(non_null)))
    versor = algebra.geometric_product(algebra.geometric_product(vectors[0], vectors[1]), vectors[2])
    expected = _reference(p, q, r, lambda x: x.inv(), versor)
    return float(np.abs(algebra.inverse(versor) - expected).max())


@register("identity.associativity", 1e-10, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def associativity(p: int, q: int, r: int) -> float:
    """(a b) c - a (b c) for random multivectors."""
    algebra = _algebra(p, q, r)
    a, b, c = _operands(p, q, r, seed=6, count=3)
    left = algebra.geometric_product(algebra.geometric_product(a, b), c)
    right = algebra.geometric_product(a, algebra.geometric_product(b, c))
    return float(np.abs(left - right).max())


@register("identity.reverse_of_product", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def reverse_of_product(p: int, q: int, r: int) -> float:
    """Compare the reverse of a b with ~b ~a."""
    algebra = _algebra(p, q, r)
    a, b = _operands(p, q, r, seed=7)
    left = algebra.reverse(algebra.geometric_product(a, b))
    right = algebra.geometric_product(algebra.reverse(b), algebra.reverse(a))
    return float(np.abs(left - right).max())


@register("identity.grade_selection", TOLERANCE, DEFAULT_SIGNATURES, FULL_SIGNATURES)
def grade_selection(p: int, q: int, r: int) -> float:
    """Blades of grades k, l: outer product = grade k+l part, left contraction = grade l-k part.

    This runs (n+1)**2 grade pairs, so it uses the NumPy backend, which needs no compilation.
    """
    algebra = Algebra(p, q, r, backend="numpy")
    a, b = _operands(p, q, r, seed=8)
    worst = 0.0
    for k in range(algebra.n + 1):
        for l in range(algebra.n + 1):
            a_k, b_l = algebra.grade(a, k), algebra.grade(b, l)
            product = algebra.geometric_product(a_k, b_l, grades=(k, l))
            outer = algebra.outer_product(a_k, b_l, grades=(k, l))
            inner = algebra.left_contraction(a_k, b_l, grades=(k, l))
            outer_expected = algebra.grade(product, k + l) if k + l <= algebra.n else 0 * product
            inner_expected = algebra.grade(product, l - k) if l >= k else 0 * product
            worst = max(worst, np.abs(outer - outer_expected).max(), np.abs(inner - inner_expected).max())
    return float(worst)


@register("symbolic.matches_numeric", TOLERANCE, [(2, 1, 1), (3, 0, 0)], [(1, 1, 0), (0, 3, 0), (4, 1, 0)])
def symbolic_matches_numeric(p: int, q: int, r: int) -> float:
    """Evaluate every product of two generic symbolic multivectors at random values and compare with the numeric kernels."""
    algebra = _algebra(p, q, r)
    a_symbolic, b_symbolic = algebra.symbolic("a"), algebra.symbolic("b")
    a, b = (x[0] for x in _operands(p, q, r, seed=9))
    substitution = dict(zip(a_symbolic.coefficients, a)) | dict(zip(b_symbolic.coefficients, b))
    worst = 0.0
    for operation in blades.OPERATIONS:
        symbolic = a_symbolic.product(b_symbolic, operation)
        evaluated = np.array([float(c.subs(substitution)) for c in symbolic.coefficients])
        numeric = algebra._bilinear(operation, a, b, None)
        worst = max(worst, float(np.abs(evaluated - numeric).max()))
    return worst
