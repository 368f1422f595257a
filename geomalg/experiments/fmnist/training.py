"""Training runs of the Fashion-MNIST MLP: one run per (variant, learning rate).

Every run of a variant starts from the same initial weights, seeded by the
run seed.  Every run also trains on the same mini-batch order, because the
permutation of epoch ``e`` comes from a generator seeded by ``(seed, e)``.  A run
writes a checkpoint after each epoch, so a resumed run continues exactly
where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .data import NUM_CLASSES, PreparedData
from .variants import LayerOptions, Variant, build_mlp

__all__ = ["NonFiniteLossError", "RunConfig", "evaluate_accuracy", "select_learning_rate", "train_run"]

logger = logging.getLogger(__name__)

_CHECKPOINT_FORMAT = 1
_EVALUATION_BATCH = 4096


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings of one experiment, shared by every variant and learning rate."""

    variants: tuple[str, ...]
    hidden_sizes: tuple[int, ...] = (256, 256)
    epochs: int = 10
    batch_size: int = 128
    learning_rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    validation_size: int = 10_000
    seed: int = 0
    rank: int = 64
    block_size: int | None = 64
    chunk_size: int | None = None
    gadget_width: int = 3
    gadget_depth: int = 2
    feature_scales: bool = False

    @property
    def layer_options(self) -> LayerOptions:
        return LayerOptions(rank=self.rank, block_size=self.block_size, chunk_size=self.chunk_size,
                            gadget_width=self.gadget_width, gadget_depth=self.gadget_depth,
                            feature_scales=self.feature_scales)


class NonFiniteLossError(RuntimeError):
    """Error for a NaN or infinite training loss, with the variant, epoch and step."""

    def __init__(self, variant: str, learning_rate: float, epoch: int, step: int, loss: float) -> None:
        self.variant = variant
        self.learning_rate = learning_rate
        self.epoch = epoch
        self.step = step
        self.loss = loss
        super().__init__(
            f"training loss is {loss} for variant {variant!r} (learning rate {learning_rate:g}) "
            f"at epoch {epoch}, step {step}; training stopped. Lower the learning rate, or "
            "check the variant's initialisation and the input data"
        )


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Return a generator whose state depends only on (seed, epoch), for a shared batch order."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Return the fraction of rows of ``x`` (N, 784) whose argmax logit equals ``y`` (N,)."""
    model.eval()
    correct = 0
    for start in range(0, len(x), _EVALUATION_BATCH):
        logits = model(x[start:start + _EVALUATION_BATCH])
        correct += int((logits.argmax(dim=1) == y[start:start + _EVALUATION_BATCH]).sum())
    return correct / len(x)


def _save_checkpoint(path: Path, payload: dict) -> None:
    # Write then rename, so an interrupted save never leaves a truncated checkpoint.
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def _load_checkpoint(path: Path, variant: str, learning_rate: float) -> dict | None:
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != _CHECKPOINT_FORMAT or payload.get("variant") != variant \
            or not math.isclose(payload.get("learning_rate", math.nan), learning_rate):
        raise ValueError(f"checkpoint {path} does not belong to variant {variant!r} at learning "
                         f"rate {learning_rate:g}; remove it or run with --overwrite")
    return payload


def train_run(
    variant: Variant,
    learning_rate: float,
    config: RunConfig,
    data: PreparedData,
    checkpoint_path: Path,
    progress: bool = True,
) -> list[dict]:
    """Train one MLP with Adam for ``config.epochs`` epochs, resuming from its checkpoint.

    Returns
    -------
    list of dict
        One record per epoch with ``epoch``, ``train_loss`` (mean over the
        epoch), ``validation_accuracy``, ``test_accuracy`` and ``seconds``.

    Raises
    ------
    NonFiniteLossError
        If a mini-batch loss is NaN or infinite.
    """
    torch.manual_seed(config.seed)
    model = build_mlp(variant, config.hidden_sizes, config.layer_options,
                      in_features=data.train_x.shape[1], num_classes=NUM_CLASSES)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)

    history: list[dict] = []
    checkpoint = _load_checkpoint(checkpoint_path, variant.name, learning_rate)
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        history = list(checkpoint["history"])
        logger.info("resuming %s lr=%g after epoch %d", variant.name, learning_rate, len(history))
    if len(history) >= config.epochs:
        return history[:config.epochs]

    train_count = len(data.train_x)
    steps_per_epoch = math.ceil(train_count / config.batch_size)
    bar = tqdm(total=config.epochs * steps_per_epoch, initial=len(history) * steps_per_epoch,
               desc=f"{variant.name} lr={learning_rate:g}", unit="step", disable=not progress,
               leave=False)
    with bar:
        for epoch in range(len(history) + 1, config.epochs + 1):
            started = time.perf_counter()
            model.train()
            order = torch.randperm(train_count, generator=_epoch_generator(config.seed, epoch))
            loss_sum = 0.0
            for step, start in enumerate(range(0, train_count, config.batch_size), start=1):
                batch = order[start:start + config.batch_size]
                loss = F.cross_entropy(model(data.train_x[batch]), data.train_y[batch])
                loss_value = loss.item()
                if not math.isfinite(loss_value):
                    raise NonFiniteLossError(variant.name, learning_rate, epoch, step, loss_value)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                loss_sum += loss_value * len(batch)
                bar.update(1)

            record = {
                "epoch": epoch,
                "train_loss": loss_sum / train_count,
                "validation_accuracy": evaluate_accuracy(model, data.validation_x, data.validation_y),
                "test_accuracy": evaluate_accuracy(model, data.test_x, data.test_y),
                "seconds": time.perf_counter() - started,
            }
            history.append(record)
            bar.set_postfix(val=f"{record['validation_accuracy']:.4f}")
            _save_checkpoint(checkpoint_path, {
                "format": _CHECKPOINT_FORMAT,
                "variant": variant.name,
                "learning_rate": learning_rate,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "history": history,
            })
            logger.debug("%s lr=%g epoch %d: %s", variant.name, learning_rate, epoch, record)
    return history


def select_learning_rate(histories: dict[float, Sequence[dict]]) -> float:
    """Return the learning rate whose last epoch has the highest validation accuracy.

    Ties go to the learning rate listed first.  Test accuracy plays no part.
    """
    best_rate, best_accuracy = None, -1.0
    for rate, history in histories.items():
        accuracy = history[-1]["validation_accuracy"]
        if accuracy > best_accuracy:
            best_rate, best_accuracy = rate, accuracy
    return best_rate
