"""Tests of RotorLinear against dense float64 references built pair by pair.

The reference builds each chunk's ``2**n x 2**n`` matrix with
``geomalg.rotor.sandwich_operator(..., mode="dense")`` (left times right
multiplication matrices, independent of the parity blocks the layer uses)
and places it with plain loops over chunk positions.  Float64 results must
agree to 1e-12.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from geomalg.nn import RotorLinear, layer_cost
from geomalg.nn.rotor import default_chunk_size
from geomalg.rotor import sandwich_operator

TOLERANCE = 1e-12


def reference_weight(layer: RotorLinear) -> torch.Tensor:
    """Assemble the dense weight from per-pair dense sandwich matrices and the wrap-around rule."""
    c = layer.chunk_size
    n = layer.n
    weight = torch.zeros(layer.out_features, layer.in_features, dtype=torch.float64)
    counts = torch.zeros(layer.out_features, dtype=torch.float64)
    for j in range(layer.out_chunks):
        for b in range(c):
            counts[(j * c + b) % layer.out_features] += 1
    for j in range(layer.out_chunks):
        for i in range(layer.in_chunks):
            left = layer.left_bivectors[j, i].detach().double()
            right = None if layer.right_bivectors is None else layer.right_bivectors[j, i].detach().double()
            matrix = sandwich_operator(left, (1,) * n, right, mode="dense").to_dense()
            scale = float(layer.scales[j, i].detach())
            for b in range(c):
                row = (j * c + b) % layer.out_features
                for a in range(c):
                    column = (i * c + a) % layer.in_features
                    weight[row, column] += scale * matrix[b, a] / counts[row]
    return weight


CASES = [
    # (in, out, chunk, double_rotor)
    (8, 8, 4, True),
    (6, 10, 4, True),
    (10, 6, 4, False),
    (3, 5, 4, True),
    (20, 12, 8, True),
    (12, 20, 8, False),
]


@pytest.mark.parametrize("in_features,out_features,chunk_size,double_rotor", CASES)
def test_rotor_linear_matches_reference(in_features, out_features, chunk_size, double_rotor):
    torch.manual_seed(1)
    layer = RotorLinear(in_features, out_features, chunk_size=chunk_size, double_rotor=double_rotor,
                        dtype=torch.float64)
    x = torch.randn(5, in_features, dtype=torch.float64)
    expected = x @ reference_weight(layer).T + layer.bias.detach()
    assert torch.allclose(layer(x), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("in_features,out_features,chunk_size,double_rotor", CASES[:4])
def test_rotor_linear_to_dense(in_features, out_features, chunk_size, double_rotor):
    torch.manual_seed(2)
    layer = RotorLinear(in_features, out_features, chunk_size=chunk_size, double_rotor=double_rotor,
                        dtype=torch.float64)
    dense = layer.to_dense()
    x = torch.randn(4, 3, in_features, dtype=torch.float64)
    assert isinstance(dense, nn.Linear)
    assert torch.allclose(dense(x), layer(x), atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("double_rotor", [True, False])
def test_structured_mode_matches_blocks(double_rotor):
    torch.manual_seed(3)
    blocks = RotorLinear(20, 12, chunk_size=8, double_rotor=double_rotor, dtype=torch.float64)
    structured = RotorLinear(20, 12, chunk_size=8, double_rotor=double_rotor, mode="structured",
                             dtype=torch.float64)
    structured.load_state_dict(blocks.state_dict())
    x = torch.randn(6, 20, dtype=torch.float64)
    assert torch.allclose(structured(x), blocks(x), atol=TOLERANCE, rtol=0)


def _functional(layer: RotorLinear):
    names = [name for name, _ in layer.named_parameters()]

    def call(x, *parameters):
        return torch.func.functional_call(layer, dict(zip(names, parameters)), (x,))

    inputs = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]
    return call, inputs


@pytest.mark.parametrize("in_features,out_features,chunk_size,double_rotor", [
    (8, 8, 4, True), (6, 10, 4, False), (12, 8, 8, True)])
def test_rotor_linear_gradcheck(in_features, out_features, chunk_size, double_rotor):
    torch.manual_seed(4)
    layer = RotorLinear(in_features, out_features, chunk_size=chunk_size, double_rotor=double_rotor,
                        dtype=torch.float64)
    call, parameters = _functional(layer)
    x = torch.randn(3, in_features, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(call, (x, *parameters))


def test_structured_mode_gradcheck():
    torch.manual_seed(5)
    layer = RotorLinear(8, 8, chunk_size=4, mode="structured", dtype=torch.float64)
    call, parameters = _functional(layer)
    x = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(call, (x, *parameters))


def test_gradients_finite_at_zero_bivectors():
    layer = RotorLinear(16, 16, chunk_size=8)
    with torch.no_grad():
        layer.left_bivectors.zero_()
        layer.right_bivectors.zero_()
    layer(torch.randn(4, 16)).square().sum().backward()
    for name, parameter in layer.named_parameters():
        assert torch.isfinite(parameter.grad).all(), name
    assert layer.left_bivectors.grad.abs().sum() > 0


def test_eval_cache_follows_optimizer_step():
    torch.manual_seed(6)
    layer = RotorLinear(12, 12, chunk_size=4, dtype=torch.float64)
    x = torch.randn(3, 12, dtype=torch.float64)
    layer.eval()
    with torch.no_grad():
        before = layer(x)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    layer.train()
    layer(x).square().sum().backward()
    optimizer.step()
    layer.eval()
    with torch.no_grad():
        after = layer(x)
        # A step made while in eval mode must also reach the cached operator.
        layer.left_bivectors.add_(0.1)
        after_edit = layer(x)
    expected = x @ reference_weight(layer).T + layer.bias.detach()
    assert not torch.allclose(before, after)
    assert torch.allclose(after_edit, expected, atol=TOLERANCE, rtol=0)


def test_eval_cache_follows_load_state_dict():
    torch.manual_seed(7)
    layer = RotorLinear(12, 8, chunk_size=4, dtype=torch.float64).eval()
    other = RotorLinear(12, 8, chunk_size=4, dtype=torch.float64)
    x = torch.randn(3, 12, dtype=torch.float64)
    with torch.no_grad():
        layer(x)
        layer.load_state_dict(other.state_dict())
        loaded = layer(x)
        expected = other(x)
    assert torch.allclose(loaded, expected, atol=TOLERANCE, rtol=0)


def test_state_dict_round_trip_with_power_state():
    torch.manual_seed(8)
    layer = RotorLinear(16, 8, chunk_size=8, exp_method="power", dtype=torch.float64)
    x = torch.randn(2, 16, dtype=torch.float64)
    layer(x)
    state = layer.state_dict()
    assert "power_state" in state
    assert state["power_state"].shape == (2, 1, 2, 1, 3)
    copy = RotorLinear(16, 8, chunk_size=8, exp_method="power", dtype=torch.float64)
    copy.load_state_dict(state)
    assert torch.equal(copy.power_state, layer.power_state)
    assert torch.allclose(copy(x), layer(x), atol=TOLERANCE, rtol=0)


def test_power_method_matches_eigh():
    torch.manual_seed(9)
    eigh = RotorLinear(16, 16, chunk_size=16, dtype=torch.float64)
    power = RotorLinear(16, 16, chunk_size=16, exp_method="power", dtype=torch.float64)
    power.load_state_dict(eigh.state_dict())
    x = torch.randn(2, 16, dtype=torch.float64)
    assert torch.allclose(power(x), eigh(x), atol=1e-8, rtol=0)


@pytest.mark.parametrize("in_features,out_features", [(640, 256), (640, 1024), (784, 300), (3, 5), (5, 3)])
def test_every_feature_is_connected(in_features, out_features):
    layer = RotorLinear(in_features, out_features, chunk_size=default_chunk_size(in_features, out_features))
    assert set(layer.input_gather.tolist()) == set(range(in_features))
    assert set(layer.output_scatter.tolist()) == set(range(out_features))


def test_dense_weight_has_no_dead_rows_or_columns():
    torch.manual_seed(10)
    layer = RotorLinear(13, 7, chunk_size=4, dtype=torch.float64)
    weight = layer.dense_weight()
    assert (weight.abs().sum(dim=0) > 0).all()
    assert (weight.abs().sum(dim=1) > 0).all()


@pytest.mark.parametrize("widths,expected", [
    ((2048, 2048), 2048), ((2048, 512), 512), ((640, 1024), 512), ((640, 256), 256),
    ((784, 300), 256), ((3, 5), 4), ((8192, 8192), 2048)])
def test_default_chunk_size(widths, expected):
    assert default_chunk_size(*widths) == expected


def test_wrong_input_width_message():
    layer = RotorLinear(8, 4, chunk_size=4)
    with pytest.raises(ValueError, match=r"expects input of shape \(\.\.\., 8\), got last dimension 6"):
        layer(torch.randn(2, 6))


@pytest.mark.parametrize("chunk_size,error,message", [
    (6, ValueError, "power of two"),
    (2, ValueError, "at least 4"),
    (8192, ValueError, "at most 4096"),
    ("8", TypeError, "positive integer"),
    (0, ValueError, "positive integer"),
])
def test_invalid_chunk_size(chunk_size, error, message):
    with pytest.raises(error, match=message):
        RotorLinear(8, 8, chunk_size=chunk_size)


def test_invalid_mode_and_method():
    with pytest.raises(ValueError, match="mode must be one of"):
        RotorLinear(8, 8, mode="dense")
    with pytest.raises(ValueError, match="exp_method must be one of"):
        RotorLinear(8, 8, exp_method="taylor")


def test_bfloat16_forward_backward():
    torch.manual_seed(11)
    layer = RotorLinear(32, 16, chunk_size=16)
    reference = layer(torch.ones(2, 32))
    low = RotorLinear(32, 16, chunk_size=16, dtype=torch.bfloat16)
    low.load_state_dict(layer.state_dict())
    x = torch.ones(2, 32, dtype=torch.bfloat16, requires_grad=True)
    y = low(x)
    y.sum().backward()
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), reference, atol=0.1, rtol=0.05)
    assert torch.isfinite(low.left_bivectors.grad.float()).all()
    low.eval()
    with torch.no_grad():
        assert torch.allclose(low(x).float(), reference, atol=0.1, rtol=0.05)


def test_cost_counts():
    layer = RotorLinear(640, 256, chunk_size=256)
    params = 2 * 3 * 28 + 3 + 256
    structured = layer_cost(layer)
    blocks = layer.cost(apply="blocks")
    assert structured.params == params
    assert structured.weight_bytes_per_token == 4 * params
    assert layer_cost(layer, bytes_per_param=2).weight_bytes_per_token == 2 * params
    # Three pairs, each two parity blocks of 128 x 128 multiply-adds, plus the bias.
    assert blocks.flops_per_token == 3 * 256 ** 2 + 256
    assert blocks.weight_bytes_per_token == 4 * (3 * 256 ** 2 // 2 + 256)
    with pytest.raises(ValueError, match="apply must be one of"):
        layer.cost(apply="dense")


def test_structured_flops_below_dense():
    layer = RotorLinear(2048, 2048)
    assert layer_cost(layer).flops_per_token < layer_cost(nn.Linear(2048, 2048)).flops_per_token / 5


def test_extra_repr_shows_parameter_count():
    layer = RotorLinear(8, 8, chunk_size=4)
    assert f"params={sum(p.numel() for p in layer.parameters())}" in repr(layer)


def test_initial_output_scale():
    torch.manual_seed(12)
    layer = RotorLinear(256, 256, chunk_size=64, bias=False)
    x = torch.randn(512, 256)
    with torch.no_grad():
        ratio = layer(x).var() / x.var()
    assert math.isclose(float(ratio), 1.0, rel_tol=0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    torch.manual_seed(13)
    layer = RotorLinear(40, 24, chunk_size=8, dtype=torch.float64)
    x = torch.randn(3, 40, dtype=torch.float64)
    expected = layer(x)
    gpu = layer.to("cuda")
    assert torch.allclose(gpu(x.cuda()).cpu(), expected, atol=TOLERANCE, rtol=0)
    gpu.eval()
    with torch.no_grad():
        assert torch.allclose(gpu(x.cuda()).cpu(), expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("chunk_size,double_rotor", [(16, True), (16, False), (1024, True), (1024, False)])
def test_direct_and_compound_blocks_agree(chunk_size, double_rotor):
    torch.manual_seed(14)
    layer = RotorLinear(chunk_size, chunk_size, chunk_size=chunk_size, double_rotor=double_rotor,
                        dtype=torch.float64)
    left = layer.left_bivectors.detach()
    right = None if layer.right_bivectors is None else layer.right_bivectors.detach()
    direct = layer._direct_parity_blocks(left, right)
    compound = layer._compound_parity_blocks(left, right)
    assert torch.allclose(direct, compound, atol=1e-10, rtol=0)


def _random_feature_scales(layer) -> None:
    with torch.no_grad():
        layer.input_scale.uniform_(0.5, 2.0)
        layer.output_scale.uniform_(-2.0, 2.0)


@pytest.mark.parametrize("mode", ["blocks", "structured"])
def test_feature_scales_match_reference(mode):
    torch.manual_seed(30)
    layer = RotorLinear(20, 12, chunk_size=8, mode=mode, feature_scales=True, dtype=torch.float64)
    _random_feature_scales(layer)
    inner = reference_weight(layer)
    weight = layer.output_scale.detach()[:, None] * inner * layer.input_scale.detach()[None, :]
    x = torch.randn(5, 20, dtype=torch.float64)
    expected = x @ weight.T + layer.bias.detach()
    assert torch.allclose(layer(x), expected, atol=TOLERANCE, rtol=0)
    assert torch.allclose(layer.to_dense()(x), expected, atol=TOLERANCE, rtol=0)
    layer.eval()
    with torch.no_grad():
        assert torch.allclose(layer(x), expected, atol=TOLERANCE, rtol=0)


def test_feature_scales_gradcheck():
    torch.manual_seed(31)
    layer = RotorLinear(6, 10, chunk_size=4, feature_scales=True, dtype=torch.float64)
    _random_feature_scales(layer)
    call, parameters = _functional(layer)
    x = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(call, (x, *parameters))


def test_feature_scales_cost_and_state():
    plain = RotorLinear(640, 256, chunk_size=64)
    scaled = RotorLinear(640, 256, chunk_size=64, feature_scales=True)
    assert scaled.parameter_count() == plain.parameter_count() + 640 + 256
    for apply in ("structured", "blocks"):
        difference = scaled.cost(apply=apply).flops_per_token - plain.cost(apply=apply).flops_per_token
        assert difference == 640 + 256
        extra_bytes = scaled.cost(apply=apply).weight_bytes_per_token - plain.cost(apply=apply).weight_bytes_per_token
        assert extra_bytes == 4 * (640 + 256)
    assert "feature_scales=True" in repr(scaled)

    _random_feature_scales(scaled)
    copy = RotorLinear(640, 256, chunk_size=64, feature_scales=True)
    copy.load_state_dict(scaled.state_dict())
    x = torch.randn(2, 640)
    assert torch.equal(copy(x), scaled(x))
