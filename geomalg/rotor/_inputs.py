"""Conversion of user inputs to working tensors and back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from geomalg.rotor._tables import bivector_count

LOW_PRECISION = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class InputKind:
    """How to turn a working tensor back into the caller's type and dtype."""

    was_numpy: bool
    dtype: torch.dtype

    def restore(self, tensor: torch.Tensor) -> Any:
        """Return ``tensor`` in the caller's dtype, as a numpy array when the input was one."""
        if self.was_numpy:
            return tensor.detach().to(self.dtype).cpu().numpy()
        return tensor.to(self.dtype)


def to_working(value: Any, name: str) -> tuple[torch.Tensor, InputKind]:
    """Return ``value`` as a floating tensor of at least float32 precision, and how to restore it.

    float16 and bfloat16 inputs are computed in float32, because eigen solvers
    and angle formulas lose all accuracy at 8 bits of mantissa.

    Raises
    ------
    TypeError
        If ``value`` is neither a tensor nor array-like of real numbers.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
        was_numpy = False
    else:
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a torch.Tensor or a numpy array, got {type(value).__name__}") from None
        if array.dtype.kind not in "fiu":
            raise TypeError(f"{name} has dtype {array.dtype}; pass real floating-point coefficients")
        tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64 if array.dtype.kind != "f" else None))
        was_numpy = True
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float64)
    kind = InputKind(was_numpy=was_numpy, dtype=tensor.dtype)
    if tensor.dtype in LOW_PRECISION:
        tensor = tensor.to(torch.float32)
    return tensor, kind


def check_bivector(bivector: torch.Tensor, n: int, name: str = "bivector") -> None:
    """Check that the last axis has C(n, 2) coefficients.

    Raises
    ------
    ValueError
        If the last axis has the wrong size.
    """
    expected = bivector_count(n)
    if bivector.ndim == 0 or bivector.shape[-1] != expected:
        raise ValueError(
            f"{name} has shape {tuple(bivector.shape)}, but Cl with n = {n} needs a last axis of "
            f"C({n}, 2) = {expected} bivector coefficients"
        )


def check_multivector(value: torch.Tensor, n: int, name: str) -> None:
    """Check that the last axis has 2**n coefficients.

    Raises
    ------
    ValueError
        If the last axis has the wrong size.
    """
    if value.ndim == 0 or value.shape[-1] != 1 << n:
        raise ValueError(
            f"{name} has shape {tuple(value.shape)}, but an algebra with n = {n} needs a last axis of "
            f"2**{n} = {1 << n} coefficients"
        )
