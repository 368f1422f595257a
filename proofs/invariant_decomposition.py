r"""Invariant decomposition of a bivector into commuting simple bivectors.

Statement
---------

Let :math:`B` be a bivector of Cl(p, q, r) with :math:`n = p + q + r` and
:math:`k = \lfloor n/2 \rfloor`. Roelfs and De Keninck ("Graded symmetry groups:
plane and simple", arXiv:2107.03771) show that :math:`B` splits as

.. math::

   B = \sum_{i=1}^{k} b_i, \qquad b_i \wedge b_i = 0, \qquad b_i b_j = b_j b_i ,

with simple, pairwise commuting :math:`b_i`. Each :math:`b_i` squares to a scalar
:math:`\lambda_i = b_i^2`, and this page derives the :math:`\lambda_i` and the
:math:`b_i` from :math:`B` alone.

Eigenvalues from the outer powers
---------------------------------

Let :math:`W_m = B^{\wedge m} / m!` (so :math:`W_0 = 1`, :math:`W_1 = B`). For
commuting :math:`b_i` whose planes are orthogonal, :math:`b_i \wedge b_j = b_i b_j`
for :math:`i \ne j`, and the multinomial expansion of :math:`B^{\wedge m}` gives
the elementary symmetric polynomial of the :math:`b_i`:

.. math::

   W_m = \sum_{i_1 < \dots < i_m} b_{i_1} \cdots b_{i_m} .

In :math:`W_m W_m` a term :math:`b_I b_J` is a scalar only when :math:`I = J`,
where it equals :math:`\prod_{i \in I} \lambda_i`. So the scalar part
:math:`\langle W_m W_m \rangle_0` is the elementary symmetric polynomial
:math:`e_m(\lambda_1, \dots, \lambda_k)`, and the :math:`\lambda_i` are the roots of

.. math::

   p(\lambda) = \prod_{i=1}^{k} (\lambda - \lambda_i)
              = \sum_{m=0}^{k} (-1)^m \langle W_m W_m \rangle_0\, \lambda^{k-m} .

The same polynomial is the characteristic polynomial of the linear map
:math:`F(v) = v \rfloor B` on vectors: on the plane of :math:`b_i`,
:math:`F^2 = \lambda_i`, so

.. math::

   \det(x I - F) = x^{\,n - 2k}\, p(x^2) .

This identity involves no decomposition and is checked directly on generic
symbolic bivectors.

The simple parts
----------------

Fix one root :math:`\lambda_i` and a formal :math:`x` with :math:`x^2 = \lambda_i`.
Then :math:`P(x) = \prod_j (x + b_j) = \sum_m x^{k-m} W_m`, and because
:math:`b_i (x + b_i) = x (x + b_i)`, multiplication by :math:`b_i` acts on
:math:`P(x)` as multiplication by :math:`x`. Splitting :math:`P(x) = A_i + x C_i`
by the parity of the number of :math:`b` factors,

.. math::

   A_i = \sum_{m \equiv k \ (2)} \lambda_i^{(k-m)/2} W_m, \qquad
   C_i = \sum_{m \not\equiv k \ (2)} \lambda_i^{(k-m-1)/2} W_m ,

and comparing parities in :math:`b_i (A_i + x C_i) = x (A_i + x C_i)` gives

.. math::

   b_i\, C_i = A_i, \qquad b_i\, A_i = \lambda_i\, C_i ,

so :math:`b_i = A_i C_i^{-1}` whenever :math:`C_i` is invertible. For
:math:`k = 2` (:math:`n = 4, 5`) :math:`W_2^2` is the scalar
:math:`\lambda_1 \lambda_2`, the inverse is explicit, and with
:math:`\lambda_1 + \lambda_2 = \langle B^2 \rangle_0`:

.. math::

   b_i = \frac{B\,(\lambda_i - W_2)}{\lambda_i - \lambda_j}
       = \frac{B\,(\lambda_i - W_2)}{2\lambda_i - \langle B^2 \rangle_0} .

The formula needs distinct :math:`\lambda_i`. Equal :math:`\lambda_i` (an
isoclinic bivector) make the split non-unique and :math:`C_i` singular.

What the script checks
----------------------

All identities that hold "at every root" are checked without solving for the
roots: coefficients are polynomials in a symbol :math:`\lambda` and are reduced
modulo :math:`p(\lambda)`, or the arithmetic runs in the field
:math:`\mathbb{Q}[\lambda]/p(\lambda)`.

1. The parity step, for :math:`k = 2, 3, 4`: with commuting symbols
   :math:`b_1, \dots, b_k`, :math:`W_m = e_m(b)` and :math:`b_j^2` reduced to
   :math:`\lambda_j`, the identities :math:`b_i C_i = A_i` and
   :math:`b_i A_i = \lambda_i C_i` hold for every :math:`i` as polynomial identities.
2. Characteristic polynomial, fully generic: for a bivector with 15 independent
   symbols (:math:`n = 6`) or fewer, :math:`\det(xI - F) = x^{n-2k} p(x^2)` as a
   polynomial identity in Cl(4,0,0), Cl(3,1,0), Cl(2,2,0), Cl(3,0,1), Cl(5,0,0),
   Cl(4,1,0), Cl(4,0,1), Cl(6,0,0), Cl(3,3,0) and Cl(5,0,1). ``main(full=True)``
   adds Cl(7,0,0) and Cl(8,0,0).
3. :math:`k = 2`, fully generic (Cl(4,0,0), Cl(3,1,0), Cl(2,2,0), Cl(3,0,1),
   Cl(5,0,0); ``main(full=True)`` adds Cl(4,1,0) and Cl(4,0,1)): with
   :math:`b(\lambda)` from the explicit formula, :math:`W_2^2` is a scalar,
   :math:`b` is a bivector, and modulo :math:`p(\lambda)`: :math:`b \wedge b = 0`, :math:`b^2 = \lambda`,
   :math:`b\,B = B\,b`, :math:`b\,C = A`; :math:`b(\lambda_1) + b(\lambda_2) = B`
   and :math:`b(\lambda_1)\, b(\lambda_2) = b(\lambda_2)\, b(\lambda_1)`, with
   :math:`\lambda_2 = \langle B^2 \rangle_0 - \lambda_1`.
4. :math:`k = 3`, a random bivector with small rational coefficients in
   Cl(6,0,0), Cl(3,3,0) and Cl(5,0,1): each irreducible factor :math:`f` of
   :math:`p` over the rationals is square-free, :math:`b` is the unique bivector
   with :math:`b\, C = A`, found by exact elimination over
   :math:`\mathbb{Q}[\lambda]/f(\lambda)`, and it satisfies :math:`b A = \lambda C`,
   :math:`b \wedge b = 0`, :math:`b^2 = \lambda`, :math:`b(\lambda)\, b(\mu) =
   b(\mu)\, b(\lambda)` for any two roots :math:`\lambda, \mu`, and
   :math:`\sum_i b(\lambda_i) = B` (the field trace). ``main(full=True)`` adds
   Cl(7,0,0) and Cl(8,0,0) (:math:`k = 4`) and runs three random bivectors per
   signature instead of one.
5. A planted decomposition: :math:`B = \sum_i \theta_i f_{2i-1} \wedge f_{2i}`
   for a random rational orthogonal basis :math:`f` of Cl(6,0,0) and Cl(4,2,0)
   and rational :math:`\theta_i`: :math:`W_m` equals the elementary symmetric
   polynomial of the planted :math:`b_i` in geometric products, and the formula
   returns exactly the planted :math:`b_i` for each rational root.

For :math:`n = 6` the simple parts are not checked on a bivector with 15 free
symbols, only on rational ones (checks 4 and 5). Check 1 covers the algebraic
step for any bivector, and the eigenvalue statement (check 2) is fully generic
there. The roots of the cubic :math:`p` have no usable closed form, and the
elimination of check 4 would run over rational functions in 15 symbols; that
it would not finish in minutes is an estimate, not a measurement.
"""

from __future__ import annotations

import itertools
import logging
from math import comb

import sympy

from geomalg import blades
from geomalg.symbolic import SymbolicMultivector
from proofs._support import (
    QuotientField,
    expanded,
    generic,
    label,
    map_matrix,
    orthogonal_basis,
    random_rationals,
    reduce_modulo,
    require,
    require_equal,
    require_zero,
    scalar,
    signature_of,
    vector,
)

logger = logging.getLogger(__name__)

x = sympy.Symbol("x")
lam = sympy.Symbol("lambda")
mu = sympy.Symbol("mu")

CHARACTERISTIC_SIGNATURES = [
    (4, 0, 0), (3, 1, 0), (2, 2, 0), (3, 0, 1),
    (5, 0, 0), (4, 1, 0), (4, 0, 1),
    (6, 0, 0), (3, 3, 0), (5, 0, 1),
]
GENERIC_PAIR_SIGNATURES = [(4, 0, 0), (3, 1, 0), (2, 2, 0), (3, 0, 1), (5, 0, 0)]
FULL_GENERIC_PAIR_SIGNATURES = [(4, 1, 0), (4, 0, 1)]
RATIONAL_SIGNATURES = [(6, 0, 0), (3, 3, 0), (5, 0, 1)]
PLANTED_SIGNATURES = [(6, 0, 0), (4, 2, 0)]
FULL_EXTRA_SIGNATURES = [(7, 0, 0), (8, 0, 0)]
RATIONAL_SEEDS = (7,)
FULL_RATIONAL_SEEDS = (7, 8, 9)


def outer_powers(bivector: SymbolicMultivector) -> list[SymbolicMultivector]:
    """Return W_0 .. W_k with W_m = B^m (outer power) / m!."""
    k = bivector.n // 2
    powers = [scalar(bivector.signature, 1)]
    for m in range(1, k + 1):
        powers.append(expanded((powers[-1] ^ bivector) / m))
    return powers


def eigenvalue_polynomial(powers: list[SymbolicMultivector], variable: sympy.Symbol) -> sympy.Expr:
    """Return p(variable) = sum_m (-1)^m <W_m W_m>_0 variable^(k-m), monic of degree k."""
    k = len(powers) - 1
    terms = [(-1) ** m * sympy.expand(w.scalar_product(w)) * variable ** (k - m) for m, w in enumerate(powers)]
    return sympy.expand(sympy.Add(*terms))


def split_parts(powers: list[SymbolicMultivector], eigenvalue) -> tuple[SymbolicMultivector, SymbolicMultivector]:
    """Return (A, C) for one eigenvalue, the parts of prod_j (x + b_j) with x^2 = eigenvalue."""
    k = len(powers) - 1
    signature = powers[0].signature
    a_part = scalar(signature, 0)
    c_part = scalar(signature, 0)
    for m, w in enumerate(powers):
        if (k - m) % 2 == 0:
            a_part = a_part + w * eigenvalue ** ((k - m) // 2)
        else:
            c_part = c_part + w * eigenvalue ** ((k - m - 1) // 2)
    return expanded(a_part), expanded(c_part)


def check_parity_step(k: int) -> None:
    """Check b_i C_i = A_i and b_i A_i = lambda_i C_i with commuting symbols b_j, b_j^2 = lambda_j."""
    parts = sympy.symbols(f"b1:{k + 1}")
    eigenvalues = sympy.symbols(f"lambda1:{k + 1}")
    powers = [sympy.Add(*[sympy.Mul(*chosen) for chosen in itertools.combinations(parts, m)]) for m in range(k + 1)]
    # b_j^2 - lambda_j have coprime leading monomials, so they form a Groebner basis and division reduces fully.
    relations = [b**2 - eigenvalue for b, eigenvalue in zip(parts, eigenvalues)]

    for i in range(k):
        a_part = sympy.Add(*[w * eigenvalues[i] ** ((k - m) // 2) for m, w in enumerate(powers) if (k - m) % 2 == 0])
        c_part = sympy.Add(*[w * eigenvalues[i] ** ((k - m - 1) // 2) for m, w in enumerate(powers) if (k - m) % 2 == 1])
        for expression, name in ((parts[i] * c_part - a_part, "b C - A"), (parts[i] * a_part - eigenvalues[i] * c_part, "b A - lambda C")):
            remainder = sympy.reduced(sympy.expand(expression), relations, *parts)[1]
            require(remainder == 0, f"{name} for b_{i + 1} with k = {k} reduces to {remainder}, not 0")
    logger.info("b_i C_i = A_i and b_i A_i = lambda_i C_i hold in the commutative algebra for k = %d", k)


def check_characteristic_polynomial(bivector: SymbolicMultivector) -> None:
    """Check det(x I - F) = x^(n-2k) p(x^2) for F(v) = v _| B."""
    n = bivector.n
    k = n // 2
    operator = map_matrix(bivector.signature, lambda v: v << bivector, [1])
    characteristic = sympy.expand(operator.charpoly(x).as_expr())

    polynomial = eigenvalue_polynomial(outer_powers(bivector), lam)
    expected = sympy.expand(x ** (n - 2 * k) * polynomial.subs(lam, x**2))
    difference = sympy.expand(characteristic - expected)
    require(difference == 0, f"det(xI - F) - x^(n-2k) p(x^2) in {label(bivector.signature)} is {difference}, not 0")


def check_generic_pair(signature) -> None:
    """Check the explicit k = 2 formula on a bivector with one symbol per blade."""
    where = label(signature)
    bivector = generic(signature, "B", 2)
    powers = outer_powers(bivector)
    w2 = powers[2]

    # The explicit inverse of (lambda + W_2) needs W_2^2 to be a scalar, which holds for n <= 5.
    w2_square = expanded(w2 * w2)
    require_equal(w2_square, scalar(signature, w2_square.scalar_part()), f"W2 W2 - <W2 W2>_0 in {where}")

    polynomial = eigenvalue_polynomial(powers, lam)
    trace = sympy.expand(bivector.scalar_product(bivector))

    def numerator(eigenvalue):
        return expanded(bivector * (scalar(signature, eigenvalue) - w2))

    def denominator(eigenvalue):
        return 2 * eigenvalue - trace

    part = numerator(lam)
    require_zero(part - part.grade(2), f"non-bivector part of B (lambda - W2) in {where}")

    require_zero(reduce_modulo(part ^ part, polynomial, lam), f"b ^ b modulo p(lambda) in {where}")

    square_error = expanded(part * part) - scalar(signature, lam * denominator(lam) ** 2)
    require_zero(reduce_modulo(square_error, polynomial, lam), f"b b - lambda modulo p(lambda) in {where}")

    commutator = expanded(part * bivector - bivector * part)
    require_zero(commutator, f"b B - B b in {where}")

    a_part, c_part = split_parts(powers, lam)
    relation = expanded(part * c_part - a_part * denominator(lam))
    require_zero(reduce_modulo(relation, polynomial, lam), f"b C - A modulo p(lambda) in {where}")

    # The other root is lambda_2 = <B^2>_0 - lambda_1, and 2 lambda_2 - <B^2>_0 = -(2 lambda_1 - <B^2>_0).
    other = trace - lam
    total = expanded(part - numerator(other) - bivector * denominator(lam))
    require_zero(reduce_modulo(total, polynomial, lam), f"b(lambda_1) + b(lambda_2) - B in {where}")

    cross = expanded(part * numerator(other) - numerator(other) * part)
    require_zero(reduce_modulo(cross, polynomial, lam), f"b(lambda_1) b(lambda_2) - b(lambda_2) b(lambda_1) in {where}")
    logger.info("k = 2 formula holds for a generic bivector of %s", where)


def solve_simple_part(bivector: SymbolicMultivector, field: QuotientField) -> list[sympy.Poly]:
    """Return the bivector coefficients (elements of the field) of the unique b with b C = A."""
    signature = bivector.signature
    n = bivector.n
    powers = outer_powers(bivector)
    a_part, c_part = split_parts(powers, lam)

    bivector_slice = blades.grade_slice(n, 2)
    unknown_count = comb(n, 2)
    # Column j of the system is (e_j C), the product of the j-th basis bivector with C.
    columns = []
    for j in range(unknown_count):
        basis = SymbolicMultivector.blade(signature, int(blades.blade_bitmaps(n)[bivector_slice.start + j]))
        columns.append(expanded(basis * c_part).coefficients)
    matrix = [[field.element(columns[j][row]) for j in range(unknown_count)] for row in range(1 << n)]
    rhs = [field.element(value) for value in a_part.coefficients]
    return field.solve(matrix, rhs)


def as_multivector(signature, coefficients: list[sympy.Poly], variable: sympy.Symbol) -> SymbolicMultivector:
    """Return the bivector with the given field-element coefficients, written in ``variable``."""
    n = len(signature)
    values = [sympy.Integer(0)] * (1 << n)
    part = blades.grade_slice(n, 2)
    for offset, value in enumerate(coefficients):
        values[part.start + offset] = value.as_expr().subs(lam, variable)
    return SymbolicMultivector(signature, values)


def check_simple_part(bivector: SymbolicMultivector, field: QuotientField) -> list[sympy.Poly]:
    """Solve b C = A at the roots of the field's modulus and check b A = lambda C, b ^ b = 0 and b b = lambda.

    Returns the bivector coefficients of b as field elements. A modulus whose
    roots are not eigenvalues of ``bivector`` fails one of the checks.
    """
    where = label(bivector.signature)
    modulus = field.modulus.as_expr()
    a_part, c_part = split_parts(outer_powers(bivector), lam)
    solution = solve_simple_part(bivector, field)
    part = as_multivector(bivector.signature, solution, lam)

    relation = expanded(part * a_part - c_part * lam)
    require_zero(reduce_modulo(relation, modulus, lam), f"b A - lambda C at the roots of {modulus} in {where}")
    require_zero(reduce_modulo(part ^ part, modulus, lam), f"b ^ b at the roots of {modulus} in {where}")
    square_error = expanded(part * part) - scalar(bivector.signature, lam)
    require_zero(reduce_modulo(square_error, modulus, lam), f"b b - lambda at the roots of {modulus} in {where}")
    return solution


def check_rational(signature, seed: int = 7) -> None:
    """Check the general formula b = A C^{-1} on a random rational bivector, for every root at once.

    ``p`` is split into its irreducible factors over the rationals; each factor
    defines a field in which one computation covers all of its roots.
    """
    where = label(signature)
    n = len(signature)
    coefficients = [sympy.Integer(0)] * (1 << n)
    grade_two = blades.grade_slice(n, 2)
    coefficients[grade_two] = random_rationals(seed, comb(n, 2))
    bivector = SymbolicMultivector(signature, coefficients)

    check_characteristic_polynomial(bivector)
    polynomial = eigenvalue_polynomial(outer_powers(bivector), lam)
    factors = [factor for factor, _ in sympy.factor_list(polynomial, lam)[1]]

    parts = []
    total = [sympy.Integer(0)] * comb(n, 2)
    for factor in factors:
        field = QuotientField(factor, lam)
        solution = check_simple_part(bivector, field)
        parts.append((factor, as_multivector(signature, solution, lam), solution))
        total = [t + field.trace(value) for t, value in zip(total, solution)]

    for factor, part_lambda, _ in parts:
        for other_factor, _, other_solution in parts:
            part_mu = as_multivector(signature, other_solution, mu)
            commutator = expanded(part_lambda * part_mu - part_mu * part_lambda)
            commutator = reduce_modulo(commutator, factor, lam)
            commutator = reduce_modulo(commutator, other_factor.subs(lam, mu), mu)
            require_zero(commutator, f"b(lambda) b(mu) - b(mu) b(lambda) for roots of {factor} and {other_factor} in {where}")

    require(total == list(coefficients[grade_two]), f"sum over roots of b is {total}, not B = {coefficients[grade_two]} in {where}")
    logger.info(
        "general formula holds for a random rational bivector of %s (k = %d, p = %s)",
        where,
        n // 2,
        " * ".join(f"({factor})" for factor in factors),
    )


def check_planted(signature, seed: int = 11) -> None:
    """Check that the formula recovers planted simple parts with rational eigenvalues exactly."""
    where = label(signature)
    n = len(signature)
    basis = [vector(signature, f) for f in orthogonal_basis(signature, seed)]
    weights = random_rationals(seed + 1, n // 2, low=1, high=9)
    planted = [expanded((basis[2 * i] ^ basis[2 * i + 1]) * weights[i]) for i in range(n // 2)]
    bivector = expanded(sum(planted[1:], planted[0]))
    powers = outer_powers(bivector)
    polynomial = eigenvalue_polynomial(powers, lam)

    for m, power in enumerate(powers):
        symmetric = scalar(signature, 0)
        for chosen in itertools.combinations(planted, m):
            product = scalar(signature, 1)
            for simple in chosen:
                product = expanded(product * simple)
            symmetric = symmetric + product
        require_equal(power, symmetric, f"W_{m} minus the elementary symmetric product of the planted parts in {where}")

    for simple in planted:
        eigenvalue = expanded(simple * simple).scalar_part()
        require(polynomial.subs(lam, eigenvalue) == 0, f"lambda = {eigenvalue} is not a root of p in {where}")
        field = QuotientField(lam - eigenvalue, lam)
        solution = check_simple_part(bivector, field)
        recovered = as_multivector(signature, solution, lam).subs(lam, eigenvalue)
        require_equal(recovered, simple, f"recovered minus planted simple part (lambda = {eigenvalue}) in {where}")
    logger.info("formula recovers the planted simple parts in %s", where)


def main(full: bool = False) -> None:
    """Run every check; ``full`` adds more signatures, up to n = 8. Raise on the first failure."""
    for k in (2, 3, 4):
        check_parity_step(k)

    characteristic = CHARACTERISTIC_SIGNATURES + (FULL_EXTRA_SIGNATURES if full else [])
    for counts in characteristic:
        signature = signature_of(*counts)
        check_characteristic_polynomial(generic(signature, "B", 2))
        logger.info("det(xI - F) = x^(n-2k) p(x^2) for a generic bivector of %s", label(signature))

    for counts in GENERIC_PAIR_SIGNATURES + (FULL_GENERIC_PAIR_SIGNATURES if full else []):
        check_generic_pair(signature_of(*counts))

    seeds = FULL_RATIONAL_SEEDS if full else RATIONAL_SEEDS
    for counts in RATIONAL_SIGNATURES + (FULL_EXTRA_SIGNATURES if full else []):
        for seed in seeds:
            check_rational(signature_of(*counts), seed)

    for counts in PLANTED_SIGNATURES:
        check_planted(signature_of(*counts))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
