import numpy as np
import pytest

from geomalg import blades
from tests.conftest import clifford_layout


@pytest.mark.parametrize("signature", [(3, 0, 0), (2, 1, 1), (0, 4, 0), (5, 0, 0)])
def test_blade_names_match_clifford(signature):
    layout = clifford_layout(*signature)
    assert blades.blade_names(sum(signature)) == list(layout.names)


def test_signature_vector_orders_null_positive_negative():
    assert blades.signature_vector(2, 1, 1) == (0, 1, 1, -1)


@pytest.mark.parametrize("p, q, r", [(-1, 0, 0), (0, -2, 0), (10, 4, 3)])
def test_signature_vector_rejects_invalid_counts(p, q, r):
    with pytest.raises(ValueError, match="signature count|maximum"):
        blades.signature_vector(p, q, r)


def test_signature_vector_rejects_non_integer():
    with pytest.raises(TypeError, match="must be an integer"):
        blades.signature_vector(2.5)


def test_bitmap_index_roundtrip():
    n = 6
    bitmaps = blades.blade_bitmaps(n)
    assert sorted(bitmaps.tolist()) == list(range(1 << n))
    assert np.array_equal(blades.bitmap_to_index(n)[bitmaps], np.arange(1 << n))


def test_grade_slices_cover_each_grade():
    n = 5
    grades = blades.blade_grades(n)
    for k in range(n + 1):
        part = blades.grade_slice(n, k)
        assert np.all(grades[part] == k)
        assert part.stop - part.start == int(np.sum(grades == k))


def test_reordering_sign_of_e2_e1_is_negative():
    assert blades.reordering_sign(0b10, 0b01) == -1
    assert blades.reordering_sign(0b01, 0b10) == 1


def test_metric_factor_of_null_vector_is_zero():
    assert blades.blade_product_sign(np.int64(1), np.int64(1), (0, 1)) == 0
    assert blades.blade_product_sign(np.int64(2), np.int64(2), (0, -1)) == -1


def test_product_table_chunks_add_up_to_full_table():
    signature = (1, -1, 1, 0, 1)
    full = blades.product_table(signature, "geometric_product", range(6), range(6))
    pieces = list(blades.product_table_chunks(signature, "geometric_product", range(6), range(6), max_terms=100))
    assert len(pieces) > 1
    stacked = np.concatenate([np.stack([t.output, t.left, t.right, t.sign]) for t in pieces], axis=1)
    full_stacked = np.stack([full.output, full.left, full.right, full.sign])
    assert sorted(map(tuple, stacked.T)) == sorted(map(tuple, full_stacked.T))


@pytest.mark.parametrize("operation", ["geometric_product", "outer_product", "left_contraction", "scalar_product"])
def test_output_grades_contain_every_table_output(operation):
    n = 5
    signature = (1,) * n
    for a_grade in range(n + 1):
        for b_grade in range(n + 1):
            table = blades.product_table(signature, operation, (a_grade,), (b_grade,))
            produced = set(blades.blade_grades(n)[table.output].tolist())
            assert produced <= set(blades.output_grades(operation, (a_grade,), (b_grade,), n))


def test_involution_signs_by_grade():
    n = 4
    grades = blades.blade_grades(n)
    reverse = blades.involution_signs(n, "reverse")
    assert reverse[grades == 2].tolist() == [-1] * 6
    assert reverse[grades == 4].tolist() == [1]
    conjugate = blades.involution_signs(n, "clifford_conjugate")
    assert conjugate[grades == 1].tolist() == [-1] * 4
    with pytest.raises(ValueError, match="unknown involution"):
        blades.involution_signs(n, "transpose")


def test_blade_names_unambiguous_from_ten_vectors():
    names = blades.blade_names(11)
    assert len(set(names)) == len(names)
    assert "e1_10" in names
