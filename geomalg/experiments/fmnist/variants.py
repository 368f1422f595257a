"""Hidden-layer variants of the Fashion-MNIST MLP and the model builder.

A variant is one entry of :data:`VARIANTS`: a name and a factory
``(in_features, out_features, options) -> nn.Module`` used for every hidden
layer.  The classification head is always a dense ``nn.Linear``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from torch import nn

import geomalg.nn as geomalg_nn

__all__ = [
    "LayerOptions",
    "VARIANTS",
    "Variant",
    "available_variant_names",
    "build_mlp",
    "get_variant",
    "hidden_parameter_count",
]


@dataclasses.dataclass(frozen=True)
class LayerOptions:
    """Structure settings of the variants.

    ``rank`` is the low-rank rank and ``block_size`` the block-Hadamard block
    size.  ``chunk_size`` is the rotor chunk size (``None``: the
    :class:`~geomalg.nn.RotorLinear` default), and ``gadget_width`` and
    ``gadget_depth`` shape the rotor gadget.  ``feature_scales`` gives both
    rotor variants learned per-feature input and output scales.
    """

    rank: int = 64
    block_size: int | None = 64
    chunk_size: int | None = None
    gadget_width: int = 3
    gadget_depth: int = 2
    feature_scales: bool = False


LayerFactory = Callable[[int, int, LayerOptions], nn.Module]


@dataclasses.dataclass(frozen=True)
class Variant:
    """A named hidden-layer type, or the reason it cannot be built in this install."""

    name: str
    description: str
    build_layer: LayerFactory | None
    unavailable_reason: str | None = None


def _optional_variant(name: str, class_name: str, description: str,
                      build: Callable[[type, int, int, LayerOptions], nn.Module]) -> Variant:
    """Return a variant built from ``geomalg.nn.<class_name>``, or an unavailable one when the class is missing."""
    layer_class = getattr(geomalg_nn, class_name, None)
    if layer_class is None:
        return Variant(name, description, None,
                       unavailable_reason=f"geomalg.nn.{class_name} is not available in this install")
    return Variant(name, description, lambda n_in, n_out, options: build(layer_class, n_in, n_out, options))


def _build_rotor(rotor_class: type, n_in: int, n_out: int, options: LayerOptions) -> nn.Module:
    return rotor_class(n_in, n_out, bias=True, chunk_size=options.chunk_size,
                       feature_scales=options.feature_scales)


def _build_rotor_gadget(gadget_class: type, n_in: int, n_out: int, options: LayerOptions) -> nn.Module:
    return gadget_class(n_in, n_out, width=options.gadget_width, depth=options.gadget_depth, bias=True,
                        chunk_size=options.chunk_size, feature_scales=options.feature_scales)


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("dense", "nn.Linear",
                lambda n_in, n_out, options: nn.Linear(n_in, n_out)),
        Variant("low_rank", "geomalg.nn.LowRankLinear",
                lambda n_in, n_out, options: geomalg_nn.LowRankLinear(n_in, n_out, options.rank)),
        Variant("block_hadamard", "geomalg.nn.BlockHadamardLinear",
                lambda n_in, n_out, options: geomalg_nn.BlockHadamardLinear(
                    n_in, n_out, block_size=options.block_size)),
        _optional_variant("rotor", "RotorLinear", "rotor sandwich layer (geomalg.nn.RotorLinear)", _build_rotor),
        _optional_variant("rotor_gadget", "RotorGadget", "composition of rotor layers (geomalg.nn.RotorGadget)",
                          _build_rotor_gadget),
    )
}


def available_variant_names() -> list[str]:
    """Return the names of the variants that can be built, in registry order."""
    return [name for name, variant in VARIANTS.items() if variant.build_layer is not None]


def get_variant(name: str) -> Variant:
    """Return the registered variant ``name``.

    Raises
    ------
    ValueError
        If no variant has that name, or the variant is not available in this
        install (the message gives the reason).
    """
    variant = VARIANTS.get(name)
    if variant is None:
        raise ValueError(f"unknown variant {name!r}. Choose from {', '.join(VARIANTS)}")
    if variant.build_layer is None:
        raise ValueError(f"variant {name!r} is not available: {variant.unavailable_reason}")
    return variant


def build_mlp(
    variant: Variant,
    hidden_sizes: Sequence[int],
    options: LayerOptions,
    in_features: int,
    num_classes: int,
) -> nn.Sequential:
    """Build ``in -> hidden_1 -> ... -> hidden_L -> classes`` with ReLU after each hidden layer.

    Every hidden layer comes from ``variant``, and the head is a dense
    ``nn.Linear``.  Input is ``(batch, in_features)``, output is logits
    ``(batch, num_classes)``.

    Raises
    ------
    ValueError
        If ``hidden_sizes`` is empty, or the variant rejects a width.
    """
    if len(hidden_sizes) == 0:
        raise ValueError("hidden_sizes must name at least one hidden layer, got an empty list")
    if variant.build_layer is None:
        raise ValueError(f"variant {variant.name!r} is not available: {variant.unavailable_reason}")

    layers: list[nn.Module] = []
    width = in_features
    for hidden in hidden_sizes:
        layers.append(variant.build_layer(width, hidden, options))
        layers.append(nn.ReLU())
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def hidden_parameter_count(model: nn.Sequential) -> int:
    """Return the parameters of the hidden layers, that is every layer but the dense head."""
    head = model[-1]
    total = sum(p.numel() for p in model.parameters())
    return total - sum(p.numel() for p in head.parameters())
