"""Fit replacement projections to captured activations."""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

__all__ = ["FitResult", "FitSettings", "fit_replacement", "refit_o_proj"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """Optimiser settings for :func:`fit_replacement`.

    AdamW with a linear warm-up over ``warmup_fraction`` of the steps, then a
    cosine decay to zero.
    """

    epochs: int = 30
    batch_size: int = 256
    learning_rate: float = 1e-2
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be at least 1, got {self.epochs} and {self.batch_size}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")

    def to_dict(self) -> dict:
        """Return the settings as a plain dict for cache keys."""
        return asdict(self)


@dataclass(frozen=True)
class FitResult:
    """Mean squared errors of a fitted replacement; ``relative`` divides by the target variance."""

    train_mse: float
    validation_mse: float
    validation_relative_mse: float
    best_epoch: int
    seconds: float


def _mse(module: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int) -> float:
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size * 8):
            predictions = module(inputs[start:start + batch_size * 8])
            total += F.mse_loss(predictions, targets[start:start + batch_size * 8], reduction="sum").item()
    return total / targets.numel()


def _cosine_with_warmup(total_steps: int, warmup_steps: int):
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def fit_replacement(
    module: nn.Module,
    train_inputs: torch.Tensor,
    train_targets: torch.Tensor,
    validation_inputs: torch.Tensor,
    validation_targets: torch.Tensor,
    settings: FitSettings,
    progress: bool = True,
    description: str = "fit",
) -> FitResult:
    r"""Train ``module`` to map inputs to targets by mean squared error.

    .. math:: \min_\theta \frac{1}{N m} \sum_i \lVert f_\theta(x_i) - y_i \rVert^2

    The bias, when the module has one of shape ``(m,)``, starts at the mean
    target.  After the last epoch the module gets back the parameters of the
    epoch with the lowest validation MSE, so selection uses validation data only.

    Parameters
    ----------
    module : nn.Module
        Maps ``(..., n)`` to ``(..., m)``; trained in place on the device of
        its parameters.
    train_inputs, validation_inputs : torch.Tensor
        ``(N, n)`` and ``(N_val, n)``.
    train_targets, validation_targets : torch.Tensor
        ``(N, m)`` and ``(N_val, m)``.
    settings : FitSettings
    progress : bool
        Show a tqdm bar over epochs.
    description : str
        Label of the progress bar.

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        If the shapes disagree.
    """
    if train_inputs.shape[0] != train_targets.shape[0] or validation_inputs.shape[0] != validation_targets.shape[0]:
        raise ValueError(
            f"inputs and targets need the same number of rows, got {tuple(train_inputs.shape)} vs "
            f"{tuple(train_targets.shape)} and {tuple(validation_inputs.shape)} vs {tuple(validation_targets.shape)}"
        )
    started = time.perf_counter()
    parameter = next(module.parameters())
    device, dtype = parameter.device, parameter.dtype
    train_inputs, train_targets = train_inputs.to(device, dtype), train_targets.to(device, dtype)
    validation_inputs = validation_inputs.to(device, dtype)
    validation_targets = validation_targets.to(device, dtype)

    bias = getattr(module, "bias", None)
    if isinstance(bias, torch.Tensor) and bias.shape == train_targets.shape[1:]:
        with torch.no_grad():
            bias.copy_(train_targets.mean(dim=0))

    generator = torch.Generator().manual_seed(settings.seed)
    steps_per_epoch = math.ceil(len(train_inputs) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    optimizer = torch.optim.AdamW(module.parameters(), lr=settings.learning_rate,
                                  weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _cosine_with_warmup(total_steps, math.ceil(settings.warmup_fraction * total_steps)))

    best_mse = _mse(module, validation_inputs, validation_targets, settings.batch_size)
    best_state = copy.deepcopy(module.state_dict())
    best_epoch = 0
    bar = tqdm(range(1, settings.epochs + 1), desc=description, unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        module.train()
        order = torch.randperm(len(train_inputs), generator=generator).to(device)
        for start in range(0, len(order), settings.batch_size):
            batch = order[start:start + settings.batch_size]
            loss = F.mse_loss(module(train_inputs[batch]), train_targets[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        module.eval()

        validation_mse = _mse(module, validation_inputs, validation_targets, settings.batch_size)
        bar.set_postfix(validation_mse=f"{validation_mse:.4g}")
        if validation_mse < best_mse:
            best_mse, best_epoch = validation_mse, epoch
            best_state = copy.deepcopy(module.state_dict())

    module.load_state_dict(best_state)
    variance = validation_targets.float().var(dim=0, unbiased=False).mean().item()
    return FitResult(
        train_mse=_mse(module, train_inputs, train_targets, settings.batch_size),
        validation_mse=best_mse,
        validation_relative_mse=best_mse / variance if variance > 0 else float("nan"),
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
    )


@torch.no_grad()
def refit_o_proj(
    o_proj: nn.Linear,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    ridge: float = 1e-4,
) -> torch.Tensor:
    r"""Return an ``o_proj`` weight refitted by ridge regression toward the original weight.

    With :math:`Z` the new ``o_proj`` inputs, :math:`Y` the original attention
    outputs (bias removed) and :math:`W_0` the current weight, this solves in
    float64

    .. math:: \min_W \lVert Z W^\top - Y \rVert^2 + \lambda \lVert W - W_0 \rVert^2,
              \qquad \lambda = \text{ridge} \cdot \operatorname{tr}(Z^\top Z) / d.

    Parameters
    ----------
    o_proj : nn.Linear
        The current output projection, ``(hidden, d)`` weight.
    inputs : torch.Tensor
        ``(N, d)``.
    targets : torch.Tensor
        ``(N, hidden)``.
    ridge : float
        Relative ridge strength.

    Returns
    -------
    torch.Tensor
        ``(hidden, d)`` weight on the CPU in float64.
    """
    z = inputs.double()
    y = targets.double()
    weight = o_proj.weight.detach().to("cpu", torch.float64)
    if o_proj.bias is not None:
        y = y - o_proj.bias.detach().to("cpu", torch.float64)
    gram = z.T @ z
    strength = ridge * torch.trace(gram) / gram.shape[0]
    system = gram + strength * torch.eye(gram.shape[0], dtype=torch.float64)
    right_side = z.T @ y + strength * weight.T
    return torch.linalg.solve(system, right_side).T
