"""Low-rank linear layer :math:`y = U V x + b`."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._base import StructuredLinear
from ._checks import check_positive_int

__all__ = ["LowRankLinear"]


class LowRankLinear(StructuredLinear):
    r"""Linear layer whose weight is a product of two thin factors.

    .. math::

        y = U (V x) + b, \qquad U \in \mathbb{R}^{m \times r},\;
        V \in \mathbb{R}^{r \times n},\; b \in \mathbb{R}^{m}

    with :math:`n` = ``in_features``, :math:`m` = ``out_features`` and
    :math:`r` = ``rank``.  It stores :math:`r(n + m) + m` numbers in place of
    :math:`nm + m`.

    The initialisation gives :math:`W = UV` the entry variance of an
    ``nn.Linear`` weight: :math:`V_{ij} \sim \mathcal{U}(\pm 1/\sqrt{n})` and
    :math:`U_{ij} \sim \mathcal{U}(\pm \sqrt{3/r})`, so each entry of
    :math:`W` has variance :math:`1/(3n)`.  The bias is :math:`\mathcal{U}(\pm 1/\sqrt{n})`
    as in ``nn.Linear``.  Input has shape ``(..., in_features)`` and output
    ``(..., out_features)``, in the dtype and on the device of the parameters.

    Parameters
    ----------
    in_features, out_features : int
        Input width :math:`n` and output width :math:`m`.
    rank : int
        Inner width :math:`r`, with :math:`1 \le r < \min(n, m)`.  At
        :math:`r \ge \min(n, m)` the factorisation saves nothing, so use
        ``nn.Linear``.
    bias : bool
        Whether to add a learned bias.
    device, dtype
        Passed to the parameter factories, as in ``nn.Linear``.

    Raises
    ------
    TypeError
        If a width or the rank is not an integer.
    ValueError
        If a width is not positive or the rank is outside ``[1, min(n, m))``,
        or, in ``forward``, if the input's last dimension is not
        ``in_features``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        rank: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        self.rank = check_positive_int("rank", rank)
        smaller_width = min(self.in_features, self.out_features)
        if self.rank >= smaller_width:
            raise ValueError(
                f"rank must be below min(in_features, out_features) = {smaller_width} "
                f"to save parameters, got rank={rank}; use torch.nn.Linear for a full-rank layer"
            )

        factory = {"device": device, "dtype": dtype}
        self.v_weight = nn.Parameter(torch.empty(self.rank, self.in_features, **factory))
        self.u_weight = nn.Parameter(torch.empty(self.out_features, self.rank, **factory))
        self._create_bias(bias, factory)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the factors and bias so that :math:`UV` has ``nn.Linear`` entry variance."""
        input_bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.v_weight, -input_bound, input_bound)
        rank_bound = math.sqrt(3.0 / self.rank)
        nn.init.uniform_(self.u_weight, -rank_bound, rank_bound)
        self._reset_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return F.linear(F.linear(x, self.v_weight), self.u_weight, self.bias)

    @torch.no_grad()
    def dense_weight(self) -> torch.Tensor:
        """Return :math:`W = UV`, shape ``(out_features, in_features)``."""
        return self.u_weight @ self.v_weight

    def _weight_flops(self) -> int:
        # Two thin products, V x then U (V x).
        return 2 * self.rank * (self.in_features + self.out_features)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"rank={self.rank}, bias={self.bias is not None}, params={self.parameter_count()}")
