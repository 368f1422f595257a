"""Run the SymPy derivations in ``proofs/`` and check that their checks can fail."""

from __future__ import annotations

import pytest
import sympy

from proofs import (
    double_rotor_parity,
    exp_simple_bivector,
    invariant_decomposition,
    power_iteration,
    rotor_log,
    run_all,
    sandwich_compound,
)
from proofs._support import (
    DerivationError,
    QuotientField,
    compound_matrix,
    generic,
    orthogonal_basis,
    polynomial_matrix,
    rational_rotation,
    require,
    signature_of,
)

# Each derivation's main, except the invariant decomposition, which is split below.


def test_exp_simple_bivector_main():
    exp_simple_bivector.main()


def test_power_iteration_main():
    power_iteration.main()


def test_sandwich_compound_main():
    sandwich_compound.main()


def test_double_rotor_parity_main():
    double_rotor_parity.main()


def test_rotor_log_main():
    rotor_log.main()


# The invariant decomposition's default checks, one test per part so none runs long.


@pytest.mark.parametrize("k", [2, 3, 4])
def test_parity_step_commutative(k):
    invariant_decomposition.check_parity_step(k)


@pytest.mark.parametrize("counts", invariant_decomposition.CHARACTERISTIC_SIGNATURES)
def test_characteristic_polynomial_generic(counts):
    signature = signature_of(*counts)
    invariant_decomposition.check_characteristic_polynomial(generic(signature, "B", 2))


@pytest.mark.parametrize("counts", invariant_decomposition.GENERIC_PAIR_SIGNATURES)
def test_pair_formula_generic(counts):
    invariant_decomposition.check_generic_pair(signature_of(*counts))


@pytest.mark.parametrize("counts", invariant_decomposition.RATIONAL_SIGNATURES)
def test_general_formula_rational(counts):
    invariant_decomposition.check_rational(signature_of(*counts))


@pytest.mark.parametrize("counts", invariant_decomposition.PLANTED_SIGNATURES)
def test_planted_parts_recovered(counts):
    invariant_decomposition.check_planted(signature_of(*counts))


@pytest.mark.slow
def test_invariant_decomposition_full():
    invariant_decomposition.main(full=True)


# The checks must be able to fail.


def test_exp_wrong_case_fails():
    signature = signature_of(3, 0, 0)
    bivector = generic(signature, "b", 2, real=True)
    beta = exp_simple_bivector.check_square_is_scalar(bivector)
    with pytest.raises(DerivationError, match="E'\\(t\\) - b E\\(t\\)"):
        exp_simple_bivector.check_differential_equation(bivector, beta, "null")


def test_exp_non_simple_fails():
    bivector = generic(signature_of(4, 0, 0), "B", 2, real=True)
    with pytest.raises(DerivationError, match="b \\^ b"):
        exp_simple_bivector.check_square_is_scalar(bivector)


def test_exp_unknown_case_rejected():
    bivector = generic(signature_of(3, 0, 0), "b", 2)
    with pytest.raises(ValueError, match="unknown case"):
        exp_simple_bivector.closed_form(bivector, sympy.Integer(-1), "parabolic")


def test_simple_part_non_root_fails():
    signature = signature_of(4, 0, 0)
    basis = [exp_simple_bivector.vector(signature, row) for row in orthogonal_basis(signature, 3)]
    bivector = ((basis[0] ^ basis[1]) * 2 + (basis[2] ^ basis[3]) * 3).expand()
    lam = invariant_decomposition.lam
    # lambda = 1 is not an eigenvalue: b C = A has a solution, but b A = lambda C fails.
    with pytest.raises(DerivationError, match="b A - lambda C"):
        invariant_decomposition.check_simple_part(bivector, QuotientField(lam - 1, lam))


def test_power_step_wrong_matrix_fails(monkeypatch):
    original = power_iteration.skew_matrix
    monkeypatch.setattr(power_iteration, "skew_matrix", lambda bivector: original(bivector).T)
    with pytest.raises(DerivationError, match="v _\\| B \\+ A eta v"):
        power_iteration.check_operator(signature_of(3, 0, 0))


def test_sandwich_non_versor_fails():
    signature = signature_of(4, 0, 0)
    even = generic(signature, "r", (0, 2, 4), real=True)
    with pytest.raises(DerivationError):
        sandwich_compound.check_sandwich(signature, even)


def test_sandwich_generic_versor_dimension_rejected():
    with pytest.raises(ValueError, match="only for n = 3 or 4"):
        sandwich_compound.generic_versor(signature_of(5, 0, 0))


def test_parity_odd_rotor_fails(monkeypatch):
    original = double_rotor_parity.generic
    # An R with odd grades breaks parity, so the check must raise.
    monkeypatch.setattr(double_rotor_parity, "generic", lambda signature, name, grades: original(signature, name, None if name == "r" else grades))
    with pytest.raises(DerivationError, match="odd part of R x_even S~"):
        double_rotor_parity.check_parity(signature_of(3, 0, 0))


def test_rotor_log_unknown_kind_rejected():
    rotor = generic(signature_of(3, 0, 0), "r", (0, 2), real=True)
    with pytest.raises(ValueError, match="kind=2"):
        rotor_log.rotor_log(rotor, 2)


# Helpers.


def test_require_raises_with_message():
    with pytest.raises(DerivationError, match="the message"):
        require(False, "the message")


def test_orthogonal_basis_degenerate_rejected():
    with pytest.raises(ValueError, match="null basis vectors"):
        orthogonal_basis(signature_of(2, 0, 1), 0)


def test_orthogonal_basis_is_orthogonal():
    signature = signature_of(3, 2, 0)
    basis = orthogonal_basis(signature, 4)
    for i, u in enumerate(basis):
        for j, v in enumerate(basis):
            inner = sum(s * a * b for s, a, b in zip(signature, u, v))
            if i == j:
                assert inner != 0
            else:
                assert inner == 0


def test_rational_rotation_is_rotation():
    rotation = rational_rotation(5, 9)
    assert rotation.T * rotation == sympy.eye(5)
    assert rotation.det() == 1


def test_compound_matrix_of_diagonal():
    matrix = polynomial_matrix(sympy.diag(2, 3, 5))
    compound = compound_matrix(matrix, 2).to_Matrix()
    assert compound == sympy.diag(6, 10, 15)


def test_quotient_field_trace_and_inverse():
    lam = sympy.Symbol("lambda")
    field = QuotientField(lam**3 - 2 * lam + 7, lam)
    # The trace of lambda is the sum of the roots, minus the coefficient of lambda^2.
    assert field.trace(field.element(lam)) == 0
    assert field.trace(field.element(lam**2)) == 4
    inverse = field.inverse(field.element(lam))
    assert (inverse * field.element(lam)).rem(field.modulus) == field.element(1)


def test_quotient_field_repeated_root_rejected():
    lam = sympy.Symbol("lambda")
    with pytest.raises(DerivationError, match="repeated root"):
        QuotientField((lam - 1) ** 2 * (lam + 2), lam)


# The runner.


def test_run_derivation_reports_failure(monkeypatch):
    def failing_main():
        raise DerivationError("deliberate failure")

    monkeypatch.setattr(double_rotor_parity, "main", failing_main)
    result = run_all.run_derivation("double_rotor_parity")
    assert not result.passed
    assert "deliberate failure" in result.error
    assert "FAIL" in run_all.format_report([result])


def test_run_all_main_exit_status(monkeypatch, capsys):
    monkeypatch.setattr(double_rotor_parity, "main", lambda: None)
    assert run_all.main(["double_rotor_parity"]) == 0

    def failing_main():
        raise DerivationError("deliberate failure")

    monkeypatch.setattr(double_rotor_parity, "main", failing_main)
    assert run_all.main(["double_rotor_parity"]) == 1
    assert "deliberate failure" in capsys.readouterr().out


def test_run_derivation_unknown_rejected():
    with pytest.raises(ValueError, match="unknown derivation"):
        run_all.run_derivation("no_such_proof")
