"""Log-perplexity and multiple-choice scoring checked against direct per-sequence references."""

import math

import pytest
import torch

from geomalg.experiments.llm.metrics import (encode, log_perplexity, multiple_choice_accuracy,
                                             window_spans)
from geomalg.experiments.llm.tasks import MultipleChoiceItem
from geomalg.experiments.llm.tiny import synthetic_documents, tiny_model, tiny_tokenizer

pytest.importorskip("transformers", reason="the LM experiment needs transformers")

# Per-token log-probabilities from a batched, logits_to_keep forward pass and
# from a plain full forward pass agree to float32 rounding.
TOLERANCE = 1e-4


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny matrices gain nothing from threads, and on a busy machine thread
    # hand-offs dominate their cost.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def documents():
    return synthetic_documents(20)


@pytest.fixture(scope="module", params=[True, False], ids=["bos", "no-bos"])
def loaded(request, documents):
    tokenizer = tiny_tokenizer([d.text for d in documents], bos=request.param)
    return tiny_model("llama" if request.param else "qwen2", tokenizer)


def _full_log_probs(model, ids):
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    return torch.log_softmax(logits, dim=-1)


def _reference_log_perplexity(model, ids, window, stride, bos):
    """Score every token once by running its window in full, without logits_to_keep."""
    prefix = [] if bos is None else [bos]
    total, count = 0.0, 0
    previous_end = 0
    for begin in range(0, len(ids), stride):
        end = min(begin + window, len(ids))
        log_probs = _full_log_probs(model, prefix + ids[begin:end])
        for position in range(max(previous_end, begin), end):
            local = position - begin + len(prefix)
            if local == 0:
                continue
            total -= log_probs[local - 1, ids[position]].item()
            count += 1
        previous_end = end
        if end == len(ids):
            break
    return total / count, count


@pytest.mark.parametrize("num_tokens,window,stride", [(10, 4, 4), (10, 4, 1), (11, 5, 3), (3, 8, 2), (8, 8, 8)])
def test_window_spans_score_each_token_once(num_tokens, window, stride):
    scored = []
    for begin, end, first in window_spans(num_tokens, window, stride):
        assert end - begin <= window
        scored.extend(range(max(first, begin), end))
    assert scored == list(range(num_tokens))


def test_window_spans_reject_bad_stride():
    with pytest.raises(ValueError, match="stride must be between 1 and the window"):
        window_spans(10, 4, 5)


@pytest.mark.parametrize("window,stride", [(16, 16), (16, 6)])
def test_log_perplexity_matches_reference(loaded, documents, window, stride):
    ids = encode(loaded.tokenizer, " ".join(d.text for d in documents[:3]))[:70]
    bos = loaded.tokenizer.bos_token_id
    result = log_perplexity(loaded.model, ids, window, stride, bos_token_id=bos, progress=False)
    expected, count = _reference_log_perplexity(loaded.model, ids, window, stride, bos)
    assert result.tokens == count
    assert result.log_perplexity == pytest.approx(expected, abs=TOLERANCE)


def test_log_perplexity_counts_all_tokens_with_bos(documents):
    tokenizer = tiny_tokenizer([d.text for d in documents])
    loaded = tiny_model("llama", tokenizer)
    ids = encode(tokenizer, documents[0].text)[:40]
    result = log_perplexity(loaded.model, ids, 16, 8, bos_token_id=tokenizer.bos_token_id, progress=False)
    assert result.tokens == 40


def test_log_perplexity_max_windows(loaded, documents):
    ids = encode(loaded.tokenizer, documents[0].text)[:40]
    bos = loaded.tokenizer.bos_token_id
    limited = log_perplexity(loaded.model, ids, 10, 10, max_windows=2, bos_token_id=bos, progress=False)
    assert limited.tokens == (20 if bos is not None else 18)


def test_log_perplexity_rejects_short_text(loaded):
    with pytest.raises(ValueError, match="at least 2 tokens"):
        log_perplexity(loaded.model, [5], progress=False)


def _reference_choice_scores(loaded, item):
    """Sum log p(continuation) from one unpadded forward pass per choice."""
    tokenizer = loaded.tokenizer
    prefix = [] if tokenizer.bos_token_id is None else [tokenizer.bos_token_id]
    context = encode(tokenizer, item.context)
    scores = []
    for choice in item.choices:
        whole = encode(tokenizer, item.context + choice)
        sequence = prefix + whole
        log_probs = _full_log_probs(loaded.model, sequence)
        start = len(prefix) + len(context)
        scores.append(sum(log_probs[position - 1, sequence[position]].item()
                          for position in range(start, len(sequence))))
    return scores


def test_choice_scores_match_unpadded_reference(loaded):
    from geomalg.experiments.llm.metrics import _choice_log_likelihoods

    item = MultipleChoiceItem("The old bridge number 4 was built",
                              (" near the coast.", " in the north of a very long and winding valley.", " by a poet."), 0)
    scores = _choice_log_likelihoods(loaded.model, loaded.tokenizer, item)
    expected = _reference_choice_scores(loaded, item)
    assert scores == pytest.approx(expected, abs=TOLERANCE * 10)


def test_accuracy_counts_argmax_hits(loaded):
    contexts = ["The library number 3 is located", "A museum number 9 was founded", "The harbour is"]
    items = []
    for context in contexts:
        choices = (" near the coast.", " after a long war.", " beside a lake.")
        scores = _reference_choice_scores(loaded, MultipleChoiceItem(context, choices, 0))
        best = max(range(3), key=scores.__getitem__)
        # The first two items mark the model's top choice as right, the third does not.
        answer = best if context != contexts[2] else (best + 1) % 3
        items.append(MultipleChoiceItem(context, choices, answer))
    result = multiple_choice_accuracy(loaded.model, loaded.tokenizer, items, progress=False)
    assert result.accuracy == pytest.approx(2 / 3)
    assert result.items == 3
    assert math.isfinite(result.accuracy_norm)


def test_accuracy_rejects_empty_items(loaded):
    with pytest.raises(ValueError, match="at least one item"):
        multiple_choice_accuracy(loaded.model, loaded.tokenizer, [], progress=False)
