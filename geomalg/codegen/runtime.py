"""Loops that apply a product table; generated table-mode modules call these.

A table (:class:`geomalg.blades.ProductTable`) lists the terms
``out[output] += sign * a[left] * b[right]`` sorted by output blade. The loops
here are the same for every algebra, so Numba compiles them once per dtype
instead of once per generated module.
"""

from __future__ import annotations

from typing import Iterable

import numba
import numpy as np
import torch

from geomalg.blades import ProductTable

ROW_TERMS = 1 << 22
"""The array backends process rows in chunks holding about this many terms (32 MB of float64)."""


def segments(table: ProductTable) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct output blades of a sorted table and the index where each one's terms start.

    The start array has one extra final entry, the table length.
    """
    starts = np.flatnonzero(np.r_[True, table.output[1:] != table.output[:-1]])
    return table.output[starts], np.r_[starts, len(table)].astype(np.int64)


@numba.njit(cache=True, parallel=True, nogil=True)
def _accumulate(a, b, out, targets, starts, left, right, sign):
    for row in numba.prange(a.shape[0]):
        for segment in range(targets.shape[0]):
            total = out[row, targets[segment]]
            for term in range(starts[segment], starts[segment + 1]):
                total += sign[term] * a[row, left[term]] * b[row, right[term]]
            out[row, targets[segment]] = total


def apply_numba(a: np.ndarray, b: np.ndarray, tables: Iterable[ProductTable], dimension: int) -> np.ndarray:
    """Return the product of ``(batch, dimension)`` arrays as the sum over ``tables``, with a compiled loop."""
    out = np.zeros((a.shape[0], dimension), dtype=np.result_type(a.dtype, b.dtype))
    for table in tables:
        if len(table) == 0:
            continue
        targets, starts = segments(table)
        _accumulate(a, b, out, targets, starts, table.left, table.right, table.sign.astype(out.dtype))
    return out


def apply_numpy(a: np.ndarray, b: np.ndarray, tables: Iterable[ProductTable], dimension: int) -> np.ndarray:
    """Return the product with vectorized gathers and ``np.add.reduceat``, in row chunks."""
    dtype = np.result_type(a.dtype, b.dtype)
    out = np.zeros((a.shape[0], dimension), dtype=dtype)
    for table in tables:
        if len(table) == 0:
            continue
        targets, starts = segments(table)
        sign = table.sign.astype(dtype)
        rows = max(1, ROW_TERMS // len(table))
        for start in range(0, a.shape[0], rows):
            chunk = slice(start, start + rows)
            terms = a[chunk][:, table.left] * b[chunk][:, table.right] * sign
            out[chunk, targets] += np.add.reduceat(terms, starts[:-1], axis=1)
    return out


def device_table(table: ProductTable, device: torch.device, dtype: torch.dtype, cache: dict | None):
    """Return the table's index and sign tensors on ``device``, reusing ``cache`` when one is given."""
    key = (str(device), dtype)
    if cache is not None and key in cache:
        return cache[key]
    tensors = (
        torch.as_tensor(table.output, device=device),
        torch.as_tensor(table.left, device=device),
        torch.as_tensor(table.right, device=device),
        torch.as_tensor(table.sign, device=device).to(dtype),
    )
    if cache is not None:
        cache[key] = tensors
    return tensors


def apply_torch(a: torch.Tensor, b: torch.Tensor, tables: Iterable[ProductTable], dimension: int, cache: dict | None) -> torch.Tensor:
    """Return the product with differentiable gathers and ``index_add``, in row chunks, on the operands' device."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    out = a.new_zeros((a.shape[0], dimension), dtype=dtype)
    for table in tables:
        if len(table) == 0:
            continue
        output, left, right, sign = device_table(table, a.device, dtype, cache)
        rows = max(1, ROW_TERMS // len(table))
        chunks = []
        for start in range(0, a.shape[0], rows):
            terms = a[start : start + rows, left] * b[start : start + rows, right] * sign
            chunks.append(terms.new_zeros((terms.shape[0], dimension)).index_add(1, output, terms))
        if chunks:
            out = out + torch.cat(chunks, dim=0)
    return out
