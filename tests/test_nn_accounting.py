"""Cost accounting: parameter counts from the modules, FLOPs against torch's FLOP counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from geomalg.nn import BlockHadamardLinear, LayerCost, LowRankLinear, layer_cost
from geomalg.nn.accounting import fwht_flops
from geomalg.nn.cost_table import MODEL_WIDTHS, comparison_layers, cost_rows, format_cost_table


def counted_matmul_flops(module: nn.Module, in_features: int) -> int:
    """Return the FLOPs torch attributes to matrix products in one single-token forward."""
    with FlopCounterMode(display=False) as counter:
        module(torch.randn(1, in_features))
    return counter.get_total_flops()


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_linear_cost():
    cost = layer_cost(nn.Linear(300, 200))
    assert cost.params == 300 * 200 + 200
    assert cost.flops_per_token == 2 * 300 * 200 + 200
    assert cost.weight_bytes_per_token == 4 * (300 * 200 + 200)


def test_linear_cost_matches_flop_counter():
    module = nn.Linear(300, 200, bias=False)
    assert layer_cost(module).flops_per_token == counted_matmul_flops(module, 300)


def test_low_rank_cost_matches_flop_counter():
    module = LowRankLinear(300, 200, 16)
    cost = layer_cost(module)
    assert cost.params == parameter_count(module)
    assert cost.flops_per_token - 200 == counted_matmul_flops(module, 300)


@pytest.mark.parametrize("n, m, block_size", [(300, 200, 16), (640, 256, 64), (64, 64, 8)])
def test_block_hadamard_cost_matches_flop_counter(n, m, block_size):
    module = BlockHadamardLinear(n, m, block_size=block_size)
    cost = layer_cost(module)
    assert cost.params == parameter_count(module)
    # The counter counts the block products only, because the FWHT and bias are elementwise.
    elementwise = fwht_flops(module.transform_size) + m
    assert cost.flops_per_token - elementwise == counted_matmul_flops(module, n)


def test_fwht_flops_formula():
    assert fwht_flops(8) == 8 * 3 + 8
    assert fwht_flops(1) == 1


def test_bytes_per_param_override():
    module = LowRankLinear(64, 32, 4)
    assert layer_cost(module, bytes_per_param=2).weight_bytes_per_token == 2 * parameter_count(module)
    assert layer_cost(module.double()).weight_bytes_per_token == 8 * parameter_count(module)


def test_bytes_per_param_rejects_zero():
    with pytest.raises(ValueError, match="bytes_per_param"):
        layer_cost(nn.Linear(4, 4), bytes_per_param=0)


def test_module_cost_method_is_used():
    class Custom(nn.Module):
        def cost(self, bytes_per_param=None):
            return LayerCost(1, 2, 3)

    assert layer_cost(Custom()) == LayerCost(1, 2, 3)


def test_unknown_module_rejected():
    with pytest.raises(TypeError, match="no cost model for ReLU"):
        layer_cost(nn.ReLU())


def test_cost_rows_cover_model_widths():
    rows = cost_rows(factories=comparison_layers(rank=16, block_size=16))
    pairs = {(row["in_features"], row["out_features"]) for row in rows}
    expected_pairs = {pair for widths in MODEL_WIDTHS.values() for pair in widths}
    assert pairs == expected_pairs
    dense_rows = [row for row in rows if row["layer"] == "dense"]
    for row in dense_rows:
        assert row["params"] == row["in_features"] * row["out_features"] + row["out_features"]
        assert row["params_vs_dense"] == 1.0


def test_equal_rank_and_block_size_give_equal_params():
    rows = cost_rows(widths={"toy": ((640, 1024),)}, factories=comparison_layers(rank=64, block_size=64))
    params = {row["layer"]: row["params"] for row in rows}
    assert params["low-rank r=64"] == params["block-Hadamard b=64"]


@pytest.mark.parametrize("style", ["text", "rst"])
def test_format_cost_table(style):
    factories = comparison_layers(rank=8, block_size=8)
    rows = cost_rows(widths={"toy": ((64, 32),)}, factories=factories)
    table = format_cost_table(rows, style=style)
    assert "FLOPs/token" in table
    assert "64->32" in table
    assert table.count("toy") == len(factories)


def test_format_cost_table_rejects_style():
    with pytest.raises(ValueError, match="style"):
        format_cost_table([], style="html")
