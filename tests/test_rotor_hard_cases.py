"""Hard cases of rotor math: values and gradients must be finite and correct.

Covered: zero bivector, tiny angles, angles beyond 2 pi, isoclinic and
near-isoclinic planes, float32 and bfloat16 inputs, and non-Euclidean
signatures with elliptic, hyperbolic and parabolic simple bivectors.
References are ``clifford`` products or closed forms; tolerances are stated per test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geomalg import blades
from geomalg.rotor import bivector_exp, invariant_decomposition, rotor_log, sandwich
from geomalg.verify.checks_rotor import clifford_bivector, clifford_exp, clifford_layout, clifford_sandwich

MODES = ["structured", "blocks", "dense"]


def bivector_of(n, **coefficients):
    """Return a bivector from keyword coefficients such as ``e12=1.0`` (1-based indices)."""
    pairs = [f"e{i + 1}{j + 1}" for i in range(n) for j in range(i + 1, n)]
    values = np.zeros(len(pairs))
    for name, value in coefficients.items():
        values[pairs.index(name)] = value
    return values


def all_gradients_finite(bivector, signature, x):
    """Return whether exp and every sandwich mode give finite values and gradients at ``bivector``."""
    finite = True
    point = torch.as_tensor(bivector, dtype=torch.float64)
    rotor_input = point.clone().requires_grad_()
    rotor = bivector_exp(rotor_input, signature)
    rotor.square().sum().backward()
    finite &= bool(torch.isfinite(rotor).all()) and bool(torch.isfinite(rotor_input.grad).all())
    for mode in MODES:
        for double in (False, True):
            left = point.clone().requires_grad_()
            right = (0.5 * point).clone().requires_grad_() if double else None
            out = sandwich(torch.as_tensor(x), left, signature, right, mode=mode)
            (out * torch.arange(out.shape[-1], dtype=out.dtype)).sum().backward()
            finite &= bool(torch.isfinite(out).all()) and bool(torch.isfinite(left.grad).all())
            if double:
                finite &= bool(torch.isfinite(right.grad).all())
    return finite


def test_zero_bivector_exp_is_one():
    rotor = bivector_exp(np.zeros(10), (1,) * 5)
    expected = np.zeros(32)
    expected[0] = 1.0
    assert np.array_equal(rotor, expected)


def test_zero_bivector_sandwich_is_identity():
    x = np.random.default_rng(0).standard_normal(32)
    for mode in MODES:
        assert np.abs(sandwich(x, np.zeros(10), (1,) * 5, mode=mode) - x).max() < 1e-14


def test_zero_bivector_gradients_finite():
    x = np.random.default_rng(0).standard_normal(16)
    assert all_gradients_finite(np.zeros(6), (1,) * 4, x)


def test_zero_bivector_gradient_is_exact():
    # d/dB exp(B) at B = 0 is the identity on the bivector coefficients.
    point = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    jacobian = torch.autograd.functional.jacobian(lambda b: bivector_exp(b, (1,) * 4), point)
    expected = torch.zeros(16, 6, dtype=torch.float64)
    expected[blades.grade_slice(4, 2)] = torch.eye(6, dtype=torch.float64)
    assert (jacobian - expected).abs().max() < 1e-14


def test_zero_bivector_log_and_decomposition():
    one = np.zeros(16)
    one[0] = 1.0
    assert np.abs(rotor_log(one, (1,) * 4)).max() < 1e-14
    assert np.abs(invariant_decomposition(np.zeros(6), (1,) * 4)).max() == 0.0


def test_tiny_angle_exp_relative_accuracy():
    bivector = bivector_of(4, e12=1e-8, e34=-3e-8, e13=2e-8)
    rotor = bivector_exp(bivector, (1,) * 4)
    assert np.abs(rotor[blades.grade_slice(4, 2)] - bivector).max() < 1e-22
    assert abs(rotor[0] - 1.0) < 1e-15


def test_tiny_angle_log_relative_accuracy():
    bivector = bivector_of(4, e12=1e-8, e34=-3e-8, e13=2e-8)
    recovered = rotor_log(bivector_exp(bivector, (1,) * 4), (1,) * 4)
    assert np.abs(recovered - bivector).max() < 1e-6 * 1e-8


def test_tiny_angle_gradients_finite():
    x = np.random.default_rng(1).standard_normal(16)
    assert all_gradients_finite(bivector_of(4, e12=1e-8, e34=2e-8), (1,) * 4, x)


def test_tiny_angle_gradcheck():
    point = torch.as_tensor(bivector_of(4, e12=1e-8, e24=1e-8), dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda b: bivector_exp(b, (1,) * 4), (point,))


def test_angles_beyond_two_pi_exp_matches_clifford():
    layout = clifford_layout(4, 0, 0)
    bivector = bivector_of(4, e12=7.5, e34=-9.0, e13=0.3)
    expected = clifford_exp(layout, bivector)
    for method in ("eigh", "taylor"):
        assert np.abs(bivector_exp(bivector, (1,) * 4, method=method) - expected).max() < 1e-10


def test_angles_beyond_two_pi_log_in_range():
    bivector = bivector_of(4, e12=7.5, e34=-9.0)
    rotor = bivector_exp(bivector, (1,) * 4)
    recovered = rotor_log(rotor, (1,) * 4)
    angles = np.linalg.norm(invariant_decomposition(recovered, (1,) * 4), axis=-1)
    assert np.all(angles <= math.pi + 1e-12)
    assert np.abs(bivector_exp(recovered, (1,) * 4) - rotor).max() < 1e-12


def test_angles_beyond_two_pi_sandwich_matches_clifford():
    layout = clifford_layout(4, 0, 0)
    bivector = bivector_of(4, e12=7.5, e34=-9.0, e13=0.3)
    rotor = clifford_exp(layout, bivector)
    x = np.random.default_rng(2).standard_normal(16)
    expected = clifford_sandwich(layout, rotor, x, rotor)
    for mode in MODES:
        assert np.abs(sandwich(x, bivector, (1,) * 4, mode=mode) - expected).max() < 1e-10


def test_isoclinic_exp_matches_clifford():
    layout = clifford_layout(4, 0, 0)
    bivector = bivector_of(4, e12=1.0, e34=1.0)
    expected = clifford_exp(layout, bivector)
    assert np.abs(bivector_exp(bivector, (1,) * 4) - expected).max() < 1e-13


def test_isoclinic_decomposition_valid():
    layout = clifford_layout(4, 0, 0)
    bivector = bivector_of(4, e12=1.0, e34=1.0)
    components = invariant_decomposition(bivector, (1,) * 4)
    assert np.abs(components.sum(axis=0) - bivector).max() < 1e-13
    first, second = (clifford_bivector(layout, c) for c in components)
    assert np.abs((first ^ first).value).max() < 1e-13
    assert np.abs((second ^ second).value).max() < 1e-13
    assert np.abs((first * second - second * first).value).max() < 1e-13


def test_isoclinic_gradients_finite():
    x = np.random.default_rng(3).standard_normal(16)
    assert all_gradients_finite(bivector_of(4, e12=1.0, e34=1.0), (1,) * 4, x)


def test_isoclinic_gradcheck():
    # The exponential is smooth at repeated angles, so the derivative matches finite differences there.
    point = torch.as_tensor(bivector_of(4, e12=1.0, e34=1.0), dtype=torch.float64).requires_grad_()
    x = torch.from_numpy(np.random.default_rng(4).standard_normal(16))
    assert torch.autograd.gradcheck(lambda b: bivector_exp(b, (1,) * 4), (point,))
    for mode in MODES:
        assert torch.autograd.gradcheck(lambda b: sandwich(x, b, (1,) * 4, mode=mode), (point,))


def test_near_isoclinic_exp_matches_clifford():
    layout = clifford_layout(4, 0, 0)
    bivector = bivector_of(4, e12=1.0, e34=1.0 + 1e-7)
    expected = clifford_exp(layout, bivector)
    assert np.abs(bivector_exp(bivector, (1,) * 4) - expected).max() < 1e-12


def test_near_isoclinic_gradients_finite():
    x = np.random.default_rng(5).standard_normal(16)
    assert all_gradients_finite(bivector_of(4, e12=1.0, e34=1.0 + 1e-7), (1,) * 4, x)


def test_near_isoclinic_log_roundtrip():
    rotor = bivector_exp(bivector_of(4, e12=1.0, e34=1.0 + 1e-7), (1,) * 4)
    assert np.abs(bivector_exp(rotor_log(rotor, (1,) * 4), (1,) * 4) - rotor).max() < 1e-12


@pytest.mark.parametrize("dtype,tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 2e-2)])
def test_low_precision_exp_keeps_dtype(dtype, tolerance):
    bivector = torch.tensor(bivector_of(4, e12=0.7, e34=-0.4, e23=0.2)).to(dtype)
    reference = bivector_exp(bivector.double(), (1,) * 4)
    rotor = bivector_exp(bivector, (1,) * 4)
    assert rotor.dtype == dtype
    assert (rotor.double() - reference).abs().max() < tolerance


@pytest.mark.parametrize("dtype,tolerance", [(torch.float32, 1e-5), (torch.bfloat16, 5e-2)])
@pytest.mark.parametrize("mode", MODES)
def test_low_precision_sandwich_keeps_dtype(dtype, tolerance, mode):
    bivector = torch.tensor(bivector_of(4, e12=0.7, e34=-0.4, e23=0.2)).to(dtype)
    x = torch.from_numpy(np.random.default_rng(6).standard_normal(16)).to(dtype)
    reference = sandwich(x.double(), bivector.double(), (1,) * 4, mode=mode)
    result = sandwich(x, bivector, (1,) * 4, mode=mode)
    assert result.dtype == dtype
    assert (result.double() - reference).abs().max() < tolerance * max(1.0, float(reference.abs().max()))


def test_low_precision_gradients_finite():
    bivector = torch.tensor(bivector_of(4, e12=1.0, e34=1.0)).to(torch.bfloat16).requires_grad_()
    rotor = bivector_exp(bivector, (1,) * 4)
    rotor.float().square().sum().backward()
    assert bivector.grad.dtype == torch.bfloat16
    assert bool(torch.isfinite(bivector.grad.float()).all())


@pytest.mark.parametrize("p,q,r", [(0, 3, 0), (0, 4, 0), (2, 1, 0), (1, 2, 0), (3, 1, 0), (2, 2, 0), (3, 0, 1), (2, 0, 2)])
def test_non_euclidean_rotor_has_unit_norm(p, q, r):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    bivector = np.random.default_rng(p * 100 + q * 10 + r).standard_normal(math.comb(n, 2))
    rotor = layout.MultiVector(bivector_exp(bivector, blades.signature_vector(p, q, r)))
    product = (rotor * ~rotor).value
    assert abs(product[0] - 1.0) < 1e-10 * max(1.0, np.abs(rotor.value).max() ** 2)
    assert np.abs(product[1:]).max() < 1e-10 * max(1.0, np.abs(rotor.value).max() ** 2)


def test_hyperbolic_simple_bivector():
    # In Cl(1, 1), e12 squares to +1, so exp(t e12) = cosh t + sinh t e12.
    rotor = bivector_exp(np.array([0.8]), (1, -1))
    assert abs(rotor[0] - math.cosh(0.8)) < 1e-14
    assert abs(rotor[3] - math.sinh(0.8)) < 1e-14


def test_parabolic_simple_bivector():
    # In Cl(2, 1), b = e12 + e13 = e1 (e2 + e3) squares to 0, so exp(b) = 1 + b.
    signature = blades.signature_vector(2, 1, 0)
    bivector = bivector_of(3, e12=0.6, e13=0.6)
    rotor = bivector_exp(bivector, signature)
    expected = np.zeros(8)
    expected[0] = 1.0
    expected[blades.grade_slice(3, 2)] = bivector
    assert np.abs(rotor - expected).max() < 1e-14


def test_null_signature_translator():
    # In Cl(3, 0, 1), e0 = e1 is null and exp(t e12) = 1 + t e12.
    signature = blades.signature_vector(3, 0, 1)
    bivector = bivector_of(4, e12=2.5)
    rotor = bivector_exp(bivector, signature)
    assert abs(rotor[0] - 1.0) < 1e-14
    assert np.abs(rotor[blades.grade_slice(4, 2)] - bivector).max() < 1e-14


@pytest.mark.parametrize("signature", [(1, -1), (1, 1, -1), (0, 1, 1, 1)])
def test_non_euclidean_gradients_finite(signature):
    n = len(signature)
    x = np.random.default_rng(8).standard_normal(1 << n)
    for bivector in (np.zeros(math.comb(n, 2)), np.full(math.comb(n, 2), 1e-8), np.full(math.comb(n, 2), 0.6)):
        assert all_gradients_finite(bivector, signature, x)
