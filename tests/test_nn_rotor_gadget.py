"""Tests of RotorGadget: the composition against its own branches, export, cost and guards."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from geomalg.nn import RotorGadget, RotorLinear, layer_cost

TOLERANCE = 1e-12


def composed_reference(gadget: RotorGadget, x: torch.Tensor) -> torch.Tensor:
    """Compose the gadget from each branch's dense export, the pooling weights and the permutations."""
    h = x
    for stage, branches in enumerate(gadget.stages):
        if stage > 0:
            h = h[..., getattr(gadget, f"permutation_{stage}")]
        h = sum(float(gadget.pooling[stage, w].detach()) * (h @ branch.dense_weight().T)
                for w, branch in enumerate(branches))
    return h + gadget.bias.detach()


@pytest.mark.parametrize("width,depth", [(3, 2), (1, 1), (2, 3)])
def test_gadget_matches_composition(width, depth):
    torch.manual_seed(20)
    gadget = RotorGadget(20, 12, width=width, depth=depth, chunk_size=8, dtype=torch.float64)
    x = torch.randn(4, 20, dtype=torch.float64)
    assert torch.allclose(gadget(x), composed_reference(gadget, x), atol=TOLERANCE, rtol=0)


def test_gadget_to_dense_and_fused_eval():
    torch.manual_seed(21)
    gadget = RotorGadget(20, 12, chunk_size=8, dtype=torch.float64)
    x = torch.randn(4, 20, dtype=torch.float64)
    training_output = gadget(x)
    dense = gadget.to_dense()
    gadget.eval()
    with torch.no_grad():
        eval_output = gadget(x)
    assert torch.allclose(dense(x), training_output, atol=TOLERANCE, rtol=0)
    assert torch.allclose(eval_output, training_output, atol=TOLERANCE, rtol=0)


def test_gadget_gradients_reach_every_parameter():
    torch.manual_seed(22)
    gadget = RotorGadget(16, 16, chunk_size=8)
    gadget(torch.randn(3, 16)).square().sum().backward()
    for name, parameter in gadget.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name


def test_gadget_gradcheck():
    torch.manual_seed(23)
    gadget = RotorGadget(4, 4, width=2, depth=2, chunk_size=4, dtype=torch.float64)
    names = [name for name, _ in gadget.named_parameters()]
    parameters = [p.detach().clone().requires_grad_(True) for p in gadget.parameters()]

    def call(x, *values):
        return torch.func.functional_call(gadget, dict(zip(names, values)), (x,))

    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(call, (x, *parameters))


def test_nonlinear_gadget_has_no_dense_export():
    gadget = RotorGadget(16, 8, chunk_size=8, layer_norm=True, activation=nn.GELU())
    assert gadget(torch.randn(2, 16)).shape == (2, 8)
    with pytest.raises(ValueError, match="no dense weight"):
        gadget.to_dense()


def test_gadget_state_dict_round_trip():
    torch.manual_seed(24)
    gadget = RotorGadget(24, 16, chunk_size=8, seed=3, dtype=torch.float64)
    copy = RotorGadget(24, 16, chunk_size=8, seed=4, dtype=torch.float64)
    copy.load_state_dict(gadget.state_dict())
    x = torch.randn(2, 24, dtype=torch.float64)
    assert torch.equal(copy.permutation_1, gadget.permutation_1)
    assert torch.allclose(copy(x), gadget(x), atol=TOLERANCE, rtol=0)


def test_gadget_cost_adds_branches_and_pooling():
    gadget = RotorGadget(640, 256, chunk_size=256)
    branch_first = RotorLinear(640, 256, chunk_size=256, bias=False)
    branch_second = RotorLinear(256, 256, chunk_size=256, bias=False)
    cost = layer_cost(gadget)
    expected_params = 3 * (branch_first.parameter_count() + branch_second.parameter_count()) + 6 + 256
    expected_flops = (3 * (layer_cost(branch_first).flops_per_token + layer_cost(branch_second).flops_per_token)
                      + 2 * 5 * 256 + 256)
    assert cost.params == expected_params
    assert cost.params == sum(p.numel() for p in gadget.parameters())
    assert cost.flops_per_token == expected_flops
    assert cost.weight_bytes_per_token == 4 * expected_params


def test_gadget_rejects_bad_arguments():
    with pytest.raises(ValueError, match="width must be a positive integer"):
        RotorGadget(8, 8, width=0)
    with pytest.raises(TypeError, match="activation must be an nn.Module"):
        RotorGadget(8, 8, activation=torch.relu)
    with pytest.raises(ValueError, match=r"expects input of shape \(\.\.\., 8\)"):
        RotorGadget(8, 8, chunk_size=4)(torch.randn(2, 9))


def test_gadget_extra_repr_shows_parameter_count():
    gadget = RotorGadget(8, 8, chunk_size=4)
    assert f"params={gadget.parameter_count()}" in repr(gadget).splitlines()[1]


# (in, out, whether eval applies the composed matrix): 20 x 12 = 240 entries
# against 320 in the stage operators; 64 x 8 = 512 against 288.
EVAL_PATHS = [(20, 12, True), (64, 8, False), (16, 8, False)]


@pytest.mark.parametrize("in_features,out_features,composed", EVAL_PATHS)
def test_gadget_eval_path_choice(in_features, out_features, composed):
    torch.manual_seed(24)
    gadget = RotorGadget(in_features, out_features, chunk_size=8, dtype=torch.float64)
    x = torch.randn(4, in_features, dtype=torch.float64)
    training_output = gadget(x)
    gadget.eval()
    with torch.no_grad():
        assert gadget.uses_composed_weight() == composed
        eval_output = gadget(x)
    assert torch.allclose(eval_output, training_output, atol=TOLERANCE, rtol=0)
    # The composed matrix replaces the branch operators, which are released.
    branch_caches = [branch._cache for branches in gadget.stages for branch in branches]
    assert all((cache is None) == composed for cache in branch_caches)
    assert not gadget.uses_composed_weight()


@pytest.mark.parametrize("in_features,out_features,composed", EVAL_PATHS)
def test_gadget_eval_cache_follows_parameter_edits(in_features, out_features, composed):
    torch.manual_seed(25)
    gadget = RotorGadget(in_features, out_features, chunk_size=8, feature_scales=True,
                         dtype=torch.float64).eval()
    x = torch.randn(3, in_features, dtype=torch.float64)
    with torch.no_grad():
        gadget(x)
        gadget.pooling.mul_(2.0)
        gadget.stages[1][0].left_bivectors.add_(0.1)
        gadget.output_scale.mul_(3.0)
        edited = gadget(x)
    gadget.train()
    with torch.no_grad():
        expected = gadget(x)
    assert torch.allclose(edited, expected, atol=TOLERANCE, rtol=0)


def test_gadget_feature_scales():
    torch.manual_seed(40)
    gadget = RotorGadget(20, 12, chunk_size=8, feature_scales=True, dtype=torch.float64)
    with torch.no_grad():
        gadget.input_scale.uniform_(0.5, 2.0)
        gadget.output_scale.uniform_(-2.0, 2.0)
    x = torch.randn(4, 20, dtype=torch.float64)
    bias = gadget.bias.detach()
    inner = composed_reference(gadget, x * gadget.input_scale.detach()) - bias
    expected = inner * gadget.output_scale.detach() + bias
    assert torch.allclose(gadget(x), expected, atol=TOLERANCE, rtol=0)
    assert torch.allclose(gadget.to_dense()(x), expected, atol=TOLERANCE, rtol=0)
    plain = RotorGadget(20, 12, chunk_size=8)
    assert layer_cost(RotorGadget(20, 12, chunk_size=8, feature_scales=True)).params == \
        layer_cost(plain).params + 20 + 12
