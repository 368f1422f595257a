r"""Linear layer composed from rotor sandwiches on chunks of features.

A chunk of :math:`c = 2^n` features is read as a full multivector of the
Euclidean algebra Cl(n, 0) in canonical blade order.  A rotor
:math:`R = \exp(B)`, with :math:`B` a bivector of :math:`\binom{n}{2}`
coefficients, maps the chunk by :math:`x \mapsto R x \tilde R`, or a pair of
rotors maps it by :math:`x \mapsto R x \tilde S` with :math:`S = \exp(C)`.
Both maps preserve the parity of blades, so on each chunk they are two
:math:`c/2 \times c/2` blocks, one for the even and one for the odd blades.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn

from geomalg import blades
from geomalg.rotor import bivector_exp, sandwich, sandwich_operator
from geomalg.rotor.exponential import dexp_matrix

from ._base import StructuredLinear
from ._checks import check_positive_int
from .accounting import LayerCost, parameter_bytes
from .hadamard import is_power_of_two

__all__ = ["MAX_CHUNK_SIZE", "MIN_CHUNK_SIZE", "RotorLinear", "default_chunk_size"]

MIN_CHUNK_SIZE = 4
"""Smallest chunk, Cl(2), because Cl(1) has no bivectors and so no rotor other than 1."""

MAX_CHUNK_SIZE = 4096
"""Largest chunk, Cl(12)."""

DEFAULT_CHUNK_CAP = 2048
"""Largest chunk that :func:`default_chunk_size` picks, Cl(11)."""

DIRECT_PRODUCT_MAX_N = 9
r"""Largest n whose parity blocks are built as products of multiplication matrices.

The compound-matrix construction of :func:`geomalg.rotor.sandwich_operator`
takes fewer multiply-adds, about :math:`2^{n-1} \binom{2n}{n}` against
:math:`2 \cdot 2^{3(n-1)}`, but runs many small operations.  On one CPU
thread the direct products were faster at n = 8 (17 to 26 ms against 34 ms
for four pairs) and slower at n = 11 (277 ms against 185 ms).
"""

MODES = ("blocks", "structured")
EXP_METHODS = ("eigh", "power")


def default_chunk_size(in_features: int, out_features: int) -> int:
    """Return the largest power of two ``<= min(in_features, out_features)``, clipped to [4, 2048]."""
    smaller = min(in_features, out_features)
    largest = 1 << (smaller.bit_length() - 1)
    return min(max(largest, MIN_CHUNK_SIZE), DEFAULT_CHUNK_CAP)


def check_chunk_size(chunk_size: object) -> int:
    """Return ``chunk_size`` as an int, or raise if it is not a power of two in [4, 4096]."""
    value = check_positive_int("chunk_size", chunk_size)
    if not is_power_of_two(value):
        raise ValueError(f"chunk_size must be a power of two, got {value}; "
                         f"use {1 << (value.bit_length() - 1)} or {1 << value.bit_length()}")
    if value < MIN_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be at least {MIN_CHUNK_SIZE} (the algebra Cl(2)), got {value}")
    if value > MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be at most {MAX_CHUNK_SIZE} (the algebra Cl(12)), got {value}")
    return value


def wrapped_chunks(width: int, chunk_size: int) -> np.ndarray:
    """Return the feature index of every chunk position, shape ``(ceil(width / chunk_size), chunk_size)``.

    Position ``a`` of chunk ``t`` reads feature ``(t * chunk_size + a) mod width``.
    """
    count = math.ceil(width / chunk_size)
    positions = np.arange(count * chunk_size, dtype=np.int64)
    return (positions % width).reshape(count, chunk_size)


def parity_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the canonical indices of the even and of the odd blades of Cl(n), ascending."""
    grades = blades.blade_grades(n)
    return np.nonzero(grades % 2 == 0)[0], np.nonzero(grades % 2 == 1)[0]


@functools.lru_cache(maxsize=None)
def bivector_pairing_tables(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Return gather tables that read bivector pairings from per-parity correlation matrices.

    Blades are listed in parity order: positions ``0 .. h - 1`` are the even
    blades and ``h .. 2h - 1`` the odd ones, ``h = 2**(n-1)``, each ascending
    in canonical order.  For basis bivector ``q`` (pairs ``i < j`` in
    lexicographic order) and position ``b``, with ``s = source(q, b)``:
    :math:`(e_q v)_b = \text{left}[q, b]\, v_s` and
    :math:`(v e_q)_b = \text{right}[q, b]\, v_s`.  ``index[q, b]`` is the
    position of entry ``(b, s)`` in a ``(2, h, h)`` array of same-parity
    correlations flattened, which is valid because ``e_q`` keeps parity.
    Shapes ``(C(n, 2), 2**n)``.
    """
    even, odd = parity_indices(n)
    bitmaps = blades.blade_bitmaps(n)[np.concatenate([even, odd])]
    position_of_bitmap = np.empty(1 << n, dtype=np.int64)
    position_of_bitmap[bitmaps] = np.arange(1 << n)
    half = 1 << (n - 1)

    masks = np.array([(1 << i) | (1 << j) for i in range(n) for j in range(i + 1, n)], dtype=np.int64)[:, None]
    source_bitmaps = bitmaps[None, :] ^ masks
    source = position_of_bitmap[source_bitmaps]
    left = blades.reordering_sign(masks, source_bitmaps)
    right = blades.reordering_sign(source_bitmaps, masks)

    position = np.arange(1 << n)[None, :]
    index = (position // half) * half * half + (position % half) * half + source % half
    return index, left, right


@functools.lru_cache(maxsize=None)
def multiplication_tables(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Return gather tables of multiplication by an even multivector, restricted to each parity.

    For parity ``p`` and blades ``b``, ``a`` of that parity (ascending
    canonical order), let ``C`` be the blade with bitmap ``b ^ a``.  Then
    :math:`(R x)_b = \sum_a \text{left}[p, b, a]\, R_{\text{index}[p, b, a]}\, x_a`
    and :math:`(x S)_b = \sum_a \text{right}[p, b, a]\, S_{\text{index}[p, b, a]}\, x_a`
    in Cl(n, 0), where ``index`` is the canonical index of ``C``.  ``C`` is
    even, so only the even coefficients of ``R`` and ``S`` are read.  Shapes
    ``(2, 2**(n-1), 2**(n-1))``; ``index`` is int64 and the signs int8.
    """
    bitmaps = blades.blade_bitmaps(n)
    canonical_of_bitmap = blades.bitmap_to_index(n)
    indices, lefts, rights = [], [], []
    for parity_blades in parity_indices(n):
        row = bitmaps[parity_blades][:, None]
        column = bitmaps[parity_blades][None, :]
        product = row ^ column
        indices.append(canonical_of_bitmap[product])
        lefts.append(blades.reordering_sign(product, column).astype(np.int8))
        rights.append(blades.reordering_sign(column, product).astype(np.int8))
    return np.stack(indices), np.stack(lefts), np.stack(rights)


def _bivector_pairing(weights: torch.Tensor, values: torch.Tensor, index: torch.Tensor,
                      sign: torch.Tensor) -> torch.Tensor:
    r"""Return :math:`\sum_t \langle w_t, e_q v_t \rangle` (or with :math:`v_t e_q`) for every pair and bivector.

    ``weights`` and ``values`` have shape ``(2, pairs, tokens, h)`` (parity
    first); the result has shape ``(pairs, C(n, 2))``.  The token sum is one
    correlation matrix per parity and pair, from which the sign-weighted
    entries are gathered.
    """
    correlation = torch.matmul(weights.transpose(-1, -2), values)
    pairs = correlation.shape[1]
    flat = correlation.transpose(0, 1).reshape(pairs, -1)
    gathered = flat.index_select(1, index.reshape(-1)).view(pairs, *index.shape)
    return (gathered * sign).sum(-1)


class _ParityProduct(torch.autograd.Function):
    r"""Scaled parity-block product with the exponential-map derivative in backward.

    Forward computes :math:`z_j = \sum_i s_{ji} M_{ji} x_i` from parity blocks
    built without autograd.  Backward uses :math:`dM x = M\,(\Phi_B(dB)\,x)`
    for the left rotor and :math:`dM x = -(M x)\,\Phi_{-C}(dC)` for the right
    one, so no gradient passes through the operator construction.

    Shapes: ``x`` is ``(tokens, k_in, c)`` in parity order, ``blocks`` is
    ``(2, k_out, k_in, c/2, c/2)`` with output blades on the third axis, and
    the result is ``(tokens, k_out, c)`` in parity order.

    NOTE: first-order only (``once_differentiable``); second derivatives raise.
    """

    @staticmethod
    def forward(ctx, x, left, right, scales, blocks, signature, tables):
        ctx.signature = signature
        ctx.tables = tables
        ctx.save_for_backward(x, left, right, scales, blocks)
        tokens, k_in, size = x.shape
        k_out = blocks.shape[1]
        half = size // 2
        # One matrix product per parity over all pairs: (tokens, k_in h) @ (k_in h, k_out h).
        operator = (blocks * scales[None, :, :, None, None]).permute(0, 2, 4, 1, 3).reshape(2, k_in * half, k_out * half)
        by_parity = x.view(tokens, k_in, 2, half).permute(2, 0, 1, 3).reshape(2, tokens, k_in * half)
        mapped = torch.bmm(by_parity, operator)
        return mapped.view(2, tokens, k_out, half).permute(1, 2, 0, 3).reshape(tokens, k_out, size)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        x, left, right, scales, blocks = ctx.saved_tensors
        signature = ctx.signature
        tokens, k_in, size = x.shape
        k_out = blocks.shape[1]
        half = size // 2
        grad_out = grad_out.contiguous()

        # Per-pair products batched over (parity, k_out, k_in): pulled = g_j M_ji, pair_out = x_i M_ji^T.
        pair_blocks = blocks.reshape(2, k_out * k_in, half, half)
        grad_rows = grad_out.view(tokens, k_out, 2, half).permute(2, 1, 0, 3)[:, :, None]
        grad_rows = grad_rows.expand(2, k_out, k_in, tokens, half).reshape(2, k_out * k_in, tokens, half)
        x_rows = x.view(tokens, k_in, 2, half).permute(2, 1, 0, 3)[:, None]
        x_rows = x_rows.expand(2, k_out, k_in, tokens, half).reshape(2, k_out * k_in, tokens, half)
        pulled = torch.matmul(grad_rows, pair_blocks)
        pair_out = torch.matmul(x_rows, pair_blocks.transpose(-1, -2))

        pair_scales = scales.reshape(-1)
        grad_x = (pulled.view(2, k_out, k_in, tokens, half) * scales[None, :, :, None, None]).sum(1)
        grad_x = grad_x.permute(2, 1, 0, 3).reshape(tokens, k_in, size)
        grad_scales = (grad_rows * pair_out).sum(dim=(0, 2, 3)).view(k_out, k_in)

        index, left_sign, right_sign = ctx.tables

        # <pulled, e_q x> summed over tokens, then the exponential-map derivative at B.
        left_pairing = _bivector_pairing(pulled, x_rows, index, left_sign.to(x.dtype)) * pair_scales[:, None]
        left_pairing = left_pairing.view(k_out, k_in, -1)
        grad_left = torch.einsum("jiqp,jiq->jip", dexp_matrix(left, signature), left_pairing)

        # <g, (M x) e_q> summed over tokens, then the derivative at -C, as S~ = exp(-C).
        right_bivector = left if right is None else right
        right_pairing = _bivector_pairing(grad_rows, pair_out, index, right_sign.to(x.dtype)) * pair_scales[:, None]
        right_pairing = right_pairing.view(k_out, k_in, -1)
        grad_right = -torch.einsum("jiqp,jiq->jip", dexp_matrix(-right_bivector, signature), right_pairing)

        if right is None:
            return grad_x, grad_left + grad_right, None, grad_scales, None, None, None
        return grad_x, grad_left, grad_right, grad_scales, None, None, None


class RotorLinear(StructuredLinear):
    r"""Drop-in replacement for ``nn.Linear`` built from rotor sandwiches on feature chunks.

    With :math:`m` = ``in_features``, :math:`p` = ``out_features`` and chunk
    size :math:`c = 2^n`:

    * **Input chunks.**  :math:`k_{in} = \lceil m / c \rceil` chunks.
      Position :math:`a` of input chunk :math:`i` reads feature
      :math:`(i c + a) \bmod m`, so the chunks tile the input and the last one
      wraps around to the first features.  Every input feature is in at least
      one chunk.  When :math:`m < c`, one chunk repeats features.
    * **Output chunks.**  :math:`k_{out} = \lceil p / c \rceil` chunks, laid
      out by the same rule with :math:`p`.  Output chunk :math:`j` is

      .. math::
          z_j = \sum_{i=1}^{k_{in}} s_{ji}\, R_{ji}\, x_i\, \tilde S_{ji},
          \qquad R_{ji} = \exp(B_{ji}),\ S_{ji} = \exp(C_{ji}),

      with :math:`S_{ji} = R_{ji}` when ``double_rotor=False``.
    * **Overlap.**  Output feature :math:`o` is the mean of the chunk
      positions that hold it, then the bias is added.  Features covered once
      take their value unchanged.
    * **Feature scales.**  With ``feature_scales=True`` the layer computes
      :math:`y = \operatorname{diag}(a)\, W \operatorname{diag}(c)\, x + b`,
      where :math:`W` is the rotor map above and :math:`a, c` are learned
      per-feature scales (initialised to one).  A rotor sandwich preserves
      norms, so every chunk map is a scaled isometry; the scales add
      :math:`m + p` parameters that let the layer weight some features
      more than others.

    Parameters are the bivectors :math:`B, C` of shape
    ``(k_out, k_in, C(n, 2))``, the scales :math:`s` of shape
    ``(k_out, k_in)`` and the bias.  Initialisation: bivector coefficients
    :math:`\mathcal N(0, 1/n)`, so the rotation angles are of order one;
    :math:`s_{ji} = 1/\sqrt{k_{in}}`, so an output chunk keeps the input
    variance (a rotor sandwich is orthogonal on coefficients); the bias
    :math:`\mathcal U(\pm 1/\sqrt{m})` as in ``nn.Linear``.

    Apply paths (``mode``):

    ``"blocks"`` (default)
        Training builds the even and odd parity blocks of every rotor pair
        without autograd on each forward call, and applies them as one batched
        matrix product per parity.  For :math:`n \le 9` each block is the
        product of the matrices of multiplication by :math:`R` and by
        :math:`\tilde S`; above, the compound-matrix construction of
        :func:`geomalg.rotor.sandwich_operator` is used
        (:data:`DIRECT_PRODUCT_MAX_N`).  The backward pass applies the
        derivative of the exponential map instead of differentiating the
        construction.  In eval
        mode the blocks are built once and cached.  The cache is rebuilt when
        a parameter changes (checked with the tensors' version counters, which
        optimizer steps and ``load_state_dict`` advance), and dropped on
        ``train()``, ``eval()`` and device or dtype moves.
    ``"structured"``
        :func:`geomalg.rotor.sandwich` with ``mode="structured"`` in training
        and inference: the sandwich is applied plane by plane and never forms
        a matrix, so it reads only the bivectors, the scales and the bias.

    Parameters
    ----------
    in_features, out_features : int
        Input width :math:`m` and output width :math:`p`; any positive integers.
    bias : bool
        Whether to add a learned bias.
    chunk_size : int, optional
        :math:`c`, a power of two from 4 to 4096.  Default: the largest power
        of two not above :math:`\min(m, p)`, clipped to [4, 2048]
        (:func:`default_chunk_size`).
    double_rotor : bool
        ``True`` for :math:`R x \tilde S` (two bivectors per pair), ``False``
        for :math:`R x \tilde R`.
    mode : str
        ``"blocks"`` or ``"structured"``, see above.
    exp_method : str
        ``"eigh"`` (default) or ``"power"``: how the invariant planes of the
        bivectors are found (see :mod:`geomalg.rotor.decomposition`).  With
        ``"power"`` the layer keeps the power-iteration vectors in the buffer
        ``power_state`` as a warm start, saved in the ``state_dict``.  The
        warm start is used for :math:`n \le 9` and left unchanged above.
    feature_scales : bool
        Whether to learn the per-feature input and output scales described
        above (default ``False``, the plain rotor layer).
    device, dtype
        Passed to the parameter factories, as in ``nn.Linear``.  Operators are
        built in at least float32, so bfloat16 and float16 layers build in
        float32 and apply in their own dtype.

    Raises
    ------
    TypeError
        If a width or the chunk size is not an integer.
    ValueError
        If a width is not positive, the chunk size is not a power of two in
        [4, 4096], ``mode`` or ``exp_method`` is unknown, or, in ``forward``,
        if the input's last dimension is not ``in_features``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        chunk_size: int | None = None,
        double_rotor: bool = True,
        mode: str = "blocks",
        exp_method: str = "eigh",
        feature_scales: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        if chunk_size is None:
            chunk_size = default_chunk_size(self.in_features, self.out_features)
        self.chunk_size = check_chunk_size(chunk_size)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if exp_method not in EXP_METHODS:
            raise ValueError(f"exp_method must be one of {', '.join(EXP_METHODS)}, got {exp_method!r}")
        self.mode = mode
        self.exp_method = exp_method
        self.double_rotor = bool(double_rotor)
        self.n = self.chunk_size.bit_length() - 1
        self.signature = (1,) * self.n

        input_chunks = wrapped_chunks(self.in_features, self.chunk_size)
        output_chunks = wrapped_chunks(self.out_features, self.chunk_size)
        self.in_chunks = input_chunks.shape[0]
        self.out_chunks = output_chunks.shape[0]
        self._register_layout(input_chunks, output_chunks, device)

        factory = {"device": device, "dtype": dtype}
        pair_shape = (self.out_chunks, self.in_chunks, self.n * (self.n - 1) // 2)
        self.left_bivectors = nn.Parameter(torch.empty(pair_shape, **factory))
        if self.double_rotor:
            self.right_bivectors = nn.Parameter(torch.empty(pair_shape, **factory))
        else:
            self.register_parameter("right_bivectors", None)
        self.scales = nn.Parameter(torch.empty(self.out_chunks, self.in_chunks, **factory))
        self._create_feature_scales(feature_scales, factory)
        self._create_bias(bias, factory)

        # One warm-start vector per invariant plane, for each rotor of each pair.
        rotors = 2 if self.double_rotor else 1
        state_shape = (rotors, self.out_chunks, self.in_chunks, self.n // 2, self.n)
        self.register_buffer("power_state", torch.empty(state_shape, **factory))
        self._cache: tuple[tuple, torch.Tensor] | None = None
        self.reset_parameters()

    def _register_layout(self, input_chunks: np.ndarray, output_chunks: np.ndarray, device) -> None:
        # Within a chunk, features are listed in parity order (even blades,
        # then odd blades), so that each parity block acts on a contiguous half.
        even, odd = parity_indices(self.n)
        parity_order = np.concatenate([even, odd])
        input_gather = input_chunks[:, parity_order].reshape(-1)
        output_scatter = output_chunks[:, parity_order].reshape(-1)
        counts = np.bincount(output_scatter, minlength=self.out_features)

        self.register_buffer("input_gather", torch.as_tensor(input_gather, device=device), persistent=False)
        self.register_buffer("output_scatter", torch.as_tensor(output_scatter, device=device),
                             persistent=False)
        self.register_buffer("parity_order", torch.as_tensor(parity_order, device=device), persistent=False)
        self.register_buffer("canonical_order", torch.as_tensor(np.argsort(parity_order), device=device),
                             persistent=False)
        index, left_sign, right_sign = multiplication_tables(self.n)
        self.register_buffer("multiplication_index", torch.as_tensor(index, device=device), persistent=False)
        self.register_buffer("left_multiplication_sign", torch.as_tensor(left_sign, device=device),
                             persistent=False)
        self.register_buffer("right_multiplication_sign", torch.as_tensor(right_sign, device=device),
                             persistent=False)
        reverse_sign = blades.involution_signs(self.n, "reverse")
        self.register_buffer("reverse_sign", torch.as_tensor(reverse_sign, dtype=torch.int8, device=device),
                             persistent=False)
        for name, table in zip(("index", "left_sign", "right_sign"), bivector_pairing_tables(self.n)):
            self.register_buffer(f"pairing_{name}", torch.as_tensor(table, device=device), persistent=False)
        self.output_overlap = bool((counts > 1).any())
        if self.output_overlap:
            self.register_buffer("output_weight", torch.as_tensor(1.0 / counts, dtype=torch.float32, device=device),
                                 persistent=False)
        else:
            # Each output is covered once, so the scatter is a permutation.
            inverse = np.argsort(output_scatter)
            self.register_buffer("output_gather", torch.as_tensor(inverse, device=device), persistent=False)

    def reset_parameters(self) -> None:
        """Draw bivectors, scales and bias as the class docstring states."""
        std = 1.0 / math.sqrt(self.n)
        nn.init.normal_(self.left_bivectors, 0.0, std)
        if self.right_bivectors is not None:
            nn.init.normal_(self.right_bivectors, 0.0, std)
        nn.init.constant_(self.scales, 1.0 / math.sqrt(self.in_chunks))
        nn.init.normal_(self.power_state)
        self._reset_feature_scales()
        self._reset_bias()
        self._cache = None

    # ------------------------------------------------------------------
    # Operator construction and application

    def _working_dtype(self) -> torch.dtype:
        return torch.promote_types(self.left_bivectors.dtype, torch.float32)

    def parity_blocks(self) -> torch.Tensor:
        """Build the unscaled parity blocks of every rotor pair, shape ``(2, k_out, k_in, c/2, c/2)``.

        Block ``[q, j, i]`` maps the parity-``q`` blades of input chunk ``i``
        to those of output chunk ``j`` (rows are output blades, ascending in
        canonical order within the parity).  The dtype is the working dtype,
        at least float32.  Call it without autograd: the training path attaches
        gradients through :class:`_ParityProduct`.
        """
        dtype = self._working_dtype()
        left = self.left_bivectors.to(dtype)
        right = None if self.right_bivectors is None else self.right_bivectors.to(dtype)
        if self.n > DIRECT_PRODUCT_MAX_N:
            return self._compound_parity_blocks(left, right)
        return self._direct_parity_blocks(left, right)

    def _direct_parity_blocks(self, left: torch.Tensor, right: torch.Tensor | None) -> torch.Tensor:
        left_rotor = self._rotor(left, 0)
        right_rotor = left_rotor if right is None else self._rotor(right, 1)
        right_reverse = right_rotor * self.reverse_sign

        # x -> R x S~ is left multiplication by R after right multiplication
        # by S~.  Both keep parity, so each parity block is one matrix product.
        pairs = left_rotor.shape[:-1]
        flat_index = self.multiplication_index.reshape(-1)
        block_shape = pairs + self.multiplication_index.shape
        left_matrix = left_rotor.index_select(-1, flat_index).view(block_shape) * self.left_multiplication_sign
        right_matrix = right_reverse.index_select(-1, flat_index).view(block_shape) * self.right_multiplication_sign
        blocks = torch.matmul(left_matrix, right_matrix)
        return blocks.movedim(-3, 0)

    def _compound_parity_blocks(self, left: torch.Tensor, right: torch.Tensor | None) -> torch.Tensor:
        # NOTE: sandwich_operator takes no warm start, so with exp_method="power"
        # this path (n > 9) starts the power iterations cold and leaves power_state as it is.
        operator = sandwich_operator(left, self.signature, right, mode="blocks", method=self.exp_method)
        if right is not None:
            return torch.stack([operator.even, operator.odd])
        dense = operator.to_dense()
        half = self.chunk_size // 2
        halves = []
        for index in (self.parity_order[:half], self.parity_order[half:]):
            halves.append(dense.index_select(-2, index).index_select(-1, index))
        return torch.stack(halves)

    def _rotor(self, bivector: torch.Tensor, index: int) -> torch.Tensor:
        """Return ``exp(bivector)`` as full multivectors, refreshing the warm start of the power method."""
        if self.exp_method != "power":
            return bivector_exp(bivector, self.signature, method="eigh")
        state = self.power_state[index].to(bivector.dtype)
        rotor, new_state = bivector_exp(bivector, self.signature, method="power", state=state, return_state=True)
        with torch.no_grad():
            self.power_state[index].copy_(new_state)
        return rotor

    def _operator_matrix(self, blocks: torch.Tensor) -> torch.Tensor:
        """Scale ``blocks`` and lay them out as ``(2, k_in c/2, k_out c/2)`` for :meth:`apply_parity_operator`."""
        scaled = blocks * self.scales.to(blocks.dtype)[None, :, :, None, None]
        half = self.chunk_size // 2
        return scaled.permute(0, 2, 4, 1, 3).reshape(2, self.in_chunks * half, self.out_chunks * half)

    def parity_operator(self) -> torch.Tensor:
        r"""Build the scaled parity operator of the whole layer, shape ``(2, k_in c/2, k_out c/2)``.

        Entry ``[q, i c/2 + a, j c/2 + b]`` is :math:`s_{ji}` times block
        ``[q, j, i, b, a]`` of :meth:`parity_blocks`.
        """
        return self._operator_matrix(self.parity_blocks())

    def cache_key(self) -> tuple:
        """Return the storage and version counter of every parameter the operator depends on, which change with any edit."""
        parameters = [p for p in (self.left_bivectors, self.right_bivectors, self.scales) if p is not None]
        return tuple((p.data_ptr(), p._version, p.device, p.dtype) for p in parameters)

    def cached_parity_operator(self) -> torch.Tensor:
        """Return :meth:`parity_operator` without autograd, rebuilt only when a parameter has changed."""
        key = self.cache_key()
        if self._cache is None or self._cache[0] != key:
            with torch.no_grad():
                self._cache = (key, self.parity_operator())
        return self._cache[1]

    def train(self, mode: bool = True) -> "RotorLinear":
        self._cache = None
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):
        self._cache = None
        return super()._apply(fn, recurse)

    def clear_cache(self) -> None:
        """Drop the cached operator; the next eval call without autograd rebuilds it."""
        self._cache = None

    def uses_cache(self) -> bool:
        """Return whether ``forward`` reads the cached operator: eval mode with no gradient to track."""
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        return not self.training and not needs_grad

    def apply_parity_operator(self, x: torch.Tensor, operator: torch.Tensor) -> torch.Tensor:
        """Apply an operator laid out as :meth:`parity_operator` to ``x`` of shape ``(..., in_features)``, bias excluded."""
        batch_shape = x.shape[:-1]
        rows = x.reshape(-1, self.in_features)
        tokens = rows.shape[0]
        half = self.chunk_size // 2

        gathered = rows.index_select(1, self.input_gather).view(tokens, self.in_chunks, 2, half)
        by_parity = gathered.permute(2, 0, 1, 3).reshape(2, tokens, self.in_chunks * half)
        mapped = torch.bmm(by_parity, operator.to(rows.dtype))
        flat = mapped.view(2, tokens, self.out_chunks, half).permute(1, 2, 0, 3).reshape(tokens, -1)
        return self._combine_outputs(flat).reshape(*batch_shape, self.out_features)

    def _combine_outputs(self, flat: torch.Tensor) -> torch.Tensor:
        """Map chunk outputs, in the order of ``output_scatter``, to the output features, averaging overlaps."""
        if not self.output_overlap:
            return flat.index_select(1, self.output_gather)
        total = flat.new_zeros(flat.shape[0], self.out_features)
        total = total.index_add(1, self.output_scatter, flat)
        return total * self.output_weight.to(flat.dtype)

    def _training_apply(self, x: torch.Tensor) -> torch.Tensor:
        batch_shape = x.shape[:-1]
        dtype = self._working_dtype()
        rows = x.reshape(-1, self.in_features)
        chunks = rows.index_select(1, self.input_gather).view(rows.shape[0], self.in_chunks, -1).to(dtype)
        with torch.no_grad():
            blocks = self.parity_blocks()
        left = self.left_bivectors.to(dtype)
        right = None if self.right_bivectors is None else self.right_bivectors.to(dtype)
        tables = (self.pairing_index, self.pairing_left_sign, self.pairing_right_sign)
        mapped = _ParityProduct.apply(chunks, left, right, self.scales.to(dtype), blocks, self.signature, tables)
        flat = mapped.reshape(rows.shape[0], -1).to(x.dtype)
        return self._combine_outputs(flat).reshape(*batch_shape, self.out_features)

    def _structured_apply(self, x: torch.Tensor) -> torch.Tensor:
        batch_shape = x.shape[:-1]
        dtype = self._working_dtype()
        rows = x.reshape(-1, self.in_features).to(dtype)
        tokens = rows.shape[0]

        # Chunks in canonical blade order, as the sandwich expects.
        chunks = rows.index_select(1, self.input_gather).view(tokens, self.in_chunks, self.chunk_size)
        chunks = chunks.index_select(-1, self.canonical_order)

        left = self.left_bivectors.to(dtype)
        right = None if self.right_bivectors is None else self.right_bivectors.to(dtype)
        # (tokens, 1, k_in, c) broadcasts against the (k_out, k_in) bivectors.
        mapped = sandwich(chunks[:, None], left, self.signature, right, mode="structured",
                          method=self.exp_method)
        summed = torch.einsum("tjic,ji->tjc", mapped, self.scales.to(dtype))

        flat = summed.index_select(-1, self.parity_order).reshape(tokens, -1)
        return self._combine_outputs(flat).to(x.dtype).reshape(*batch_shape, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        x = self._scale_input(x)
        if self.mode == "structured":
            y = self._structured_apply(x)
        elif self.uses_cache():
            y = self.apply_parity_operator(x, self.cached_parity_operator())
        else:
            y = self._training_apply(x)
        y = self._scale_output(y)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y

    # ------------------------------------------------------------------
    # Export and accounting

    @torch.no_grad()
    def dense_weight(self) -> torch.Tensor:
        """Return the equivalent dense weight, shape ``(out_features, in_features)``, in the parameter dtype."""
        operator = self.parity_operator()
        identity = torch.eye(self.in_features, device=operator.device, dtype=operator.dtype)
        columns = self.apply_parity_operator(identity, operator)
        return self._scale_weight(columns.T.contiguous().to(self.left_bivectors.dtype))

    def _structured_weight_flops(self) -> int:
        c = self.chunk_size
        planes = self.n // 2
        # One plane factor on one side: two products with a vector, each
        # n signed blade permutations with a multiply-add (2 n c FLOPs), then
        # cos * x + sin * t (3 c FLOPs).  Both sides of the sandwich use k planes.
        per_pair = 2 * planes * (2 * 2 * self.n * c + 3 * c)
        # Scale and sum over input chunks.
        per_pair += 2 * c
        flops = self.out_chunks * self.in_chunks * per_pair
        if self.output_overlap:
            flops += self.out_chunks * c
        return flops

    def _block_weight_flops(self) -> int:
        # Two parity blocks of (c/2)^2 multiply-adds per pair.
        flops = self.out_chunks * self.in_chunks * self.chunk_size ** 2
        if self.output_overlap:
            flops += self.out_chunks * self.chunk_size
        return flops

    def _weight_flops(self) -> int:
        return self._structured_weight_flops()

    def cost(self, bytes_per_param: int | None = None, apply: str = "structured") -> LayerCost:
        """Count the layer by the rules of :mod:`geomalg.nn.accounting`.

        ``apply="structured"`` (the default, used by
        :func:`geomalg.nn.layer_cost`) counts the plane-by-plane apply, which
        reads only the parameters.  The decomposition of the bivectors into
        planes is done once per forward call, not per token, and is not
        counted.  ``apply="blocks"`` counts the cached parity blocks: their
        multiply-adds, and their entries as the weight bytes read.

        Raises
        ------
        ValueError
            If ``apply`` is not ``"structured"`` or ``"blocks"``.
        """
        if apply not in MODES:
            raise ValueError(f"apply must be one of {', '.join(MODES)}, got {apply!r}")
        extra_flops = self._feature_scale_flops() + (self.out_features if self.bias is not None else 0)
        params = self.parameter_count()
        if apply == "structured":
            return LayerCost(params, self._structured_weight_flops() + extra_flops,
                             parameter_bytes(self, bytes_per_param))
        element = self.left_bivectors.element_size() if bytes_per_param is None else bytes_per_param
        block_entries = self.out_chunks * self.in_chunks * self.chunk_size ** 2 // 2
        # Besides the blocks, the bias and the feature scales are read.
        extra_entries = self._feature_scale_flops() + (0 if self.bias is None else self.bias.numel())
        return LayerCost(params, self._block_weight_flops() + extra_flops,
                         (block_entries + extra_entries) * element)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"chunk_size={self.chunk_size}, chunks={self.in_chunks}x{self.out_chunks}, "
                f"double_rotor={self.double_rotor}, mode={self.mode!r}, "
                f"feature_scales={self.input_scale is not None}, "
                f"bias={self.bias is not None}, params={self.parameter_count()}")
