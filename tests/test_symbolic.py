"""The symbolic layer against ``galgebra`` for n <= 4, exactly (symbolic difference expands to 0)."""

import warnings

import numpy as np
import pytest
import sympy

from geomalg import Algebra
from geomalg.symbolic import SymbolicMultivector

GALGEBRA_SIGNATURES = [(2, 0, 0), (1, 1, 0), (3, 0, 0), (2, 1, 0), (0, 3, 0), (2, 0, 1), (4, 0, 0), (1, 3, 0)]


def galgebra_pair(signature):
    from galgebra.ga import Ga

    squares = Algebra(*signature).signature
    names = " ".join(f"e{i + 1}" for i in range(len(squares)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ga = Ga(names, g=list(squares))
    a = ga.mv("a", "mv")
    b = ga.mv("b", "mv")
    return ga, a, b


def as_symbolic(signature, galgebra_mv):
    algebra = Algebra(*signature)
    return SymbolicMultivector.from_coefficients(algebra, galgebra_mv.blade_coefs())


@pytest.mark.parametrize("signature", GALGEBRA_SIGNATURES, ids=lambda s: "Cl{}{}{}".format(*s))
def test_products_match_galgebra(signature):
    _, a, b = galgebra_pair(signature)
    ours_a, ours_b = as_symbolic(signature, a), as_symbolic(signature, b)
    cases = {
        "geometric": (ours_a * ours_b, a * b),
        "outer": (ours_a ^ ours_b, a ^ b),
        "left contraction": (ours_a << ours_b, a < b),
    }
    for name, (ours, theirs) in cases.items():
        assert ours == as_symbolic(signature, theirs), name


@pytest.mark.parametrize("signature", [(3, 0, 0), (2, 1, 0)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_reverse_matches_galgebra(signature):
    _, a, _ = galgebra_pair(signature)
    assert ~as_symbolic(signature, a) == as_symbolic(signature, a.rev())


def test_symbolic_matches_numeric(rng):
    algebra = Algebra(2, 1, 1)
    a = algebra.symbolic("a")
    b = algebra.symbolic("b")
    product = a * b
    values_a = rng.standard_normal(algebra.dim)
    values_b = rng.standard_normal(algebra.dim)
    substitution = {}
    for symbolic, values in ((a, values_a), (b, values_b)):
        for coefficient, value in zip(symbolic.coefficients, values):
            substitution[coefficient] = value
    evaluated = np.array([float(c.subs(substitution)) for c in product.coefficients])
    assert np.abs(evaluated - algebra.geometric_product(values_a, values_b)).max() <= 1e-12


def test_generic_symbols_follow_blade_names():
    a = Algebra(3).symbolic("a", grades=2)
    assert [str(c) for c in a.coefficients if c != 0] == ["a12", "a13", "a23"]


def test_coefficient_count_is_checked():
    with pytest.raises(ValueError, match="needs 8 coefficients, got 3"):
        SymbolicMultivector((1, 1, 1), [1, 2, 3])


def test_mixing_symbolic_algebras_is_rejected():
    with pytest.raises(ValueError, match="different algebras"):
        Algebra(2).symbolic("a") * Algebra(1, 1).symbolic("b")


def test_bivector_square_in_cl3_is_scalar():
    b = Algebra(3).symbolic("b", grades=2)
    square = (b * b).expand()
    assert square.grades() == (0,)
    assert sympy.expand(square.scalar_part() + sum(c**2 for c in b.coefficients)) == 0
