"""The verify command: selection, table, summary and exit status."""

import io

import pytest

from geomalg.verify import registry as registry_module
from geomalg.verify.__main__ import main
from geomalg.verify.registry import Registry, signatures_up_to
from geomalg.verify.runner import Outcome, format_table, report, run_checks


def make_registry():
    registry = Registry()

    @registry.register("demo.small", 1e-3, [(1, 0, 0)], [(2, 0, 0)])
    def small(p, q, r):
        return 1e-6

    @registry.register("demo.large", 1e-3)
    def large():
        return 1.0

    @registry.register("demo.raises", 1e-3)
    def raises():
        raise RuntimeError("broken reference")

    return registry


def test_select_default_and_full():
    registry = make_registry()
    assert [c.label for c in registry.select()] == ["demo.small Cl(1,0,0)", "demo.large", "demo.raises"]
    assert len(registry.select(full=True)) == 4


def test_select_by_pattern():
    registry = make_registry()
    assert [c.label for c in registry.select(patterns=["large"])] == ["demo.large"]
    assert [c.label for c in registry.select(full=True, patterns=["demo.small*"])] == [
        "demo.small Cl(1,0,0)",
        "demo.small Cl(2,0,0)",
    ]


def test_outcomes_pass_fail_and_exception():
    outcomes = run_checks(make_registry().select(), progress=False)
    assert [o.passed for o in outcomes] == [True, False, False]
    assert "broken reference" in outcomes[2].exception


def test_table_lists_each_check_and_summary():
    outcomes = run_checks(make_registry().select(), progress=False)
    stream = io.StringIO()
    report(stream, outcomes, 1.0)
    text = stream.getvalue()
    first_row = text.splitlines()[2].split()
    assert first_row == ["demo.small", "Cl(1,0,0)", "1.00e-06", "1e-03", "pass"]
    assert "FAIL" in text
    assert text.strip().endswith("1 passed, 2 failed in 1.0 s")


def test_main_exit_status(monkeypatch, capsys):
    registry = make_registry()
    monkeypatch.setattr("geomalg.verify.__main__.registry_checks", lambda: registry)
    assert main(["--only", "demo.small", "--no-progress"]) == 0
    assert main(["--no-progress"]) == 1
    assert main(["--only", "nothing-matches"]) == 2
    assert main(["--list"]) == 0
    assert "3 checks" in capsys.readouterr().out


def test_signatures_up_to_counts():
    assert len(signatures_up_to(8)) == 165
    assert all(sum(s) <= 8 for s in signatures_up_to(8))


def test_real_checks_are_registered():
    from geomalg.verify.runner import registry_checks

    labels = [c.label for c in registry_checks().select(full=True)]
    assert "product.geometric_product.numba Cl(2,2,2)" in labels
    assert sum(label.startswith("product.geometric_product.torch") for label in labels) == 165


def test_format_table_has_header():
    assert format_table([]).splitlines()[0].split() == ["check", "signature", "max", "abs", "error", "tolerance", "result"]


def test_skipped_check_does_not_fail(monkeypatch, capsys):
    from geomalg.verify.registry import CheckSkipped

    registry = Registry()

    @registry.register("demo.ok", 1e-3)
    def ok():
        return 0.0

    @registry.register("demo.unavailable", 1e-3)
    def unavailable():
        raise CheckSkipped("reference not installed")

    monkeypatch.setattr("geomalg.verify.__main__.registry_checks", lambda: registry)
    assert main(["--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "skip" in output
    assert "reference not installed" in output
    assert output.strip().splitlines()[-1].startswith("1 passed, 0 failed, 1 skipped")


def test_empty_only_pattern_is_rejected(capsys):
    assert main(["--only", ""]) == 2
    assert "non-empty PATTERN" in capsys.readouterr().err


def test_proof_checks_skip_outside_checkout(monkeypatch):
    import sys

    from geomalg.verify import checks_proofs
    from geomalg.verify.registry import CheckSkipped

    monkeypatch.setitem(sys.modules, "proofs", None)
    monkeypatch.setitem(sys.modules, "proofs.rotor_log", None)
    with pytest.raises(CheckSkipped, match="source checkout"):
        checks_proofs._derivation("rotor_log")
