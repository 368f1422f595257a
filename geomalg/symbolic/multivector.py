"""SymPy multivectors built on the blade rules of :mod:`geomalg.blades`.

A :class:`SymbolicMultivector` contains one SymPy expression per basis blade, in
the canonical blade order. Its products come from the same
:func:`geomalg.blades.product_table` that the numeric kernels are generated
from, so the symbolic and numeric layers cannot disagree about a sign.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import sympy

from geomalg import blades


class SymbolicMultivector:
    """A multivector of Cl(p, q, r) with SymPy coefficients.

    Parameters
    ----------
    signature
        Squares of the basis vectors, as :attr:`geomalg.Algebra.signature`.
    coefficients
        ``2**n`` SymPy expressions (or numbers) in canonical blade order.

    Raises
    ------
    ValueError
        If the number of coefficients is not ``2**n``.
    """

    __array_priority__ = 1000

    def __init__(self, signature: Sequence[int], coefficients: Iterable) -> None:
        self.signature = tuple(int(s) for s in signature)
        self.n = len(self.signature)
        self.coefficients = [sympy.sympify(c) for c in coefficients]
        if len(self.coefficients) != 1 << self.n:
            raise ValueError(
                f"a multivector of an algebra with n = {self.n} needs {1 << self.n} coefficients, "
                f"got {len(self.coefficients)}"
            )

    @classmethod
    def from_coefficients(cls, algebra, coefficients: Iterable) -> "SymbolicMultivector":
        """Build a multivector of ``algebra`` (anything with a ``signature``) from its coefficients."""
        return cls(algebra.signature, coefficients)

    @classmethod
    def generic(cls, signature: Sequence[int], name: str, grades=None, **assumptions) -> "SymbolicMultivector":
        """Return a multivector whose coefficients on the chosen grades are fresh symbols.

        Symbols are named after the blade, such as ``a12`` for the ``e12``
        coefficient of ``name='a'``, with ``a`` alone for the scalar. For n >= 10
        the indices are separated by underscores (``a_1_10``) so names stay unique.
        ``assumptions`` are passed to :class:`sympy.Symbol` (for example ``real=True``).
        """
        n = len(signature)
        selected = set(blades.normalize_grades(grades, n))
        grade_of = blades.blade_grades(n)
        coefficients = []
        for index, bitmap in enumerate(blades.blade_bitmaps(n)):
            if grade_of[index] not in selected:
                coefficients.append(sympy.Integer(0))
                continue
            factors = [str(i + 1) for i in range(n) if bitmap >> i & 1]
            suffix = "_" + "_".join(factors) if n >= 10 and factors else "".join(factors)
            coefficients.append(sympy.Symbol(name + suffix, **assumptions))
        return cls(signature, coefficients)

    @classmethod
    def blade(cls, signature: Sequence[int], bitmap: int, coefficient=1) -> "SymbolicMultivector":
        """Return ``coefficient`` times the basis blade with the given bitmap."""
        n = len(signature)
        coefficients = [sympy.Integer(0)] * (1 << n)
        coefficients[int(blades.bitmap_to_index(n)[bitmap])] = sympy.sympify(coefficient)
        return cls(signature, coefficients)

    # Structure.

    def grades(self) -> tuple[int, ...]:
        """Return the grades whose coefficients are not all structurally zero."""
        grade_of = blades.blade_grades(self.n)
        present = {int(grade_of[i]) for i, c in enumerate(self.coefficients) if c != 0}
        return tuple(sorted(present)) or (0,)

    def grade(self, k: int) -> "SymbolicMultivector":
        """Return the grade-``k`` part."""
        part = blades.grade_slice(self.n, k)
        coefficients = [c if part.start <= i < part.stop else sympy.Integer(0) for i, c in enumerate(self.coefficients)]
        return SymbolicMultivector(self.signature, coefficients)

    def scalar_part(self) -> sympy.Expr:
        """Return the grade-0 coefficient."""
        return self.coefficients[0]

    def _check_same_algebra(self, other: "SymbolicMultivector") -> None:
        if other.signature != self.signature:
            raise ValueError(
                f"operands belong to different algebras (signatures {self.signature} and {other.signature}); "
                "convert both to the same algebra first"
            )

    # Products, all from the shared blade-pair table.

    def product(self, other: "SymbolicMultivector", operation: str) -> "SymbolicMultivector":
        """Return the bilinear ``operation`` (a name in :data:`geomalg.blades.OPERATIONS`) of two multivectors."""
        self._check_same_algebra(other)
        table = blades.product_table(self.signature, operation, self.grades(), other.grades())
        terms: list[list[sympy.Expr]] = [[] for _ in range(1 << self.n)]
        for output, left, right, sign in zip(table.output, table.left, table.right, table.sign):
            a = self.coefficients[left]
            b = other.coefficients[right]
            if a != 0 and b != 0:
                terms[output].append(int(sign) * a * b)
        return SymbolicMultivector(self.signature, [sympy.Add(*t) for t in terms])

    def __mul__(self, other):
        if isinstance(other, SymbolicMultivector):
            return self.product(other, "geometric_product")
        return self._map(lambda c: c * sympy.sympify(other))

    def __rmul__(self, other):
        return self._map(lambda c: sympy.sympify(other) * c)

    def __xor__(self, other: "SymbolicMultivector") -> "SymbolicMultivector":
        return self.product(other, "outer_product")

    def __lshift__(self, other: "SymbolicMultivector") -> "SymbolicMultivector":
        return self.product(other, "left_contraction")

    def scalar_product(self, other: "SymbolicMultivector") -> sympy.Expr:
        """Return the scalar product <a b>_0."""
        return self.product(other, "scalar_product").scalar_part()

    # Linear structure.

    def __add__(self, other):
        other = self._coerce(other)
        return SymbolicMultivector(self.signature, [a + b for a, b in zip(self.coefficients, other.coefficients)])

    __radd__ = __add__

    def __sub__(self, other):
        other = self._coerce(other)
        return SymbolicMultivector(self.signature, [a - b for a, b in zip(self.coefficients, other.coefficients)])

    def __rsub__(self, other):
        return self._coerce(other) - self

    def __neg__(self):
        return self._map(lambda c: -c)

    def __truediv__(self, other):
        return self._map(lambda c: c / sympy.sympify(other))

    def _coerce(self, other) -> "SymbolicMultivector":
        if isinstance(other, SymbolicMultivector):
            self._check_same_algebra(other)
            return other
        return SymbolicMultivector.blade(self.signature, 0, other)

    # Involutions.

    def _signed(self, kind: str) -> "SymbolicMultivector":
        signs = blades.involution_signs(self.n, kind)
        return SymbolicMultivector(self.signature, [int(s) * c for s, c in zip(signs, self.coefficients)])

    def reverse(self) -> "SymbolicMultivector":
        """Return the reverse: grade k is multiplied by (-1)^(k(k-1)/2)."""
        return self._signed("reverse")

    __invert__ = reverse

    def grade_involution(self) -> "SymbolicMultivector":
        """Return the grade involution: grade k is multiplied by (-1)^k."""
        return self._signed("grade_involution")

    def clifford_conjugate(self) -> "SymbolicMultivector":
        """Return the Clifford conjugate: grade k is multiplied by (-1)^(k(k+1)/2)."""
        return self._signed("clifford_conjugate")

    # Simplification.

    def _map(self, function: Callable[[sympy.Expr], sympy.Expr]) -> "SymbolicMultivector":
        return SymbolicMultivector(self.signature, [function(c) for c in self.coefficients])

    def expand(self, **hints) -> "SymbolicMultivector":
        """Return the multivector with every coefficient expanded."""
        return self._map(lambda c: sympy.expand(c, **hints))

    def simplify(self) -> "SymbolicMultivector":
        """Return the multivector with every coefficient simplified."""
        return self._map(sympy.simplify)

    def subs(self, *args, **kwargs) -> "SymbolicMultivector":
        """Substitute into every coefficient, as :meth:`sympy.Expr.subs`."""
        return self._map(lambda c: c.subs(*args, **kwargs))

    def applyfunc(self, function: Callable[[sympy.Expr], sympy.Expr]) -> "SymbolicMultivector":
        """Apply ``function`` to every coefficient."""
        return self._map(function)

    def is_zero(self) -> bool:
        """Return True when every coefficient simplifies to zero."""
        return all(sympy.simplify(c) == 0 for c in self.coefficients)

    def free_symbols(self) -> set:
        """Return the symbols appearing in any coefficient."""
        return set().union(*(c.free_symbols for c in self.coefficients))

    def __eq__(self, other) -> bool:
        if not isinstance(other, SymbolicMultivector):
            other = self._coerce(other)
        return self.signature == other.signature and all(
            sympy.expand(a - b) == 0 for a, b in zip(self.coefficients, other.coefficients)
        )

    __hash__ = None

    def __repr__(self) -> str:
        names = blades.blade_names(self.n)
        parts = []
        for name, c in zip(names, self.coefficients):
            if c == 0:
                continue
            parts.append(f"({c})" + (f"*{name}" if name else ""))
        return " + ".join(parts) if parts else "0"
