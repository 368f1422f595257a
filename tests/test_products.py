"""Products and involutions of every backend against ``clifford``, to 1e-12 absolute in float64."""

import numpy as np
import pytest
import torch

from geomalg import Algebra
from tests.conftest import REFERENCE_SIGNATURES, clifford_batch, clifford_layout, random_multivectors

TOLERANCE = 1e-12

OPERATIONS = {
    "geometric_product": lambda x, y: x * y,
    "outer_product": lambda x, y: x ^ y,
    "left_contraction": lambda x, y: x << y,
}


def run_backend(algebra, backend, operation, a, b, grades=None):
    if backend == "torch":
        result = getattr(algebra, operation)(torch.from_numpy(a), torch.from_numpy(b), grades=grades)
        assert isinstance(result, torch.Tensor)
        return result.numpy()
    algebra.backend = backend
    return getattr(algebra, operation)(a, b, grades=grades)


@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("signature", REFERENCE_SIGNATURES, ids=lambda s: "Cl{}{}{}".format(*s))
def test_product_matches_clifford(signature, operation, backend, rng):
    algebra = Algebra(*signature)
    a = random_multivectors(rng, algebra.n, 6)
    b = random_multivectors(rng, algebra.n, 6)
    expected = clifford_batch(clifford_layout(*signature), OPERATIONS[operation], a, b)
    result = run_backend(algebra, backend, operation, a, b)
    assert np.abs(result - expected).max() <= TOLERANCE


@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
@pytest.mark.parametrize("grades", [(1, 2), (2, 2), (1, 1), ((0, 2), 1), (3, (1, 3))])
@pytest.mark.parametrize("signature", [(3, 0, 1), (4, 1, 0), (6, 0, 0)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_grade_aware_product_matches_clifford(signature, grades, backend, rng):
    algebra = Algebra(*signature)
    a = random_multivectors(rng, algebra.n, 5, grades[0])
    b = random_multivectors(rng, algebra.n, 5, grades[1])
    expected = clifford_batch(clifford_layout(*signature), OPERATIONS["geometric_product"], a, b)
    result = run_backend(algebra, backend, "geometric_product", a, b, grades=grades)
    assert np.abs(result - expected).max() <= TOLERANCE


def test_grade_selection_ignores_other_grades(rng):
    algebra = Algebra(3)
    a = random_multivectors(rng, 3, 4)
    b = random_multivectors(rng, 3, 4)
    restricted = algebra.geometric_product(a, b, grades=(1, 2))
    projected = algebra.geometric_product(algebra.grade(a, 1), algebra.grade(b, 2))
    assert np.abs(restricted - projected).max() <= TOLERANCE


@pytest.mark.parametrize("signature", [(3, 0, 0), (2, 1, 1), (1, 3, 0)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_scalar_product_matches_clifford(signature, rng):
    algebra = Algebra(*signature)
    a = random_multivectors(rng, algebra.n, 5)
    b = random_multivectors(rng, algebra.n, 5)
    expected = clifford_batch(clifford_layout(*signature), lambda x, y: x * y, a, b)[:, 0]
    assert np.abs(algebra.scalar_product(a, b) - expected).max() <= TOLERANCE


@pytest.mark.parametrize("signature", [(3, 0, 0), (2, 1, 1), (0, 2, 0)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_involutions_match_clifford(signature, rng):
    algebra = Algebra(*signature)
    layout = clifford_layout(*signature)
    a = random_multivectors(rng, algebra.n, 4)
    reference = {
        "reverse": lambda x: ~x,
        "grade_involution": lambda x: x.gradeInvol(),
        "clifford_conjugate": lambda x: x.conjugate(),
    }
    for name, function in reference.items():
        expected = np.array([function(layout.MultiVector(x)).value for x in a])
        assert np.abs(getattr(algebra, name)(a) - expected).max() <= TOLERANCE, name


def test_grade_projection_matches_clifford(rng):
    algebra = Algebra(2, 1, 1)
    layout = clifford_layout(2, 1, 1)
    a = random_multivectors(rng, 4, 3)
    for k in range(5):
        expected = np.array([layout.MultiVector(x)(k).value for x in a])
        assert np.array_equal(algebra.grade(a, k), expected)


@pytest.mark.parametrize("signature", [(3, 0, 0), (1, 3, 0), (2, 2, 0)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_dual_and_norm_match_clifford(signature, rng):
    algebra = Algebra(*signature)
    layout = clifford_layout(*signature)
    a = random_multivectors(rng, algebra.n, 4)
    dual = np.array([layout.MultiVector(x).dual().value for x in a])
    norm = np.array([abs(layout.MultiVector(x)) for x in a])
    assert np.abs(algebra.dual(a) - dual).max() <= TOLERANCE
    assert np.abs(algebra.norm(a) - norm).max() <= TOLERANCE


@pytest.mark.parametrize("signature", [(3, 0, 0), (1, 3, 0), (2, 0, 1)], ids=lambda s: "Cl{}{}{}".format(*s))
def test_versor_inverse_matches_clifford(signature, rng):
    algebra = Algebra(*signature)
    layout = clifford_layout(*signature)
    non_null = [i for i, s in enumerate(algebra.signature) if s != 0]
    vectors = np.zeros((3, 3, algebra.dim))
    for i in non_null:
        vectors[..., 1 + i] = rng.standard_normal((3, 3))
    versor = algebra.geometric_product(algebra.geometric_product(vectors[0], vectors[1]), vectors[2])
    expected = np.array([layout.MultiVector(x).inv().value for x in versor])
    assert np.abs(algebra.inverse(versor) - expected).max() <= 1e-9


def test_general_inverse_of_non_versor(rng):
    algebra = Algebra(3)
    a = random_multivectors(rng, 3, 4)
    inverse = algebra.inverse(a)
    one = np.eye(8)[0]
    assert np.abs(algebra.geometric_product(a, inverse) - one).max() <= 1e-9
    assert np.abs(algebra.geometric_product(inverse, a) - one).max() <= 1e-9


def test_leading_axes_broadcast(rng):
    algebra = Algebra(3)
    a = random_multivectors(rng, 3, 4).reshape(4, 1, 8)
    b = random_multivectors(rng, 3, 3).reshape(1, 3, 8)
    result = algebra.geometric_product(a, b)
    assert result.shape == (4, 3, 8)
    assert np.abs(result[2, 1] - algebra.geometric_product(a[2, 0], b[0, 1])).max() <= TOLERANCE


def test_large_algebra_grade_aware_product():
    algebra = Algebra(16)
    u = np.zeros(algebra.dim)
    v = np.zeros(algebra.dim)
    u[algebra.grade_slice(1)] = np.arange(1, 17)
    v[algebra.grade_slice(1)] = 1.0
    product = algebra.geometric_product(u, v, grades=(1, 1))
    assert product[0] == pytest.approx(float(np.arange(1, 17).sum()))
    e12 = algebra.blade_names.index("e1_2")
    assert product[e12] == pytest.approx(1.0 - 2.0)
