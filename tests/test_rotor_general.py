"""Invariant decomposition and logarithm in mixed and null signatures.

References are ``clifford`` products (simplicity as ``b ^ b = 0``, commutators)
and the ``clifford`` scaling-and-squaring exponential of
:mod:`geomalg.verify.checks_rotor`. Tolerances are stated per test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geomalg import blades
from geomalg.rotor import bivector_exp, invariant_decomposition, rotor_log, sandwich
from geomalg.verify import checks_rotor
from geomalg.verify.checks_rotor import clifford_bivector, clifford_exp, clifford_layout

# (p, q, r, seed): seeds whose random bivector is not loxodromic.
MIXED_CASES = [(2, 1, 0, 0), (1, 3, 0, 0), (3, 0, 1, 0), (2, 2, 0, 1), (4, 1, 1, 0), (1, 1, 2, 0), (3, 3, 2, 1), (6, 1, 1, 1)]


def signature_of(p, q, r):
    return blades.signature_vector(p, q, r)


def bivector_of(n, **coefficients):
    """Return a bivector from keyword coefficients such as ``e12=1.0`` (1-based indices, null vectors first)."""
    pairs = [f"e{i + 1}{j + 1}" for i in range(n) for j in range(i + 1, n)]
    values = np.zeros(len(pairs))
    for name, value in coefficients.items():
        values[pairs.index(name)] = value
    return values


def decomposition_error(p, q, r, bivector, components):
    """Return the max of |sum - B|, |b ^ b| and |[b_i, b_j]| with ``clifford`` products."""
    return checks_rotor.decomposition_error(clifford_layout(p, q, r), bivector, components)


@pytest.mark.parametrize("p, q, r, seed", MIXED_CASES)
def test_decomposition_valid_mixed(p, q, r, seed):
    n = p + q + r
    bivector = np.random.default_rng(seed).standard_normal(math.comb(n, 2))
    components = invariant_decomposition(bivector, signature_of(p, q, r))
    assert components.shape == (n // 2, math.comb(n, 2))
    assert decomposition_error(p, q, r, bivector, components) < 1e-12


@pytest.mark.parametrize("p, q, r, seed", MIXED_CASES)
def test_log_inverts_exp_mixed(p, q, r, seed):
    n = p + q + r
    layout = clifford_layout(p, q, r)
    rotor = clifford_exp(layout, np.random.default_rng(seed).standard_normal(math.comb(n, 2)))
    bivector = rotor_log(rotor, signature_of(p, q, r))
    # Relative to the largest rotor coefficient; hyperbolic rotors grow like exp(rapidity).
    assert np.abs(clifford_exp(layout, bivector) - rotor).max() < 1e-10 * max(1.0, np.abs(rotor).max())


def test_decomposition_null_component_pga():
    # A screw motion in Cl(3, 0, 1): rotation e23 (e1 is null) plus translation e14.
    bivector = bivector_of(4, e23=0.7, e14=1.3, e12=0.4)
    components = invariant_decomposition(bivector, signature_of(3, 0, 1))
    assert decomposition_error(3, 0, 1, bivector, components) < 1e-13
    squares = sorted(float((clifford_bivector(clifford_layout(3, 0, 1), c) ** 2).value[0]) for c in components)
    assert abs(squares[0] + 0.49) < 1e-12
    assert abs(squares[1]) < 1e-12


def test_decomposition_hyperbolic_large_rapidity():
    # e13 (rapidity 12) and e24 (rapidity 0.5) are both hyperbolic in Cl(2, 2).
    bivector = bivector_of(4, e13=12.0, e24=0.5)
    components = invariant_decomposition(bivector, signature_of(2, 2, 0))
    assert decomposition_error(2, 2, 0, bivector, components) < 1e-11
    norms = sorted(np.abs(components).max(axis=-1))
    assert abs(norms[0] - 0.5) < 1e-12
    assert abs(norms[1] - 12.0) < 1e-12


def test_log_hyperbolic_large_rapidity():
    layout = clifford_layout(2, 1, 0)
    bivector = bivector_of(3, e13=8.0, e12=0.3)
    rotor = clifford_exp(layout, bivector)
    recovered = rotor_log(rotor, signature_of(2, 1, 0))
    assert np.abs(recovered - bivector).max() < 1e-9


def test_decomposition_near_null_plane():
    # In Cl(3, 2), e12 - (1 + 1e-9) e24 = (e1 + e4) ^ e2 + O(1e-9) squares to about 2e-9;
    # the hyperbolic plane e35 is orthogonal to it.
    bivector = bivector_of(5, e12=1.0, e24=-(1.0 + 1e-9), e35=0.5)
    components = invariant_decomposition(bivector, signature_of(3, 2, 0))
    assert decomposition_error(3, 2, 0, bivector, components) < 1e-10


def test_decomposition_isoclinic_mixed():
    # e12 and e34 both square to -1 in Cl(2, 2); the planes are not unique.
    bivector = bivector_of(4, e12=1.0, e34=1.0)
    components = invariant_decomposition(bivector, signature_of(2, 2, 0))
    assert decomposition_error(2, 2, 0, bivector, components) < 1e-12


def test_decomposition_isoclinic_hyperbolic():
    # e15 and e26 both square to +1 in Cl(4, 2).
    bivector = bivector_of(6, e15=0.8, e26=0.8, e34=0.3)
    components = invariant_decomposition(bivector, signature_of(4, 2, 0))
    assert decomposition_error(4, 2, 0, bivector, components) < 1e-12


def test_decomposition_float32_mixed():
    bivector = np.random.default_rng(0).standard_normal(math.comb(6, 2)).astype(np.float32)
    components = invariant_decomposition(bivector, signature_of(4, 1, 1))
    assert components.dtype == np.float32
    assert decomposition_error(4, 1, 1, bivector.astype(np.float64), components.astype(np.float64)) < 1e-5


def test_decomposition_batched_mixed():
    bivectors = torch.from_numpy(np.random.default_rng(0).standard_normal((5, math.comb(5, 2))))
    components = invariant_decomposition(bivectors, signature_of(3, 1, 1))
    assert components.shape == (2, 5, 10)
    for b in range(5):
        assert decomposition_error(3, 1, 1, bivectors[b].numpy(), components[:, b].numpy()) < 1e-12


def test_decomposition_rejects_loxodromic():
    # e13 + e24 in Cl(2, 2) squares to 2 + 2 e1234: complex-conjugate invariants.
    bivector = bivector_of(4, e13=1.0, e24=1.0, e12=1.0)
    with pytest.raises(ValueError, match="loxodromic"):
        invariant_decomposition(bivector, signature_of(2, 2, 0))


def test_log_null_translator():
    layout = clifford_layout(3, 0, 1)
    bivector = bivector_of(4, e12=2.5, e13=-1.0)
    rotor = clifford_exp(layout, bivector)
    assert np.abs(rotor_log(rotor, signature_of(3, 0, 1)) - bivector).max() < 1e-13


def test_log_two_null_vectors():
    # e12 joins two null vectors of Cl(2, 0, 2); it acts as zero on vectors.
    layout = clifford_layout(2, 0, 2)
    bivector = bivector_of(4, e12=0.9, e34=0.4)
    rotor = clifford_exp(layout, bivector)
    assert np.abs(rotor_log(rotor, signature_of(2, 0, 2)) - bivector).max() < 1e-13


def test_log_sign_repair_mixed():
    # An elliptic angle of 2.0 > pi/2: the principal log of L returns angle 2 - pi and exp(B) = -R before repair.
    layout = clifford_layout(2, 1, 0)
    bivector = bivector_of(3, e12=2.0)
    rotor = clifford_exp(layout, bivector)
    recovered = rotor_log(rotor, signature_of(2, 1, 0))
    assert np.abs(clifford_exp(layout, recovered) - rotor).max() < 1e-12


def test_log_rejects_minus_hyperbolic():
    layout = clifford_layout(1, 1, 0)
    rotor = -clifford_exp(layout, bivector_of(2, e12=0.5))
    with pytest.raises(ValueError, match="identity component"):
        rotor_log(rotor, signature_of(1, 1, 0))


@pytest.mark.parametrize("offset", [0.0, 1e-9, 1e-6])
def test_log_quarter_turn_mixed(offset):
    # At angle pi/2 the vector map has eigenvalue -1; the Newton steps recover it.
    layout = clifford_layout(2, 1, 0)
    bivector = bivector_of(3, e12=math.pi / 2 + offset, e13=0.2)
    rotor = clifford_exp(layout, bivector)
    recovered = rotor_log(rotor, signature_of(2, 1, 0))
    assert np.abs(clifford_exp(layout, recovered) - rotor).max() < 1e-12


def test_log_rejects_non_rotor_mixed():
    layout = clifford_layout(2, 1, 0)
    scaled = 2.0 * clifford_exp(layout, bivector_of(3, e12=0.3))
    with pytest.raises(ValueError, match="did not converge"):
        rotor_log(scaled, signature_of(2, 1, 0))


def test_exp_of_components_matches_exp_mixed():
    # The product of the closed-form exponentials of the components equals exp(B).
    layout = clifford_layout(3, 1, 1)
    bivector = np.random.default_rng(3).standard_normal(10)
    components = invariant_decomposition(bivector, signature_of(3, 1, 1))
    product = layout.scalar * 1.0
    for component in components:
        part = clifford_bivector(layout, component)
        square = float((part * part).value[0])
        if square < -1e-14:
            angle = math.sqrt(-square)
            product = product * (math.cos(angle) + math.sin(angle) / angle * part)
        elif square > 1e-14:
            rapidity = math.sqrt(square)
            product = product * (math.cosh(rapidity) + math.sinh(rapidity) / rapidity * part)
        else:
            product = product * (1.0 + part)
    expected = bivector_exp(bivector, signature_of(3, 1, 1), method="taylor")
    assert np.abs(product.value - expected).max() < 1e-12


def turned_bivector(bivector, signature, seed):
    """Return ``R B R~`` for a random rotor ``R``, so the planes leave the coordinate axes."""
    n = len(signature)
    full = np.zeros(1 << n)
    full[blades.grade_slice(n, 2)] = bivector
    rotor_bivector = 0.7 * np.random.default_rng(seed).standard_normal(math.comb(n, 2))
    return sandwich(full, rotor_bivector, signature, mode="dense")[blades.grade_slice(n, 2)]


@pytest.mark.parametrize("p, q, r, planes", [
    (2, 4, 0, {"e12": 1.0, "e34": 1.0, "e56": 1.0}),
    (4, 2, 0, {"e12": 0.7, "e34": 0.7, "e56": 0.2}),
    (3, 3, 1, {"e23": 0.5, "e45": 0.5, "e67": 0.5}),
])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decomposition_isoclinic_turned(p, q, r, planes, seed):
    # Repeated elliptic planes after a random rotor: the eigenvectors of a repeated eigenvalue mix planes.
    n = p + q + r
    bivector = turned_bivector(bivector_of(n, **planes), signature_of(p, q, r), seed)
    components = invariant_decomposition(bivector, signature_of(p, q, r))
    assert decomposition_error(p, q, r, bivector, components) < 1e-9


def test_decomposition_rejects_triple_hyperbolic():
    bivector = turned_bivector(bivector_of(8, e15=1.0, e26=1.0, e37=1.0, e48=1.0), signature_of(4, 4, 0), 1)
    with pytest.raises(ValueError, match="repeated three or more times|not simple"):
        invariant_decomposition(bivector, signature_of(4, 4, 0))


@pytest.mark.parametrize("gap", [1e-10, 1e-7, 1e-4])
def test_decomposition_near_isoclinic_turned(gap):
    bivector = turned_bivector(bivector_of(6, e12=0.7, e34=0.7 + gap, e56=0.2), signature_of(4, 2, 0), 0)
    components = invariant_decomposition(bivector, signature_of(4, 2, 0))
    assert decomposition_error(4, 2, 0, bivector, components) < 1e-7
