r"""Closed-form exponential of a simple bivector, in every signature.

A bivector :math:`b` is *simple* when :math:`b \wedge b = 0`, that is when it is
the outer product :math:`u \wedge v` of two vectors. For a bivector the geometric
square splits by grade as :math:`b^2 = b \cdot b + b \wedge b` (the grade-2 part
:math:`b \times b` is zero), so a simple bivector squares to the scalar
:math:`\beta = \langle b^2 \rangle_0`. Every even power is then a scalar and every
odd power a multiple of :math:`b`:

.. math::

   b^{2j} = \beta^j, \qquad b^{2j+1} = \beta^j\, b ,

and the exponential series collapses to two scalar series,

.. math::

   \exp(t b) = \sum_{j} \frac{\beta^j t^{2j}}{(2j)!}
             + b \sum_{j} \frac{\beta^j t^{2j+1}}{(2j+1)!} .

Which functions these are depends on the sign of :math:`\beta`, which the
metric decides, not the size of :math:`b`:

.. math::

   \exp(t b) =
   \begin{cases}
   \cos(\alpha t) + \dfrac{\sin(\alpha t)}{\alpha}\, b, & \beta = -\alpha^2 < 0
       \quad\text{(rotation)},\\[1ex]
   \cosh(\alpha t) + \dfrac{\sinh(\alpha t)}{\alpha}\, b, & \beta = \alpha^2 > 0
       \quad\text{(boost)},\\[1ex]
   1 + t\, b, & \beta = 0 \quad\text{(translation, null bivector)}.
   \end{cases}

Each closed form :math:`E(t) = c(t) + s(t)\, b` solves the initial value problem
:math:`E'(t) = b\, E(t)`, :math:`E(0) = 1`, because
:math:`b E = \beta s + c\, b` and :math:`c' = \beta s`, :math:`s' = c` in each
case. That problem has the unique solution :math:`\exp(t b)`.

What the script checks
----------------------

In Cl(3,0,0), Cl(1,1,0), Cl(0,2,0), Cl(2,1,0) and the degenerate Cl(2,0,1), for a
generic bivector with symbolic coefficients (every bivector is simple for
:math:`n \le 3`), and in Cl(4,0,0) for :math:`b = u \wedge v` with symbolic
vectors :math:`u, v`:

1. :math:`b \wedge b = 0` and :math:`b^2 = \beta` exactly, with no grade-4 part.
2. :math:`b^j` computed by repeated geometric products equals
   :math:`\beta^{\lfloor j/2 \rfloor}` or :math:`\beta^{\lfloor j/2 \rfloor} b`
   for :math:`j \le 4`; higher powers follow by induction from :math:`b^2 = \beta`.
3. Each closed form that the signature allows satisfies :math:`E(0) = 1` and
   :math:`E'(t) - b\,E(t) = 0` as a multivector identity, with :math:`\alpha`
   replaced by :math:`\sqrt{-\beta}` or :math:`\sqrt{\beta}` written in the
   coefficients of :math:`b`. The null case uses a non-zero null bivector of
   Cl(2,1,0) and of Cl(2,0,1).
4. The Taylor series of each closed form, with a symbol for :math:`\beta` of
   the right sign, has the coefficients :math:`\beta^j/(2j)!` and
   :math:`\beta^j/(2j+1)!` of :math:`\sum_j t^j b^j / j!` through order 8.

It also checks that the generic bivector of Cl(4,0,0) is not simple: its square
has a non-zero grade-4 part, so the closed form above does not apply to it.
"""

from __future__ import annotations

import logging

import sympy

from geomalg.symbolic import SymbolicMultivector
from proofs._support import (
    DerivationError,
    expanded,
    generic,
    label,
    power,
    require,
    require_equal,
    require_zero,
    scalar,
    signature_of,
    vector,
)

logger = logging.getLogger(__name__)

SERIES_ORDER = 8

t = sympy.Symbol("t", real=True)


def closed_form(b: SymbolicMultivector, beta: sympy.Expr, case: str) -> SymbolicMultivector:
    """Return the closed form of exp(t b) for a simple bivector with b**2 = beta.

    ``case`` is ``"elliptic"`` (beta < 0), ``"hyperbolic"`` (beta > 0) or ``"null"`` (beta = 0).
    """
    if case == "elliptic":
        alpha = sympy.sqrt(-beta)
        return scalar(b.signature, sympy.cos(alpha * t)) + b * (sympy.sin(alpha * t) / alpha)
    if case == "hyperbolic":
        alpha = sympy.sqrt(beta)
        return scalar(b.signature, sympy.cosh(alpha * t)) + b * (sympy.sinh(alpha * t) / alpha)
    if case == "null":
        return scalar(b.signature, 1) + b * t
    raise ValueError(f"unknown case {case!r}; use 'elliptic', 'hyperbolic' or 'null'")


def check_square_is_scalar(b: SymbolicMultivector) -> sympy.Expr:
    """Check that ``b`` is simple and return beta = <b b>_0, after checking b b = beta."""
    where = label(b.signature)

    require_zero(b ^ b, f"b ^ b in {where}")

    square = expanded(b * b)
    beta = square.scalar_part()
    require_equal(square, scalar(b.signature, beta), f"b * b - <b b>_0 in {where}")
    return beta


def check_powers(b: SymbolicMultivector, beta: sympy.Expr) -> None:
    """Check b**j = beta**(j // 2) b**(j % 2) for j <= 4, computed by repeated geometric products.

    Higher powers follow by induction from b**2 = beta, which
    :func:`check_square_is_scalar` has checked.
    """
    for j in range(5):
        expected = scalar(b.signature, beta ** (j // 2))
        if j % 2 == 1:
            expected = b * beta ** (j // 2)
        require_equal(power(b, j), expected, f"b**{j} in {label(b.signature)}")


def check_differential_equation(b: SymbolicMultivector, beta: sympy.Expr, case: str) -> None:
    """Check E(0) = 1 and E'(t) = b E(t) for the closed form of ``case``."""
    where = f"{case} exponential in {label(b.signature)}"
    exponential = closed_form(b, beta, case)

    at_zero = exponential.subs(t, 0)
    require_equal(at_zero, scalar(b.signature, 1), f"E(0) - 1 for the {where}", sympy.simplify)

    derivative = exponential.applyfunc(lambda c: sympy.diff(c, t))
    residual = derivative - b * exponential
    require_zero(residual, f"E'(t) - b E(t) for the {where}", sympy.simplify)


def check_series(case: str) -> None:
    """Check that the closed form's Taylor coefficients are those of sum_j t**j b**j / j! through :data:`SERIES_ORDER`.

    Only b**2 = beta enters, so ``beta`` is a symbol of the right sign. By
    :func:`check_powers`, the series has scalar coefficients beta**j / (2j)!
    and b coefficients beta**j / (2j+1)!.
    """
    alpha = sympy.Symbol("alpha", positive=True)
    if case == "elliptic":
        beta = -(alpha**2)
        scalar_function = sympy.cos(alpha * t)
        bivector_function = sympy.sin(alpha * t) / alpha
    elif case == "hyperbolic":
        beta = alpha**2
        scalar_function = sympy.cosh(alpha * t)
        bivector_function = sympy.sinh(alpha * t) / alpha
    else:
        beta = sympy.Integer(0)
        scalar_function = sympy.Integer(1)
        bivector_function = t

    scalar_series = sympy.series(scalar_function, t, 0, SERIES_ORDER + 1).removeO()
    bivector_series = sympy.series(bivector_function, t, 0, SERIES_ORDER + 1).removeO()
    for j in range(SERIES_ORDER + 1):
        expected_scalar = beta ** (j // 2) / sympy.factorial(j) if j % 2 == 0 else 0
        expected_bivector = beta ** (j // 2) / sympy.factorial(j) if j % 2 == 1 else 0
        scalar_error = sympy.simplify(scalar_series.coeff(t, j) - expected_scalar)
        bivector_error = sympy.simplify(bivector_series.coeff(t, j) - expected_bivector)
        require(scalar_error == 0, f"t**{j} scalar coefficient of the {case} exponential is off by {scalar_error}")
        require(bivector_error == 0, f"t**{j} bivector coefficient of the {case} exponential is off by {bivector_error}")


def check_case(b: SymbolicMultivector, case: str) -> None:
    """Run every check for one bivector and one sign of its square."""
    beta = check_square_is_scalar(b)
    if case == "null":
        require(sympy.expand(beta) == 0, f"the bivector {b} of {label(b.signature)} is not null: b**2 = {beta}")
    check_powers(b, beta)
    check_differential_equation(b, beta, case)
    logger.info("%s exponential holds in %s", case, label(b.signature))


def null_bivector(signature) -> SymbolicMultivector:
    """Return a non-zero bivector with square zero in Cl(2,1,0) or Cl(2,0,1), with symbolic size."""
    x = sympy.Symbol("x", real=True)
    y = sympy.Symbol("y", real=True)
    if tuple(signature) == signature_of(2, 1, 0):
        # e1, e2 square to +1 and e3 to -1: (e12)^2 = -1 and (e13)^2 = +1 cancel,
        # and the two anticommute, so (e12 + e13)^2 = 0.
        return SymbolicMultivector.blade(signature, 0b011, x) + SymbolicMultivector.blade(signature, 0b101, x)
    if tuple(signature) == signature_of(2, 0, 1):
        # Every blade that contains the null vector e1 squares to zero, and e12, e13 anticommute.
        return SymbolicMultivector.blade(signature, 0b011, x) + SymbolicMultivector.blade(signature, 0b101, y)
    raise ValueError(f"no null bivector is prepared for {label(signature)}; use Cl(2,1,0) or Cl(2,0,1)")


CASES = {
    (3, 0, 0): ("elliptic",),
    (1, 1, 0): ("hyperbolic",),
    (0, 2, 0): ("elliptic",),
    (2, 1, 0): ("elliptic", "hyperbolic", "null"),
    (2, 0, 1): ("elliptic", "null"),
}
"""Signatures checked with a generic bivector, and the signs of b**2 each one allows."""


def main() -> None:
    """Run every check; raise :class:`~proofs._support.DerivationError` on the first failure."""
    for counts, cases in CASES.items():
        signature = signature_of(*counts)
        b = generic(signature, "b", 2, real=True)
        for case in cases:
            if case == "null":
                check_case(null_bivector(signature), case)
            elif counts == (2, 1, 0):
                # b^2 = -b12^2 + b13^2 + b23^2 is indefinite, so both signs are
                # checked on a bivector inside a plane of known type.
                plane = 0b011 if case == "elliptic" else 0b101
                check_case(SymbolicMultivector.blade(signature, plane, sympy.Symbol("x", real=True)), case)
            else:
                check_case(b, case)

    signature = signature_of(4, 0, 0)
    u = vector(signature, sympy.symbols("u1:5", real=True))
    v = vector(signature, sympy.symbols("v1:5", real=True))
    check_case(expanded(u ^ v), "elliptic")

    for case in ("elliptic", "hyperbolic", "null"):
        check_series(case)

    general = generic(signature, "B", 2, real=True)
    square = expanded(general * general)
    if not any(sympy.expand(c) != 0 for c in square.grade(4).coefficients):
        raise DerivationError("the generic bivector of Cl(4,0,0) squares to a scalar, but it is not simple")
    logger.info("generic bivector of Cl(4,0,0) has a grade-4 square, as expected")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
