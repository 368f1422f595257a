"""Products of full multivectors with vectors and bivectors, as gathers.

A product with a basis blade permutes coefficients and flips signs, so the
product with a vector costs ``n * 2**n`` and with a bivector ``C(n,2) * 2**n``
multiply-adds, against ``4**n`` for a general geometric product. Arrays have
shape ``(..., 2**n)`` in canonical blade order and broadcast over leading axes.
"""

from __future__ import annotations

import torch

from geomalg import blades
from geomalg.rotor._tables import BladeGather, as_torch, bivector_gather, commutator_gather, gather_last, vector_gather

MAX_GATHER_ELEMENTS = 1 << 24
"""Largest intermediate gather (in elements) before the batch is processed in chunks."""


def _apply_gather(table: BladeGather, weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Return ``out[..., o] = sum_g weights[..., g] * sign[g, o] * values[..., index[g, o]]``."""
    index = as_torch(table.index, values, integer=True)
    sign = as_torch(table.sign, values)
    generators, width = index.shape

    if weights.ndim == 1:
        # One multiplier for the whole batch: fold it into the sign table once.
        coefficients = weights[:, None] * sign
        rows = max(1, MAX_GATHER_ELEMENTS // (generators * width))
        flat_values = values.reshape(-1, width)
        if flat_values.shape[0] == 0:
            return values.new_zeros(values.shape)
        pieces = [
            (gather_last(flat_values[start : start + rows], index) * coefficients).sum(dim=-2)
            for start in range(0, flat_values.shape[0], rows)
        ]
        return torch.cat(pieces, dim=0).reshape(values.shape)

    shape = torch.broadcast_shapes(weights.shape[:-1], values.shape[:-1])
    weights = weights.expand(shape + (generators,))
    values = values.expand(shape + (width,))
    flat_weights = weights.reshape(-1, generators)
    flat_values = values.reshape(-1, width)

    rows = max(1, MAX_GATHER_ELEMENTS // (generators * width))
    pieces = []
    for start in range(0, flat_values.shape[0], rows):
        gathered = gather_last(flat_values[start : start + rows], index)
        signed = flat_weights[start : start + rows, :, None] * sign
        pieces.append((signed * gathered).sum(dim=-2))
    if not pieces:
        return values.new_zeros(shape + (width,))
    return torch.cat(pieces, dim=0).reshape(shape + (width,))


def vector_product(vector: torch.Tensor, value: torch.Tensor, signature: tuple[int, ...], side: str) -> torch.Tensor:
    """Return ``vector * value`` (``side='left'``) or ``value * vector`` (``'right'``); ``vector`` has shape ``(..., n)``."""
    return _apply_gather(vector_gather(signature, side), vector, value)


def bivector_product(bivector: torch.Tensor, value: torch.Tensor, signature: tuple[int, ...], side: str) -> torch.Tensor:
    """Return ``B * value`` (``side='left'``) or ``value * B`` (``'right'``); ``B`` has shape ``(..., C(n,2))``."""
    return _apply_gather(bivector_gather(signature, side), bivector, value)


def commutator(bivector: torch.Tensor, value: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    """Return ``B value - value B``, a grade-preserving map of ``value``."""
    return _apply_gather(commutator_gather(signature), bivector, value)


def scalar_multivector(like: torch.Tensor, n: int, batch_shape: torch.Size) -> torch.Tensor:
    """Return the multivector 1 with shape ``batch_shape + (2**n,)``."""
    one = like.new_zeros(batch_shape + (1 << n,))
    one[..., 0] = 1
    return one


def reverse(value: torch.Tensor, n: int) -> torch.Tensor:
    """Return the reverse of ``value`` (sign ``(-1)**(k(k-1)/2)`` on grade k)."""
    return value * as_torch(blades.involution_signs(n, "reverse"), value)


def scalar_part_of_product(left: torch.Tensor, right: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    """Return the scalar part of ``left * right``, shape ``(...)``."""
    n = len(signature)
    bitmaps = blades.blade_bitmaps(n)
    squares = as_torch(blades.blade_product_sign(bitmaps, bitmaps, signature), left)
    return (left * right * squares).sum(dim=-1)
