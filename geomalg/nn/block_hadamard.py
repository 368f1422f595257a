"""Block-diagonal linear maps around a fast Walsh–Hadamard transform."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._base import StructuredLinear
from ._checks import check_positive_int
from .accounting import fwht_flops
from .hadamard import fwht, is_power_of_two, next_power_of_two

__all__ = ["BlockHadamardLinear"]

_DEFAULT_BLOCK_SIZE = 64


class BlockHadamardLinear(StructuredLinear):
    r"""Linear layer :math:`y = S\, B_2\, H_d\, B_1\, P x + b`.

    With :math:`n` = ``in_features``, :math:`m` = ``out_features`` and block
    size :math:`s`:

    * :math:`d` is the smallest power of two with :math:`d \ge \max(n, m, s)`,
      and :math:`k = d / s` is the number of blocks.
    * :math:`P` zero-pads :math:`x` to :math:`k c_{in}` entries,
      :math:`c_{in} = \lceil n / k \rceil`, and deals them to the blocks
      round-robin: block :math:`j` receives inputs :math:`j, j + k, j + 2k,
      \dots`.  Each block therefore holds at most one padding entry.
    * :math:`B_1 = \operatorname{diag}(A_1, \dots, A_k)` with
      :math:`A_j \in \mathbb{R}^{s \times c_{in}}` maps the blocks to
      :math:`d = ks` entries.
    * :math:`H_d` is the orthonormal Walsh–Hadamard matrix, applied by
      :func:`geomalg.nn.hadamard.fwht` in :math:`O(d \log d)`.  Because every
      entry of :math:`H_d` is :math:`\pm 1/\sqrt{d}`, every output depends
      on every input, and zero padding leaves no output dead.
    * :math:`B_2 = \operatorname{diag}(C_1, \dots, C_k)` with
      :math:`C_j \in \mathbb{R}^{c_{out} \times s}`,
      :math:`c_{out} = \lceil m / k \rceil`.
    * :math:`S` reads the outputs round-robin (output :math:`o` is row
      :math:`\lfloor o / k \rfloor` of block :math:`o \bmod k`) and drops the
      :math:`k c_{out} - m < k` surplus rows.

    The layer stores :math:`k s (c_{in} + c_{out}) + m \approx s(n + m) + m`
    numbers.  Initialisation: :math:`A_j \sim \mathcal{U}(\pm 1/\sqrt{c_{in}})`
    and :math:`C_j \sim \mathcal{U}(\pm\sqrt{3/s})`, so each entry of the
    equivalent dense weight has variance :math:`1/(3 k c_{in}) \approx 1/(3n)`,
    as in ``nn.Linear``.  The bias is :math:`\mathcal{U}(\pm 1/\sqrt{n})`.
    Input has shape ``(..., in_features)`` and output ``(..., out_features)``.

    Parameters
    ----------
    in_features, out_features : int
        Input width :math:`n` and output width :math:`m`.
    block_size : int, optional
        Block size :math:`s`, a power of two.  The block count
        :math:`k = d/s` may not exceed :math:`\min(n, m)`, because a block
        that receives only padding or feeds only dropped rows would hold dead
        parameters.  The default is 64, raised to the smallest power of two
        that meets that bound and lowered to :math:`d` for small layers.
    bias : bool
        Whether to add a learned bias.
    device, dtype
        Passed to the parameter factories, as in ``nn.Linear``.

    Raises
    ------
    TypeError
        If a width or the block size is not an integer.
    ValueError
        If a width is not positive, the block size is not a power of two or
        gives more than :math:`\min(n, m)` blocks, or, in ``forward``, if
        the input's last dimension is not ``in_features``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        block_size: int | None = None,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        smaller_width = min(self.in_features, self.out_features)

        if block_size is None:
            self.transform_size = next_power_of_two(max(self.in_features, self.out_features))
            least_block = next_power_of_two(math.ceil(self.transform_size / smaller_width))
            self.block_size = min(max(_DEFAULT_BLOCK_SIZE, least_block), self.transform_size)
        else:
            self.block_size = check_positive_int("block_size", block_size)
            if not is_power_of_two(self.block_size):
                raise ValueError(f"block_size must be a power of two, got {block_size}")
            self.transform_size = next_power_of_two(
                max(self.in_features, self.out_features, self.block_size))

        self.num_blocks = self.transform_size // self.block_size
        if self.num_blocks > smaller_width:
            least_block = next_power_of_two(math.ceil(self.transform_size / smaller_width))
            raise ValueError(
                f"block_size={self.block_size} gives {self.num_blocks} blocks over the transform "
                f"width {self.transform_size}, more than min(in_features, out_features) = "
                f"{smaller_width}, so some blocks would hold dead parameters; "
                f"use block_size >= {least_block}"
            )
        self.block_in = math.ceil(self.in_features / self.num_blocks)
        self.block_out = math.ceil(self.out_features / self.num_blocks)

        factory = {"device": device, "dtype": dtype}
        self.input_blocks = nn.Parameter(
            torch.empty(self.num_blocks, self.block_size, self.block_in, **factory))
        self.output_blocks = nn.Parameter(
            torch.empty(self.num_blocks, self.block_out, self.block_size, **factory))
        self._create_bias(bias, factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the blocks and bias so that the dense equivalent has ``nn.Linear`` entry variance."""
        input_bound = 1.0 / math.sqrt(self.block_in)
        nn.init.uniform_(self.input_blocks, -input_bound, input_bound)
        output_bound = math.sqrt(3.0 / self.block_size)
        nn.init.uniform_(self.output_blocks, -output_bound, output_bound)
        self._reset_bias()

    def _apply_without_bias(self, x: torch.Tensor) -> torch.Tensor:
        batch_shape = x.shape[:-1]
        rows = x.reshape(-1, self.in_features)
        padding = self.num_blocks * self.block_in - self.in_features
        if padding:
            rows = F.pad(rows, (0, padding))

        # Entry c * k + j of the padded input goes to block j, column c.  The
        # block axis leads, so one batched matmul applies every block.
        dealt = rows.view(-1, self.block_in, self.num_blocks).permute(2, 0, 1)
        mixed_in = torch.matmul(dealt, self.input_blocks.transpose(1, 2))

        batch = rows.shape[0]
        transformed = fwht(mixed_in.transpose(0, 1).reshape(batch, self.transform_size))

        per_block = transformed.view(batch, self.num_blocks, self.block_size).transpose(0, 1)
        mixed_out = torch.matmul(per_block, self.output_blocks.transpose(1, 2))

        # Row r of block j is output r * k + j, so (batch, r, j) flattens in output order.
        flat = mixed_out.permute(1, 2, 0).reshape(batch, self.num_blocks * self.block_out)
        return flat[:, : self.out_features].reshape(*batch_shape, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        y = self._apply_without_bias(x)
        if self.bias is not None:
            y = y + self.bias
        return y

    @torch.no_grad()
    def dense_weight(self) -> torch.Tensor:
        """Return the equivalent dense weight, shape ``(out_features, in_features)``."""
        identity = torch.eye(self.in_features, device=self.input_blocks.device,
                             dtype=self.input_blocks.dtype)
        return self._apply_without_bias(identity).T.contiguous()

    def _weight_flops(self) -> int:
        # Padding entries and dropped rows are multiplied like real ones.
        block_products = 2 * (self.input_blocks.numel() + self.output_blocks.numel())
        return block_products + fwht_flops(self.transform_size)

    def extra_repr(self) -> str:
        params = self.parameter_count()
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"block_size={self.block_size}, num_blocks={self.num_blocks}, "
                f"transform_size={self.transform_size}, bias={self.bias is not None}, "
                f"params={params}")
