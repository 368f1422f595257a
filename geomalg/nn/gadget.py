r"""Composition of rotor layers: parallel branches pooled by learned weights, stacked in depth."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._base import StructuredLinear
from ._checks import check_positive_int
from .accounting import LayerCost
from .rotor import RotorLinear

__all__ = ["RotorGadget"]

# FLOPs per feature of a LayerNorm with affine weights: mean (1), variance
# (2), normalisation (2) and the affine map (2).
_LAYER_NORM_FLOPS = 7


class RotorGadget(StructuredLinear):
    r"""Linear map composed of ``depth`` stages of ``width`` parallel :class:`RotorLinear` layers.

    Stage :math:`d` maps :math:`h_{d-1}` to

    .. math::
        h_d = \sum_{w=1}^{W} \alpha_{dw}\, L_{dw}(\sigma(N(P_d\, h_{d-1}))),
        \qquad h_0 = x, \qquad y = h_D + b,

    where :math:`L_{dw}` are rotor layers without bias, :math:`\alpha` are
    the learned pooling weights (initialised to :math:`1/\sqrt{W}`, so that
    :math:`W` variance-preserving branches keep the variance), :math:`P_d`
    is a fixed random permutation of the features, :math:`N` an optional
    LayerNorm and :math:`\sigma` an optional nonlinearity.  Stage 1 uses no
    :math:`P`, :math:`N` or :math:`\sigma`; they act only between stages.
    The first stage maps ``in_features`` to ``hidden_features`` (default
    ``out_features``); later stages keep ``hidden_features``, and the last
    one maps to ``out_features``.

    The defaults (permutation on, no LayerNorm, no nonlinearity) keep the
    gadget linear, so it is a drop-in replacement for ``nn.Linear`` with a
    :meth:`to_dense` export.  With ``feature_scales=True``, learned
    per-feature scales multiply the gadget's input :math:`x` and its output
    :math:`h_D` (before the bias), as in :class:`RotorLinear`.  The permutation lets later stages mix features
    that an earlier stage kept in separate chunks.

    In eval mode without autograd, the branches of a stage share one chunk
    layout, so their cached parity operators are summed with the pooling
    weights and applied once per stage.  A linear gadget whose composed
    ``(out_features, in_features)`` matrix has no more entries than its
    stage operators together (as at 2048→2048 or 640→1024 with the default
    chunks) caches that matrix instead and applies it as one ``F.linear``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output widths.
    width : int
        Parallel rotor layers per stage (default 3).
    depth : int
        Stages (default 2).
    bias : bool
        Whether to add a learned bias after the last stage.
    hidden_features : int, optional
        Width between stages (default ``out_features``).
    chunk_size, double_rotor, mode, exp_method
        Passed to every :class:`RotorLinear`.
    permute : bool
        Whether to apply a fixed random permutation between stages.
    layer_norm : bool
        Whether to apply a LayerNorm between stages.
    activation : torch.nn.Module, optional
        Nonlinearity between stages, such as ``nn.GELU()``.
    feature_scales : bool
        Whether to learn per-feature scales of the input and the output
        (default ``False``).
    seed : int
        Seed of the permutations, which are buffers saved in the ``state_dict``.
    device, dtype
        Passed to the parameter factories.

    Raises
    ------
    TypeError
        If a width, ``width``, ``depth`` or ``seed`` is not an integer, or
        ``activation`` is not an ``nn.Module``.
    ValueError
        If a width, ``width`` or ``depth`` is not positive, a
        :class:`RotorLinear` argument is invalid, or, in ``forward``, the
        input's last dimension is not ``in_features``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int = 3,
        depth: int = 2,
        bias: bool = True,
        hidden_features: int | None = None,
        chunk_size: int | None = None,
        double_rotor: bool = True,
        mode: str = "blocks",
        exp_method: str = "eigh",
        permute: bool = True,
        layer_norm: bool = False,
        activation: nn.Module | None = None,
        feature_scales: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features)
        self.width = check_positive_int("width", width)
        self.depth = check_positive_int("depth", depth)
        if hidden_features is None:
            hidden_features = self.out_features
        self.hidden_features = check_positive_int("hidden_features", hidden_features)
        if activation is not None and not isinstance(activation, nn.Module):
            raise TypeError(f"activation must be an nn.Module such as nn.GELU(), got {type(activation).__name__}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an integer, got {seed!r}")

        factory = {"device": device, "dtype": dtype}
        widths = [self.in_features] + [self.hidden_features] * (self.depth - 1) + [self.out_features]
        self.stages = nn.ModuleList()
        for stage in range(self.depth):
            branches = nn.ModuleList(
                RotorLinear(widths[stage], widths[stage + 1], bias=False, chunk_size=chunk_size,
                            double_rotor=double_rotor, mode=mode, exp_method=exp_method, **factory)
                for _ in range(self.width))
            self.stages.append(branches)
        self.pooling = nn.Parameter(torch.full((self.depth, self.width), 1.0 / math.sqrt(self.width), **factory))

        self.permute = bool(permute)
        generator = torch.Generator().manual_seed(seed)
        for stage in range(1, self.depth):
            permutation = torch.randperm(widths[stage], generator=generator) if self.permute else None
            self.register_buffer(f"permutation_{stage}",
                                 None if permutation is None else permutation.to(device))

        self._fused_cache: dict[int, tuple[tuple, torch.Tensor]] = {}
        self._composed_cache: tuple[tuple, torch.Tensor] | None = None
        self._parameter_list: list[nn.Parameter] | None = None
        self.norms = nn.ModuleList(
            nn.LayerNorm(widths[stage], **factory) if layer_norm else nn.Identity()
            for stage in range(1, self.depth))
        self.layer_norm = bool(layer_norm)
        self.activation = activation

        self._create_feature_scales(feature_scales, factory)
        self._create_bias(bias, factory)
        self._reset_bias()

    @property
    def is_linear(self) -> bool:
        """Whether the gadget is a linear map plus bias (no LayerNorm and no nonlinearity)."""
        return not self.layer_norm and self.activation is None

    def _between_stages(self, h: torch.Tensor, stage: int) -> torch.Tensor:
        permutation = getattr(self, f"permutation_{stage}")
        if permutation is not None:
            h = h.index_select(-1, permutation)
        h = self.norms[stage - 1](h)
        if self.activation is not None:
            h = self.activation(h)
        return h

    def _fused_operator(self, stage: int) -> torch.Tensor:
        """Return the pooled sum of a stage's cached branch operators, rebuilt when any input changes."""
        branches = self.stages[stage]
        operators = [branch.cached_parity_operator() for branch in branches]
        key = (tuple(branch.cache_key() for branch in branches), self.pooling._version, self.pooling.data_ptr())
        cached = self._fused_cache.get(stage)
        if cached is not None and cached[0] == key:
            return cached[1]
        # Same widths and chunk size, so the operators share one layout and add.
        with torch.no_grad():
            weights = self.pooling[stage].to(operators[0].dtype)
            fused = sum(weights[w] * operator for w, operator in enumerate(operators))
        self._fused_cache[stage] = (key, fused)
        return fused

    def _staged_entries(self) -> int:
        """Return the entries of the stage operators: two parity blocks of ``(c/2)^2`` per chunk pair."""
        return sum(branches[0].out_chunks * branches[0].in_chunks * branches[0].chunk_size ** 2 // 2
                   for branches in self.stages)

    def uses_composed_weight(self) -> bool:
        """Return whether ``forward`` applies the cached composed matrix (eval mode, no autograd, linear)."""
        if self.training or torch.is_grad_enabled() or not self.is_linear:
            return False
        if any(branch.mode != "blocks" for branches in self.stages for branch in branches):
            return False
        return self.in_features * self.out_features <= self._staged_entries()

    def _composed_weight(self) -> torch.Tensor:
        # Version counters and storage of every parameter, so optimizer steps,
        # in-place edits and load_state_dict all rebuild the matrix.
        # NOTE: the parameter list is kept until train(), eval() or a device or
        # dtype move, so a parameter replaced by assignment in eval mode is missed.
        if self._parameter_list is None:
            self._parameter_list = list(self.parameters())
        key = tuple((parameter._version, parameter.data_ptr()) for parameter in self._parameter_list)
        if self._composed_cache is None or self._composed_cache[0] != key:
            self._composed_cache = (key, self.dense_weight())
            # The stage operators that built the matrix are not needed again.
            self._fused_cache = {}
            for branches in self.stages:
                for branch in branches:
                    branch.clear_cache()
        return self._composed_cache[1]

    def train(self, mode: bool = True) -> "RotorGadget":
        self._fused_cache = {}
        self._composed_cache = None
        self._parameter_list = None
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):
        self._fused_cache = {}
        self._composed_cache = None
        self._parameter_list = None
        return super()._apply(fn, recurse)

    def _stage(self, h: torch.Tensor, stage: int) -> torch.Tensor:
        branches = self.stages[stage]
        weights = self.pooling[stage]
        pooling_needs_grad = torch.is_grad_enabled() and self.pooling.requires_grad
        if not pooling_needs_grad and all(branch.mode == "blocks" and branch.uses_cache() for branch in branches):
            return branches[0].apply_parity_operator(h, self._fused_operator(stage))
        total = None
        for w, branch in enumerate(branches):
            term = weights[w].to(h.dtype) * branch(h)
            total = term if total is None else total + term
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        if self.uses_composed_weight():
            bias = None if self.bias is None else self.bias.to(x.dtype)
            return F.linear(x, self._composed_weight().to(x.dtype), bias)
        h = self._scale_input(x)
        for stage in range(self.depth):
            if stage > 0:
                h = self._between_stages(h, stage)
            h = self._stage(h, stage)
        h = self._scale_output(h)
        if self.bias is not None:
            h = h + self.bias.to(h.dtype)
        return h

    @torch.no_grad()
    def dense_weight(self) -> torch.Tensor:
        """Return the equivalent dense weight, shape ``(out_features, in_features)``.

        Raises
        ------
        ValueError
            If the gadget has a LayerNorm or a nonlinearity, so it is not linear.
        """
        if not self.is_linear:
            raise ValueError("the gadget has a LayerNorm or a nonlinearity between stages, so it has no "
                             "dense weight; build it with layer_norm=False and activation=None")
        reference = self.pooling
        identity = torch.eye(self.in_features, device=reference.device, dtype=reference.dtype)
        h = identity
        for stage in range(self.depth):
            if stage > 0:
                h = self._between_stages(h, stage)
            h = self._stage(h, stage)
        return self._scale_weight(h.T.contiguous())

    def cost(self, bytes_per_param: int | None = None, apply: str = "structured") -> LayerCost:
        """Count the gadget by the rules of :mod:`geomalg.nn.accounting`.

        Branch costs come from :meth:`RotorLinear.cost` with the same
        ``apply``.  Pooling adds ``2 W - 1`` FLOPs per feature of a stage, a
        LayerNorm 7 per feature, a nonlinearity 1 per feature (an estimate
        that fits ReLU; GELU takes more), and the bias 1 per output.  The
        permutations are index moves and count no FLOPs.
        """
        total = LayerCost(0, 0, 0)
        for branches in self.stages:
            for branch in branches:
                total = total + branch.cost(bytes_per_param, apply=apply)
            total = total + LayerCost(0, (2 * self.width - 1) * branches[0].out_features, 0)
        between = self.hidden_features * (self.depth - 1)
        extra_flops = self._feature_scale_flops()
        if self.layer_norm:
            extra_flops += _LAYER_NORM_FLOPS * between
        if self.activation is not None:
            extra_flops += between
        if self.bias is not None:
            extra_flops += self.out_features

        # Parameters outside the branches: pooling, LayerNorm weights, feature scales and bias.
        own = [p for name, p in self.named_parameters() if not name.startswith("stages.")]
        own_params = sum(p.numel() for p in own)
        own_bytes = sum(p.numel() * (p.element_size() if bytes_per_param is None else bytes_per_param)
                        for p in own)
        return total + LayerCost(own_params, extra_flops, own_bytes)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"width={self.width}, depth={self.depth}, hidden_features={self.hidden_features}, "
                f"permute={self.permute}, layer_norm={self.layer_norm}, "
                f"feature_scales={self.input_scale is not None}, "
                f"bias={self.bias is not None}, params={self.parameter_count()}")
