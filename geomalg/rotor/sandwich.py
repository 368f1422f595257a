r"""Sandwich operators :math:`x \mapsto R x \tilde R` and :math:`x \mapsto R x \tilde S`.

``R = exp(B)`` and ``S = exp(C)`` for bivectors ``B`` and ``C`` of shape
``(..., C(n, 2))``; multivectors ``x`` have shape ``(..., 2**n)``. Three modes
compute the same map:

``"blocks"``
    Materialized blocks applied as batched matrix products. A single rotor
    preserves grade and acts on grade ``k`` by the ``k``-th compound matrix of
    the vector rotation :math:`L = \exp(\mathrm{ad}_B|_{\text{vectors}})`,
    ``n + 1`` blocks of size ``C(n, k)``. A double rotor preserves parity, so it
    has an even and an odd block of size ``2**(n-1)``.
``"structured"``
    Never forms the operator. In signatures whose vectors all square to +1 or
    all to -1 it applies each simple factor :math:`\cos\theta + \sin\theta\,vu`
    as two products with vectors, so a multivector costs ``O(n**2 2**n)`` work.
    In other signatures it sums a scaled Taylor series of products with ``B``.
    Batches of :data:`BLOCK_ROUTE_ROWS` rows or more under one unbatched
    bivector go to the block operator instead.
``"dense"``
    The full ``2**n x 2**n`` matrix, built as left-multiplication by ``R``
    times right-multiplication by :math:`\tilde S`; the reference.

All modes are differentiable with respect to the bivectors.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from geomalg import blades
from geomalg.rotor import products
from geomalg.rotor._inputs import check_bivector, check_multivector, to_working
from geomalg.rotor._tables import (
    as_torch,
    bivector_gather,
    DualPairing,
    complement_map,
    compound_steps,
    dual_pairing,
    gather_last,
    gather_last_two,
    ParityLayout,
    multiplication_gather,
    parity_layout,
    validate_signature,
    vector_map_structure,
)
from geomalg.rotor.decomposition import Planes, find_planes
from geomalg.rotor.exponential import TAYLOR_STEP_NORM, dexp_matrix, exp_tensor, resolve_exp_method

MODES = ("blocks", "structured", "dense")
"""Sandwich modes accepted by :func:`sandwich`."""

BLOCK_ROUTE_ROWS = 32
"""Rows of ``x`` from which :func:`structured_apply` builds and applies the block operator instead.

At n = 11 in float32 with one thread, the single-rotor block build took about
40 ms and the structured apply about 1 to 4 ms per row (shared 2-core
machine, torch 2.13), so the blocks win from roughly 10 to 40 rows.
"""


def vector_map(bivector: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return the matrix of :math:`x \mapsto Bx - xB` on vectors, shape ``(..., n, n)``."""
    structure = as_torch(vector_map_structure(signature), bivector)
    return torch.einsum("...p,pji->...ji", bivector, structure)


def vector_rotation(bivector: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return ``L`` with :math:`R e_i \tilde R = \sum_j L_{ji} e_j` for :math:`R = \exp(B)`, shape ``(..., n, n)``.

    :math:`\mathrm{Ad}_{\exp B} = \exp(\mathrm{ad}_B)`, so ``L`` is the matrix
    exponential of :func:`vector_map`. It needs no decomposition and is valid
    in every signature, null vectors included.
    """
    return torch.linalg.matrix_exp(vector_map(bivector, signature))


def compound_blocks(rotation: torch.Tensor, max_grade: int | None = None) -> list[torch.Tensor]:
    """Return the compound matrices of ``rotation`` for grades 0..max_grade (default n).

    Block ``k`` has shape ``(..., C(n,k), C(n,k))``. Entry ``(I, J)`` is the minor
    ``det(L[I, J])`` for sorted index sets, built grade by grade with a Laplace
    expansion along the first row.
    """
    n = rotation.shape[-1]
    top = n if max_grade is None else max_grade
    blocks = [rotation.new_ones(rotation.shape[:-2] + (1, 1)), rotation][: top + 1]
    for step in compound_steps(n)[: max(0, top - 1)]:
        previous = blocks[-1]
        row_first = as_torch(step.row_first, rotation, integer=True)[:, None, None]
        row_rest = as_torch(step.row_rest, rotation, integer=True)[:, None, None]
        column_element = as_torch(step.column_element, rotation, integer=True)[None, :, :]
        column_rest = as_torch(step.column_rest, rotation, integer=True)[None, :, :]
        sign = as_torch(step.sign, rotation)
        first = gather_last_two(rotation, row_first, column_element)
        rest = gather_last_two(previous, row_rest, column_rest)
        blocks.append(torch.einsum("...ijt,...ijt,t->...ij", first, rest, sign))
    return blocks


def _apply_matrix(matrix: torch.Tensor, x: torch.Tensor, shared_rows: bool = False) -> torch.Tensor:
    """Return ``matrix @ x`` over the last axis, broadcasting leading axes.

    With ``shared_rows``, the axis before the last of ``x`` lists rows that all
    use the same matrix, as the paired grades of :class:`GradeBlockOperator` do.
    """
    if matrix.ndim == 2:
        return x @ matrix.transpose(-1, -2)
    if shared_rows:
        return torch.einsum("...ij,...tj->...ti", matrix, x)
    return torch.einsum("...ij,...j->...i", matrix, x)


class ScratchBuffers(threading.local):
    """Per-thread reusable buffers; copies and pickles start empty, so operators stay copyable."""

    def __reduce__(self):
        return (ScratchBuffers, ())


@dataclass(frozen=True)
class PairedApplyPlan:
    """Index tensors, segment bounds and transposed blocks for :meth:`GradeBlockOperator.apply`.

    ``bounds`` lists ``(offset, stop, copies, size)`` for each run of the
    paired layout described by :class:`geomalg.rotor._tables.DualPairing`,
    and ``transposed`` the matching block views (no copies).
    """

    permutation: torch.Tensor
    sign: torch.Tensor
    inverse: torch.Tensor
    bounds: tuple[tuple[int, int, int, int], ...]
    transposed: tuple[torch.Tensor, ...]
    scratch: ScratchBuffers


@dataclass(frozen=True)
class GradeBlockOperator:
    """Single-rotor sandwich as compound blocks; ``blocks[k]`` has shape ``(..., C(n,k), C(n,k))``.

    With a ``pairing`` (signatures without null vectors), ``blocks`` stops at
    grade ``n // 2`` and grade ``n - k`` reuses block ``k`` through the
    pseudoscalar, which halves the build work and the memory the apply reads.
    Without one, ``blocks`` has all ``n + 1`` grades.
    """

    n: int
    blocks: tuple[torch.Tensor, ...]
    pairing: DualPairing | None = None
    plan: PairedApplyPlan | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.pairing is None:
            return
        like = self.blocks[0]
        bounds = []
        transposed = []
        for grade, offset, copies in self.pairing.segments:
            size = self.blocks[grade].shape[-1]
            bounds.append((offset, offset + copies * size, copies, size))
            transposed.append(self.blocks[grade].transpose(-1, -2))
        plan = PairedApplyPlan(
            permutation=as_torch(self.pairing.permutation, like, integer=True),
            sign=as_torch(self.pairing.sign, like),
            inverse=as_torch(self.pairing.inverse, like, integer=True),
            bounds=tuple(bounds),
            transposed=tuple(transposed),
            scratch=ScratchBuffers(),
        )
        # The dataclass is frozen; the plan is derived from its fields, so setting it once here is safe.
        object.__setattr__(self, "plan", plan)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Return the operator applied to ``x`` of shape ``(..., 2**n)``."""
        if self.pairing is None:
            parts = []
            for grade, block in enumerate(self.blocks):
                part = x[..., blades.grade_slice(self.n, grade)]
                parts.append(_apply_matrix(block, part))
            return torch.cat(_broadcast_leading(parts), dim=-1)
        if all(block.ndim == 2 for block in self.blocks):
            return self._apply_shared(x)

        sign = as_torch(self.pairing.sign, x)
        paired = x.index_select(-1, as_torch(self.pairing.permutation, x, integer=True)) * sign
        parts = []
        for grade, offset, copies in self.pairing.segments:
            size = self.blocks[grade].shape[-1]
            rows = paired[..., offset : offset + copies * size].unflatten(-1, (copies, size))
            parts.append(_apply_matrix(self.blocks[grade], rows, shared_rows=True).flatten(-2))
        joined = torch.cat(_broadcast_leading(parts), dim=-1) * sign
        return joined.index_select(-1, as_torch(self.pairing.inverse, x, integer=True))

    def _apply_shared(self, x: torch.Tensor) -> torch.Tensor:
        """Apply one unbatched operator to every row of ``x`` with one matrix product per grade pair.

        Rows of ``x`` and their dual rows are stacked into one 2-D matrix per
        segment, so each block is read once per call, whatever the batch size.
        """
        plan = self.plan
        dimension = x.shape[-1]
        leading = x.shape[:-1]
        flat = x.reshape(-1, dimension)
        rows = flat.shape[0]
        tracked = torch.is_grad_enabled() and (x.requires_grad or self.blocks[-1].requires_grad)
        if rows == 1 and not tracked and x.dtype == self.blocks[-1].dtype:
            return self._apply_one_row(flat).view(leading + (dimension,))

        sign = plan.sign.to(x.dtype)
        paired = torch.index_select(flat, -1, plan.permutation).mul_(sign)
        pieces = [
            torch.mm(paired[:, offset:stop].reshape(rows * copies, size), transposed).view(rows, copies * size)
            for (offset, stop, copies, size), transposed in zip(plan.bounds, plan.transposed)
        ]
        joined = torch.cat(pieces, dim=-1).mul_(sign)
        return torch.index_select(joined, -1, plan.inverse).view(leading + (dimension,))

    def _apply_one_row(self, row: torch.Tensor) -> torch.Tensor:
        """Apply the operator to one row ``(1, 2**n)`` without autograd, through per-thread buffers.

        Fresh allocations cost about as much as the gathers at n = 11, so the
        paired input and output live in buffers that are reused across calls;
        each thread gets its own pair, and the returned tensor is always new.
        """
        plan = self.plan
        buffers = getattr(plan.scratch, "buffers", None)
        if buffers is None:
            paired = torch.empty_like(row)
            result = torch.empty_like(row)
            views = tuple(
                (paired[0, offset:stop].view(copies, size), result[0, offset:stop].view(copies, size), transposed)
                for (offset, stop, copies, size), transposed in zip(plan.bounds, plan.transposed)
            )
            buffers = (paired, result, views)
            plan.scratch.buffers = buffers
        paired, result, views = buffers
        torch.index_select(row, -1, plan.permutation, out=paired)
        paired.mul_(plan.sign)
        for source, target, transposed in views:
            torch.mm(source, transposed, out=target)
        result.mul_(plan.sign)
        return torch.index_select(result, -1, plan.inverse)

    def grade_block(self, grade: int, signature: tuple[int, ...]) -> torch.Tensor:
        """Return the block of one grade, shape ``(..., C(n,grade), C(n,grade))``, rebuilding it from its dual if needed."""
        if grade < len(self.blocks):
            return self.blocks[grade]
        dual = self.blocks[self.n - grade]
        position, sign = complement_map(signature, grade)
        index = as_torch(position, dual, integer=True)
        signs = as_torch(sign, dual)
        rows = dual.index_select(-2, index).index_select(-1, index)
        return rows * signs[:, None] * signs[None, :]

    def to_dense(self) -> torch.Tensor:
        """Return the ``(..., 2**n, 2**n)`` matrix (block-diagonal by grade)."""
        if self.pairing is None:
            return _block_diagonal(list(self.blocks))
        batch = torch.broadcast_shapes(*(block.shape[:-2] for block in self.blocks))
        identity = torch.eye(1 << self.n, dtype=self.blocks[0].dtype, device=self.blocks[0].device)
        columns = self.apply(identity.reshape((1 << self.n,) + (1,) * len(batch) + (1 << self.n,)))
        return columns.movedim(0, -1)


@dataclass(frozen=True)
class ParityBlockOperator:
    """Double-rotor sandwich as an even and an odd block of shape ``(..., 2**(n-1), 2**(n-1))``.

    ``layout`` lists the canonical indices of the even and odd blades each block acts on.
    """

    even: torch.Tensor
    odd: torch.Tensor
    layout: ParityLayout

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Return the operator applied to ``x`` of shape ``(..., 2**n)``."""
        even_index = as_torch(self.layout.even, x, integer=True)
        odd_index = as_torch(self.layout.odd, x, integer=True)
        even_part = _apply_matrix(self.even, x.index_select(-1, even_index))
        odd_part = _apply_matrix(self.odd, x.index_select(-1, odd_index))
        joined = torch.cat(_broadcast_leading([even_part, odd_part]), dim=-1)
        return joined.index_select(-1, as_torch(self.layout.order, x, integer=True))

    def to_dense(self) -> torch.Tensor:
        """Return the ``(..., 2**n, 2**n)`` matrix in canonical blade order."""
        stacked = _block_diagonal([self.even, self.odd])
        order = as_torch(self.layout.order, stacked, integer=True)
        return stacked.index_select(-2, order).index_select(-1, order)


@dataclass(frozen=True)
class DenseOperator:
    """Sandwich as a full ``(..., 2**n, 2**n)`` matrix."""

    matrix: torch.Tensor

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Return the operator applied to ``x`` of shape ``(..., 2**n)``."""
        return _apply_matrix(self.matrix, x)

    def to_dense(self) -> torch.Tensor:
        """Return the matrix itself."""
        return self.matrix


def _broadcast_leading(parts: list[torch.Tensor]) -> list[torch.Tensor]:
    shape = torch.broadcast_shapes(*(part.shape[:-1] for part in parts))
    return [part.expand(shape + part.shape[-1:]) for part in parts]


def _broadcast_matrices(matrices: list[torch.Tensor]) -> list[torch.Tensor]:
    shape = torch.broadcast_shapes(*(matrix.shape[:-2] for matrix in matrices))
    return [matrix.expand(shape + matrix.shape[-2:]) for matrix in matrices]


def _block_diagonal(blocks: list[torch.Tensor]) -> torch.Tensor:
    shape = torch.broadcast_shapes(*(block.shape[:-2] for block in blocks))
    size = sum(block.shape[-1] for block in blocks)
    reference = blocks[0]
    matrix = reference.new_zeros(shape + (size, size))
    start = 0
    for block in blocks:
        stop = start + block.shape[-1]
        matrix[..., start:stop, start:stop] = block
        start = stop
    return matrix


def multiplication_matrix(multiplier: torch.Tensor, signature: tuple[int, ...], side: str, parity: int | None) -> torch.Tensor:
    """Return the matrix of ``y -> m y`` or ``y -> y m`` restricted to one parity (or full), shape ``(..., h, h)``."""
    table = multiplication_gather(signature, side, parity)
    index = as_torch(table.index, multiplier, integer=True)
    sign = as_torch(table.sign, multiplier)
    return gather_last(multiplier, index) * sign


def grade_block_operator(bivector: torch.Tensor, signature: tuple[int, ...]) -> GradeBlockOperator:
    """Build the single-rotor operator from the compounds of the vector rotation."""
    n = len(signature)
    pairing = dual_pairing(signature)
    max_grade = n if pairing is None else n // 2
    blocks = compound_blocks(vector_rotation(bivector, signature), max_grade)
    return GradeBlockOperator(n=n, blocks=tuple(blocks), pairing=pairing)


def parity_block_operator(
    bivector: torch.Tensor, right_bivector: torch.Tensor, signature: tuple[int, ...], method: str
) -> ParityBlockOperator:
    r"""Build the double-rotor operator as right multiplication by :math:`T = R\tilde S` after :math:`x \mapsto R x \tilde R`.

    :math:`R x \tilde S = (R x \tilde R)(R \tilde S)`, and the first map is the
    grade-block operator. So each parity block is a sum over grades of a
    ``2**(n-1) x C(n,k)`` slice of right multiplication by ``T`` times a
    ``C(n,k)`` compound block. That costs about ``2**(n-1) * sum_k C(n,k)**2``
    multiply-adds in all, against ``2 * 2**(3(n-1))`` for two full matrix products.
    """
    n = len(signature)
    layout = parity_layout(n)
    left_rotor = exp_tensor(bivector, signature, method)
    right_reverse = products.reverse(exp_tensor(right_bivector, signature, method), n)
    even_index = as_torch(layout.even, left_rotor, integer=True)
    left_even = multiplication_matrix(left_rotor, signature, "left", 0)
    bridge_even = _apply_matrix(left_even, right_reverse.index_select(-1, even_index))
    bridge = bridge_even.new_zeros(bridge_even.shape[:-1] + (1 << n,))
    bridge = bridge.index_copy(-1, even_index, bridge_even)

    single = grade_block_operator(bivector, signature)
    halves = []
    for parity in (0, 1):
        right = multiplication_matrix(bridge, signature, "right", parity)
        columns = []
        start = 0
        for grade in range(parity, n + 1, 2):
            block = single.grade_block(grade, signature)
            size = block.shape[-1]
            columns.append(right[..., :, start : start + size] @ block)
            start += size
        halves.append(torch.cat(_broadcast_matrices(columns), dim=-1))
    return ParityBlockOperator(even=halves[0], odd=halves[1], layout=layout)


def dense_operator(
    bivector: torch.Tensor, right_bivector: torch.Tensor | None, signature: tuple[int, ...], method: str
) -> DenseOperator:
    """Build the full matrix as left multiplication by ``R`` times right multiplication by ``S~``."""
    n = len(signature)
    left_rotor = exp_tensor(bivector, signature, method)
    right_rotor = left_rotor if right_bivector is None else exp_tensor(right_bivector, signature, method)
    left = multiplication_matrix(left_rotor, signature, "left", None)
    right = multiplication_matrix(products.reverse(right_rotor, n), signature, "right", None)
    return DenseOperator(left @ right)


def _apply_factors(value: torch.Tensor, planes: Planes, signature: tuple[int, ...], side: str, sign: float) -> torch.Tensor:
    r"""Multiply ``value`` by :math:`\prod_m (\cos\theta_m + \mathrm{sign}\,\sin\theta_m\, v_m u_m)` on ``side``."""
    for m in range(planes.angle.shape[-1]):
        cosine = torch.cos(planes.angle[..., m]).unsqueeze(-1)
        sine = sign * torch.sin(planes.angle[..., m]).unsqueeze(-1)
        u = planes.u[..., m, :]
        v = planes.v[..., m, :]
        if side == "left":
            turned = products.vector_product(v, products.vector_product(u, value, signature, "left"), signature, "left")
        else:
            turned = products.vector_product(u, products.vector_product(v, value, signature, "right"), signature, "right")
        value = cosine * value + sine * turned
    return value


def _apply_planes(x: torch.Tensor, left: Planes, right: Planes, signature: tuple[int, ...]) -> torch.Tensor:
    return _apply_factors(_apply_factors(x, left, signature, "left", 1.0), right, signature, "right", -1.0)


def _apply_planes_transposed(y: torch.Tensor, left: Planes, right: Planes, signature: tuple[int, ...]) -> torch.Tensor:
    # Each factor is orthogonal on coefficients when all vectors square alike,
    # so the transpose of R x S~ is the inverse map R~ y S.
    return _apply_factors(_apply_factors(y, left, signature, "left", -1.0), right, signature, "right", 1.0)


class _PlaneSandwich(torch.autograd.Function):
    """``R x S~`` from precomputed planes, with the smooth exponential-map derivative in backward.

    NOTE: first-order only (``once_differentiable``); second derivatives raise.
    """

    @staticmethod
    def forward(ctx, x, bivector, right_bivector, left, right, signature):
        out = _apply_planes(x, left, right, signature)
        ctx.signature = signature
        ctx.planes = (left, right)
        ctx.save_for_backward(x, bivector, right_bivector, out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, bivector, right_bivector, out = ctx.saved_tensors
        left, right = ctx.planes
        signature = ctx.signature
        pulled = _apply_planes_transposed(grad_out, left, right, signature)
        grad_x = pulled.sum_to_size(x.shape) if ctx.needs_input_grad[0] else None
        grad_left = grad_right = None
        if ctx.needs_input_grad[1]:
            per_blade = _bivector_pairing(pulled, x, signature, "left").sum_to_size(bivector.shape)
            grad_left = torch.einsum("...qp,...q->...p", dexp_matrix(bivector, signature), per_blade)
        if ctx.needs_input_grad[2]:
            per_blade = _bivector_pairing(grad_out, out, signature, "right").sum_to_size(right_bivector.shape)
            grad_right = -torch.einsum("...qp,...q->...p", dexp_matrix(-right_bivector, signature), per_blade)
        return grad_x, grad_left, grad_right, None, None, None


def _bivector_pairing(weights: torch.Tensor, value: torch.Tensor, signature: tuple[int, ...], side: str) -> torch.Tensor:
    """Return ``h[..., q] = <weights, e_q value>`` (``'left'``) or ``<weights, value e_q>``, shape ``(..., C(n,2))``."""
    table = bivector_gather(signature, side)
    index = as_torch(table.index, value, integer=True)
    sign = as_torch(table.sign, value)
    shape = torch.broadcast_shapes(weights.shape[:-1], value.shape[:-1])
    weights = weights.expand(shape + weights.shape[-1:]).reshape(-1, weights.shape[-1])
    value = value.expand(shape + value.shape[-1:]).reshape(-1, value.shape[-1])
    rows = max(1, products.MAX_GATHER_ELEMENTS // index.numel())
    pieces = [
        torch.einsum("bo,qo,bqo->bq", weights[start : start + rows], sign, gather_last(value[start : start + rows], index))
        for start in range(0, value.shape[0], rows)
    ]
    return torch.cat(pieces, dim=0).reshape(shape + (index.shape[0],))


def _taylor_action(x: torch.Tensor, bivector: torch.Tensor, signature: tuple[int, ...], operation) -> torch.Tensor:
    """Return ``exp(T) x`` for the linear map ``T y = operation(bivector, y)`` by a scaled Taylor series.

    Choosing the number of steps reads one number back to the host.
    """
    terms = 20 if x.dtype == torch.float64 else 12
    bound = 2.0 * float(bivector.detach().abs().sum(dim=-1).max()) if bivector.numel() else 0.0
    steps = max(1, math.ceil(bound / TAYLOR_STEP_NORM))
    scaled = bivector / steps
    value = x
    for _ in range(steps):
        term = value
        total = value
        for j in range(1, terms + 1):
            term = operation(scaled, term) / j
            total = total + term
        value = total
    return value


def structured_apply(
    x: torch.Tensor,
    bivector: torch.Tensor,
    right_bivector: torch.Tensor | None,
    signature: tuple[int, ...],
    method: str,
    state: torch.Tensor | None = None,
) -> torch.Tensor:
    """Apply the sandwich without forming it; see :func:`sandwich`.

    With one bivector (no batch axes), no warm-start ``state`` and at least
    :data:`BLOCK_ROUTE_ROWS` rows in ``x``, the block operator is built and
    applied instead, because its build cost is then below the per-row cost of
    the structured products.
    """
    method = resolve_exp_method(method, signature)
    rows = x.numel() // max(1, x.shape[-1])
    unbatched = bivector.ndim == 1 and (right_bivector is None or right_bivector.ndim == 1)
    if rows >= BLOCK_ROUTE_ROWS and unbatched and state is None:
        if right_bivector is None:
            return grade_block_operator(bivector, signature).apply(x)
        return parity_block_operator(bivector, right_bivector, signature, method).apply(x)
    if method == "taylor":
        if right_bivector is None:
            return _taylor_action(x, bivector, signature, lambda b, y: products.commutator(b, y, signature))
        left = _taylor_action(x, bivector, signature, lambda b, y: products.bivector_product(b, y, signature, "left"))
        return _taylor_action(left, -right_bivector, signature, lambda b, y: products.bivector_product(b, y, signature, "right"))
    with torch.no_grad():
        left_planes = find_planes(bivector.detach(), signature, method, state)
        right_planes = left_planes if right_bivector is None else find_planes(right_bivector.detach(), signature, method, state)
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or bivector.requires_grad or (right_bivector is not None and right_bivector.requires_grad))
    if not needs_grad:
        return _apply_planes(x, left_planes, right_planes, signature)
    if right_bivector is None:
        return _PlaneSandwich.apply(x, bivector, bivector, left_planes, right_planes, signature)
    return _PlaneSandwich.apply(x, bivector, right_bivector, left_planes, right_planes, signature)


def sandwich_operator(
    bivector: Any,
    signature: Sequence[int],
    right_bivector: Any = None,
    mode: str = "blocks",
    method: str = "auto",
):
    r"""Build the operator of :math:`x \mapsto R x \tilde R` (or :math:`R x \tilde S`) for later application.

    Parameters
    ----------
    bivector
        ``B`` with :math:`R = \exp(B)`, tensor or array of shape ``(..., C(n, 2))``.
    signature
        Squares of the basis vectors, null vectors first as in ``clifford.Cl(p, q, r)``.
    right_bivector
        ``C`` with :math:`S = \exp(C)`, same last axis; ``None`` for the single-rotor sandwich.
    mode
        ``"blocks"`` (grade blocks, or parity blocks for a double rotor) or ``"dense"``.
    method
        Exponential method for the rotors (see :func:`geomalg.rotor.bivector_exp`);
        the single-rotor grade blocks need no exponential.

    Returns
    -------
    GradeBlockOperator, ParityBlockOperator or DenseOperator
        Each has ``apply(x)`` for ``x`` of shape ``(..., 2**n)`` (leading axes
        broadcast against the bivector's) and ``to_dense()``.

    Raises
    ------
    ValueError
        If a last axis is not C(n, 2) or ``mode`` is unknown.
    """
    squares = validate_signature(signature)
    n = len(squares)
    tensor, _ = to_working(bivector, "bivector")
    check_bivector(tensor, n)
    right = None
    if right_bivector is not None:
        right, _ = to_working(right_bivector, "right_bivector")
        check_bivector(right, n, "right_bivector")
    if mode == "blocks":
        if right is None:
            return grade_block_operator(tensor, squares)
        return parity_block_operator(tensor, right, squares, method)
    if mode == "dense":
        return dense_operator(tensor, right, squares, method)
    raise ValueError(f"unknown operator mode {mode!r}; sandwich_operator builds 'blocks' or 'dense' (use sandwich() for 'structured')")


def sandwich(
    x: Any,
    bivector: Any,
    signature: Sequence[int],
    right_bivector: Any = None,
    mode: str = "structured",
    method: str = "auto",
):
    r"""Apply :math:`x \mapsto R x \tilde R` (or :math:`R x \tilde S`) with :math:`R = \exp(B)`, :math:`S = \exp(C)`.

    Parameters
    ----------
    x
        Multivectors of shape ``(..., 2**n)``; leading axes broadcast with the bivectors'.
    bivector, right_bivector
        ``B`` and ``C`` of shape ``(..., C(n, 2))``; ``right_bivector=None`` means ``C = B``.
    signature
        Squares of the basis vectors.
    mode
        ``"structured"``, ``"blocks"`` or ``"dense"`` (see the module documentation).
    method
        Exponential method: ``"auto"``, ``"eigh"``, ``"power"`` or ``"taylor"``.

    Returns
    -------
    Tensor or array of shape ``broadcast(...) + (2**n,)`` with the dtype of ``x``.

    Raises
    ------
    ValueError
        If a last axis has the wrong size, or ``mode`` or ``method`` is unknown.
    """
    squares = validate_signature(signature)
    n = len(squares)
    values, kind = to_working(x, "x")
    check_multivector(values, n, "x")
    tensor, _ = to_working(bivector, "bivector")
    check_bivector(tensor, n)
    dtype = torch.promote_types(values.dtype, tensor.dtype)
    values = values.to(dtype)
    tensor = tensor.to(dtype)
    right = None
    if right_bivector is not None:
        right, _ = to_working(right_bivector, "right_bivector")
        check_bivector(right, n, "right_bivector")
        right = right.to(dtype)
    if mode == "structured":
        return kind.restore(structured_apply(values, tensor, right, squares, method))
    if mode in ("blocks", "dense"):
        return kind.restore(sandwich_operator(tensor, squares, right, mode, method).apply(values))
    raise ValueError(f"unknown sandwich mode {mode!r}; use one of {', '.join(MODES)}")
