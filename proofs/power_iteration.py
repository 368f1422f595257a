r"""The power-iteration step v <- (v . B) . B finds the planes of a bivector.

The operator
------------

Write a bivector of Cl(p, q, r) as :math:`B = \sum_{i<j} A_{ij}\, e_i \wedge e_j`
and complete :math:`A` to a skew-symmetric :math:`n \times n` matrix
(:math:`A_{ji} = -A_{ij}`). Let :math:`\eta = \operatorname{diag}(e_1^2, \dots, e_n^2)`
be the metric. For a vector :math:`v = \sum_i v_i e_i`, the left contraction
:math:`v \rfloor (e_i \wedge e_j) = \eta_{ii} v_i\, e_j - \eta_{jj} v_j\, e_i` gives

.. math::

   v \rfloor B = -A \eta\, v, \qquad (v \rfloor B) \rfloor B = (A \eta)^2\, v ,

reading vectors as coefficient columns. The inner product
:math:`v \cdot B = \tfrac12 (vB - Bv)` equals :math:`v \rfloor B` for a vector
:math:`v`. Its sign does not matter for the step, because the step applies it twice.

In a Euclidean signature :math:`\eta = I` and

.. math::

   (v \cdot B) \cdot B = A^2 v = -A^{\mathsf T} A\, v ,

so the step is the symmetric, negative semidefinite operator :math:`A^2`, and
:math:`-A^2 = A^{\mathsf T} A` is the positive semidefinite operator that power
iteration runs on. Iterates of :math:`A^2` itself flip sign at every step. In any
signature :math:`(A\eta)^2` is self-adjoint for the metric:
:math:`\eta (A \eta)^2` is symmetric.

Its eigenvectors span the planes
--------------------------------

Let :math:`B = \sum_i b_i` be the invariant decomposition, with
:math:`b_i = \theta_i\, f_{2i-1} \wedge f_{2i}` for a basis :math:`f` that is
orthogonal in the metric. For :math:`v` in the plane of :math:`b_i`,
:math:`v \rfloor b_j = 0` when :math:`j \ne i`, and

.. math::

   (v \rfloor B) \rfloor B = (v \rfloor b_i) \rfloor b_i = b_i^2\, v = \lambda_i\, v .

So each plane of the decomposition is an eigenspace with eigenvalue
:math:`\lambda_i = b_i^2` (twice), and for odd :math:`n` the remaining direction has
eigenvalue 0. In the Euclidean case :math:`\lambda_i = -\lVert b_i \rVert^2`, so
the dominant eigenvectors of :math:`A^{\mathsf T} A`, the fixed directions of
normalized power iteration, lie in the plane of the largest :math:`\lVert b_i \rVert`.
From any non-null :math:`v` in that plane, the simple part itself is

.. math::

   b_i = \frac{v \wedge (v \rfloor B)}{v \cdot v} .

What the script checks
----------------------

1. For a generic symbolic bivector and vector in Cl(3,0,0), Cl(4,0,0), Cl(5,0,0),
   Cl(6,0,0), Cl(2,1,0), Cl(3,1,0), Cl(2,2,0) and Cl(3,0,1): the coefficients of
   :math:`v \rfloor B` are :math:`-A\eta v`, those of :math:`(v \rfloor B) \rfloor B`
   are :math:`(A\eta)^2 v`, and :math:`\eta (A\eta)^2` is symmetric. In the
   Euclidean cases also :math:`(A\eta)^2 = -A^{\mathsf T} A`.
2. For :math:`B = \sum_i \theta_i f_{2i-1} \wedge f_{2i}` with symbolic
   :math:`\theta_i` and a random rational orthogonal basis :math:`f` of Cl(4,0,0),
   Cl(5,0,0), Cl(6,0,0), Cl(3,1,0) and Cl(2,2,0): every
   :math:`v = x f_{2i-1} + y f_{2i}` (symbolic :math:`x, y`) satisfies
   :math:`(v \rfloor B) \rfloor B = b_i^2 v` and
   :math:`v \wedge (v \rfloor B) = (v \cdot v)\, b_i`; for odd :math:`n` the
   last basis vector is mapped to zero.

Degenerate signatures are left out of check 2: there a plane that contains a
null vector is not an eigenspace of a diagonalizable operator (the operator is
nilpotent on it), and :math:`v \cdot v` can vanish.
"""

from __future__ import annotations

import logging

import sympy

from geomalg import blades
from proofs._support import (
    expanded,
    generic,
    label,
    orthogonal_basis,
    require,
    require_equal,
    require_zero,
    signature_of,
    vector,
)

logger = logging.getLogger(__name__)

OPERATOR_SIGNATURES = [(3, 0, 0), (4, 0, 0), (5, 0, 0), (6, 0, 0), (2, 1, 0), (3, 1, 0), (2, 2, 0), (3, 0, 1)]
EIGENSPACE_SIGNATURES = [(4, 0, 0), (5, 0, 0), (6, 0, 0), (3, 1, 0), (2, 2, 0)]


def skew_matrix(bivector) -> sympy.Matrix:
    """Return the skew-symmetric matrix A with B = sum_{i<j} A_ij e_i ^ e_j."""
    n = bivector.n
    matrix = sympy.zeros(n, n)
    part = blades.grade_slice(n, 2)
    bitmaps = blades.blade_bitmaps(n)
    for index in range(part.start, part.stop):
        i, j = [position for position in range(n) if bitmaps[index] >> position & 1]
        matrix[i, j] = bivector.coefficients[index]
        matrix[j, i] = -bivector.coefficients[index]
    return matrix


def check_operator(signature) -> None:
    """Check v _| B = -A eta v and (v _| B) _| B = (A eta)^2 v for generic B and v."""
    where = label(signature)
    n = len(signature)
    bivector = generic(signature, "B", 2)
    components = sympy.symbols(f"v1:{n + 1}")
    v = vector(signature, components)
    column = sympy.Matrix(components)

    skew = skew_matrix(bivector)
    metric = sympy.diag(*signature)
    step_matrix = -skew * metric

    once = expanded(v << bivector)
    require_equal(once, vector(signature, list(step_matrix * column)), f"v _| B + A eta v in {where}")

    twice = expanded(once << bivector)
    require_equal(twice, vector(signature, list(step_matrix * step_matrix * column)), f"(v _| B) _| B - (A eta)^2 v in {where}")

    self_adjoint = (metric * step_matrix * step_matrix).expand()
    require(self_adjoint == self_adjoint.T, f"eta (A eta)^2 is not symmetric in {where}")

    if all(square == 1 for square in signature):
        difference = (step_matrix * step_matrix + skew.T * skew).expand()
        require(difference == sympy.zeros(n, n), f"(A eta)^2 + A^T A is {difference}, not zero, in {where}")
    logger.info("(v . B) . B = (A eta)^2 v for a generic bivector of %s", where)


def check_eigenspaces(signature, seed: int = 5) -> None:
    """Check that each plane of a planted decomposition is an eigenspace of the step, with eigenvalue b_i^2."""
    where = label(signature)
    n = len(signature)
    basis = [vector(signature, f) for f in orthogonal_basis(signature, seed)]
    angles = sympy.symbols(f"theta1:{n // 2 + 1}", real=True)
    simple_parts = [expanded((basis[2 * i] ^ basis[2 * i + 1]) * angles[i]) for i in range(n // 2)]
    bivector = expanded(sum(simple_parts[1:], simple_parts[0]))
    x, y = sympy.symbols("x y", real=True)

    for i, simple in enumerate(simple_parts):
        eigenvalue = expanded(simple * simple).scalar_part()
        v = expanded(basis[2 * i] * x + basis[2 * i + 1] * y)
        once = expanded(v << bivector)
        twice = expanded(once << bivector)
        require_equal(twice, v * eigenvalue, f"(v _| B) _| B - b_{i + 1}^2 v in the plane of b_{i + 1} in {where}")

        norm_square = expanded(v * v).scalar_part()
        require_equal(expanded(v ^ once), simple * norm_square, f"v ^ (v _| B) - (v . v) b_{i + 1} in {where}")

    if n % 2 == 1:
        require_zero(expanded(basis[-1] << bivector), f"f_{n} _| B for the direction outside every plane in {where}")
    logger.info("the planes of a planted decomposition are eigenspaces of the step in %s", where)


def main() -> None:
    """Run every check; raise :class:`~proofs._support.DerivationError` on the first failure."""
    for counts in OPERATOR_SIGNATURES:
        check_operator(signature_of(*counts))
    for counts in EIGENSPACE_SIGNATURES:
        check_eigenspaces(signature_of(*counts))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
