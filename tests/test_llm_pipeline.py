"""The replacement pipeline end to end on tiny LLaMA, Qwen2 and Gemma 3 models."""

import csv
import json
import logging

import pytest
import torch
from torch import nn

from geomalg.experiments.llm import pipeline
from geomalg.experiments.llm.capture import QKV
from geomalg.experiments.llm.fit import FitSettings
from geomalg.experiments.llm.methods import (MethodRegistry, MethodUnavailableError, ReplacementMethod,
                                             default_registry)
from geomalg.experiments.llm.models import attention_projections
from geomalg.experiments.llm.pipeline import ExperimentConfig, run_experiment
from geomalg.experiments.llm.storage import ResultsExistError
from geomalg.experiments.llm.text import split_documents
from geomalg.experiments.llm.tiny import synthetic_documents, tiny_model, tiny_tokenizer

pytest.importorskip("transformers", reason="the LM experiment needs transformers")


class _LowRank(nn.Module):
    """A rank-2 layer independent of geomalg.nn, so these tests do not depend on it."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.down = nn.Linear(in_features, 2, bias=False)
        self.up = nn.Linear(2, out_features, bias=True)

    def forward(self, x):
        return self.up(self.down(x))


def _registry():
    registry = MethodRegistry()
    registry.register(ReplacementMethod("dense", "nn.Linear", lambda n, m: nn.Linear(n, m)))
    registry.register(ReplacementMethod("rank-2", "two thin nn.Linear", _LowRank, {"rank": 2}))
    return registry


def _config(**overrides):
    values = dict(layers=(0, 2), methods=("dense", "rank-2"), capture_tokens=256, validation_tokens=64,
                  capture_window=64, fit=FitSettings(epochs=2, batch_size=64), eval_window=32,
                  eval_stride=16, windows=3, task_items=4)
    values.update(overrides)
    return ExperimentConfig(**values)


@pytest.fixture(scope="module")
def corpus():
    return split_documents("synthetic", synthetic_documents(150))


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return tiny_tokenizer([d.text for d in corpus.train])


@pytest.fixture()
def loaded(tokenizer):
    return tiny_model("llama", tokenizer)


def _run(tmp_path, loaded, corpus, config=None, **flags):
    return run_experiment(config or _config(), tmp_path / "out", progress=False, registry=_registry(),
                          loaded=loaded, corpus=corpus, **flags)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tokenizer, corpus):
    """A completed default run shared by the tests that only read its output."""
    folder = tmp_path_factory.mktemp("finished")
    rows = _run(folder, tiny_model("llama", tokenizer), corpus)
    return folder, rows


def test_run_writes_rows_and_reports(finished):
    tmp_path, rows = finished
    assert [row.method for row in rows] == ["original", "dense", "rank-2"]
    assert rows[0].delta_log_ppl == 0.0
    for row in rows[1:]:
        assert row.delta_log_ppl == pytest.approx(row.log_ppl - rows[0].log_ppl)
        assert row.layers == [0, 2]
        assert row.tokens == rows[0].tokens
        assert set(row.details) == {f"layer{layer}.{name}" for layer in (0, 2) for name in QKV}

    out = tmp_path / "out"
    for name in ("results.md", "results.csv", "results.json", "llm_delta_log_ppl.png", "run.json"):
        assert (out / name).is_file(), name
    with open(out / "results.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [line["method"] for line in table] == ["original", "dense", "rank-2"]
    assert table[2]["layers"] == "0,2"


def test_parameter_counts(finished):
    _, rows = finished
    hidden, q_width, kv_width = 64, 64, 32
    dense = 2 * (hidden * q_width + 2 * hidden * kv_width)
    assert rows[0].parameters == dense
    assert rows[1].parameters == dense + 2 * (q_width + 2 * kv_width)
    rank_2 = sum(2 * hidden + 2 * width + width for width in (q_width, kv_width, kv_width))
    assert rows[2].parameters == 2 * rank_2


def test_model_is_restored_after_run(tmp_path, loaded, corpus):
    targets = attention_projections(loaded.model, [0, 2])
    before = [target.projection(name) for target in targets for name in (*QKV, "o_proj")]
    _run(tmp_path, loaded, corpus, _config(refit_o_proj=True))
    after = [target.projection(name) for target in targets for name in (*QKV, "o_proj")]
    assert all(first is second for first, second in zip(before, after))


def test_later_layers_see_earlier_replacements(finished):
    tmp_path, _ = finished
    activations = sorted((tmp_path / "out" / "cache" / "activations").glob("*.pt"))
    names = [path.name.split("-")[0] for path in activations]
    # Layer 0 is captured once for both methods; layer 2 once per method,
    # because each method's layer-0 replacement changes its inputs.
    assert names.count("layer0") == 1
    assert names.count("layer2") == 2
    layer2 = [torch.load(path, weights_only=False) for path in activations if path.name.startswith("layer2")]
    assert not torch.allclose(layer2[0]["train"]["inputs"], layer2[1]["train"]["inputs"])


def test_dense_refit_barely_changes_log_ppl(tmp_path, loaded, corpus):
    config = _config(methods=("dense",), layers=(1,), fit=FitSettings(epochs=40, batch_size=64,
                                                                       learning_rate=3e-2))
    rows = _run(tmp_path, loaded, corpus, config)
    # A full-rank refit can represent the original map exactly, so only
    # optimisation error remains: about 0.005 relative MSE after 40 epochs.
    assert abs(rows[1].delta_log_ppl) < 0.01
    assert all(detail["validation_relative_mse"] < 0.02 for detail in rows[1].details.values())


def test_o_proj_refit_is_recorded(tmp_path, loaded, corpus):
    rows = _run(tmp_path, loaded, corpus, _config(refit_o_proj=True, methods=("rank-2",)))
    details = rows[1].details["layer0.o_proj"]
    assert set(details) == {"validation_mse_before", "validation_mse_after", "kept"}
    assert details["kept"] == (details["validation_mse_after"] < details["validation_mse_before"])


def test_existing_results_are_not_overwritten(finished, loaded, corpus):
    tmp_path, _ = finished
    stamp = (tmp_path / "out" / "results.json").read_text()
    with pytest.raises(ResultsExistError, match="already contains a run; pass --resume to continue it, --overwrite"):
        _run(tmp_path, loaded, corpus)
    assert (tmp_path / "out" / "results.json").read_text() == stamp


def test_resume_reuses_rows_without_fitting(finished, loaded, corpus, monkeypatch):
    tmp_path, first = finished

    def fail(*args, **kwargs):
        raise AssertionError("a resumed run must not fit or evaluate again")

    monkeypatch.setattr(pipeline, "fit_replacement", fail)
    monkeypatch.setattr(pipeline, "_evaluate", fail)
    second = _run(tmp_path, loaded, corpus, resume=True)
    assert [row.log_ppl for row in second] == [row.log_ppl for row in first]


def test_resume_rejects_changed_settings(finished, loaded, corpus):
    tmp_path, _ = finished
    with pytest.raises(ValueError, match=r"different settings \(windows: 3 -> 4\)"):
        _run(tmp_path, loaded, corpus, _config(windows=4), resume=True)


def test_resume_and_overwrite_together_rejected(tmp_path, loaded, corpus):
    with pytest.raises(ValueError, match="either --resume or --overwrite"):
        _run(tmp_path, loaded, corpus, resume=True, overwrite=True)


def test_overwrite_keeps_cache_and_rewrites_rows(tmp_path, loaded, corpus, monkeypatch):
    first = _run(tmp_path, loaded, corpus)
    calls = []
    original_fit = pipeline.fit_replacement
    monkeypatch.setattr(pipeline, "fit_replacement", lambda *a, **k: calls.append(1) or original_fit(*a, **k))
    second = _run(tmp_path, loaded, corpus, overwrite=True)
    assert calls == []
    assert [row.log_ppl for row in second] == pytest.approx([row.log_ppl for row in first], abs=1e-6)


def test_interrupted_run_resumes(tmp_path, loaded, corpus, monkeypatch):
    real_evaluate = pipeline._evaluate
    evaluations = []

    def interrupt_second_method(context):
        evaluations.append(1)
        if len(evaluations) == 3:
            raise KeyboardInterrupt
        return real_evaluate(context)

    monkeypatch.setattr(pipeline, "_evaluate", interrupt_second_method)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, loaded, corpus)
    out = tmp_path / "out"
    assert not (out / "results.json").exists()
    assert len(list((out / "rows").glob("*.json"))) == 2
    assert not list(out.rglob("*.tmp"))

    fits = []
    monkeypatch.setattr(pipeline, "_evaluate", real_evaluate)
    real_fit = pipeline.fit_replacement
    monkeypatch.setattr(pipeline, "fit_replacement", lambda *a, **k: fits.append(1) or real_fit(*a, **k))
    rows = _run(tmp_path, loaded, corpus, resume=True)
    assert [row.method for row in rows] == ["original", "dense", "rank-2"]
    # The interrupted method's replacements were cached before evaluation.
    assert fits == []


def test_unknown_method(tmp_path, loaded, corpus):
    with pytest.raises(ValueError, match="unknown replacement method 'svd'"):
        _run(tmp_path, loaded, corpus, _config(methods=("svd",)))


def test_layer_out_of_range(tmp_path, loaded, corpus):
    with pytest.raises(ValueError, match="valid indices are 0 to 2"):
        _run(tmp_path, loaded, corpus, _config(layers=(3,)))
    assert not (tmp_path / "out" / "run.json").exists()


def test_default_layer_is_middle(tmp_path, loaded, corpus):
    rows = _run(tmp_path, loaded, corpus, _config(layers=None, methods=("rank-2",)))
    assert rows[1].layers == [1]


def _unavailable_registry():
    registry = _registry()

    def missing():
        raise MethodUnavailableError("geomalg.nn has no class Missing")

    registry.register(ReplacementMethod("missing", "absent layer", lambda n, m: None), missing)
    return registry


def test_unavailable_default_method_is_skipped(caplog):
    registry = _unavailable_registry()
    with caplog.at_level(logging.WARNING):
        methods = registry.resolve(["rank-2", "missing"], explicit=False)
    assert [method.name for method in methods] == ["rank-2"]
    assert "skipping method missing: geomalg.nn has no class Missing" in caplog.text


def test_unavailable_requested_method_raises():
    with pytest.raises(MethodUnavailableError, match="method 'missing' was requested but cannot be built"):
        _unavailable_registry().resolve(["missing"], explicit=True)


def test_registry_rejects_duplicate_name():
    with pytest.raises(ValueError, match="already taken"):
        _registry().register(ReplacementMethod("dense", "again", lambda n, m: nn.Linear(n, m)))


def test_default_registry_builds_available_layers():
    registry = default_registry()
    for name in registry.names():
        if registry.unavailable_reason(name) is not None:
            continue
        module = registry.get(name).build(64, 32)
        assert module(torch.zeros(5, 64)).shape == (5, 32)
        assert isinstance(getattr(module, "bias", None), torch.Tensor)


@pytest.mark.parametrize("architecture", ["qwen2", "gemma3"])
def test_other_architectures(tmp_path, tokenizer, corpus, architecture):
    loaded = tiny_model(architecture, tokenizer)
    rows = _run(tmp_path, loaded, corpus, _config(layers=(1,), methods=("rank-2",), refit_o_proj=True))
    assert len(rows) == 2
    assert torch.isfinite(torch.tensor(rows[1].log_ppl))
    if architecture == "qwen2":
        # Qwen2's q/k/v carry biases, which count as replaced parameters.
        assert attention_projections(loaded.model, [1])[0].projection("q_proj").bias is not None
        assert rows[0].parameters == 64 * 64 + 64 + 2 * (64 * 32 + 32)


def test_results_json_metadata(finished):
    tmp_path, _ = finished
    payload = json.loads((tmp_path / "out" / "results.json").read_text())
    assert payload["metadata"]["model"] == "tiny-llama"
    assert payload["metadata"]["layers"] == [0, 2]
    assert payload["rows"][1]["method"] == "dense"


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny matrices gain nothing from threads, and on a busy machine thread
    # hand-offs dominate their cost.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_resume_with_other_methods_adds_rows(tmp_path, loaded, corpus):
    _run(tmp_path, loaded, corpus, _config(methods=("dense",), layers=(1,)))
    rows = _run(tmp_path, loaded, corpus, _config(methods=("dense", "rank-2"), layers=(1,)), resume=True)
    assert [row.method for row in rows] == ["original", "dense", "rank-2"]


def test_resume_with_new_method_keeps_finished_rows(tmp_path, loaded, corpus):
    _run(tmp_path, loaded, corpus, _config(methods=("dense",), layers=(1,)))
    rows = _run(tmp_path, loaded, corpus, _config(methods=("rank-2",), layers=(1,)), resume=True)
    assert [row.method for row in rows] == ["original", "rank-2", "dense"]
    with (tmp_path / "out" / "results.csv").open() as stream:
        methods = [record["method"] for record in csv.DictReader(stream)]
    assert methods == ["original", "rank-2", "dense"]


def _fitted_learning_rates(folder):
    rates = {}
    for path in (folder / "out" / "cache" / "replacements").glob("*.pt"):
        settings = torch.load(path, weights_only=False)["settings"]
        rates[settings["method"]] = settings["fit"]["learning_rate"]
    return rates


def test_method_learning_rate_and_override(tmp_path, loaded, corpus):
    registry = MethodRegistry()
    registry.register(ReplacementMethod("dense", "nn.Linear", lambda n, m: nn.Linear(n, m)))
    registry.register(ReplacementMethod("rank-2", "two thin nn.Linear", _LowRank, {"rank": 2}, learning_rate=0.05))
    config = _config(layers=(1,))
    run_experiment(config, tmp_path / "own" / "out", progress=False, registry=registry, loaded=loaded, corpus=corpus)
    assert _fitted_learning_rates(tmp_path / "own") == {"dense": config.fit.learning_rate, "rank-2": 0.05}

    shared = _config(layers=(1,), method_learning_rates=False)
    run_experiment(shared, tmp_path / "shared" / "out", progress=False, registry=registry, loaded=loaded,
                   corpus=corpus)
    assert _fitted_learning_rates(tmp_path / "shared") == {"dense": shared.fit.learning_rate,
                                                           "rank-2": shared.fit.learning_rate}


def test_bias_only_control_predicts_the_mean(tmp_path, loaded, corpus):
    registry = default_registry()
    config = _config(layers=(1,), methods=("bias-only",))
    rows = run_experiment(config, tmp_path / "out", progress=False, registry=registry, loaded=loaded, corpus=corpus)
    target = attention_projections(loaded.model, [1])[0]
    expected = sum(target.projection(name).weight.shape[0] for name in QKV)
    assert rows[1].parameters == expected
    details = rows[1].details["layer1.q_proj"]
    assert details["validation_relative_mse"] == pytest.approx(1.0, abs=0.2)


def test_command_line_lr_overrides_method_rates():
    from geomalg.experiments.llm.__main__ import build_parser, config_from_arguments
    own = config_from_arguments(build_parser().parse_args([]))
    assert own.method_learning_rates
    shared = config_from_arguments(build_parser().parse_args(["--lr", "0.003"]))
    assert not shared.method_learning_rates
    assert shared.fit.learning_rate == 0.003
