"""Common parts of the structured linear layers: widths, bias, dense export and cost."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._checks import check_input_width, check_positive_int
from .accounting import LayerCost, parameter_bytes


class StructuredLinear(nn.Module):
    """Base of layers that compute ``y = W x + b`` with a structured ``W``.

    Subclasses create their weight parameters, call :meth:`_create_bias`,
    and define :meth:`dense_weight` and :meth:`_weight_flops`.  Layers that
    offer learned feature scales also call :meth:`_create_feature_scales`.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)

    def _create_bias(self, bias: bool, factory: dict) -> None:
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, **factory))
        else:
            self.register_parameter("bias", None)

    def _reset_bias(self) -> None:
        # The nn.Linear bias distribution, U(-1/sqrt(n), 1/sqrt(n)).
        if self.bias is not None:
            bound = 1.0 / math.sqrt(self.in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def _create_feature_scales(self, feature_scales: bool, factory: dict) -> None:
        # Per-feature scales a (output) and c (input): y = diag(a) W diag(c) x + b.
        if feature_scales:
            self.input_scale = nn.Parameter(torch.ones(self.in_features, **factory))
            self.output_scale = nn.Parameter(torch.ones(self.out_features, **factory))
        else:
            self.register_parameter("input_scale", None)
            self.register_parameter("output_scale", None)

    def _reset_feature_scales(self) -> None:
        if getattr(self, "input_scale", None) is not None:
            nn.init.ones_(self.input_scale)
            nn.init.ones_(self.output_scale)

    def _scale_input(self, x: torch.Tensor) -> torch.Tensor:
        scale = getattr(self, "input_scale", None)
        return x if scale is None else x * scale.to(x.dtype)

    def _scale_output(self, y: torch.Tensor) -> torch.Tensor:
        scale = getattr(self, "output_scale", None)
        return y if scale is None else y * scale.to(y.dtype)

    def _scale_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """Return ``diag(a) weight diag(c)`` for a weight of shape ``(out_features, in_features)``."""
        if getattr(self, "input_scale", None) is None:
            return weight
        return weight * self.output_scale.to(weight.dtype)[:, None] * self.input_scale.to(weight.dtype)[None, :]

    def _feature_scale_flops(self) -> int:
        return 0 if getattr(self, "input_scale", None) is None else self.in_features + self.out_features

    def _check_input(self, x: torch.Tensor) -> None:
        check_input_width(type(self).__name__, x, self.in_features)

    def parameter_count(self) -> int:
        """Return the number of trainable entries, bias included."""
        return sum(p.numel() for p in self.parameters())

    def dense_weight(self) -> torch.Tensor:
        """Return the equivalent dense weight, shape ``(out_features, in_features)``."""
        raise NotImplementedError

    def _weight_flops(self) -> int:
        """Return the FLOPs of ``W x`` for one token, bias excluded."""
        raise NotImplementedError

    @torch.no_grad()
    def to_dense(self) -> nn.Linear:
        """Return an ``nn.Linear`` that computes the same map, on the same device and dtype."""
        weight = self.dense_weight()
        dense = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None,
                          device=weight.device, dtype=weight.dtype)
        dense.weight.copy_(weight)
        if self.bias is not None:
            dense.bias.copy_(self.bias)
        return dense

    def cost(self, bytes_per_param: int | None = None) -> LayerCost:
        """Count the layer by the rules of :mod:`geomalg.nn.accounting`."""
        flops = self._weight_flops()
        if self.bias is not None:
            flops += self.out_features
        return LayerCost(self.parameter_count(), flops, parameter_bytes(self, bytes_per_param))
