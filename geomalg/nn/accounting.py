"""Parameter, FLOP and weight-traffic accounting for linear layers.

What is counted, per token (one input vector of ``in_features`` entries):

* **Parameters**: every trainable entry, bias included.
* **FLOPs**: a multiply-add counts as 2 FLOPs, so a product of an
  :math:`m \\times n` matrix with a vector counts :math:`2mn`.  A bias adds
  :math:`m`.  A normalised fast Walsh–Hadamard transform of length :math:`d`
  counts :math:`d \\log_2 d` additions and subtractions plus :math:`d`
  multiplications by :math:`1/\\sqrt{d}`.  Zero padding is counted as it is
  executed: padded entries are multiplied like real ones.
* **Weight bytes read**: every parameter is read once per token, which is the
  batch-size-1 (decoding) case with no reuse of weights across tokens.
  Activations and index arithmetic are not counted.

A module takes part by defining ``cost(bytes_per_param=None) -> LayerCost``.
:class:`torch.nn.Linear` is handled by inspection.  The table of layers at
model widths is in :mod:`geomalg.nn.cost_table`.
"""

from __future__ import annotations

import dataclasses
import math

from torch import nn

__all__ = ["LayerCost", "fwht_flops", "layer_cost", "parameter_bytes"]

@dataclasses.dataclass(frozen=True)
class LayerCost:
    """Cost of one layer applied to one token, counted as the module docstring states."""

    params: int
    flops_per_token: int
    weight_bytes_per_token: int

    def __add__(self, other: "LayerCost") -> "LayerCost":
        return LayerCost(
            self.params + other.params,
            self.flops_per_token + other.flops_per_token,
            self.weight_bytes_per_token + other.weight_bytes_per_token,
        )


def fwht_flops(length: int) -> int:
    """Return the FLOPs of one normalised FWHT of ``length`` (a power of two)."""
    return length * int(math.log2(length)) + length


def parameter_bytes(module: nn.Module, bytes_per_param: int | None = None) -> int:
    """Return the bytes that reading every parameter of ``module`` once takes.

    ``bytes_per_param`` overrides the stored element size, for example 2 to
    account for bfloat16 weights while the module itself stores float32.
    """
    total = 0
    for parameter in module.parameters():
        size = parameter.element_size() if bytes_per_param is None else bytes_per_param
        total += parameter.numel() * size
    return total


def _linear_cost(module: nn.Linear, bytes_per_param: int | None) -> LayerCost:
    flops = 2 * module.in_features * module.out_features
    if module.bias is not None:
        flops += module.out_features
    params = sum(p.numel() for p in module.parameters())
    return LayerCost(params, flops, parameter_bytes(module, bytes_per_param))


def layer_cost(module: nn.Module, bytes_per_param: int | None = None) -> LayerCost:
    """Count parameters, FLOPs per token and weight bytes read per token.

    Parameters
    ----------
    module : torch.nn.Module
        A module with a ``cost(bytes_per_param=None)`` method, or a
        :class:`torch.nn.Linear`.
    bytes_per_param : int, optional
        Bytes per stored weight.  Defaults to each parameter's element size.

    Returns
    -------
    LayerCost

    Raises
    ------
    TypeError
        If the module defines no ``cost`` method and is not an ``nn.Linear``.
    ValueError
        If ``bytes_per_param`` is not a positive integer.
    """
    if bytes_per_param is not None and (not isinstance(bytes_per_param, int) or bytes_per_param < 1):
        raise ValueError(f"bytes_per_param must be a positive integer, got {bytes_per_param!r}")
    cost_method = getattr(module, "cost", None)
    if callable(cost_method):
        return cost_method(bytes_per_param=bytes_per_param)
    if isinstance(module, nn.Linear):
        return _linear_cost(module, bytes_per_param)
    raise TypeError(
        f"no cost model for {type(module).__name__}: define a method "
        "cost(bytes_per_param=None) -> LayerCost on it, or pass an nn.Linear"
    )
