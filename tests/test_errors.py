"""Bad input raises an error that names the value and the fix."""

import numpy as np
import pytest
import torch

from geomalg import Algebra


def test_negative_signature_count():
    with pytest.raises(ValueError, match="q=-1 is negative"):
        Algebra(2, -1)


def test_too_many_basis_vectors():
    with pytest.raises(ValueError, match="n = 17 basis vectors"):
        Algebra(17)


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        Algebra(3, backend="jax")


def test_wrong_last_axis():
    with pytest.raises(ValueError, match=r"shape \(4, 7\).*\(\.\.\., 8\)"):
        Algebra(3).geometric_product(np.zeros((4, 7)), np.zeros(8))


def test_scalar_input_rejected():
    with pytest.raises(ValueError, match="8 coefficients"):
        Algebra(3).reverse(np.float64(1.0))


def test_complex_input_rejected():
    with pytest.raises(TypeError, match="complex"):
        Algebra(2).reverse(np.zeros(4, dtype=complex))
    with pytest.raises(TypeError, match="complex"):
        Algebra(2).reverse(torch.zeros(4, dtype=torch.complex64))


def test_operands_from_different_algebras():
    euclidean = Algebra(3)
    spacetime = Algebra(2, 1)
    with pytest.raises(ValueError, match="belongs to Algebra\\(2, 1, 0\\)"):
        euclidean.geometric_product(euclidean.blade("e1"), spacetime.blade("e1"))
    with pytest.raises(ValueError, match="operands belong to"):
        euclidean.blade("e1") + spacetime.blade("e1")


def test_inverse_of_null_vector():
    algebra = Algebra(1, 1)
    null = np.array([0.0, 1.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="not invertible"):
        algebra.inverse(null)


def test_inverse_of_zero_divisor():
    with pytest.raises(ValueError, match="not invertible"):
        Algebra(1).inverse(np.array([1.0, 1.0]))


def test_inverse_of_zero_tensor():
    with pytest.raises(ValueError, match="not invertible"):
        Algebra(2).inverse(torch.zeros(4, dtype=torch.float64))


def test_dual_in_degenerate_metric():
    with pytest.raises(ValueError, match="degenerate"):
        Algebra(3, 0, 1).dual(np.ones(16))


def test_grade_out_of_range():
    with pytest.raises(ValueError, match="grade 4 is out of range"):
        Algebra(3).grade(np.ones(8), 4)


def test_malformed_grades_argument():
    with pytest.raises(ValueError, match="must be a pair"):
        Algebra(3).geometric_product(np.ones(8), np.ones(8), grades=(1,))


def test_unknown_blade_name():
    with pytest.raises(ValueError, match="no blade named 'e4'"):
        Algebra(3).blade("e4")


def test_tensors_on_different_devices_are_rejected(monkeypatch):
    from geomalg.numeric import arrays

    a = torch.zeros(4)
    b = torch.zeros(4, device="meta")
    with pytest.raises(ValueError, match="different devices"):
        arrays.match_kinds(a, b)


def test_inverse_error_names_batch_index():
    algebra = Algebra(3, 0, 1)
    batch = np.zeros((5, 16))
    batch[:, 0] = 1.0
    batch[3] = 0.0
    batch[3, 1] = 1.0
    with pytest.raises(ValueError, match=r"element 1\*e1 at batch index \(3,\)"):
        algebra.inverse(batch)


def test_unknown_blade_suggests_canonical_order():
    with pytest.raises(ValueError, match="use 'e12'"):
        Algebra(3).blade("e21")


def test_batch_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"shapes \(3, 8\) and \(4, 8\) do not broadcast"):
        Algebra(3).geometric_product(np.zeros((3, 8)), np.zeros((4, 8)))
