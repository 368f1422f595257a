r"""A double rotor R x S~ preserves parity but not grade.

Statement
---------

Let :math:`R` and :math:`S` be even multivectors (sums of grades
:math:`0, 2, 4, \dots`), for example two independent rotors, and let
:math:`\delta(x) = R\, x\, \tilde S`. Then :math:`\delta` maps the even
subalgebra to itself and the odd part to itself:

.. math::

   \delta\big(\langle x \rangle_{\text{even}}\big) \text{ is even}, \qquad
   \delta\big(\langle x \rangle_{\text{odd}}\big) \text{ is odd} .

Derivation
----------

The geometric product of a blade of grade :math:`r` and a blade of grade
:math:`s` has parts of grades :math:`|r - s|, |r - s| + 2, \dots, r + s` only,
all of the parity of :math:`r + s`. Parity therefore adds under the product
(the algebra is :math:`\mathbb{Z}_2`-graded), and the reverse keeps each grade.
With :math:`R` and :math:`\tilde S` even, :math:`R x \tilde S` has the parity of
:math:`x`. Unlike the single-rotor sandwich :math:`R x \tilde R`, the double
rotor does not keep grades: with :math:`S \ne R`, :math:`\delta(1) = R \tilde S`
has a bivector part in general. A layer built from :math:`R x \tilde S`
therefore mixes grades within each parity, with two independent rotors as
parameters.

What the script checks
----------------------

In Cl(3,0,0), Cl(2,1,0), Cl(4,0,0), Cl(3,1,0) and Cl(3,0,1), with :math:`R`,
:math:`S` and :math:`x` generic even or odd multivectors whose coefficients are
independent symbols:

1. :math:`R\, x_{\text{even}}\, \tilde S` has no odd-grade coefficient.
2. :math:`R\, x_{\text{odd}}\, \tilde S` has no even-grade coefficient.
3. :math:`R \tilde S` has a non-zero bivector part, so grade is not preserved.
"""

from __future__ import annotations

import logging

from proofs._support import (
    even_part,
    expanded,
    generic,
    label,
    nonzero_coefficients,
    odd_part,
    require,
    require_zero,
    signature_of,
)

logger = logging.getLogger(__name__)

SIGNATURES = [(3, 0, 0), (2, 1, 0), (4, 0, 0), (3, 1, 0), (3, 0, 1)]


def check_parity(signature) -> None:
    """Check that R x S~ keeps the parity of x for generic even R and S."""
    where = label(signature)
    n = len(signature)
    even_grades = tuple(range(0, n + 1, 2))
    odd_grades = tuple(range(1, n + 1, 2))
    left = generic(signature, "r", even_grades)
    right = generic(signature, "s", even_grades)
    right_reverse = right.reverse()

    even_input = generic(signature, "x", even_grades)
    image = expanded(left * even_input * right_reverse)
    require_zero(odd_part(image), f"odd part of R x_even S~ in {where}")

    odd_input = generic(signature, "y", odd_grades)
    image = expanded(left * odd_input * right_reverse)
    require_zero(even_part(image), f"even part of R x_odd S~ in {where}")

    mixed = expanded(left * right_reverse)
    require(bool(nonzero_coefficients(mixed.grade(2))), f"R S~ has no bivector part in {where}")
    logger.info("R x S~ preserves parity, and R S~ has a bivector part, in %s", where)


def main() -> None:
    """Run every check; raise :class:`~proofs._support.DerivationError` on the first failure."""
    for counts in SIGNATURES:
        check_parity(signature_of(*counts))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
