"""Symbolic expansion of a product into per-blade SymPy expressions, with common subexpressions eliminated."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from geomalg.codegen.spec import KernelSpec
from geomalg.symbolic import SymbolicMultivector


@dataclass(frozen=True)
class ExpandedProduct:
    """Straight-line form of a product: ``replacements`` assign temporaries, ``outputs`` the result blades.

    ``a_symbols`` and ``b_symbols`` map canonical blade indices of each operand
    to the symbol that stands for that coefficient.
    """

    a_symbols: dict[int, sympy.Symbol]
    b_symbols: dict[int, sympy.Symbol]
    replacements: list[tuple[sympy.Symbol, sympy.Expr]]
    outputs: dict[int, sympy.Expr]
    term_count: int


def expand_product(spec: KernelSpec) -> ExpandedProduct:
    """Expand ``spec``'s product of two generic multivectors and eliminate common subexpressions.

    The operands are generic multivectors of the spec's grades with symbols
    ``a_<blade>`` and ``b_<blade>``; the product comes from
    :meth:`geomalg.symbolic.SymbolicMultivector.product`.
    """
    a = SymbolicMultivector.generic(spec.signature, "a_", spec.a_grades)
    b = SymbolicMultivector.generic(spec.signature, "b_", spec.b_grades)
    product = a.product(b, spec.operation)

    a_symbols = {i: c for i, c in enumerate(a.coefficients) if c != 0}
    b_symbols = {i: c for i, c in enumerate(b.coefficients) if c != 0}
    nonzero = {i: c for i, c in enumerate(product.coefficients) if c != 0}
    term_count = sum(len(sympy.Add.make_args(c)) for c in nonzero.values())

    indices = list(nonzero)
    temporaries = sympy.numbered_symbols("t")
    replacements, reduced = sympy.cse([nonzero[i] for i in indices], symbols=temporaries, optimizations="basic")
    return ExpandedProduct(a_symbols, b_symbols, list(replacements), dict(zip(indices, reduced)), term_count)
