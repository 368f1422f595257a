r"""The rotor logarithm from the scalar and bivector parts, and exp(log R) = R.

One plane
---------

A unit rotor of one plane in a Euclidean signature is :math:`R = s + B` with a
bivector :math:`B`, :math:`B^2 = -\lVert B \rVert^2` and
:math:`R \tilde R = s^2 + \lVert B \rVert^2 = 1`. Define

.. math::

   \log R = \theta\, \frac{B}{\lVert B \rVert}, \qquad
   \theta = \operatorname{atan2}(\lVert B \rVert, s) \in (0, \pi), \qquad B \ne 0 .

The unit bivector :math:`\hat B = B / \lVert B \rVert` squares to :math:`-1`, so
the closed-form exponential of a simple bivector (elliptic case) gives
:math:`\exp(\theta \hat B) = \cos\theta + \hat B \sin\theta`. Since
:math:`\cos \operatorname{atan2}(y, x) = x / \sqrt{x^2 + y^2}` and
:math:`\sin \operatorname{atan2}(y, x) = y / \sqrt{x^2 + y^2}`,

.. math::

   \exp(\log R) = \frac{s + B}{\sqrt{s^2 + \lVert B \rVert^2}} = R .

The other direction holds on a range of angles. For :math:`b = \phi \hat b`
with :math:`\hat b^2 = -1`, :math:`\exp(b) = \cos\phi + \hat b \sin\phi`, and its
logarithm is :math:`\operatorname{atan2}(|\sin\phi|, \cos\phi)\, \operatorname{sgn}(\sin\phi)\, \hat b`.
With :math:`u = \tan(\phi/2)` and :math:`y > 0`, the half-angle identity
:math:`\operatorname{atan2}(y, x) = 2 \arctan\!\big(y / (\sqrt{x^2+y^2} + x)\big)`
turns this into :math:`2 \arctan(u) = \phi`. So :math:`\log(\exp(b)) = b`
exactly when :math:`0 < |\phi| < \pi`. For :math:`|\phi| > \pi` the logarithm
returns the equivalent bivector of angle :math:`\phi \mp 2\pi`. The sandwich
:math:`R x \tilde R` rotates by :math:`2\phi`, and :math:`R` and :math:`-R` give
the same rotation, so every rotation of the plane has a rotor in this range.

The same construction covers the other two kinds of simple bivector:
a boost (:math:`B^2 = \lVert B \rVert^2 > 0`, :math:`s > 0`) has
:math:`\log R = \operatorname{atanh}(\lVert B \rVert / s)\, \hat B`, and a null
bivector (:math:`B^2 = 0`, :math:`s = \pm 1`) has :math:`\log R = B / s`.

Two commuting planes
--------------------

In four or more dimensions a rotor can turn two orthogonal planes at once:
:math:`R = \exp(\phi_1 \hat b_1) \exp(\phi_2 \hat b_2)` with commuting unit
:math:`\hat b_i`. Writing :math:`c_i = \cos\phi_i` and :math:`s_i = \sin\phi_i`,

.. math::

   R = c_1 c_2 + (c_2 s_1\, \hat b_1 + c_1 s_2\, \hat b_2) + s_1 s_2\, \hat b_1 \hat b_2 .

The bivector part :math:`\langle R \rangle_2` has the invariant decomposition
:math:`\beta_1 = c_2 s_1 \hat b_1`, :math:`\beta_2 = c_1 s_2 \hat b_2`, computed from
:math:`\langle R \rangle_2` alone by the :math:`k = 2` formula of the invariant
decomposition page. When both :math:`c_i > 0` (each :math:`|\phi_i| < \pi/2`, so
each plane turns by an angle :math:`2\phi_i` in :math:`(-\pi, \pi)`),

.. math::

   \log R = \sum_i \operatorname{atan2}\!\big(\lVert \beta_i \rVert, \langle R \rangle_0\big)
            \frac{\beta_i}{\lVert \beta_i \rVert}
          = \phi_1 \hat b_1 + \phi_2 \hat b_2 ,

because :math:`\operatorname{atan2}(c_j |s_i|, c_1 c_2) = \operatorname{atan2}(|s_i|, c_i)`
when :math:`c_j > 0`. The exponential of the sum is the product of the two
exponentials, because the parts commute, and that product is :math:`R`. The
decomposition needs :math:`\lVert \beta_1 \rVert \ne \lVert \beta_2 \rVert`: for an
isoclinic rotor the split of :math:`\langle R \rangle_2` is not unique.

What the script checks
----------------------

1. Cl(3,0,0), generic :math:`R = s + B` (four free real symbols, not normalized):
   :math:`\exp(\log R) = R / \sqrt{R \tilde R}`, with :math:`\exp` the closed form
   of the exponential page. The same in Cl(4,0,0) for :math:`B = u \wedge v` with
   symbolic vectors (a simple bivector).
2. Cl(1,1,0), :math:`R = s + B` with :math:`s > 0` and :math:`B^2 = b^2 < s^2`:
   the boost logarithm satisfies :math:`\exp(\log R) = R / \sqrt{R \tilde R}`.
   Cl(2,0,1), null :math:`B`: :math:`\exp(B / s) = R` for :math:`s = \pm 1`.
3. The half-angle step: :math:`y / (\sqrt{x^2+y^2} + x) = u` for
   :math:`x = (1-u^2)/(1+u^2)`, :math:`y = 2u/(1+u^2)`, :math:`u > 0` (symbolic);
   and, with 60-digit arithmetic at :math:`\phi = j\pi/24`, that the logarithm
   returns :math:`\phi` for :math:`0 < |j| < 24` and :math:`\phi \mp 2\pi` for
   :math:`24 < |j| < 48`, to within :math:`10^{-50}`.
4. Two planes in Cl(4,0,0), symbolic: :math:`R = (c_1 + s_1 e_{12})(c_2 + s_2 e_{34})`
   with symbols :math:`c_i > 0` and :math:`s_i` of each sign (not normalized):
   the roots :math:`-(c_2 s_1)^2, -(c_1 s_2)^2` of the eigenvalue polynomial give
   the simple parts :math:`c_2 s_1 e_{12}` and :math:`c_1 s_2 e_{34}`,
   :math:`\log R = \arctan(s_1/c_1)\, e_{12} + \arctan(s_2/c_2)\, e_{34}`, and
   :math:`\exp(\log R) = R / \sqrt{R \tilde R}`.
5. Two planes in Cl(4,0,0) and Cl(5,0,0): for five random draws of a rational
   orthonormal frame (Cayley transform) and of rational :math:`(c_i, s_i)` on the
   unit circle with :math:`c_i > 0` and :math:`|s_1| \ne |s_2|`, exactly:
   the decomposition of :math:`\langle R \rangle_2` returns
   :math:`c_2 s_1 \hat b_1` and :math:`c_1 s_2 \hat b_2`, the logarithm equals
   :math:`\phi_1 \hat b_1 + \phi_2 \hat b_2` (each :math:`\phi_i` as
   :math:`\arctan(s_i / c_i)`), and :math:`\exp(\log R) = R`.
"""

from __future__ import annotations

import logging
import random

import mpmath
import sympy

from geomalg.symbolic import SymbolicMultivector
from proofs._support import (
    expanded,
    generic,
    label,
    rational_rotation,
    require,
    require_equal,
    scalar,
    signature_of,
    vector,
)
from proofs.exp_simple_bivector import closed_form, t
from proofs.invariant_decomposition import eigenvalue_polynomial, outer_powers

logger = logging.getLogger(__name__)

DRAWS = 5
PRECISION_DIGITS = 60
TOLERANCE = mpmath.mpf(10) ** -50


def unit_exponential(unit: SymbolicMultivector, square: int, angle) -> SymbolicMultivector:
    """Return exp(angle * unit) for a bivector with unit**2 = square (-1, +1 or 0)."""
    case = {-1: "elliptic", 1: "hyperbolic", 0: "null"}[square]
    return closed_form(unit, sympy.Integer(square), case).subs(t, angle)


def rotor_log(rotor: SymbolicMultivector, kind: int) -> tuple[sympy.Expr, SymbolicMultivector]:
    """Return the logarithm of a one-plane rotor s + B as (angle, unit bivector); the logarithm is their product.

    ``kind`` is the sign of B^2, which the plane's metric fixes: -1 (rotation,
    atan2), +1 (boost, atanh, needs s > 0) or 0 (null bivector, B / s, where the
    unit is B itself).

    Raises
    ------
    ValueError
        If ``kind`` is not -1, 0 or 1.
    """
    s = rotor.scalar_part()
    bivector = rotor.grade(2)
    square = expanded(bivector * bivector).scalar_part()
    if kind == 0:
        return 1 / s, bivector
    if kind == -1:
        norm = sympy.sqrt(-square)
        return sympy.atan2(norm, s), bivector / norm
    if kind == 1:
        norm = sympy.sqrt(square)
        return sympy.atanh(norm / s), bivector / norm
    raise ValueError(f"kind={kind!r} must be the sign of B^2: -1, 0 or 1")


def check_single_plane() -> None:
    """Check exp(log R) = R / sqrt(R R~) for one-plane rotors of every kind."""
    signature = signature_of(3, 0, 0)
    rotor = generic(signature, "r", (0, 2), real=True)
    check_round_trip(rotor, -1)

    signature = signature_of(4, 0, 0)
    u = vector(signature, sympy.symbols("u1:5", real=True))
    v = vector(signature, sympy.symbols("v1:5", real=True))
    rotor = scalar(signature, sympy.Symbol("s", real=True)) + expanded(u ^ v)
    check_round_trip(rotor, -1)

    signature = signature_of(1, 1, 0)
    s = sympy.Symbol("s", positive=True)
    size = sympy.Symbol("x", positive=True)
    # b = x s with 0 < x < 1 keeps B^2 = b^2 below s^2, where atanh is real.
    rotor = scalar(signature, s) + SymbolicMultivector.blade(signature, 0b11, size * s)
    check_round_trip(rotor, 1)

    signature = signature_of(2, 0, 1)
    x, y = sympy.symbols("x y", real=True)
    null = SymbolicMultivector.blade(signature, 0b011, x) + SymbolicMultivector.blade(signature, 0b101, y)
    for sign in (1, -1):
        rotor = scalar(signature, sign) + null
        angle, unit = rotor_log(rotor, 0)
        exponential = unit_exponential(unit, 0, angle)
        require_equal(exponential * sign, rotor, f"exp(log R) - R for s = {sign} in {label(signature)}")
    logger.info("exp(log R) = R for one-plane rotors of every kind")


def check_round_trip(rotor: SymbolicMultivector, square: int) -> None:
    """Check exp(log R) = R / sqrt(R R~) for a one-plane rotor whose unit bivector squares to ``square`` (+1 or -1)."""
    where = label(rotor.signature)
    angle, unit = rotor_log(rotor, square)
    require_equal(expanded(unit * unit), scalar(rotor.signature, square), f"unit bivector squared minus {square} in {where}", sympy.simplify)

    exponential = unit_exponential(unit, square, angle)
    norm = expanded(rotor * rotor.reverse()).scalar_part()
    expected = rotor / sympy.sqrt(norm)
    require_equal(exponential, expected, f"exp(log R) - R / |R| in {where}", sympy.simplify)


def check_angle_range() -> None:
    """Check that log(exp(phi b)) returns phi for 0 < |phi| < pi and phi -+ 2 pi beyond."""
    u = sympy.Symbol("u", positive=True)
    x = (1 - u**2) / (1 + u**2)
    y = 2 * u / (1 + u**2)
    radius = sympy.sqrt(sympy.factor(sympy.together(x**2 + y**2)))
    half_angle = sympy.simplify(y / (radius + x))
    require(half_angle == u, f"y / (r + x) simplifies to {half_angle}, not u")

    with mpmath.workdps(PRECISION_DIGITS):
        for j in range(-47, 48):
            if j in (0, 24, -24):
                continue
            phi = j * mpmath.pi / 24
            recovered = mpmath.atan2(abs(mpmath.sin(phi)), mpmath.cos(phi)) * mpmath.sign(mpmath.sin(phi))
            expected = phi if abs(j) < 24 else phi - 2 * mpmath.pi * mpmath.sign(phi)
            error = abs(recovered - expected)
            require(error < TOLERANCE, f"log(exp(phi b)) for phi = {j} pi / 24 is off by {mpmath.nstr(error, 5)}")
    logger.info("log(exp(phi b)) = phi b for 0 < |phi| < pi, and wraps by 2 pi beyond")


def circle_point(generator: random.Random) -> tuple[sympy.Rational, sympy.Rational]:
    """Return a random rational (cos, sin) with cos > 0, from u = tan(phi / 2) in (-1, 1)."""
    u = sympy.Rational(generator.randint(-9, 9), 10)
    return (1 - u**2) / (1 + u**2), 2 * u / (1 + u**2)


def two_plane_log(rotor: SymbolicMultivector, eigenvalues=None) -> tuple[SymbolicMultivector, list[SymbolicMultivector]]:
    """Return log R and the two simple parts of <R>_2, for a two-plane rotor in n = 4 or 5.

    ``eigenvalues`` are the two roots of the eigenvalue polynomial of <R>_2; they
    are checked to be roots. By default they are solved for, which suits
    rational rotors. The formula assumes <R>_0 > 0.
    """
    signature = rotor.signature
    bivector = rotor.grade(2)
    powers = outer_powers(bivector)
    lam = sympy.Symbol("lambda")
    polynomial = eigenvalue_polynomial(powers, lam)
    trace = bivector.scalar_product(bivector)
    if eigenvalues is None:
        eigenvalues = sympy.roots(polynomial, lam, multiple=True)
    for eigenvalue in eigenvalues:
        require(sympy.expand(polynomial.subs(lam, eigenvalue)) == 0, f"{eigenvalue} is not a root of {polynomial}")

    parts = []
    logarithm = scalar(signature, 0)
    for eigenvalue in eigenvalues:
        part = (bivector * (scalar(signature, eigenvalue) - powers[2]) / (2 * eigenvalue - trace)).applyfunc(sympy.factor)
        norm = sympy.sqrt(-sympy.factor(expanded(part * part).scalar_part()))
        parts.append(part)
        logarithm = logarithm + part * (sympy.atan2(norm, rotor.scalar_part()) / norm)
    return logarithm, parts


def check_two_planes_symbolic() -> None:
    """Check log and exp for R = (c1 + s1 e12)(c2 + s2 e34) with symbolic c_i > 0 and s_i of either sign."""
    signature = signature_of(4, 0, 0)
    units = [SymbolicMultivector.blade(signature, 0b0011), SymbolicMultivector.blade(signature, 0b1100)]
    c1, c2, a1, a2 = sympy.symbols("c1 c2 a1 a2", positive=True)

    for sign1, sign2 in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        s1 = sign1 * a1
        s2 = sign2 * a2
        where = f"{label(signature)} with signs ({sign1}, {sign2})"
        rotor = expanded((scalar(signature, c1) + units[0] * s1) * (scalar(signature, c2) + units[1] * s2))

        logarithm, parts = two_plane_log(rotor, [-((c2 * s1) ** 2), -((c1 * s2) ** 2)])
        require_equal(parts[0], units[0] * (c2 * s1), f"first simple part of <R>_2 in {where}")
        require_equal(parts[1], units[1] * (c1 * s2), f"second simple part of <R>_2 in {where}")

        planted = units[0] * sympy.atan(s1 / c1) + units[1] * sympy.atan(s2 / c2)
        require_equal(logarithm, planted, f"log R - (phi_1 e12 + phi_2 e34) in {where}")

        exponential = scalar(signature, 1)
        for part in parts:
            norm = sympy.sqrt(-sympy.factor(expanded(part * part).scalar_part()))
            angle = sympy.atan2(norm, rotor.scalar_part())
            exponential = expanded(exponential * unit_exponential(part / norm, -1, angle))
        # Factoring R R~ = (c1^2 + s1^2)(c2^2 + s2^2) lets SymPy split the square root.
        norm = sympy.sqrt(sympy.factor(expanded(rotor * rotor.reverse()).scalar_part()))
        require_equal(exponential, rotor / norm, f"exp(log R) - R / |R| in {where}", sympy.simplify)
    logger.info("log and exp agree for symbolic two-plane rotors in %s", label(signature))


def check_two_planes(counts, seed: int) -> None:
    """Check log and exp for a rotor that turns two orthogonal planes by different angles."""
    signature = signature_of(*counts)
    where = label(signature)
    n = len(signature)
    generator = random.Random(seed)
    frame = rational_rotation(n, seed)
    columns = [vector(signature, list(frame[:, i])) for i in range(n)]
    units = [expanded(columns[0] ^ columns[1]), expanded(columns[2] ^ columns[3])]

    # A zero angle leaves a plane out of <R>_2, and |s1| = |s2| makes the rotor isoclinic.
    c1, s1 = circle_point(generator)
    while s1 == 0:
        c1, s1 = circle_point(generator)
    c2, s2 = circle_point(generator)
    while s2 == 0 or abs(s2) == abs(s1):
        c2, s2 = circle_point(generator)
    rotor = expanded((scalar(signature, c1) + units[0] * s1) * (scalar(signature, c2) + units[1] * s2))

    logarithm, parts = two_plane_log(rotor)
    expected_parts = [expanded(units[0] * (c2 * s1)), expanded(units[1] * (c1 * s2))]
    for expected in expected_parts:
        matches = [part for part in parts if not any(sympy.expand(c) != 0 for c in (part - expected).coefficients)]
        require(len(matches) == 1, f"no simple part of <R>_2 equals {expected} in {where}")

    planted = units[0] * sympy.atan(s1 / c1) + units[1] * sympy.atan(s2 / c2)
    require_equal(logarithm, planted, f"log R - (phi_1 b_1 + phi_2 b_2) in {where}")

    exponential = scalar(signature, 1)
    for part in parts:
        norm = sympy.sqrt(-expanded(part * part).scalar_part())
        angle = sympy.atan2(norm, rotor.scalar_part())
        exponential = expanded(exponential * unit_exponential(part / norm, -1, angle))
    require_equal(exponential, rotor, f"exp(log R) - R for a two-plane rotor in {where}")


def main() -> None:
    """Run every check; raise :class:`~proofs._support.DerivationError` on the first failure."""
    check_single_plane()
    check_angle_range()
    check_two_planes_symbolic()
    for counts in ((4, 0, 0), (5, 0, 0)):
        for draw in range(DRAWS):
            check_two_planes(counts, seed=100 + draw)
        logger.info("log and exp agree for %d random two-plane rotors in %s", DRAWS, label(signature_of(*counts)))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
