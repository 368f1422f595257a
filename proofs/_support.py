"""Helpers shared by the derivations: checks, generic elements and exact linear algebra.

Multivectors are :class:`geomalg.symbolic.SymbolicMultivector` objects. The
polynomial and number-field arithmetic that the symbolic layer does not cover
(reduction modulo a polynomial in an eigenvalue symbol, Gaussian elimination
over ``Q[x]/p(x)``, compound matrices) lives here.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from typing import Callable, Iterable, Sequence

import sympy
from sympy.polys.matrices import DomainMatrix

from geomalg import blades
from geomalg.symbolic import SymbolicMultivector


class DerivationError(AssertionError):
    """A symbolic check of a derivation failed."""


def require(condition: bool, message: str) -> None:
    """Raise :class:`DerivationError` with ``message`` unless ``condition`` holds.

    Unlike ``assert``, the check still runs under ``python -O``.
    """
    if not condition:
        raise DerivationError(message)


def signature_of(p: int, q: int = 0, r: int = 0) -> tuple[int, ...]:
    """Return the squares of the basis vectors of Cl(p, q, r), null vectors first."""
    return blades.signature_vector(p, q, r)


def label(signature: Sequence[int]) -> str:
    """Return ``Cl(p,q,r)`` for a signature tuple."""
    p = sum(1 for s in signature if s == 1)
    q = sum(1 for s in signature if s == -1)
    r = sum(1 for s in signature if s == 0)
    return f"Cl({p},{q},{r})"


def generic(signature: Sequence[int], name: str, grades, **assumptions) -> SymbolicMultivector:
    """Return a multivector with a fresh symbol on every blade of ``grades``."""
    return SymbolicMultivector.generic(signature, name, grades, **assumptions)


def vector(signature: Sequence[int], components: Sequence) -> SymbolicMultivector:
    """Return the vector sum_i components[i] e_{i+1}."""
    n = len(signature)
    coefficients = [sympy.Integer(0)] * (1 << n)
    part = blades.grade_slice(n, 1)
    for offset, value in enumerate(components):
        coefficients[part.start + offset] = sympy.sympify(value)
    return SymbolicMultivector(signature, coefficients)


def scalar(signature: Sequence[int], value) -> SymbolicMultivector:
    """Return ``value`` as a multivector of grade 0."""
    return SymbolicMultivector.blade(signature, 0, value)


def expanded(x: SymbolicMultivector) -> SymbolicMultivector:
    """Return ``x`` with every coefficient expanded, the canonical form used for comparisons."""
    return x.expand()


def nonzero_coefficients(x: SymbolicMultivector, simplify: Callable = sympy.expand) -> list[tuple[str, sympy.Expr]]:
    """Return ``(blade name, coefficient)`` for each coefficient that ``simplify`` does not reduce to zero."""
    names = blades.blade_names(x.n)
    result = []
    for name, coefficient in zip(names, x.coefficients):
        value = simplify(coefficient)
        if value != 0:
            result.append((name or "1", value))
    return result


def require_zero(x: SymbolicMultivector, description: str, simplify: Callable = sympy.expand) -> None:
    """Raise :class:`DerivationError` naming the first blades of ``x`` that do not vanish.

    ``description`` names the expression in the message, such as ``"b ^ b in Cl(4,0,0)"``.
    """
    remaining = nonzero_coefficients(x, simplify)
    if remaining:
        listed = ", ".join(f"{name}: {value}" for name, value in remaining[:3])
        raise DerivationError(f"{description} is not zero; non-zero coefficients {listed}")


def require_equal(x: SymbolicMultivector, y, description: str, simplify: Callable = sympy.expand) -> None:
    """Raise :class:`DerivationError` unless ``x - y`` vanishes coefficient by coefficient."""
    require_zero(x - y, description, simplify)


def odd_part(x: SymbolicMultivector) -> SymbolicMultivector:
    """Return the sum of the odd-grade parts of ``x``."""
    return (x - x.grade_involution()) / 2


def even_part(x: SymbolicMultivector) -> SymbolicMultivector:
    """Return the sum of the even-grade parts of ``x``."""
    return (x + x.grade_involution()) / 2


def power(x: SymbolicMultivector, exponent: int) -> SymbolicMultivector:
    """Return the geometric-product power ``x**exponent``, expanded after each product."""
    result = scalar(x.signature, 1)
    for _ in range(exponent):
        result = expanded(result * x)
    return result


def map_matrix(signature: Sequence[int], operator: Callable, grades: Iterable[int]) -> sympy.Matrix:
    """Return the matrix of a linear ``operator`` on the blades of ``grades``, in canonical order.

    Column ``j`` contains the coefficients, restricted to the same blades, of the
    operator applied to basis blade ``j``.
    """
    n = len(signature)
    indices = blades.grade_indices(n, tuple(grades))
    bitmaps = blades.blade_bitmaps(n)
    columns = []
    for index in indices:
        image = operator(SymbolicMultivector.blade(signature, int(bitmaps[index])))
        columns.append([sympy.expand(image.coefficients[i]) for i in indices])
    return sympy.Matrix(columns).T


def polynomial_matrix(matrix: sympy.Matrix, domain=None) -> DomainMatrix:
    """Return ``matrix`` as a :class:`~sympy.polys.matrices.DomainMatrix` over a polynomial ring.

    Products and minors of polynomial matrices are much faster there than with
    expanded SymPy expressions, and equality is exact.
    """
    converted = DomainMatrix.from_Matrix(matrix)
    if domain is not None:
        converted = converted.convert_to(domain)
    return converted


def compound_matrix(matrix: DomainMatrix, k: int) -> DomainMatrix:
    """Return the k-th compound of a square matrix: the k x k minors, rows and columns in lexicographic order.

    The compound of an n x n matrix is the matrix of its k-th exterior power on
    the basis ``e_I = e_{i_1} ^ ... ^ e_{i_k}`` (``i_1 < ... < i_k``), so its
    subsets come in the order that :mod:`geomalg.blades` gives the grade-k blades.
    """
    n = matrix.shape[0]
    subsets = list(itertools.combinations(range(n), k))
    entries = [[matrix.extract(list(rows), list(cols)).det() for cols in subsets] for rows in subsets]
    return DomainMatrix(entries, (len(subsets), len(subsets)), matrix.domain)


def random_rationals(seed: int, count: int, low: int = -5, high: int = 5) -> list[sympy.Rational]:
    """Return ``count`` reproducible random rationals with numerators in ``[low, high]`` and denominators 1 to 4."""
    generator = random.Random(seed)
    return [sympy.Rational(generator.randint(low, high), generator.randint(1, 4)) for _ in range(count)]


def orthogonal_basis(signature: Sequence[int], seed: int) -> list[list[sympy.Rational]]:
    """Return n rational vectors, pairwise orthogonal and non-null in the metric ``diag(signature)``.

    Gram-Schmidt without normalization keeps the arithmetic rational. Each
    vector starts from random integers, so the basis is not aligned with the axes.

    Raises
    ------
    ValueError
        If the metric is degenerate, where no such basis exists.
    """
    if any(s == 0 for s in signature):
        raise ValueError(f"signature {tuple(signature)} has null basis vectors; use a non-degenerate signature")
    n = len(signature)
    generator = random.Random(seed)

    def inner(u, v):
        return sum(Fraction(s) * a * b for s, a, b in zip(signature, u, v))

    basis: list[list[Fraction]] = []
    while len(basis) < n:
        candidate = [Fraction(generator.randint(-3, 3)) for _ in range(n)]
        for previous in basis:
            factor = inner(candidate, previous) / inner(previous, previous)
            candidate = [c - factor * p for c, p in zip(candidate, previous)]
        # A null or zero result would make the next projection divide by zero; draw again.
        if inner(candidate, candidate) != 0:
            basis.append(candidate)
    return [[sympy.Rational(c.numerator, c.denominator) for c in vector_] for vector_ in basis]


def rational_rotation(n: int, seed: int) -> sympy.Matrix:
    """Return a random rational orthogonal n x n matrix with determinant 1 (Cayley transform of a skew matrix).

    For a skew-symmetric S, (I - S)(I + S)^{-1} is orthogonal and I + S is always invertible.
    """
    values = iter(random_rationals(seed, n * n))
    skew = sympy.zeros(n, n)
    for i in range(n):
        for j in range(i + 1, n):
            value = next(values)
            skew[i, j] = value
            skew[j, i] = -value
    identity = sympy.eye(n)
    return (identity - skew) * (identity + skew).inv()


# Arithmetic modulo a polynomial in an eigenvalue symbol.


def reduce_modulo(x: SymbolicMultivector, modulus: sympy.Expr, variable: sympy.Symbol) -> SymbolicMultivector:
    """Reduce every coefficient of ``x`` modulo a polynomial in ``variable``.

    ``modulus`` must be monic when its coefficients are symbols, so the division
    stays polynomial; with rational coefficients any leading coefficient works.
    An identity that holds after reduction holds at every root of ``modulus``,
    which is how a statement about each eigenvalue is checked without solving for it.
    """
    return x.applyfunc(lambda c: sympy.expand(sympy.rem(sympy.expand(c), modulus, variable)))


class QuotientField:
    """Exact arithmetic in ``Q[x]/p(x)`` for a square-free polynomial ``p`` with rational coefficients.

    When ``p`` is irreducible this is the number field generated by one root, and
    a computation in it holds for every root at once. When ``p`` factors, the
    quotient is a product of fields and :meth:`inverse` raises on a zero divisor.
    """

    def __init__(self, modulus: sympy.Expr, variable: sympy.Symbol) -> None:
        self.variable = variable
        self.modulus = sympy.Poly(modulus, variable, domain=sympy.QQ)
        derivative = self.modulus.diff(variable)
        require(self.modulus.gcd(derivative).degree() == 0, f"{modulus} has a repeated root; the quotient is not a field")

    def element(self, value) -> sympy.Poly:
        """Return ``value`` (a number or a polynomial in the variable) reduced modulo ``p``."""
        return sympy.Poly(value, self.variable, domain=sympy.QQ).rem(self.modulus)

    def inverse(self, value: sympy.Poly) -> sympy.Poly:
        """Return the inverse of a non-zero element.

        Raises
        ------
        DerivationError
            If ``value`` is a zero divisor, which happens only when ``p`` factors.
        """
        try:
            return value.invert(self.modulus)
        except sympy.polys.polyerrors.NotInvertible:
            raise DerivationError(f"{value.as_expr()} is a zero divisor modulo {self.modulus.as_expr()}") from None

    def trace(self, value: sympy.Poly) -> sympy.Rational:
        """Return the sum of ``value`` evaluated at every root of ``p``: the trace of multiplication by it."""
        degree = self.modulus.degree()
        total = sympy.Integer(0)
        for j in range(degree):
            image = (value * self.element(self.variable**j)).rem(self.modulus)
            total += image.coeff_monomial(self.variable**j)
        return total

    def solve(self, matrix: list[list[sympy.Poly]], rhs: list[sympy.Poly]) -> list[sympy.Poly]:
        """Solve an overdetermined but consistent linear system exactly by Gaussian elimination.

        Raises
        ------
        DerivationError
            If the system is inconsistent or its solution is not unique.
        """
        rows = [list(row) + [value] for row, value in zip(matrix, rhs)]
        unknowns = len(matrix[0])
        pivot_row = 0
        for column in range(unknowns):
            pivot = next((r for r in range(pivot_row, len(rows)) if not rows[r][column].is_zero), None)
            require(pivot is not None, f"unknown {column} is not determined; the solution is not unique")
            rows[pivot_row], rows[pivot] = rows[pivot], rows[pivot_row]
            scale = self.inverse(rows[pivot_row][column])
            rows[pivot_row] = [(entry * scale).rem(self.modulus) for entry in rows[pivot_row]]
            for r in range(len(rows)):
                if r != pivot_row and not rows[r][column].is_zero:
                    factor = rows[r][column]
                    rows[r] = [(a - factor * b).rem(self.modulus) for a, b in zip(rows[r], rows[pivot_row])]
            pivot_row += 1
        for row in rows[unknowns:]:
            require(row[-1].is_zero, "the linear system is inconsistent")
        return [rows[i][-1] for i in range(unknowns)]
