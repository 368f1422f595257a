"""Baseline layers against dense float64 references built from their stated formulas.

Float64 comparisons use an absolute tolerance of 1e-12, because they sum
at most a few thousand O(1) terms.  Initialisation statistics use a 10 %
relative tolerance on samples of over 10^5 weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from geomalg.nn import BlockHadamardLinear, LowRankLinear, fwht

TOL = 1e-12


def sylvester_hadamard(dim: int) -> np.ndarray:
    """Return the orthonormal Sylvester-Hadamard matrix by Kronecker powers."""
    matrix = np.ones((1, 1))
    base = np.array([[1.0, 1.0], [1.0, -1.0]])
    while matrix.shape[0] < dim:
        matrix = np.kron(matrix, base)
    return matrix / math.sqrt(dim)


def block_hadamard_reference(layer: BlockHadamardLinear) -> np.ndarray:
    """Build S B2 H B1 P as explicit float64 matrices from the docstring's definition."""
    n, m = layer.in_features, layer.out_features
    k, s = layer.num_blocks, layer.block_size
    c_in, c_out, d = layer.block_in, layer.block_out, layer.transform_size
    a_blocks = layer.input_blocks.detach().double().numpy()
    c_blocks = layer.output_blocks.detach().double().numpy()

    dealt = np.zeros((k * c_in, n))
    for i in range(n):
        block, row = i % k, i // k
        dealt[block * c_in + row, i] = 1.0
    b1 = np.zeros((d, k * c_in))
    b2 = np.zeros((k * c_out, d))
    for j in range(k):
        b1[j * s:(j + 1) * s, j * c_in:(j + 1) * c_in] = a_blocks[j]
        b2[j * c_out:(j + 1) * c_out, j * s:(j + 1) * s] = c_blocks[j]
    select = np.zeros((m, k * c_out))
    for o in range(m):
        block, row = o % k, o // k
        select[o, block * c_out + row] = 1.0
    return select @ b2 @ sylvester_hadamard(d) @ b1 @ dealt


@pytest.mark.parametrize("dim", [1, 2, 4, 8, 64, 512])
def test_fwht_matches_dense_hadamard(dim):
    x = torch.randn(3, 5, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(dim))
    expected = x.numpy() @ sylvester_hadamard(dim).T
    np.testing.assert_allclose(fwht(x).numpy(), expected, rtol=0, atol=TOL)


def test_fwht_is_involution():
    x = torch.randn(4, 256, dtype=torch.float64)
    np.testing.assert_allclose(fwht(fwht(x)).numpy(), x.numpy(), rtol=0, atol=TOL)


def test_fwht_gradients():
    x = torch.randn(2, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fwht, (x,))
    assert torch.autograd.gradgradcheck(fwht, (x,))


def test_fwht_empty_batch():
    x = torch.zeros(0, 8)
    assert fwht(x).shape == (0, 8)


@pytest.mark.parametrize("dim", [3, 6, 100])
def test_fwht_rejects_other_lengths(dim):
    with pytest.raises(ValueError, match=f"got {dim}"):
        fwht(torch.zeros(2, dim))


def test_fwht_rejects_integer_tensor():
    with pytest.raises(TypeError, match="floating-point"):
        fwht(torch.zeros(4, dtype=torch.int64))


@pytest.mark.parametrize("shape", [(13, 11, 3), (64, 32, 8), (40, 100, 1)])
def test_low_rank_matches_product(shape):
    n, m, rank = shape
    layer = LowRankLinear(n, m, rank, dtype=torch.float64)
    x = torch.randn(7, n, dtype=torch.float64)
    weight = layer.u_weight.detach().numpy() @ layer.v_weight.detach().numpy()
    expected = x.numpy() @ weight.T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=0, atol=TOL)


def test_low_rank_to_dense_same_map():
    layer = LowRankLinear(30, 20, 4, dtype=torch.float64)
    dense = layer.to_dense()
    x = torch.randn(5, 30, dtype=torch.float64)
    assert isinstance(dense, torch.nn.Linear)
    np.testing.assert_allclose(dense(x).detach().numpy(), layer(x).detach().numpy(), rtol=0, atol=TOL)
    assert torch.linalg.matrix_rank(dense.weight).item() == 4


def test_low_rank_without_bias():
    layer = LowRankLinear(8, 6, 2, bias=False)
    assert layer.bias is None
    assert layer.to_dense().bias is None
    assert torch.all(layer(torch.zeros(1, 8)) == 0)


def test_low_rank_init_variance():
    torch.manual_seed(0)
    layer = LowRankLinear(1024, 512, 64)
    variance = layer.dense_weight().var().item()
    assert variance == pytest.approx(1 / (3 * 1024), rel=0.1)


@pytest.mark.parametrize("rank", [0, -1, 8, 9])
def test_low_rank_rejects_rank(rank):
    with pytest.raises(ValueError, match="rank"):
        LowRankLinear(8, 16, rank)


def test_low_rank_rejects_float_rank():
    with pytest.raises(TypeError, match="rank"):
        LowRankLinear(8, 16, 2.5)


def test_low_rank_repr_counts_params():
    # 2 * (10 + 3) factor entries plus 3 bias entries.
    assert "params=29" in repr(LowRankLinear(10, 3, 2))


@pytest.mark.parametrize(
    "n, m, block_size",
    [(5, 7, None), (8, 8, 4), (13, 9, 8), (100, 37, 16), (784, 256, 64), (640, 1024, 64), (256, 10, None)],
)
def test_block_hadamard_matches_reference(n, m, block_size):
    layer = BlockHadamardLinear(n, m, block_size=block_size, dtype=torch.float64)
    x = torch.randn(6, n, dtype=torch.float64)
    expected = x.numpy() @ block_hadamard_reference(layer).T + layer.bias.detach().numpy()
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=0, atol=TOL)


def test_block_hadamard_batch_shapes():
    layer = BlockHadamardLinear(12, 20, block_size=8)
    assert layer(torch.randn(2, 3, 12)).shape == (2, 3, 20)
    assert layer(torch.randn(12)).shape == (20,)


def test_block_hadamard_noncontiguous_input():
    layer = BlockHadamardLinear(12, 20, block_size=8, dtype=torch.float64)
    transposed = torch.randn(12, 5, dtype=torch.float64).T
    assert not transposed.is_contiguous()
    np.testing.assert_allclose(layer(transposed).detach().numpy(),
                               layer(transposed.contiguous()).detach().numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("n, m, block_size", [(5, 7, None), (13, 9, 8), (100, 37, 16), (33, 65, 8)])
def test_block_hadamard_padding_leaves_no_dead_output(n, m, block_size):
    layer = BlockHadamardLinear(n, m, block_size=block_size, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(layer, torch.randn(n, dtype=torch.float64))
    assert jacobian.shape == (m, n)
    assert torch.all(jacobian.abs().amax(dim=1) > 1e-8), "an output feature ignores every input"
    assert torch.all(jacobian.abs().amax(dim=0) > 1e-8), "an input feature reaches no output"


@pytest.mark.parametrize("n, m, block_size", [(5, 7, None), (13, 9, 8), (100, 37, 16)])
def test_block_hadamard_padding_leaves_no_dead_parameter(n, m, block_size):
    layer = BlockHadamardLinear(n, m, block_size=block_size, dtype=torch.float64)
    upstream = torch.randn(4, m, dtype=torch.float64)
    (layer(torch.randn(4, n, dtype=torch.float64)) * upstream).sum().backward()
    k = layer.num_blocks

    for o in range(m):
        row_grad = layer.output_blocks.grad[o % k, o // k]
        assert row_grad.abs().max() > 0, f"output {o} gets no gradient in its block row"
    for i in range(n):
        column_grad = layer.input_blocks.grad[i % k, :, i // k]
        assert column_grad.abs().max() > 0, f"input {i} gets no gradient in its block column"
    assert torch.all(layer.bias.grad != 0)


def test_block_hadamard_to_dense_same_map():
    layer = BlockHadamardLinear(50, 30, block_size=8, dtype=torch.float64)
    dense = layer.to_dense()
    x = torch.randn(5, 50, dtype=torch.float64)
    np.testing.assert_allclose(dense(x).detach().numpy(), layer(x).detach().numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(dense.weight.detach().numpy(), block_hadamard_reference(layer), rtol=0, atol=TOL)


def test_block_hadamard_init_variance():
    torch.manual_seed(0)
    layer = BlockHadamardLinear(1024, 512, block_size=32)
    variance = layer.dense_weight().var().item()
    assert variance == pytest.approx(1 / (3 * 1024), rel=0.1)


def test_block_hadamard_default_block_size():
    assert BlockHadamardLinear(784, 256).block_size == 64
    assert BlockHadamardLinear(6, 6).block_size == 8
    assert BlockHadamardLinear(512, 4).block_size == 128


@pytest.mark.parametrize("block_size", [3, 12, 0])
def test_block_hadamard_rejects_block_size(block_size):
    with pytest.raises(ValueError, match="block_size"):
        BlockHadamardLinear(64, 64, block_size=block_size)


def test_block_hadamard_rejects_too_many_blocks():
    with pytest.raises(ValueError, match="use block_size >= 128"):
        BlockHadamardLinear(512, 4, block_size=64)


def test_block_hadamard_repr_counts_params():
    layer = BlockHadamardLinear(16, 16, block_size=4)
    params = sum(p.numel() for p in layer.parameters())
    assert f"params={params}" in repr(layer)


@pytest.mark.parametrize("layer", [LowRankLinear(16, 8, 2), BlockHadamardLinear(16, 8, block_size=4)],
                         ids=["low_rank", "block_hadamard"])
def test_wrong_input_width_message(layer):
    with pytest.raises(ValueError, match=r"\(\.\.\., 16\), got last dimension 15"):
        layer(torch.zeros(3, 15))


@pytest.mark.parametrize("width", [0, -3])
def test_layers_reject_nonpositive_width(width):
    with pytest.raises(ValueError, match="in_features"):
        LowRankLinear(width, 8, 1)
    with pytest.raises(ValueError, match="in_features"):
        BlockHadamardLinear(width, 8)
