"""Validation, dtype promotion and broadcasting of coefficient arrays before a kernel call."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import torch

NUMPY_FLOAT_TYPES = (np.float32, np.float64)


def is_tensor(value: Any) -> bool:
    """Return True for a ``torch.Tensor``."""
    return isinstance(value, torch.Tensor)


def as_coefficients(value: Any, dimension: int, name: str):
    """Return ``value`` as a floating NumPy array or tensor whose last axis has ``dimension`` entries.

    Integer and boolean input becomes float64 (NumPy) or the default float dtype
    (Torch); float16 NumPy input becomes float32. Torch tensors keep their dtype,
    device and autograd history.

    Raises
    ------
    TypeError
        If the value is not numeric (for example complex or object arrays).
    ValueError
        If the last axis does not have ``dimension`` entries.
    """
    if is_tensor(value):
        if value.is_complex():
            raise TypeError(f"{name} is a complex tensor ({value.dtype}); geomalg works on real coefficients")
        if not value.is_floating_point():
            value = value.to(torch.get_default_dtype())
    else:
        value = np.asarray(value)
        if value.dtype.kind in "biu":
            value = value.astype(np.float64)
        elif value.dtype == np.float16:
            value = value.astype(np.float32)
        elif value.dtype.type not in NUMPY_FLOAT_TYPES:
            raise TypeError(
                f"{name} has dtype {value.dtype}; geomalg works on real float32 or float64 coefficients, "
                "so convert it with .astype(np.float64)"
            )
    if value.ndim == 0 or value.shape[-1] != dimension:
        shape = tuple(value.shape)
        raise ValueError(
            f"{name} has shape {shape}, but a multivector of this algebra has {dimension} coefficients on the "
            f"last axis; pass an array of shape (..., {dimension})"
        )
    return value


def match_kinds(a, b):
    """Return ``a`` and ``b`` as the same kind: tensors if either is a tensor, else NumPy arrays.

    A NumPy operand paired with a tensor is moved to the tensor's device and dtype.
    """
    if is_tensor(a) and not is_tensor(b):
        b = torch.as_tensor(b, device=a.device, dtype=a.dtype)
    elif is_tensor(b) and not is_tensor(a):
        a = torch.as_tensor(a, device=b.device, dtype=b.dtype)
    elif is_tensor(a) and is_tensor(b) and a.device != b.device:
        raise ValueError(
            f"operands are on different devices ({a.device} and {b.device}); move both to one device with .to(device)"
        )
    return a, b


def flatten_pair(a, b):
    """Broadcast the leading axes of ``a`` and ``b`` and flatten them to one batch axis.

    Returns the two ``(batch, dimension)`` operands and the broadcast leading shape.
    """
    dimension = a.shape[-1]
    try:
        if is_tensor(a):
            torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
        else:
            np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    except (RuntimeError, ValueError):
        raise ValueError(
            f"operands of shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast: their leading (batch) "
            f"axes {tuple(a.shape[:-1])} and {tuple(b.shape[:-1])} must be equal or 1 where they differ"
        ) from None
    if is_tensor(a):
        leading = torch.broadcast_shapes(a.shape[:-1], b.shape[:-1])
        dtype = torch.promote_types(a.dtype, b.dtype)
        a = a.to(dtype).expand(*leading, dimension).reshape(-1, dimension)
        b = b.to(dtype).expand(*leading, dimension).reshape(-1, dimension)
        return a, b, tuple(leading)
    leading = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    dtype = np.result_type(a.dtype, b.dtype)
    a = np.ascontiguousarray(np.broadcast_to(a, (*leading, dimension)).reshape(-1, dimension), dtype=dtype)
    b = np.ascontiguousarray(np.broadcast_to(b, (*leading, dimension)).reshape(-1, dimension), dtype=dtype)
    return a, b, tuple(leading)


def sign_vector(signs: np.ndarray, like):
    """Return a per-blade sign vector as the same kind, dtype and device as ``like``."""
    if is_tensor(like):
        return torch.as_tensor(signs, device=like.device, dtype=like.dtype)
    return signs.astype(like.dtype)


def is_scalar_number(value: Any) -> bool:
    """Return True for a Python or NumPy real number (not an array)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
