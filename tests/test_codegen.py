"""Generated modules: cached files, visible source, tracebacks and agreement between code shapes."""

import inspect
import traceback

import numpy as np
import pytest
import torch

from geomalg import Algebra, blades
from geomalg.codegen import KernelSpec, generate_source, load_kernel
from geomalg.codegen import spec as spec_module


def test_module_is_written_once_and_reused(tmp_path):
    spec = KernelSpec("geometric_product", (1, 1, 1), (1,), (2,), "numba")
    first = load_kernel(spec, tmp_path)
    files = sorted(p.name for p in tmp_path.glob("*.py"))
    second = load_kernel(spec, tmp_path)
    assert first is second
    assert files == [spec.module_name() + ".py"]


def test_source_is_visible_to_inspect(tmp_path):
    module = load_kernel(KernelSpec("outer_product", (1, 1, 1), (1,), (1,), "torch"), tmp_path)
    source = inspect.getsource(module.apply)
    assert "a_1*b_2 - a_2*b_1" in source
    assert "outer_product" in module.__doc__
    assert "generator version" in module.__doc__


def test_traceback_points_into_generated_file(tmp_path):
    module = load_kernel(KernelSpec("geometric_product", (1, 1), (0, 1, 2), (0, 1, 2), "numpy"), tmp_path)
    with pytest.raises(IndexError) as info:
        module.apply(np.zeros((2, 3)), np.zeros((2, 3)))
    frames = traceback.extract_tb(info.tb)
    assert any(frame.filename == module.__file__ and frame.line for frame in frames)


def test_cache_key_separates_backends_and_grades():
    names = {
        KernelSpec("geometric_product", (1, 1, 1), (1,), (2,), backend).module_name() for backend in ("numba", "numpy", "torch")
    }
    names.add(KernelSpec("geometric_product", (1, 1, 1), (2,), (1,), "numba").module_name())
    names.add(KernelSpec("geometric_product", (1, 1, -1), (1,), (2,), "numba").module_name())
    assert len(names) == 5


def test_unknown_operation_in_spec():
    with pytest.raises(ValueError, match="unknown operation 'cross'"):
        KernelSpec("cross", (1, 1, 1), (1,), (1,), "numba")


def test_common_subexpressions_are_shared():
    from geomalg.codegen.expressions import expand_product
    from geomalg.symbolic import SymbolicMultivector

    spec = KernelSpec("geometric_product", (1, 1, 1), (0, 1, 2, 3), (0, 1, 2, 3), "numba")
    expanded = expand_product(spec)
    a = SymbolicMultivector.generic(spec.signature, "a_")
    b = SymbolicMultivector.generic(spec.signature, "b_")
    expected = (a * b).coefficients
    substituted = {}
    for symbol, expression in expanded.replacements:
        substituted[symbol] = expression.subs(substituted)
    for index, expression in expanded.outputs.items():
        assert (expression.subs(substituted) - expected[index]).expand() == 0


@pytest.mark.parametrize("a_grades", [(0, 1, 2, 3, 4), (0, 1, 3)], ids=["full", "partial"])
@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
def test_every_code_shape_agrees_with_unrolled(backend, a_grades, tmp_path, monkeypatch):
    signature = (1, -1, 0, 1)
    full = tuple(range(5))
    rng = np.random.default_rng(3)
    a = rng.standard_normal((7, 16)) * np.isin(blades.blade_grades(4), a_grades)
    b = rng.standard_normal((7, 16))
    results = {}
    for unroll, table in [(10**6, 10**7), (0, 10**7), (0, 40)]:
        monkeypatch.setitem(spec_module.UNROLL_MAX_TERMS, backend, unroll)
        monkeypatch.setattr(spec_module, "TABLE_MAX_TERMS", table)
        monkeypatch.setattr("geomalg.codegen.emit.TABLE_MAX_TERMS", table)
        spec = KernelSpec("geometric_product", signature, a_grades, full, backend)
        module = load_kernel(spec, tmp_path)
        if backend == "torch":
            results[spec.mode] = module.apply(torch.from_numpy(a), torch.from_numpy(b)).numpy()
        else:
            results[spec.mode] = module.apply(a, b)
    expected_modes = {"unrolled", "split"} if backend == "torch" and len(a_grades) == 5 else {"unrolled", "table", "streamed"}
    assert set(results) == expected_modes
    for mode, result in results.items():
        assert np.abs(result - results["unrolled"]).max() <= 1e-12, mode


@pytest.mark.parametrize("signature", [(1, -1, 0, 1, 1), (0, 1, -1), (1,) * 7, (1,), ()])
@pytest.mark.parametrize("operation", ["geometric_product", "outer_product", "left_contraction", "scalar_product"])
def test_split_product_matches_table(signature, operation):
    from geomalg.codegen import runtime, split

    n = len(signature)
    rng = np.random.default_rng(n)
    a = torch.from_numpy(rng.standard_normal((6, 1 << n)))
    b = torch.from_numpy(rng.standard_normal((6, 1 << n)))
    table = blades.product_table(signature, operation, range(n + 1), range(n + 1))
    expected = runtime.apply_torch(a, b, (table,), 1 << n, None)
    assert (split.apply_torch(a, b, split.build_plan(signature, operation)) - expected).abs().max() <= 1e-12


def test_split_product_in_row_chunks(monkeypatch):
    from geomalg.codegen import split

    plan = split.build_plan((1, 1, -1, 1), "geometric_product")
    a = torch.randn(50, 16, dtype=torch.float64)
    b = torch.randn(50, 16, dtype=torch.float64)
    whole = split.apply_torch(a, b, plan)
    monkeypatch.setattr(split, "ROW_ELEMENTS", 64)
    assert (split.apply_torch(a, b, plan) - whole).abs().max() <= 1e-14


def test_mode_switches_with_term_count():
    assert KernelSpec("geometric_product", (1,) * 4, tuple(range(5)), tuple(range(5)), "numba").mode == "unrolled"
    assert KernelSpec("geometric_product", (1,) * 5, tuple(range(6)), tuple(range(6)), "numba").mode == "table"
    assert KernelSpec("geometric_product", (1,) * 12, tuple(range(13)), tuple(range(13)), "numba").mode == "streamed"
    assert KernelSpec("geometric_product", (1,) * 12, (1,), (2,), "numba").mode == "table"
    assert KernelSpec("geometric_product", (1,) * 6, tuple(range(7)), tuple(range(7)), "torch").mode == "split"
    assert KernelSpec("geometric_product", (1,) * 6, (0, 2, 4, 6), tuple(range(7)), "torch").mode == "table"


def test_generated_source_is_deterministic():
    spec = KernelSpec("left_contraction", (0, 1, 1), (1, 2), (2, 3), "torch")
    assert generate_source(spec) == generate_source(spec)


def test_algebra_uses_its_cache_dir(tmp_path):
    algebra = Algebra(2, 1, cache_dir=tmp_path)
    algebra.geometric_product(np.ones(8), np.ones(8))
    assert any(tmp_path.glob("geometric_product_p2q1r0_*_numba_*.py"))


def test_unwritable_cache_dir_reports_fix(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    spec = KernelSpec("geometric_product", (1, 1), (1,), (1,), "numpy")
    with pytest.raises(OSError, match="GEOMALG_CACHE_DIR"):
        load_kernel(spec, blocker / "kernels")
