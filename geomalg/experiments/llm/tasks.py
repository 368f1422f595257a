"""Multiple-choice tasks: next sentence from held-out articles, ARC-Challenge, HellaSwag.

Each item is a context, several continuations and the index of the right one.
Continuations start with a space, so that scoring the tokens of
``context + continuation`` matches the lm-evaluation-harness convention.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass

from .text import Document, load_hf_dataset

__all__ = [
    "MultipleChoiceItem",
    "load_arc_challenge",
    "load_hellaswag",
    "next_sentence_task",
    "split_sentences",
]

logger = logging.getLogger(__name__)

# A sentence ends at . ! or ? followed by white space and an upper-case letter,
# digit or quote; this keeps "e.g. the" and "3.5 m" inside one sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


@dataclass(frozen=True)
class MultipleChoiceItem:
    """One question: ``choices[answer]`` is the right continuation of ``context``."""

    context: str
    choices: tuple[str, ...]
    answer: int

    def __post_init__(self) -> None:
        if len(self.choices) < 2:
            raise ValueError(f"an item needs at least two choices, got {len(self.choices)}")
        if not 0 <= self.answer < len(self.choices):
            raise ValueError(f"answer index {self.answer} is outside 0..{len(self.choices) - 1}")


def split_sentences(text: str) -> list[str]:
    """Split text into sentences at ., ! or ? followed by a capitalised word."""
    return [sentence.strip() for sentence in _SENTENCE_END.split(text.strip()) if sentence.strip()]


def next_sentence_task(
    documents: list[Document],
    num_items: int,
    num_choices: int = 4,
    context_sentences: int = 2,
    seed: int = 0,
    max_sentence_chars: int = 300,
) -> list[MultipleChoiceItem]:
    """Build a next-sentence task: pick an article's true next sentence among distractors.

    For each chosen article the context is its first ``context_sentences``
    sentences and the right answer is the sentence after them.  The
    distractors are sentences at the same position of other articles, so
    their position in an article gives no hint.  The choice order is shuffled.

    Parameters
    ----------
    documents : list of Document
        Held-out (test) documents.
    num_items : int
        Number of questions; fewer if too few documents qualify.
    num_choices : int
        Choices per question, including the right one.
    context_sentences : int
        Sentences of context.
    seed : int
        Seed of the article, distractor and order draws.
    max_sentence_chars : int
        Sentences longer than this are not used as answers or distractors.

    Returns
    -------
    list of MultipleChoiceItem

    Raises
    ------
    ValueError
        If fewer than ``num_choices`` documents have enough sentences.
    """
    if num_items < 1:
        raise ValueError(f"num_items must be at least 1, got {num_items}")
    if num_choices < 2:
        raise ValueError(f"num_choices must be at least 2, got {num_choices}")

    candidates = []
    for document in documents:
        sentences = split_sentences(document.text)
        if len(sentences) <= context_sentences:
            continue
        answer = sentences[context_sentences]
        if len(answer) > max_sentence_chars:
            continue
        candidates.append((" ".join(sentences[:context_sentences]), answer))
    if len(candidates) < num_choices:
        raise ValueError(
            f"only {len(candidates)} documents have more than {context_sentences} sentences; "
            f"a {num_choices}-way task needs at least {num_choices}"
        )

    rng = random.Random(seed)
    chosen = rng.sample(range(len(candidates)), min(num_items, len(candidates)))
    items = []
    for index in chosen:
        context, answer = candidates[index]
        others = [other for other in range(len(candidates)) if other != index]
        distractors = [candidates[other][1] for other in rng.sample(others, num_choices - 1)]
        choices = [answer, *distractors]
        rng.shuffle(choices)
        items.append(MultipleChoiceItem(context, tuple(" " + choice for choice in choices),
                                        choices.index(answer)))
    logger.info("next-sentence task: %d items with %d choices from %d eligible documents",
                len(items), num_choices, len(candidates))
    return items


def load_arc_challenge(split: str = "test", limit: int | None = None) -> list[MultipleChoiceItem]:
    """Load ARC-Challenge through ``datasets`` as ``Question: ...\\nAnswer:`` items.

    Raises
    ------
    ImportError
        If ``datasets`` is not installed.
    ValueError
        If a record's answer key is not among its choice labels.
    """
    records = load_hf_dataset("allenai/ai2_arc", "ARC-Challenge", split=split)
    items = []
    for record in records:
        labels = list(record["choices"]["label"])
        if record["answerKey"] not in labels:
            raise ValueError(f"ARC record {record.get('id')!r} has answer key "
                             f"{record['answerKey']!r} outside its labels {labels}")
        items.append(MultipleChoiceItem(
            f"Question: {record['question']}\nAnswer:",
            tuple(" " + text for text in record["choices"]["text"]),
            labels.index(record["answerKey"]),
        ))
        if limit is not None and len(items) >= limit:
            break
    return items


def _clean_hellaswag(text: str) -> str:
    # WikiHow contexts carry markers such as "[title]" and "[step]".
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def load_hellaswag(split: str = "validation", limit: int | None = None) -> list[MultipleChoiceItem]:
    """Load HellaSwag through ``datasets``; the context is ``activity: ctx_a Ctx_b``.

    Raises
    ------
    ImportError
        If ``datasets`` is not installed.
    """
    records = load_hf_dataset("Rowan/hellaswag", split=split)
    items = []
    for record in records:
        context = record["ctx_a"] + " " + record["ctx_b"].capitalize()
        items.append(MultipleChoiceItem(
            _clean_hellaswag(record["activity_label"] + ": " + context),
            tuple(" " + _clean_hellaswag(ending) for ending in record["endings"]),
            int(record["label"]),
        ))
        if limit is not None and len(items) >= limit:
            break
    return items
