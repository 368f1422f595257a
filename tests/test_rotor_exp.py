"""Bivector exponential, rotor logarithm and invariant decomposition.

References: ``clifford`` products (scaling-and-squaring exponential from
:mod:`geomalg.verify.checks_rotor`, which shares no code with geomalg.rotor).
Tolerance 1e-10 in float64 unless a test states otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geomalg import blades
from geomalg.rotor import bivector_exp, invariant_decomposition, rotor_log
from geomalg.verify.checks_rotor import clifford_bivector, clifford_exp, clifford_layout

TOLERANCE = 1e-10

SIGNATURES = [(2, 0, 0), (3, 0, 0), (4, 0, 0), (5, 0, 0), (0, 3, 0), (0, 4, 0), (2, 1, 0), (1, 2, 0), (3, 0, 1), (2, 2, 0)]


def signature_of(p, q, r):
    return blades.signature_vector(p, q, r)


def random_bivector(rng, n, scale=1.0, batch=()):
    return scale * rng.standard_normal(batch + (math.comb(n, 2),))


@pytest.fixture
def rng():
    return np.random.default_rng(20251204)


@pytest.mark.parametrize("p,q,r", SIGNATURES)
def test_exp_matches_clifford(rng, p, q, r):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    bivector = random_bivector(rng, n)
    expected = clifford_exp(layout, bivector)
    result = bivector_exp(bivector, signature_of(p, q, r))
    assert np.abs(result - expected).max() < TOLERANCE * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("method", ["eigh", "power", "taylor"])
def test_exp_methods_agree_euclidean(rng, method):
    layout = clifford_layout(5, 0, 0)
    bivector = random_bivector(rng, 5)
    expected = clifford_exp(layout, bivector)
    result = bivector_exp(bivector, (1,) * 5, method=method, iterations=300)
    assert np.abs(result - expected).max() < 1e-9


@pytest.mark.parametrize("p,q,r", SIGNATURES)
def test_exp_rotor_has_unit_norm(rng, p, q, r):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    rotor = layout.MultiVector(bivector_exp(random_bivector(rng, n), signature_of(p, q, r)))
    product = (rotor * ~rotor).value
    expected = np.zeros(1 << n)
    expected[0] = 1.0
    assert np.abs(product - expected).max() < 1e-10 * max(1.0, np.abs(rotor.value).max() ** 2)


def test_exp_batched_shape(rng):
    bivector = random_bivector(rng, 4, batch=(3, 2))
    result = bivector_exp(torch.from_numpy(bivector), (1,) * 4)
    assert result.shape == (3, 2, 16)
    for i in range(3):
        for j in range(2):
            single = bivector_exp(bivector[i, j], (1,) * 4)
            assert np.abs(result[i, j].numpy() - single).max() < 1e-14


def test_exp_gradcheck_generic(rng):
    for signature in [(1,) * 4, (-1,) * 3, (1, 1, -1), (0, 1, 1), (1, 1, -1, -1)]:
        bivector = torch.from_numpy(random_bivector(rng, len(signature))).requires_grad_()
        assert torch.autograd.gradcheck(lambda b: bivector_exp(b, signature), (bivector,))


@pytest.mark.parametrize("p,q,r", [(3, 0, 0), (4, 0, 0), (5, 0, 0), (6, 0, 0), (0, 4, 0)])
def test_log_inverts_exp(rng, p, q, r):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    signature = signature_of(p, q, r)
    for scale in (0.3, 1.0, 3.0):
        rotor = clifford_exp(layout, random_bivector(rng, n, scale))
        bivector = rotor_log(rotor, signature)
        assert np.abs(clifford_exp(layout, bivector) - rotor).max() < 1e-9


def test_log_recovers_small_bivector(rng):
    bivector = random_bivector(rng, 5, 0.2)
    recovered = rotor_log(bivector_exp(bivector, (1,) * 5), (1,) * 5)
    assert np.abs(recovered - bivector).max() < 1e-10


def test_log_of_minus_one():
    rotor = np.zeros(16)
    rotor[0] = -1.0
    bivector = rotor_log(rotor, (1,) * 4)
    assert np.abs(bivector_exp(bivector, (1,) * 4) - rotor).max() < 1e-12


def test_log_half_turns():
    # R = e12 e34 turns two planes by pi/2 each; its vector rotation has a -1 eigenspace of dimension 4.
    layout = clifford_layout(4, 0, 0)
    rotor = (layout.blades["e12"] * layout.blades["e34"]).value
    bivector = rotor_log(rotor, (1,) * 4)
    assert np.abs(bivector_exp(bivector, (1,) * 4) - rotor).max() < 1e-12


def test_log_of_identity_mixed_signature():
    bivector = rotor_log(np.eye(8)[0], (1, 1, -1))
    assert np.abs(bivector).max() < 1e-14


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_decomposition_components_valid(rng, n):
    layout = clifford_layout(n, 0, 0)
    bivector = random_bivector(rng, n)
    components = invariant_decomposition(bivector, (1,) * n)
    assert components.shape == (n // 2, math.comb(n, 2))
    assert np.abs(components.sum(axis=0) - bivector).max() < 1e-12
    parts = [clifford_bivector(layout, c) for c in components]
    for i, part in enumerate(parts):
        assert np.abs((part ^ part).value).max() < 1e-12
        for other in parts[i + 1 :]:
            assert np.abs((part * other - other * part).value).max() < 1e-12


def test_decomposition_power_matches_eigh(rng):
    bivector = random_bivector(rng, 6)
    eigh = invariant_decomposition(bivector, (1,) * 6, method="eigh")
    power = invariant_decomposition(bivector, (1,) * 6, method="power", iterations=500)
    # Components come in different orders; compare them as a set by their norms and sum.
    assert np.allclose(np.sort(np.linalg.norm(eigh, axis=-1)), np.sort(np.linalg.norm(power, axis=-1)), atol=1e-8)
    assert np.abs(power.sum(axis=0) - bivector).max() < 1e-8


def test_decomposition_power_warm_start(rng):
    bivector = torch.from_numpy(random_bivector(rng, 6, batch=(4,)))
    cold, state = invariant_decomposition(bivector, (1,) * 6, method="power", iterations=400, return_state=True)
    assert state.shape == (4, 3, 6)
    warm = invariant_decomposition(bivector, (1,) * 6, method="power", state=state, iterations=1)
    assert (warm - cold).abs().max() < 1e-8


def test_decomposition_power_has_no_item_calls(rng, monkeypatch):
    bivector = torch.from_numpy(random_bivector(rng, 6))

    def fail(*args, **kwargs):
        raise AssertionError("power iteration read a value back to the host")

    monkeypatch.setattr(torch.Tensor, "item", fail)
    monkeypatch.setattr(torch.Tensor, "__bool__", fail)
    monkeypatch.setattr(torch.Tensor, "__float__", fail)
    invariant_decomposition(bivector, (1,) * 6, method="power", iterations=5)


def test_decomposition_power_rejects_mixed_signature(rng):
    with pytest.raises(ValueError, match="method='eigh'"):
        invariant_decomposition(random_bivector(rng, 4), (1, 1, -1, -1), method="power")


def test_decomposition_rejects_unknown_method(rng):
    with pytest.raises(ValueError, match="unknown decomposition method"):
        invariant_decomposition(random_bivector(rng, 4), (1,) * 4, method="schur")


def test_decomposition_rejects_bad_state(rng):
    with pytest.raises(ValueError, match="state has shape"):
        invariant_decomposition(random_bivector(rng, 4), (1,) * 4, method="power", state=np.zeros((3, 4)))


def test_exp_rejects_wrong_axis(rng):
    with pytest.raises(ValueError, match="C\\(4, 2\\) = 6"):
        bivector_exp(np.zeros(5), (1,) * 4)


def test_exp_rejects_unknown_method(rng):
    with pytest.raises(ValueError, match="unknown exponential method"):
        bivector_exp(np.zeros(6), (1,) * 4, method="pade")


def test_exp_rejects_bad_signature():
    with pytest.raises(ValueError, match="square to 1, -1 or 0"):
        bivector_exp(np.zeros(3), (1, 2, 1))


def test_exp_rejects_text_input():
    with pytest.raises(TypeError, match="real floating-point"):
        bivector_exp(np.array(["a", "b", "c"]), (1, 1, 1))


def test_exp_power_returns_warm_state(rng):
    bivector = torch.from_numpy(random_bivector(rng, 6, batch=(2,)))
    cold, state = bivector_exp(bivector, (1,) * 6, method="power", iterations=300, return_state=True)
    warm, _ = bivector_exp(bivector, (1,) * 6, method="power", state=state, iterations=1, return_state=True)
    exact = bivector_exp(bivector, (1,) * 6, method="eigh")
    assert state.shape == (2, 3, 6)
    assert (cold - exact).abs().max() < 1e-10
    assert (warm - exact).abs().max() < 1e-10
