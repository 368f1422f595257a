"""Model loading, projection lookup, fitting, storage and the command line of the LM experiment."""

import json
import logging
import os

import numpy as np
import pytest
import torch
from torch import nn

from geomalg.experiments.llm import __main__ as cli
from geomalg.experiments.llm.fit import FitSettings, fit_replacement, refit_o_proj
from geomalg.experiments.llm.models import attention_projections, load_model, parse_dtype
from geomalg.experiments.llm.storage import atomic_write_text, cache_key, prepare_output_folder
from geomalg.experiments.llm.tiny import save_tiny_model, synthetic_documents, tiny_model, tiny_tokenizer

pytest.importorskip("transformers", reason="the LM experiment needs transformers")


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
    return synthetic_documents(150)


@pytest.fixture(scope="module")
def tokenizer(documents):
    return tiny_tokenizer([d.text for d in documents])


@pytest.fixture(scope="module")
def saved_llama(tmp_path_factory, tokenizer):
    return save_tiny_model(tiny_model("llama", tokenizer), tmp_path_factory.mktemp("tiny-llama"))


def test_load_saved_model(saved_llama, tokenizer):
    loaded = load_model(str(saved_llama))
    reference = tiny_model("llama", tokenizer)
    ids = torch.tensor([tokenizer("The river number 3 is known.")["input_ids"]])
    with torch.no_grad():
        expected = reference.model(input_ids=ids).logits
        actual = loaded.model(input_ids=ids).logits
    assert loaded.model_id == str(saved_llama.resolve())
    assert not loaded.model.training
    torch.testing.assert_close(actual, expected)


def test_load_model_in_bfloat16(saved_llama):
    loaded = load_model(str(saved_llama), dtype="bf16")
    assert loaded.model.model.layers[0].self_attn.q_proj.weight.dtype == torch.bfloat16


def test_missing_local_path(tmp_path):
    with pytest.raises(ValueError, match="model path .* was not found; pass an existing folder"):
        load_model(str(tmp_path / "absent"))


def test_hub_id_not_in_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="not found locally.*nothing is downloaded at run time"):
        load_model("example-owner/absent-model")


def test_parse_dtype():
    assert parse_dtype("bfloat16") is torch.bfloat16
    assert parse_dtype("FP32") is torch.float32
    with pytest.raises(ValueError, match="unknown dtype 'int8'"):
        parse_dtype("int8")


def test_layer_index_out_of_range(tokenizer):
    model = tiny_model("llama", tokenizer).model
    with pytest.raises(ValueError, match="has 3 decoder layers, so valid indices are 0 to 2"):
        attention_projections(model, [0, 3])
    with pytest.raises(ValueError, match="valid indices are 0 to 2"):
        attention_projections(model, [-1])
    with pytest.raises(ValueError, match="must be distinct"):
        attention_projections(model, [1, 1])


def test_fused_qkv_is_rejected(tokenizer):
    import transformers

    config = transformers.Phi3Config(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                     num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                                     pad_token_id=0)
    model = transformers.Phi3ForCausalLM(config)
    with pytest.raises(ValueError, match="fused projection 'qkv_proj'.*supported are LLaMA, Qwen2"):
        attention_projections(model, [0])


def test_model_without_decoder_layers_is_rejected(tokenizer):
    import transformers

    config = transformers.GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2)
    model = transformers.GPT2LMHeadModel(config)
    with pytest.raises(ValueError, match="supported are LLaMA, Qwen2"):
        attention_projections(model, [0])


def test_fit_recovers_linear_map():
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(8, 16, generator=generator)
    inputs = torch.randn(512, 16, generator=generator)
    validation = torch.randn(128, 16, generator=generator)
    module = nn.Linear(16, 8)
    result = fit_replacement(module, inputs, inputs @ weight.T + 1.0, validation, validation @ weight.T + 1.0,
                             FitSettings(epochs=60, batch_size=64, learning_rate=3e-2), progress=False)
    assert result.validation_relative_mse < 1e-3
    error = torch.linalg.norm(module.weight.detach() - weight) / torch.linalg.norm(weight)
    assert error < 0.05


def test_fit_keeps_best_validation_epoch():
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(256, 4, generator=generator)
    targets = torch.randn(256, 2, generator=generator)
    module = nn.Linear(4, 2)
    # A huge learning rate makes later epochs worse; the best state must come back.
    result = fit_replacement(module, inputs, targets, inputs[:64], targets[:64],
                             FitSettings(epochs=5, batch_size=32, learning_rate=50.0), progress=False)
    with torch.no_grad():
        final = torch.mean((module(inputs[:64]) - targets[:64]) ** 2).item()
    assert final == pytest.approx(result.validation_mse, rel=1e-5)


def test_fit_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="same number of rows"):
        fit_replacement(nn.Linear(4, 2), torch.zeros(10, 4), torch.zeros(9, 2), torch.zeros(3, 4),
                        torch.zeros(3, 2), FitSettings(), progress=False)


def test_fit_settings_validate():
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        FitSettings(learning_rate=0.0)


def test_o_proj_refit_matches_least_squares():
    generator = torch.Generator().manual_seed(2)
    inputs = torch.randn(300, 12, generator=generator, dtype=torch.float64)
    targets = torch.randn(300, 6, generator=generator, dtype=torch.float64)
    o_proj = nn.Linear(12, 6, bias=True, dtype=torch.float64)

    weight = refit_o_proj(o_proj, inputs, targets, ridge=0.0)
    expected, *_ = np.linalg.lstsq(inputs.numpy(), (targets - o_proj.bias.detach()).numpy(), rcond=None)
    np.testing.assert_allclose(weight.numpy(), expected.T, atol=1e-10)


def test_o_proj_ridge_pulls_toward_original():
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(50, 8, generator=generator)
    targets = torch.randn(50, 4, generator=generator)
    o_proj = nn.Linear(8, 4, bias=False)
    original = o_proj.weight.detach().double()
    loose = refit_o_proj(o_proj, inputs, targets, ridge=0.0)
    tight = refit_o_proj(o_proj, inputs, targets, ridge=1e6)
    assert torch.linalg.norm(tight - original) < 1e-3 * torch.linalg.norm(loose - original)


def test_atomic_write_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "file.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(path.parent) == ["file.txt"]
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_cache_key_depends_on_every_setting():
    base = {"layer": 3, "method": "rank-2", "fit": {"epochs": 5}}
    assert cache_key(base) == cache_key(dict(reversed(list(base.items()))))
    assert cache_key(base) != cache_key({**base, "fit": {"epochs": 6}})


def test_check_only_writes_nothing(tmp_path):
    prepare_output_folder(tmp_path / "out", {"a": 1}, resume=False, overwrite=False, record=False)
    assert not (tmp_path / "out").exists()


def test_cli_lists_methods(capsys):
    assert cli.main(["--list-methods"]) == 0
    listed = capsys.readouterr().out
    assert "low-rank-1" in listed
    assert "dense" in listed


def test_cli_reports_bad_layer(saved_llama, tmp_path, documents, caplog):
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(d.text for d in documents), encoding="utf-8")
    arguments = ["--model", str(saved_llama), "--text", str(text), "--layers", "7",
                 "--out", str(tmp_path / "out"), "--no-progress"]
    with caplog.at_level(logging.ERROR):
        assert cli.main(arguments) == 2
    assert "valid indices are 0 to 2" in caplog.text


def test_cli_runs_on_saved_model(saved_llama, tmp_path, documents, capsys):
    text = tmp_path / "corpus.txt"
    text.write_text("\n\n".join(d.text for d in documents), encoding="utf-8")
    out = tmp_path / "out"
    arguments = ["--model", str(saved_llama), "--text", str(text), "--layers", "1", "--methods", "dense",
                 "--smoke", "--out", str(out), "--no-progress"]
    assert cli.main(arguments) == 0
    assert "| dense | 1 |" in capsys.readouterr().out
    settings = json.loads((out / "run.json").read_text())
    assert settings["capture_tokens"] == cli.SMOKE_SETTINGS["capture_tokens"]
    assert settings["fit"]["epochs"] == cli.SMOKE_SETTINGS["epochs"]

    assert cli.main(arguments) == 2
    assert cli.main([*arguments, "--resume"]) == 0
