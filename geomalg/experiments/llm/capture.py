"""Capture the inputs and outputs of one layer's attention projections with forward hooks."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from .metrics import bos_prefix, encode
from .models import AttentionProjections, model_device
from .text import Document

__all__ = ["QKV", "Activations", "capture_activations", "token_stream", "token_windows"]

logger = logging.getLogger(__name__)

QKV = ("q_proj", "k_proj", "v_proj")


@dataclass
class Activations:
    """Captured rows of one attention layer, one row per token, on the CPU in float32.

    Attributes
    ----------
    inputs : torch.Tensor
        ``(N, hidden)``: the normalized hidden states that enter q/k/v.
    outputs : dict of str to torch.Tensor
        ``outputs["q_proj"]`` etc., ``(N, out_features)``: projection outputs
        before any q/k norm or rotary embedding.
    o_proj_inputs, o_proj_outputs : torch.Tensor or None
        ``(N, heads * head_dim)`` and ``(N, hidden)`` when captured.
    """

    inputs: torch.Tensor
    outputs: dict[str, torch.Tensor]
    o_proj_inputs: torch.Tensor | None = None
    o_proj_outputs: torch.Tensor | None = None

    def to_dict(self) -> dict:
        """Return plain tensors for ``torch.save``."""
        return {"inputs": self.inputs, "outputs": self.outputs,
                "o_proj_inputs": self.o_proj_inputs, "o_proj_outputs": self.o_proj_outputs}

    @classmethod
    def from_dict(cls, values: dict) -> Activations:
        """Rebuild from :meth:`to_dict` output."""
        return cls(values["inputs"], values["outputs"], values["o_proj_inputs"], values["o_proj_outputs"])


def token_stream(
    tokenizer,
    documents: list[Document],
    num_tokens: int,
    seed: int = 0,
) -> list[int]:
    """Return up to ``num_tokens`` tokens of the documents in a seeded shuffled order.

    Documents are joined by a blank line and tokenized without special
    tokens; only as many documents as needed are tokenized.
    """
    if num_tokens < 1:
        raise ValueError(f"num_tokens must be at least 1, got {num_tokens}")
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)

    stream: list[int] = []
    for index in order:
        text = documents[index].text if not stream else "\n\n" + documents[index].text
        stream.extend(encode(tokenizer, text))
        if len(stream) >= num_tokens:
            break
    return stream[:num_tokens]


def token_windows(
    tokenizer,
    documents: list[Document],
    num_tokens: int,
    window: int,
    seed: int = 0,
) -> list[list[int]]:
    """Cut ``num_tokens`` tokens from :func:`token_stream` into windows.

    Each window has ``window`` text tokens (the last may be shorter) and is
    prefixed with the BOS token when the tokenizer has one.

    Raises
    ------
    ValueError
        If ``num_tokens`` or ``window`` is below 1, or the documents have fewer tokens.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    stream = token_stream(tokenizer, documents, num_tokens, seed)
    if len(stream) < num_tokens:
        raise ValueError(
            f"the documents hold {len(stream)} tokens, fewer than the {num_tokens} requested; "
            "lower the token count or use a larger text"
        )
    prefix = bos_prefix(tokenizer)
    return [prefix + stream[start:start + window] for start in range(0, num_tokens, window)]


class _StopForward(Exception):
    """Raised by a hook once everything is recorded, so later layers are not run."""


def _first_tensor(inputs) -> torch.Tensor:
    return inputs[0] if isinstance(inputs, tuple) else inputs


@torch.no_grad()
def capture_activations(
    model: nn.Module,
    attention: AttentionProjections,
    windows: list[list[int]],
    skip_first: int,
    include_o_proj: bool = False,
    progress: bool = True,
    description: str = "capture",
) -> Activations:
    """Run the model over ``windows`` and record one layer's projection inputs and outputs.

    Each forward pass stops once the layer is recorded, so the layers after
    it cost nothing.

    Parameters
    ----------
    model : transformers causal LM
    attention : AttentionProjections
        The layer to record; whatever modules are installed there now are hooked.
    windows : list of list of int
        Token windows from :func:`token_windows`.
    skip_first : int
        Leading positions per window not to record (1 for a BOS token, whose
        hidden states are outliers that a fit should not chase).
    include_o_proj : bool
        Also record the input and output of ``o_proj``.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Activations
    """
    records: dict[str, list[torch.Tensor]] = {"inputs": [], "o_proj_inputs": [], "o_proj_outputs": []}
    records.update({name: [] for name in QKV})
    needed = ["inputs", *QKV] + (["o_proj_inputs"] if include_o_proj else [])
    windows_done = 0

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        return tensor[0, skip_first:].detach().to("cpu", torch.float32)

    def stop_when_complete() -> None:
        if all(len(records[name]) > windows_done for name in needed):
            raise _StopForward

    def record_input(_module, inputs):
        records["inputs"].append(keep(_first_tensor(inputs)))

    def record_output(name):
        def hook(_module, _inputs, output):
            records[name].append(keep(output))
            stop_when_complete()
        return hook

    def record_o_proj(_module, inputs, output):
        records["o_proj_inputs"].append(keep(_first_tensor(inputs)))
        records["o_proj_outputs"].append(keep(output))
        stop_when_complete()

    handles = [attention.projection("q_proj").register_forward_pre_hook(record_input)]
    handles += [attention.projection(name).register_forward_hook(record_output(name)) for name in QKV]
    if include_o_proj:
        handles.append(attention.projection("o_proj").register_forward_hook(record_o_proj))

    device = model_device(model)
    try:
        for window in tqdm(windows, desc=description, unit="window", disable=not progress, leave=False):
            try:
                model(input_ids=torch.tensor([window], device=device), logits_to_keep=1, use_cache=False)
            except _StopForward:
                pass
            windows_done += 1
    finally:
        for handle in handles:
            handle.remove()

    return Activations(
        torch.cat(records["inputs"]),
        {name: torch.cat(records[name]) for name in QKV},
        torch.cat(records["o_proj_inputs"]) if include_o_proj else None,
        torch.cat(records["o_proj_outputs"]) if include_o_proj else None,
    )
