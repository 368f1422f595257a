"""A light wrapper that ties a coefficient array to its algebra and the grades it holds."""

from __future__ import annotations

from typing import Any

import numpy as np


class Multivector:
    """Coefficients of shape ``(..., 2**n)`` together with their :class:`~geomalg.Algebra`.

    Operators: ``*`` geometric product, ``^`` outer product, ``<<`` left contraction,
    ``~`` reverse, ``+``, ``-`` and scaling by numbers. ``grades`` records which
    grades may be non-zero (``None`` for all), so products use grade-aware kernels.
    Build one with :meth:`geomalg.Algebra.multivector` or :meth:`geomalg.Algebra.blade`.
    """

    __array_priority__ = 1000

    def __init__(self, algebra, value, grades: tuple[int, ...] | None = None) -> None:
        self.algebra = algebra
        self.value = value
        self.grades = None if grades is None or len(grades) == algebra.n + 1 else tuple(grades)

    @property
    def shape(self) -> tuple[int, ...]:
        """Leading (batch) shape, without the coefficient axis."""
        return tuple(self.value.shape[:-1])

    def __getitem__(self, name: str):
        """Return the coefficient(s) of the blade named ``name``, such as ``mv["e12"]`` or ``mv[""]``."""
        names = self.algebra.blade_names
        if not isinstance(name, str) or name not in names:
            raise KeyError(f"no blade named {name!r} in {self.algebra!r}; use a name from blade_names such as {names[1:3]}")
        return self.value[..., names.index(name)]

    def _same_algebra(self, other: "Multivector") -> None:
        if other.algebra != self.algebra:
            raise ValueError(f"operands belong to {self.algebra!r} and {other.algebra!r}; use one algebra")

    def _scalar(self, number: float) -> "Multivector":
        return self.algebra.blade("", float(number), like=self.value)

    def __mul__(self, other: Any) -> "Multivector":
        if isinstance(other, Multivector):
            return self.algebra.geometric_product(self, other)
        return Multivector(self.algebra, self.value * other, self.grades)

    def __rmul__(self, other: Any) -> "Multivector":
        return Multivector(self.algebra, other * self.value, self.grades)

    def __truediv__(self, other: Any) -> "Multivector":
        if isinstance(other, Multivector):
            return self * self.algebra.inverse(other)
        return Multivector(self.algebra, self.value / other, self.grades)

    def __xor__(self, other: "Multivector") -> "Multivector":
        return self.algebra.outer_product(self, other)

    def __lshift__(self, other: "Multivector") -> "Multivector":
        return self.algebra.left_contraction(self, other)

    def __invert__(self) -> "Multivector":
        return self.algebra.reverse(self)

    def __neg__(self) -> "Multivector":
        return Multivector(self.algebra, -self.value, self.grades)

    def __add__(self, other: Any) -> "Multivector":
        if not isinstance(other, Multivector):
            other = self._scalar(other)
        self._same_algebra(other)
        grades = None if self.grades is None or other.grades is None else tuple(sorted(set(self.grades) | set(other.grades)))
        return Multivector(self.algebra, self.value + other.value, grades)

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Multivector":
        return self + (-other)

    def __rsub__(self, other: Any) -> "Multivector":
        return (-self) + other

    def grade(self, k) -> "Multivector":
        """Return the grade-``k`` part."""
        return self.algebra.grade(self, k)

    def dual(self) -> "Multivector":
        """Return the dual ``self * I^-1``."""
        return self.algebra.dual(self)

    def inverse(self) -> "Multivector":
        """Return the inverse; see :meth:`geomalg.Algebra.inverse`."""
        return self.algebra.inverse(self)

    def norm(self):
        """Return the norm; see :meth:`geomalg.Algebra.norm`."""
        return self.algebra.norm(self)

    def __repr__(self) -> str:
        values = np.asarray(self.value.detach().cpu() if hasattr(self.value, "detach") else self.value)
        if values.ndim > 1:
            return f"Multivector({self.algebra!r}, batch shape {values.shape[:-1]})"
        terms = [f"{c:.6g}{('*' + name) if name else ''}" for c, name in zip(values, self.algebra.blade_names) if c != 0]
        return " + ".join(terms) if terms else "0"
