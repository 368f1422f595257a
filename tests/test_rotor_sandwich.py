"""Sandwich operators: the three modes against ``clifford`` and against each other.

References: ``clifford``'s ``R*x*~S`` with ``R`` and ``S`` from ``clifford``
products (see :mod:`geomalg.verify.checks_rotor`). Tolerance 1e-10 relative in
float64; the modes agree with each other to 1e-11.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from geomalg import blades
from geomalg.rotor import GradeBlockOperator, ParityBlockOperator, sandwich, sandwich_operator, vector_rotation
from geomalg.verify.checks_rotor import clifford_exp, clifford_layout, clifford_sandwich

MODES = ["structured", "blocks", "dense"]

SIGNATURES = [(3, 0, 0), (4, 0, 0), (5, 0, 0), (0, 4, 0), (2, 1, 0), (1, 3, 0), (3, 0, 1), (2, 2, 0)]


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def random_bivector(rng, n, batch=()):
    return rng.standard_normal(batch + (math.comb(n, 2),))


@pytest.mark.parametrize("p,q,r", SIGNATURES)
@pytest.mark.parametrize("mode", MODES)
def test_single_sandwich_matches_clifford(rng, p, q, r, mode):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    bivector = random_bivector(rng, n)
    x = rng.standard_normal(1 << n)
    rotor = clifford_exp(layout, bivector)
    expected = clifford_sandwich(layout, rotor, x, rotor)
    result = sandwich(x, bivector, blades.signature_vector(p, q, r), mode=mode)
    assert np.abs(result - expected).max() < 1e-10 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("p,q,r", SIGNATURES)
@pytest.mark.parametrize("mode", MODES)
def test_double_sandwich_matches_clifford(rng, p, q, r, mode):
    layout = clifford_layout(p, q, r)
    n = p + q + r
    left = random_bivector(rng, n)
    right = random_bivector(rng, n)
    x = rng.standard_normal(1 << n)
    expected = clifford_sandwich(layout, clifford_exp(layout, left), x, clifford_exp(layout, right))
    result = sandwich(x, left, blades.signature_vector(p, q, r), right_bivector=right, mode=mode)
    assert np.abs(result - expected).max() < 1e-10 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("signature", [(1,) * 6, (-1,) * 5, (1, 1, 1, -1, -1), (0, 1, 1, 1, 1)])
def test_modes_agree_batched(rng, signature):
    n = len(signature)
    bivector = torch.from_numpy(0.5 * random_bivector(rng, n, batch=(3,)))
    right = torch.from_numpy(0.5 * random_bivector(rng, n, batch=(3,)))
    x = torch.from_numpy(rng.standard_normal((5, 3, 1 << n)))
    for right_bivector in (None, right):
        results = [sandwich(x, bivector, signature, right_bivector, mode=mode) for mode in MODES]
        assert results[0].shape == (5, 3, 1 << n)
        assert (results[0] - results[2]).abs().max() < 1e-11
        assert (results[1] - results[2]).abs().max() < 1e-11


def test_grade_blocks_are_compounds(rng):
    bivector = torch.from_numpy(random_bivector(rng, 5))
    operator = sandwich_operator(bivector, (1,) * 5)
    rotation = vector_rotation(bivector, (1,) * 5)
    dense = operator.to_dense()
    pairs = list(itertools.combinations(range(5), 2))
    index_02 = pairs.index((0, 2))
    index_13 = pairs.index((1, 3))
    minor = torch.linalg.det(rotation[[0, 2]][:, [1, 3]])
    assert isinstance(operator, GradeBlockOperator)
    assert [block.shape[-1] for block in operator.blocks] == [1, 5, 10]
    assert (operator.blocks[1] - rotation).abs().max() < 1e-14
    assert abs(operator.blocks[2][index_02, index_13] - minor) < 1e-12
    assert abs(dense[31, 31] - torch.linalg.det(rotation)) < 1e-12


def test_grade_blocks_null_signature_keep_all_grades(rng):
    signature = (0, 1, 1, 1)
    operator = sandwich_operator(torch.from_numpy(random_bivector(rng, 4)), signature)
    assert len(operator.blocks) == 5
    assert operator.pairing is None


def test_parity_blocks_match_dense(rng):
    left = torch.from_numpy(random_bivector(rng, 4))
    right = torch.from_numpy(random_bivector(rng, 4))
    blocks = sandwich_operator(left, (1,) * 4, right)
    dense = sandwich_operator(left, (1,) * 4, right, mode="dense").to_dense()
    assert isinstance(blocks, ParityBlockOperator)
    assert blocks.even.shape == (8, 8)
    assert (blocks.to_dense() - dense).abs().max() < 1e-12


def test_single_rotor_preserves_grades(rng):
    dense = sandwich_operator(random_bivector(rng, 4), (1,) * 4, mode="dense").to_dense()
    grades = torch.from_numpy(np.array(blades.blade_grades(4)))
    mixing = grades[:, None] != grades[None, :]
    assert dense[mixing].abs().max() < 1e-13


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("signature", [(1,) * 4, (-1,) * 3, (1, 1, -1), (0, 1, 1)])
def test_sandwich_gradcheck_generic(rng, mode, signature):
    n = len(signature)
    bivector = torch.from_numpy(0.5 * random_bivector(rng, n)).requires_grad_()
    right = torch.from_numpy(0.5 * random_bivector(rng, n)).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((2, 1 << n))).requires_grad_()
    assert torch.autograd.gradcheck(lambda b, v: sandwich(v, b, signature, mode=mode), (bivector, x))
    assert torch.autograd.gradcheck(lambda b, c, v: sandwich(v, b, signature, c, mode=mode), (bivector, right, x))


def test_structured_gradient_broadcast(rng):
    # One rotor per row of a batch of rotors, applied to a batch of vectors: the gradient sums over the vectors.
    bivector = torch.from_numpy(random_bivector(rng, 4, batch=(3,))).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((6, 1, 16)))
    weights = torch.from_numpy(rng.standard_normal((6, 3, 16)))
    (sandwich(x, bivector, (1,) * 4) * weights).sum().backward()
    structured = bivector.grad.clone()
    bivector.grad = None
    (sandwich(x, bivector, (1,) * 4, mode="dense") * weights).sum().backward()
    assert (structured - bivector.grad).abs().max() < 1e-11


def test_n12_structured_and_blocks_agree():
    rng = np.random.default_rng(12)
    signature = (1,) * 12
    bivector = torch.from_numpy(0.3 * random_bivector(rng, 12)).float()
    x = torch.from_numpy(rng.standard_normal((2, 4096))).float()
    structured = sandwich(x, bivector, signature, mode="structured")
    blocks = sandwich(x, bivector, signature, mode="blocks")
    assert (structured - blocks).abs().max() < 1e-4
    assert abs(structured.norm() - x.norm()) < 1e-3 * x.norm()


def test_sandwich_rejects_wrong_width(rng):
    with pytest.raises(ValueError, match="2\\*\\*4 = 16"):
        sandwich(np.zeros(8), random_bivector(rng, 4), (1,) * 4)


def test_sandwich_rejects_unknown_mode(rng):
    with pytest.raises(ValueError, match="unknown sandwich mode"):
        sandwich(np.zeros(16), random_bivector(rng, 4), (1,) * 4, mode="sparse")


def test_operator_rejects_structured_mode(rng):
    with pytest.raises(ValueError, match="use sandwich\\(\\) for 'structured'"):
        sandwich_operator(random_bivector(rng, 4), (1,) * 4, mode="structured")


def test_sandwich_rejects_wrong_right_bivector(rng):
    with pytest.raises(ValueError, match="right_bivector has shape"):
        sandwich(np.zeros(16), random_bivector(rng, 4), (1,) * 4, right_bivector=np.zeros(5))


@pytest.mark.parametrize("p,q,r", [(6, 0, 0), (3, 2, 0)])
def test_block_apply_one_row_matches_dense(rng, p, q, r):
    n = p + q + r
    signature = blades.signature_vector(p, q, r)
    bivector = torch.from_numpy(random_bivector(rng, n))
    operator = sandwich_operator(bivector, signature, mode="blocks")
    dense = sandwich_operator(bivector, signature, mode="dense").to_dense()
    for shape in [(1 << n,), (1, 1 << n), (1, 1, 1 << n)]:
        x = torch.from_numpy(rng.standard_normal(shape))
        with torch.no_grad():
            out = operator.apply(x)
        assert out.shape == x.shape
        assert (out - x @ dense.T).abs().max() < 1e-11


def test_block_apply_one_row_returns_new_tensor(rng):
    signature = (1,) * 6
    operator = sandwich_operator(torch.from_numpy(random_bivector(rng, 6)), signature, mode="blocks")
    first_input = torch.from_numpy(rng.standard_normal((1, 64)))
    second_input = torch.from_numpy(rng.standard_normal((1, 64)))
    with torch.no_grad():
        first = operator.apply(first_input)
        kept = first.clone()
        second = operator.apply(second_input)
    assert torch.equal(first, kept)
    assert not torch.equal(first, second)


def test_block_apply_one_row_threads(rng):
    import concurrent.futures

    signature = (1,) * 7
    operator = sandwich_operator(torch.from_numpy(random_bivector(rng, 7)), signature, mode="blocks")
    inputs = [torch.from_numpy(rng.standard_normal((1, 128))) for _ in range(16)]
    with torch.no_grad():
        expected = [operator.apply(x.expand(2, 128))[:1] for x in inputs]

        def run(x):
            return operator.apply(x)

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(run, inputs))
    for result, reference in zip(results, expected):
        assert (result - reference).abs().max() < 1e-12


def test_block_apply_one_row_gradient(rng):
    signature = (1,) * 4
    bivector = torch.from_numpy(random_bivector(rng, 4)).requires_grad_()
    x = torch.from_numpy(rng.standard_normal((1, 16))).requires_grad_()
    assert torch.autograd.gradcheck(lambda b, v: sandwich_operator(b, signature, mode="blocks").apply(v), (bivector, x))


@pytest.mark.parametrize("signature", [(1,) * 5, (1, 1, 1, -1, -1), (0, 1, 1, 1)])
@pytest.mark.parametrize("double", [False, True])
def test_structured_routes_large_batch(rng, signature, double):
    from geomalg.rotor.sandwich import BLOCK_ROUTE_ROWS

    n = len(signature)
    bivector = torch.from_numpy(random_bivector(rng, n))
    right = torch.from_numpy(random_bivector(rng, n)) if double else None
    x = torch.from_numpy(rng.standard_normal((BLOCK_ROUTE_ROWS + 3, 1 << n)))
    routed = sandwich(x, bivector, signature, right, mode="structured")
    row_by_row = torch.cat([sandwich(x[i : i + 1], bivector, signature, right, mode="structured") for i in range(x.shape[0])])
    assert (routed - row_by_row).abs().max() < 1e-10


def test_block_operator_copy_and_pickle(rng):
    import copy
    import pickle

    operator = sandwich_operator(torch.from_numpy(random_bivector(rng, 6)), (1,) * 6, mode="blocks")
    x = torch.from_numpy(rng.standard_normal((1, 64)))
    with torch.no_grad():
        expected = operator.apply(x)
        copied = copy.deepcopy(operator).apply(x)
        restored = pickle.loads(pickle.dumps(operator)).apply(x)
    assert torch.equal(copied, expected)
    assert torch.equal(restored, expected)
