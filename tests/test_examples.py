"""The scripts in examples/ run to the end in their quick settings."""

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("script", ["rotate_vectors.py", "replace_linear.py", "fit_projection.py"])
def test_example_runs(script, monkeypatch, capsys):
    arguments = [] if script == "rotate_vectors.py" else ["--quick"]
    monkeypatch.setattr(sys, "argv", [script, *arguments])
    runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    printed = capsys.readouterr().out
    assert printed.strip(), f"{script} printed nothing"


def test_examples_are_all_tested():
    scripts = sorted(path.name for path in EXAMPLES.glob("*.py"))
    assert scripts == ["fit_projection.py", "replace_linear.py", "rotate_vectors.py"]
