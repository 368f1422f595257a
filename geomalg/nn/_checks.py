"""Argument checks shared by the layers in :mod:`geomalg.nn`."""

from __future__ import annotations

import numbers

import torch


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r} of type {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_input_width(layer_name: str, x: torch.Tensor, in_features: int) -> None:
    """Raise if the last axis of ``x`` does not have ``in_features`` entries."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{layer_name} needs a torch.Tensor input, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] != in_features:
        got = "a 0-d tensor" if x.dim() == 0 else f"last dimension {x.shape[-1]} (shape {tuple(x.shape)})"
        raise ValueError(f"{layer_name} expects input of shape (..., {in_features}), got {got}")
