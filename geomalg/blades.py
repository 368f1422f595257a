"""Blade bitmaps, canonical order and product signs of Cl(p, q, r).

A basis blade is stored as a bitmap: bit ``i`` is set when basis vector
``e_{i+1}`` is a factor. Blades are ordered as the ``clifford`` package orders
them, by grade and then lexicographically by their indices, so a coefficient
array of shape ``(..., 2**n)`` lines up with ``clifford.MultiVector.value``.

The basis vectors are ordered as in ``clifford.Cl(p, q, r)``: first the ``r``
null vectors (square 0), then the ``p`` vectors that square to +1, then the
``q`` vectors that square to -1.

Every product in geomalg derives from :func:`product_table`, which applies one
sign rule to pairs of blade bitmaps and one filter per product. Nothing here
builds a dense ``(2**n)**3`` Cayley table: a table lists only the non-zero
terms of the requested grades, and large tables are produced in chunks.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

MAX_DIMENSION = 16
"""Largest supported number of basis vectors; a full multivector then has 65536 coefficients."""

OPERATIONS = ("geometric_product", "outer_product", "left_contraction", "scalar_product")
"""Bilinear products derived from the geometric product by a blade-pair filter."""


def signature_vector(p: int, q: int = 0, r: int = 0) -> tuple[int, ...]:
    """Return the squares of the basis vectors of Cl(p, q, r), null vectors first.

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If a count is negative or ``p + q + r`` exceeds :data:`MAX_DIMENSION`.
    """
    for name, value in (("p", p), ("q", q), ("r", r)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"signature count {name}={value!r} must be an integer, got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"signature count {name}={value} is negative; use a count of 0 or more")
    n = int(p) + int(q) + int(r)
    if n > MAX_DIMENSION:
        raise ValueError(
            f"Cl({p},{q},{r}) has n = {n} basis vectors, more than the supported maximum of "
            f"{MAX_DIMENSION}; use at most {MAX_DIMENSION} basis vectors"
        )
    return (0,) * int(r) + (1,) * int(p) + (-1,) * int(q)


@functools.lru_cache(maxsize=None)
def blade_bitmaps(n: int) -> np.ndarray:
    """Return the bitmap of every blade of an n-dimensional algebra in canonical order.

    The result is a read-only int64 array of shape ``(2**n,)``.
    """
    bitmaps = []
    for grade in range(n + 1):
        for indices in itertools.combinations(range(n), grade):
            bitmaps.append(sum(1 << i for i in indices))
    array = np.array(bitmaps, dtype=np.int64)
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=None)
def bitmap_to_index(n: int) -> np.ndarray:
    """Return the inverse of :func:`blade_bitmaps`: position of each bitmap in canonical order."""
    bitmaps = blade_bitmaps(n)
    inverse = np.empty(1 << n, dtype=np.int64)
    inverse[bitmaps] = np.arange(1 << n, dtype=np.int64)
    inverse.setflags(write=False)
    return inverse


@functools.lru_cache(maxsize=None)
def blade_grades(n: int) -> np.ndarray:
    """Return the grade of every blade in canonical order, shape ``(2**n,)``."""
    grades = np.bitwise_count(blade_bitmaps(n)).astype(np.int64)
    grades.setflags(write=False)
    return grades


def grade_slice(n: int, grade: int) -> slice:
    """Return the contiguous slice of canonical indices that contains the blades of one grade."""
    if not 0 <= grade <= n:
        raise ValueError(f"grade {grade} is out of range for an algebra with n = {n}; use 0 <= grade <= {n}")
    start = sum(_binomial(n, k) for k in range(grade))
    return slice(start, start + _binomial(n, grade))


def blade_names(n: int, first_index: int = 1) -> list[str]:
    """Return names such as ``''``, ``'e1'``, ``'e12'`` in canonical order.

    For n < 10 these are ``clifford``'s names. From n = 10 on, joined indices
    would be ambiguous (``e110`` could be e1 e10 or e11 e0), so the indices are
    separated by underscores: ``'e1_10'``.
    """
    separator = "_" if n + first_index > 10 else ""
    names = []
    for bitmap in blade_bitmaps(n):
        indices = [str(i + first_index) for i in range(n) if bitmap >> i & 1]
        names.append("e" + separator.join(indices) if indices else "")
    return names


def normalize_grades(grades: int | Sequence[int] | None, n: int) -> tuple[int, ...]:
    """Turn ``None`` (all grades), one grade or a sequence of grades into a sorted tuple.

    Raises
    ------
    ValueError
        If a grade lies outside ``0..n`` or the sequence is empty.
    """
    if grades is None:
        return tuple(range(n + 1))
    if isinstance(grades, (int, np.integer)) and not isinstance(grades, bool):
        grades = (int(grades),)
    try:
        result = tuple(sorted({int(g) for g in grades}))
    except TypeError:
        raise TypeError(f"grades={grades!r} must be None, an integer or a sequence of integers") from None
    if not result:
        raise ValueError("grades=() selects no blades; pass None for all grades or at least one grade")
    for grade in result:
        if not 0 <= grade <= n:
            raise ValueError(f"grade {grade} is out of range for an algebra with n = {n}; use 0 <= grade <= {n}")
    return result


def grade_indices(n: int, grades: Sequence[int]) -> np.ndarray:
    """Return the canonical indices of all blades whose grade is in ``grades``."""
    parts = [np.arange(grade_slice(n, g).start, grade_slice(n, g).stop) for g in sorted(grades)]
    return np.concatenate(parts).astype(np.int64)


def reordering_sign(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return the sign (+1 or -1) of moving the factors of ``left * right`` into canonical order.

    Each basis vector of ``right`` must pass every basis vector of ``left`` with a
    larger index, and each such swap of two anticommuting vectors flips the sign.
    """
    left = np.asarray(left, dtype=np.int64) >> 1
    right = np.asarray(right, dtype=np.int64)
    swaps = np.zeros(np.broadcast(left, right).shape, dtype=np.int64)
    while np.any(left):
        swaps += np.bitwise_count(left & right)
        left = left >> 1
    return np.where(swaps % 2 == 0, 1, -1).astype(np.int64)


def metric_factor(common: np.ndarray, signature: Sequence[int]) -> np.ndarray:
    """Return the product of the squares of the basis vectors present in each ``common`` bitmap."""
    common = np.asarray(common, dtype=np.int64)
    factor = np.ones(common.shape, dtype=np.int64)
    for i, square in enumerate(signature):
        present = (common >> i) & 1 == 1
        factor = np.where(present, factor * square, factor)
    return factor


def blade_product_sign(left: np.ndarray, right: np.ndarray, signature: Sequence[int]) -> np.ndarray:
    """Return the coefficient (+1, -1 or 0) of blade ``left ^ right`` in the geometric product of two blades."""
    return reordering_sign(left, right) * metric_factor(np.asarray(left) & np.asarray(right), signature)


def keep_pair(operation: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Return which blade pairs contribute to ``operation``; every product is a filtered geometric product.

    The outer product keeps disjoint blades, the left contraction keeps pairs whose
    left blade is contained in the right one, and the scalar product keeps equal blades.
    """
    if operation == "geometric_product":
        return np.ones(np.broadcast(left, right).shape, dtype=bool)
    if operation == "outer_product":
        return (left & right) == 0
    if operation == "left_contraction":
        return (left & ~right) == 0
    if operation == "scalar_product":
        return left == right
    raise ValueError(f"unknown operation {operation!r}; use one of {', '.join(OPERATIONS)}")


@dataclass(frozen=True)
class ProductTable:
    """Non-zero terms ``out[output] += sign * a[left] * b[right]`` of a bilinear product.

    All four arrays have one entry per term and hold canonical blade indices
    (int64) or the sign (int8, +1 or -1). Terms are sorted by ``output``, then ``left``.
    """

    output: np.ndarray
    left: np.ndarray
    right: np.ndarray
    sign: np.ndarray

    def __len__(self) -> int:
        return int(self.output.shape[0])


def count_terms(signature: Sequence[int], operation: str, a_grades: Sequence[int], b_grades: Sequence[int]) -> int:
    """Return an upper bound on the number of terms of a product table, without building it.

    The bound counts every blade pair of the requested grades; filters and null
    vectors only remove terms.
    """
    n = len(signature)
    a_count = sum(_binomial(n, g) for g in a_grades)
    b_count = sum(_binomial(n, g) for g in b_grades)
    return a_count * b_count


def product_table(
    signature: Sequence[int],
    operation: str,
    a_grades: Sequence[int],
    b_grades: Sequence[int],
    left_subset: np.ndarray | None = None,
) -> ProductTable:
    """Build the non-zero terms of ``operation`` for operands of the given grades.

    ``left_subset`` restricts the left operand to some of its canonical indices,
    which lets :func:`product_table_chunks` stream a table too large for memory.
    """
    n = len(signature)
    bitmaps = blade_bitmaps(n)
    left_index = grade_indices(n, a_grades) if left_subset is None else np.asarray(left_subset, dtype=np.int64)
    right_index = grade_indices(n, b_grades)

    left_bits = bitmaps[left_index][:, None]
    right_bits = bitmaps[right_index][None, :]
    sign = blade_product_sign(left_bits, right_bits, signature)
    keep = keep_pair(operation, left_bits, right_bits) & (sign != 0)
    if operation == "scalar_product":
        keep &= (left_bits ^ right_bits) == 0

    rows, cols = np.nonzero(keep)
    output = bitmap_to_index(n)[(left_bits ^ right_bits)[rows, cols]]
    order = np.lexsort((left_index[rows], output))
    return ProductTable(
        output=output[order].astype(np.int64),
        left=left_index[rows][order].astype(np.int64),
        right=right_index[cols][order].astype(np.int64),
        sign=sign[rows, cols][order].astype(np.int8),
    )


def product_table_chunks(
    signature: Sequence[int],
    operation: str,
    a_grades: Sequence[int],
    b_grades: Sequence[int],
    max_terms: int,
) -> Iterator[ProductTable]:
    """Yield a product table in pieces of at most about ``max_terms`` blade pairs each.

    The pieces split the left operand's blades, so their terms add up to the full table.
    """
    n = len(signature)
    left_index = grade_indices(n, a_grades)
    right_count = len(grade_indices(n, b_grades))
    rows_per_chunk = max(1, max_terms // max(1, right_count))
    for start in range(0, len(left_index), rows_per_chunk):
        yield product_table(signature, operation, a_grades, b_grades, left_subset=left_index[start : start + rows_per_chunk])


def output_grades(operation: str, a_grades: Sequence[int], b_grades: Sequence[int], n: int) -> tuple[int, ...]:
    """Return the grades that ``operation`` can produce from operands of the given grades."""
    result = set()
    for ga in a_grades:
        for gb in b_grades:
            if operation == "geometric_product":
                top = min(ga + gb, 2 * n - ga - gb)
                result.update(range(abs(ga - gb), top + 1, 2))
            elif operation == "outer_product" and ga + gb <= n:
                result.add(ga + gb)
            elif operation == "left_contraction" and gb >= ga:
                result.add(gb - ga)
            elif operation == "scalar_product" and ga == gb:
                result.add(0)
    return tuple(sorted(result))


def involution_signs(n: int, kind: str) -> np.ndarray:
    """Return the per-blade sign of the reverse, grade involution or Clifford conjugate.

    For a blade of grade k the signs are (-1)^(k(k-1)/2) for ``"reverse"``,
    (-1)^k for ``"grade_involution"`` and (-1)^(k(k+1)/2) for ``"clifford_conjugate"``.
    """
    k = blade_grades(n)
    if kind == "reverse":
        exponent = k * (k - 1) // 2
    elif kind == "grade_involution":
        exponent = k
    elif kind == "clifford_conjugate":
        exponent = k * (k + 1) // 2
    else:
        raise ValueError(f"unknown involution {kind!r}; use 'reverse', 'grade_involution' or 'clifford_conjugate'")
    return np.where(exponent % 2 == 0, 1, -1).astype(np.int8)


def _binomial(n: int, k: int) -> int:
    from math import comb

    return comb(n, k)
