"""Registry of replacement methods: one named factory per structured layer.

A factory takes ``(in_features, out_features)`` and returns a module that maps
``(..., in_features)`` to ``(..., out_features)`` with a bias.  The layer
classes are looked up in :mod:`geomalg.nn` only when a method is used, so a
class that is not importable disables its method and nothing else.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = [
    "BiasOnly",
    "DEFAULT_METHODS",
    "MethodRegistry",
    "MethodUnavailableError",
    "ReplacementMethod",
    "default_registry",
]

logger = logging.getLogger(__name__)

ORIGINAL = "original"
"""Name of the reference row: the unmodified model."""

DEFAULT_METHODS = ("low-rank-1", "low-rank-4", "block-hadamard", "rotor", "rotor-scaled")


class MethodUnavailableError(ImportError):
    """The layer class of a replacement method cannot be imported."""


@dataclass(frozen=True)
class ReplacementMethod:
    """A named way to build a replacement for one projection.

    Attributes
    ----------
    name : str
        Registry key, used on the command line and in cache keys.
    description : str
        One line for ``--list-methods`` and reports.
    build : Callable[[int, int], nn.Module]
        ``build(in_features, out_features)`` returns a fresh module with a bias.
    settings : dict
        Hyperparameters of the layer; part of the cache key, so changing one
        retrains instead of reusing a cached replacement.
    learning_rate : float or None
        Peak learning rate of the fit for this method; ``None`` uses the run's
        :class:`~geomalg.experiments.llm.fit.FitSettings`.
    """

    name: str
    description: str
    build: Callable[[int, int], nn.Module]
    settings: dict = field(default_factory=dict)
    learning_rate: float | None = None


class BiasOnly(nn.Module):
    """Constant map ``x -> b``: the control that keeps a projection's mean output and drops its input."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"BiasOnly expects inputs with last dimension {self.in_features}, "
                             f"got shape {tuple(x.shape)}")
        return self.bias.to(x.dtype).expand(*x.shape[:-1], self.out_features)


def _geomalg_nn_class(class_name: str) -> type:
    try:
        module = importlib.import_module("geomalg.nn")
    except ImportError as error:
        raise MethodUnavailableError(f"geomalg.nn cannot be imported: {error}") from error
    try:
        return getattr(module, class_name)
    except AttributeError:
        raise MethodUnavailableError(f"geomalg.nn has no class {class_name}") from None


class MethodRegistry:
    """Replacement methods by name.

    Raises
    ------
    ValueError
        From :meth:`register` for a duplicate name, and from :meth:`get` for
        an unknown one.
    """

    def __init__(self) -> None:
        self._methods: dict[str, ReplacementMethod] = {}
        self._requirements: dict[str, Callable[[], object]] = {}

    def register(self, method: ReplacementMethod, requirement: Callable[[], object] | None = None) -> None:
        """Add ``method``; ``requirement()`` raises MethodUnavailableError when it cannot be built."""
        if method.name in self._methods or method.name == ORIGINAL:
            raise ValueError(f"method name {method.name!r} is already taken")
        self._methods[method.name] = method
        if requirement is not None:
            self._requirements[method.name] = requirement

    def names(self) -> list[str]:
        """Return all registered names in registration order."""
        return list(self._methods)

    def description(self, name: str) -> str:
        """Return the one-line description of method ``name`` without checking that it can be built."""
        if name not in self._methods:
            raise ValueError(f"unknown replacement method {name!r}")
        return self._methods[name].description

    def get(self, name: str) -> ReplacementMethod:
        """Return the method ``name``.

        Raises
        ------
        ValueError
            If no method has that name.
        MethodUnavailableError
            If its layer class cannot be imported.
        """
        if name not in self._methods:
            raise ValueError(
                f"unknown replacement method {name!r}; registered methods are "
                f"{', '.join(self._methods)} (and {ORIGINAL!r} for the unmodified model)"
            )
        requirement = self._requirements.get(name)
        if requirement is not None:
            requirement()
        return self._methods[name]

    def learning_rate(self, name: str) -> float | None:
        """Return the learning rate method ``name`` sets, or ``None`` when it uses the run's."""
        if name not in self._methods:
            raise ValueError(f"unknown replacement method {name!r}")
        return self._methods[name].learning_rate

    def unavailable_reason(self, name: str) -> str | None:
        """Return why method ``name`` cannot be built, or ``None`` when it can."""
        try:
            self.get(name)
        except MethodUnavailableError as error:
            return str(error)
        return None

    def resolve(self, names: list[str] | tuple[str, ...], explicit: bool) -> list[ReplacementMethod]:
        """Return the usable methods among ``names``.

        Parameters
        ----------
        names : sequence of str
        explicit : bool
            ``True`` when the user named the methods: an unavailable one is then
            an error.  ``False`` for the defaults: it is skipped with a warning.

        Raises
        ------
        ValueError
            If a name is unknown.
        MethodUnavailableError
            If ``explicit`` and a named method cannot be built.
        """
        methods = []
        for name in names:
            if name == ORIGINAL:
                continue
            try:
                methods.append(self.get(name))
            except MethodUnavailableError as error:
                if explicit:
                    raise MethodUnavailableError(
                        f"method {name!r} was requested but cannot be built: {error}"
                    ) from error
                logger.warning("skipping method %s: %s", name, error)
        return methods


def default_registry() -> MethodRegistry:
    """Return a new registry with the dense control and the structured layers of :mod:`geomalg.nn`.

    Two controls are registered but run only when requested.  ``dense``
    refits a full ``nn.Linear``, which isolates the loss from the fitting
    procedure itself.  ``bias-only`` keeps the mean output of each
    projection, which shows the cost of dropping its input altogether.

    Each method's learning rate gave the lowest validation MSE among the
    rates tried on gemma-3-270m layer 9: 1e-2 and 5e-2 for every method, and
    1e-1 for ``low-rank-4`` and ``rotor-scaled`` (table on the LLM
    experiment page of the docs).  ``--lr`` replaces it for every method.
    """
    registry = MethodRegistry()
    registry.register(ReplacementMethod(
        "dense", "full nn.Linear refit by MSE (control)",
        lambda n_in, n_out: nn.Linear(n_in, n_out, bias=True),
    ))
    registry.register(ReplacementMethod(
        "bias-only", "constant output equal to the mean target (control)", BiasOnly,
    ))

    for rank in (1, 4):
        registry.register(
            ReplacementMethod(
                f"low-rank-{rank}", f"geomalg.nn.LowRankLinear, rank {rank}",
                lambda n_in, n_out, rank=rank: _geomalg_nn_class("LowRankLinear")(n_in, n_out, rank, bias=True),
                {"rank": rank}, learning_rate=5e-2,
            ),
            lambda: _geomalg_nn_class("LowRankLinear"),
        )

    block_size = 64
    registry.register(
        ReplacementMethod(
            "block-hadamard", f"geomalg.nn.BlockHadamardLinear, block size {block_size}",
            lambda n_in, n_out: _geomalg_nn_class("BlockHadamardLinear")(
                n_in, n_out, block_size=block_size, bias=True),
            {"block_size": block_size}, learning_rate=5e-2,
        ),
        lambda: _geomalg_nn_class("BlockHadamardLinear"),
    )

    registry.register(
        ReplacementMethod(
            "rotor", "geomalg.nn.RotorGadget, width 3, depth 2",
            lambda n_in, n_out: _geomalg_nn_class("RotorGadget")(n_in, n_out, width=3, depth=2, bias=True),
            {"width": 3, "depth": 2}, learning_rate=1e-2,
        ),
        lambda: _geomalg_nn_class("RotorGadget"),
    )

    chunk_size = 64
    registry.register(
        ReplacementMethod(
            "rotor-scaled", f"geomalg.nn.RotorLinear, chunk size {chunk_size}, with feature scales",
            lambda n_in, n_out: _geomalg_nn_class("RotorLinear")(
                n_in, n_out, chunk_size=chunk_size, feature_scales=True, bias=True),
            {"chunk_size": chunk_size, "feature_scales": True}, learning_rate=1e-1,
        ),
        lambda: _geomalg_nn_class("RotorLinear"),
    )
    return registry
