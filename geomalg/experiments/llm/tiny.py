"""Tiny randomly initialised causal LMs and a matching tokenizer, built offline.

They exercise the LLaMA, Qwen2 and Gemma 3 code paths of the experiment in
seconds, without any downloaded weights.  Their numbers mean nothing.
"""

from __future__ import annotations

import random
from pathlib import Path

import torch

from .models import LoadedModel
from .text import Document

__all__ = ["ARCHITECTURES", "save_tiny_model", "synthetic_documents", "tiny_model", "tiny_tokenizer"]

ARCHITECTURES = ("llama", "qwen2", "gemma3")

_SUBJECTS = ("The river", "A small town", "The old bridge", "This painting", "The mountain",
             "A poet", "The festival", "The library", "The harbour", "A museum")
_VERBS = ("was built", "is known", "became popular", "was described", "is located", "was founded",
          "was rebuilt", "is visited")
_PLACES = ("near the coast.", "in the north.", "during the winter.", "by many travellers.",
           "after a long war.", "for its bright colours.", "beside a lake.", "in the old quarter.")


def synthetic_documents(count: int, sentences: int = 5, seed: int = 0) -> list[Document]:
    """Return ``count`` short articles of ``sentences`` template sentences each, keyed "Article i"."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        text = " ".join(f"{rng.choice(_SUBJECTS)} number {index * sentences + position} "
                        f"{rng.choice(_VERBS)} {rng.choice(_PLACES)}" for position in range(sentences))
        documents.append(Document(f"Article {index}", text))
    return documents


def tiny_tokenizer(texts: list[str], vocab_size: int = 320, bos: bool = True):
    """Train a byte-pair tokenizer on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``.

    Parameters
    ----------
    texts : list of str
        Training text.
    vocab_size : int
        Target vocabulary size, special tokens included.
    bos : bool
        Whether the tokenizer has a BOS token (Qwen2's has none).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<eos>"] + (["<bos>"] if bos else [])
    model = Tokenizer(models.BPE(unk_token="<unk>"))
    model.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    model.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    model.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>",
        bos_token="<bos>" if bos else None,
    )


def tiny_model(architecture: str, tokenizer, num_layers: int = 3, seed: int = 0) -> LoadedModel:
    """Build a causal LM of about 0.1M parameters plus embeddings from transformers' config classes.

    Hidden size 64, 4 query heads and 2 key/value heads of width 16.  The
    Qwen2 model has biases on q/k/v, as the real one does; Gemma 3 adds
    q/k norms.

    Raises
    ------
    ValueError
        If ``architecture`` is not one of :data:`ARCHITECTURES`.
    """
    import transformers

    common = {
        "vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": num_layers, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 512, "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
        "tie_word_embeddings": True,
    }
    if architecture == "llama":
        config = transformers.LlamaConfig(head_dim=16, **common)
        model_class = transformers.LlamaForCausalLM
    elif architecture == "qwen2":
        config = transformers.Qwen2Config(**common)
        model_class = transformers.Qwen2ForCausalLM
    elif architecture == "gemma3":
        config = transformers.Gemma3TextConfig(head_dim=16, sliding_window=32, query_pre_attn_scalar=16,
                                               **common)
        model_class = transformers.Gemma3ForCausalLM
    else:
        raise ValueError(f"unknown architecture {architecture!r}; use one of {', '.join(ARCHITECTURES)}")

    torch.manual_seed(seed)
    model = model_class(config).eval()
    return LoadedModel(model, tokenizer, f"tiny-{architecture}")


def save_tiny_model(loaded: LoadedModel, folder: str | Path) -> Path:
    """Save model and tokenizer with ``save_pretrained`` so that ``load_model(folder)`` reads them."""
    folder = Path(folder)
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder
