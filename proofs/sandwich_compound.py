r"""A rotor sandwich acts on grade k as the k-th compound of its rotation matrix.

Statement
---------

Let :math:`R` be a versor of even grade with :math:`R \tilde R = \rho`, a non-zero
scalar, and let :math:`\sigma(x) = R\, x\, \tilde R`. Then :math:`\sigma` maps
vectors to vectors, with matrix :math:`M_1 = \rho\, Q` for a matrix :math:`Q`
that preserves the metric. On the grade-:math:`k` blades, in the canonical order
of :mod:`geomalg.blades`,

.. math::

   M_k = \rho\, C_k(Q) = \rho^{\,1-k}\, C_k(M_1) ,

where :math:`C_k` is the :math:`k`-th compound matrix: the
:math:`\binom{n}{k} \times \binom{n}{k}` matrix of :math:`k \times k` minors,
which is the matrix of the exterior power :math:`\wedge^k Q`. So the
:math:`2^n \times 2^n` matrix of :math:`\sigma` is block diagonal, with one block
of size :math:`\binom{n}{k}` per grade. For a unit rotor (:math:`\rho = 1`) the
block of grade :math:`k` is exactly :math:`C_k(Q)`.

Derivation
----------

Because :math:`\tilde R R = \rho` as well, :math:`\sigma(x)\,\sigma(y) = \rho\,
\sigma(xy)`, so :math:`\sigma / \rho` is an algebra automorphism. The outer
product of vectors is the antisymmetrized geometric product,

.. math::

   v_1 \wedge \dots \wedge v_k = \frac{1}{k!} \sum_{\pi} \operatorname{sgn}(\pi)\,
   v_{\pi(1)} \cdots v_{\pi(k)} ,

and an automorphism that maps vectors to vectors preserves it. Hence
:math:`\sigma(v_1 \wedge \dots \wedge v_k) = \rho\, (Q v_1) \wedge \dots \wedge (Q v_k)`,
and expanding :math:`Q v_j` in the basis gives the minors of :math:`Q` as the
coefficients on :math:`e_{i_1} \wedge \dots \wedge e_{i_k}`.

What the script checks
----------------------

For a generic versor :math:`R` with symbolic coefficients:

* Cl(3,0,0) and Cl(2,1,0): :math:`R = a + b\, e_{12} + c\, e_{13} + d\, e_{23}`,
  four free symbols (every even element of a 3-dimensional algebra is a versor).
* Cl(4,0,0), Cl(3,1,0) and Cl(3,0,1): :math:`R = s + B + P\, e_{1234}` with a
  free scalar :math:`s` and bivector :math:`B` (seven symbols). The condition
  that :math:`R \tilde R` has no grade-4 part fixes
  :math:`P = (B_{12} B_{34} - B_{13} B_{24} + B_{14} B_{23})/s`, and the script
  multiplies :math:`R` by :math:`s` to keep every coefficient a polynomial.

For each, as exact polynomial identities:

1. :math:`R \tilde R` is the scalar :math:`\rho`.
2. Every entry of the :math:`2^n \times 2^n` matrix of :math:`\sigma` outside the
   grade-diagonal blocks is zero.
3. :math:`\rho^{k-1} M_k = C_k(M_1)` for every grade :math:`0 \le k \le n`.
4. :math:`M_1^{\mathsf T} \eta M_1 = \rho^2 \eta`: the vector block is
   :math:`\rho` times a metric-preserving matrix.
"""

from __future__ import annotations

import logging

import sympy

from geomalg import blades
from geomalg.symbolic import SymbolicMultivector
from proofs._support import (
    compound_matrix,
    expanded,
    generic,
    label,
    map_matrix,
    polynomial_matrix,
    require,
    require_equal,
    scalar,
    signature_of,
)

logger = logging.getLogger(__name__)

SIGNATURES = [(3, 0, 0), (2, 1, 0), (4, 0, 0), (3, 1, 0), (3, 0, 1)]


def generic_versor(signature) -> SymbolicMultivector:
    """Return an even versor with symbolic coefficients for n = 3 or n = 4, scaled to polynomial coefficients.

    Raises
    ------
    ValueError
        If the signature has a dimension other than 3 or 4.
    """
    n = len(signature)
    if n == 3:
        return generic(signature, "r", (0, 2), real=True)
    if n != 4:
        raise ValueError(f"a generic versor is prepared only for n = 3 or 4, got n = {n} for {label(signature)}")

    scalar_part = sympy.Symbol("s", real=True)
    bivector = generic(signature, "B", 2, real=True)
    b = {name: value for name, value in zip(blades.blade_names(n), bivector.coefficients)}
    # R = s + B + P e1234 has R R~ = scalar exactly when s P equals this Pfaffian of B.
    pfaffian = b["e12"] * b["e34"] - b["e13"] * b["e24"] + b["e14"] * b["e23"]
    pseudoscalar = SymbolicMultivector.blade(signature, 0b1111, pfaffian)
    return expanded(scalar(signature, scalar_part**2) + bivector * scalar_part + pseudoscalar)


def check_sandwich(signature, versor: SymbolicMultivector | None = None) -> None:
    """Check that R x R~ is block diagonal by grade with blocks rho^(1-k) C_k(M_1).

    ``versor`` defaults to :func:`generic_versor`; passing an even element that
    is not a versor makes the check fail.
    """
    where = label(signature)
    n = len(signature)
    if versor is None:
        versor = generic_versor(signature)
    reverse = versor.reverse()

    norm = expanded(versor * reverse)
    rho = norm.scalar_part()
    require_equal(norm, scalar(signature, rho), f"R R~ - <R R~>_0 in {where}")

    operator = map_matrix(signature, lambda x: versor * x * reverse, range(n + 1))

    grades = blades.blade_grades(n)
    for row in range(1 << n):
        for column in range(1 << n):
            if grades[row] != grades[column]:
                value = operator[row, column]
                require(value == 0, f"sandwich maps grade {grades[column]} to grade {grades[row]} in {where}: entry {value}")

    require(sympy.expand(operator[0, 0] - rho) == 0, f"sandwich of 1 is {operator[0, 0]}, not rho, in {where}")

    # Exact polynomial arithmetic: every block shares the ring of the vector block and rho.
    vector_block = polynomial_matrix(operator[1 : n + 1, 1 : n + 1])
    domain = vector_block.domain.unify(polynomial_matrix(sympy.Matrix([[rho]])).domain)
    vector_block = vector_block.convert_to(domain)
    rho_element = domain.from_sympy(rho)
    for k in range(1, n + 1):
        part = blades.grade_slice(n, k)
        block = polynomial_matrix(operator[part.start : part.stop, part.start : part.stop], domain)
        scaled = block * rho_element ** (k - 1)
        require((scaled - compound_matrix(vector_block, k)).is_zero_matrix, f"rho^(k-1) M_k - C_k(M_1) for k = {k} in {where} is not zero")

    metric = polynomial_matrix(sympy.diag(*signature), domain)
    gram = vector_block.transpose() * metric * vector_block
    require((gram - metric * rho_element**2).is_zero_matrix, f"M_1^T eta M_1 - rho^2 eta is not zero in {where}")
    logger.info("sandwich is block diagonal with compound blocks in %s", where)


def main() -> None:
    """Run every check; raise :class:`~proofs._support.DerivationError` on the first failure."""
    for counts in SIGNATURES:
        check_sandwich(signature_of(*counts))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
