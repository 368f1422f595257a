"""The rotor methods of :class:`geomalg.Algebra`, checked against ``clifford`` (tolerance 1e-10)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geomalg import Algebra, blades
from geomalg.verify.checks_rotor import clifford_exp, clifford_layout


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def random_full_bivector(rng, n):
    values = np.zeros(1 << n)
    values[blades.grade_slice(n, 2)] = rng.standard_normal(math.comb(n, 2))
    return values


@pytest.mark.parametrize("p,q,r", [(4, 0, 0), (2, 1, 0), (3, 0, 1)])
def test_algebra_exp_matches_clifford(rng, p, q, r):
    alg = Algebra(p, q, r)
    a = random_full_bivector(rng, alg.n)
    expected = clifford_exp(clifford_layout(p, q, r), a[blades.grade_slice(alg.n, 2)])
    result = alg.bivector_exp(a)
    assert result.shape == (alg.dim,)
    assert np.abs(result - expected).max() < 1e-10


def test_algebra_log_inverts_exp(rng):
    alg = Algebra(5)
    a = 0.3 * random_full_bivector(rng, 5)
    recovered = alg.rotor_log(alg.bivector_exp(a))
    assert recovered.shape == (32,)
    assert np.abs(recovered - a).max() < 1e-10


def test_algebra_decomposition_shape_and_sum(rng):
    alg = Algebra(5)
    a = torch.from_numpy(np.stack([random_full_bivector(rng, 5) for _ in range(3)]))
    components = alg.invariant_decomposition(a)
    assert components.shape == (2, 3, 32)
    assert (components.sum(dim=0) - a).abs().max() < 1e-12
    outside = np.nonzero(blades.blade_grades(5) != 2)[0]
    assert components[..., outside].abs().max() == 0


def test_algebra_exp_keeps_autograd(rng):
    alg = Algebra(4)
    a = torch.from_numpy(random_full_bivector(rng, 4)).requires_grad_()
    alg.bivector_exp(a).square().sum().backward()
    outside = np.nonzero(blades.blade_grades(4) != 2)[0]
    assert bool(torch.isfinite(a.grad).all())
    assert a.grad[outside].abs().max() == 0


def test_algebra_exp_rejects_non_bivector(rng):
    alg = Algebra(3)
    with pytest.raises(ValueError, match="outside grade 2"):
        alg.bivector_exp(np.ones(8))
