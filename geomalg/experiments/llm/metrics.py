"""Log-perplexity over strided windows and multiple-choice accuracy by log-likelihood."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .models import model_device
from .tasks import MultipleChoiceItem

__all__ = [
    "ChoiceScores",
    "PerplexityResult",
    "bos_prefix",
    "encode",
    "log_perplexity",
    "multiple_choice_accuracy",
    "window_spans",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PerplexityResult:
    """Summed negative log-likelihood (nats) over ``tokens`` counted tokens."""

    nll_sum: float
    tokens: int

    @property
    def log_perplexity(self) -> float:
        """Mean negative log-likelihood per token, in nats."""
        return self.nll_sum / self.tokens


@dataclass(frozen=True)
class ChoiceScores:
    """Accuracy of picking the highest summed log-likelihood, plain and per character."""

    accuracy: float
    accuracy_norm: float
    items: int


def encode(tokenizer, text: str) -> list[int]:
    """Tokenize without special tokens."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def bos_prefix(tokenizer) -> list[int]:
    # Models trained with a BOS token (LLaMA, Gemma) drift badly without one
    # at position 0, so every window and every choice starts with it.
    bos = getattr(tokenizer, "bos_token_id", None)
    return [] if bos is None else [bos]


def window_spans(num_tokens: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """Return ``(begin, end, first_counted)`` for each strided window.

    Window ``k`` reads tokens ``[begin, end)`` with ``begin = k * stride`` and
    scores tokens ``[first_counted, end)``, where ``first_counted`` is the
    previous window's ``end``; so each token is scored exactly once, with up
    to ``window - stride`` tokens of extra context.

    Raises
    ------
    ValueError
        If ``stride`` is not in ``[1, window]``.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 token, got {window}")
    if not 1 <= stride <= window:
        raise ValueError(f"stride must be between 1 and the window ({window}), got {stride}")

    spans = []
    previous_end = 0
    for begin in range(0, num_tokens, stride):
        end = min(begin + window, num_tokens)
        if end > previous_end:
            spans.append((begin, end, previous_end))
        previous_end = end
        if end == num_tokens:
            break
    return spans


@torch.no_grad()
def log_perplexity(
    model: nn.Module,
    token_ids: list[int],
    window: int = 256,
    stride: int = 128,
    max_windows: int | None = None,
    bos_token_id: int | None = None,
    progress: bool = True,
) -> PerplexityResult:
    r"""Compute the log-perplexity of a token stream with strided windows.

    .. math::

        \log \mathrm{PPL} = -\frac{1}{N} \sum_{t} \log p(x_t \mid x_{<t} \text{ in its window})

    Each window is prefixed with ``bos_token_id`` when given, which is not
    scored.  See :func:`window_spans` for the windows.

    Parameters
    ----------
    model : transformers causal LM
    token_ids : list of int
        The text, tokenized without special tokens.
    window, stride : int
        Window length and step in tokens, BOS excluded.
    max_windows : int or None
        Stop after this many windows (the first ones of the stream).
    bos_token_id : int or None
        Token put before every window.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    PerplexityResult

    Raises
    ------
    ValueError
        If the stream has fewer than two tokens, or the window or stride is invalid.
    """
    ids = list(token_ids)
    if len(ids) < 2:
        raise ValueError(f"log-perplexity needs at least 2 tokens, got {len(ids)}")
    spans = window_spans(len(ids), window, stride)
    if max_windows is not None:
        spans = spans[:max_windows]

    prefix = [] if bos_token_id is None else [bos_token_id]
    device = model_device(model)
    nll_sum = 0.0
    counted = 0
    for begin, end, first_counted in tqdm(spans, desc="log-perplexity", unit="window",
                                          disable=not progress, leave=False):
        window_ids = prefix + ids[begin:end]
        scored = end - max(first_counted, begin)
        if not prefix and first_counted <= begin:
            # Without a BOS the first token of a window has nothing to condition on.
            scored -= 1
        if scored <= 0:
            continue

        input_ids = torch.tensor([window_ids], device=device)
        # logits_to_keep computes the LM head only on the positions that
        # predict scored tokens, which is most of the cost for large vocabularies.
        logits = model(input_ids=input_ids, logits_to_keep=scored + 1, use_cache=False).logits
        predictions = logits[0, :-1].float()
        targets = input_ids[0, -scored:].to(predictions.device)
        nll_sum += F.cross_entropy(predictions, targets, reduction="sum").item()
        counted += scored

    return PerplexityResult(nll_sum, counted)


def _choice_log_likelihoods(model, tokenizer, item: MultipleChoiceItem) -> list[float]:
    prefix = bos_prefix(tokenizer)
    context_ids = encode(tokenizer, item.context)
    sequences = []
    continuation_lengths = []
    for choice in item.choices:
        # As in lm-evaluation-harness: tokenize context + continuation together
        # and score the tokens past the context's own tokenization.
        whole = encode(tokenizer, item.context + choice)
        context_length = len(context_ids)
        if whole[:context_length] != context_ids:
            context_length = _common_prefix(whole, context_ids)
        continuation = whole[context_length:]
        if not continuation:
            raise ValueError(f"choice {choice!r} adds no tokens to context {item.context[:60]!r}")
        sequences.append(prefix + whole)
        continuation_lengths.append(len(continuation))

    device = model_device(model)
    length = max(len(sequence) for sequence in sequences)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(sequences), length), pad, dtype=torch.long, device=device)
    attention_mask = torch.zeros_like(input_ids)
    for row, sequence in enumerate(sequences):
        input_ids[row, :len(sequence)] = torch.tensor(sequence, device=device)
        attention_mask[row, :len(sequence)] = 1

    # Right padding keeps real positions unchanged; logits are kept from the
    # earliest position that predicts a continuation token.
    first_predicting = min(len(sequence) - count - 1
                           for sequence, count in zip(sequences, continuation_lengths))
    keep = length - first_predicting
    logits = model(input_ids=input_ids, attention_mask=attention_mask,
                   logits_to_keep=keep, use_cache=False).logits.float()
    log_probs = torch.log_softmax(logits, dim=-1)

    scores = []
    for row, (sequence, count) in enumerate(zip(sequences, continuation_lengths)):
        positions = torch.arange(len(sequence) - count - 1, len(sequence) - 1, device=log_probs.device)
        targets = torch.tensor(sequence[-count:], device=log_probs.device)
        scores.append(log_probs[row, positions - first_predicting, targets].sum().item())
    return scores


def _common_prefix(first: list[int], second: list[int]) -> int:
    length = 0
    for a, b in zip(first, second):
        if a != b:
            break
        length += 1
    return length


@torch.no_grad()
def multiple_choice_accuracy(
    model: nn.Module,
    tokenizer,
    items: list[MultipleChoiceItem],
    progress: bool = True,
) -> ChoiceScores:
    r"""Score each choice by :math:`\sum_t \log p(c_t \mid \text{context}, c_{<t})` and count argmax hits.

    ``accuracy_norm`` divides each choice's score by its length in characters,
    as lm-evaluation-harness's ``acc_norm``.

    Raises
    ------
    ValueError
        If ``items`` is empty.
    """
    if not items:
        raise ValueError("multiple-choice evaluation needs at least one item")
    hits = 0
    hits_norm = 0
    for item in tqdm(items, desc="multiple choice", unit="item", disable=not progress, leave=False):
        scores = _choice_log_likelihoods(model, tokenizer, item)
        normalised = [score / max(len(choice), 1) for score, choice in zip(scores, item.choices)]
        hits += int(max(range(len(scores)), key=scores.__getitem__) == item.answer)
        hits_norm += int(max(range(len(normalised)), key=normalised.__getitem__) == item.answer)
    return ChoiceScores(hits / len(items), hits_norm / len(items), len(items))

