"""The SymPy derivations in ``proofs/`` as verify checks.

Each check runs one exact symbolic derivation and returns an error of 0.0; a
failed derivation raises :class:`proofs._support.DerivationError`, which the
runner reports as a failure. The derivations are exact, so the tolerance is 0.

``proofs`` is a folder of the source tree, not part of the installed package.
The derivation modules are imported when a check runs, so listing the checks
and the start of ``python -m geomalg.verify`` do not pay for importing them, and
an installed copy without the source tree reports each check as skipped, with the reason.
Default signatures keep the symbolic work to a few seconds; ``--full`` adds the
rest of each derivation's cases.
"""

from __future__ import annotations

import importlib

from geomalg.verify.registry import CheckSkipped, register

TOLERANCE = 0.0
"""Exact identities: any failure raises, so the error is 0.0 or the check fails."""


def _derivation(name: str):
    """Import ``proofs.<name>``.

    Raises
    ------
    CheckSkipped
        If ``proofs`` is not importable, which happens outside a source checkout.
    """
    try:
        return importlib.import_module(f"proofs.{name}")
    except ModuleNotFoundError as error:
        if error.name not in ("proofs", f"proofs.{name}"):
            raise
        raise CheckSkipped(
            f"the derivations module proofs.{name} is not importable; run python -m geomalg.verify "
            "from the root of a geomalg source checkout, where the proofs/ folder is"
        ) from None


def _signature(p: int, q: int, r: int) -> tuple[int, ...]:
    from proofs._support import signature_of

    return signature_of(p, q, r)


@register("proofs.exp_simple_bivector", tolerance=TOLERANCE)
def exp_simple_bivector() -> float:
    """Check the closed-form exp of a simple bivector in Cl(3), Cl(1,1), Cl(0,2), Cl(2,1), Cl(2,0,1) and Cl(4)."""
    _derivation("exp_simple_bivector").main()
    return 0.0


@register("proofs.invariant_decomposition.parity_step", tolerance=TOLERANCE)
def invariant_parity_step() -> float:
    """Check b_i C_i = A_i and b_i A_i = lambda_i C_i for commuting symbols, k = 2, 3, 4."""
    module = _derivation("invariant_decomposition")
    for k in (2, 3, 4):
        module.check_parity_step(k)
    return 0.0


@register(
    "proofs.invariant_decomposition.characteristic",
    tolerance=TOLERANCE,
    signatures=[(4, 0, 0), (3, 1, 0), (3, 0, 1), (5, 0, 0)],
    full_signatures=[(2, 2, 0), (4, 1, 0), (4, 0, 1), (6, 0, 0), (3, 3, 0), (5, 0, 1), (7, 0, 0), (8, 0, 0)],
)
def invariant_characteristic(p: int, q: int, r: int) -> float:
    """Check det(xI - F) = x^(n-2k) p(x^2) for a generic symbolic bivector."""
    module = _derivation("invariant_decomposition")
    signature = _signature(p, q, r)
    from proofs._support import generic

    module.check_characteristic_polynomial(generic(signature, "B", 2))
    return 0.0


@register(
    "proofs.invariant_decomposition.pair",
    tolerance=TOLERANCE,
    signatures=[(4, 0, 0)],
    full_signatures=[(3, 1, 0), (2, 2, 0), (3, 0, 1), (5, 0, 0), (4, 1, 0), (4, 0, 1)],
)
def invariant_pair(p: int, q: int, r: int) -> float:
    """Check the explicit k = 2 split of a generic symbolic bivector, modulo its eigenvalue polynomial."""
    _derivation("invariant_decomposition").check_generic_pair(_signature(p, q, r))
    return 0.0


@register(
    "proofs.invariant_decomposition.rational",
    tolerance=TOLERANCE,
    signatures=[(6, 0, 0)],
    full_signatures=[(3, 3, 0), (5, 0, 1), (7, 0, 0), (8, 0, 0)],
)
def invariant_rational(p: int, q: int, r: int) -> float:
    """Check the general split b = A C^{-1} of a random rational bivector, exactly over Q[lambda]/p."""
    _derivation("invariant_decomposition").check_rational(_signature(p, q, r))
    return 0.0


@register(
    "proofs.invariant_decomposition.planted",
    tolerance=TOLERANCE,
    signatures=[],
    full_signatures=[(6, 0, 0), (4, 2, 0)],
)
def invariant_planted(p: int, q: int, r: int) -> float:
    """Check that the split recovers planted simple parts with rational eigenvalues exactly."""
    _derivation("invariant_decomposition").check_planted(_signature(p, q, r))
    return 0.0


@register(
    "proofs.power_iteration.operator",
    tolerance=TOLERANCE,
    signatures=[(4, 0, 0), (3, 1, 0)],
    full_signatures=[(3, 0, 0), (5, 0, 0), (6, 0, 0), (2, 1, 0), (2, 2, 0), (3, 0, 1)],
)
def power_operator(p: int, q: int, r: int) -> float:
    """Check (v . B) . B = (A eta)^2 v for a generic symbolic bivector and vector."""
    _derivation("power_iteration").check_operator(_signature(p, q, r))
    return 0.0


@register(
    "proofs.power_iteration.eigenspaces",
    tolerance=TOLERANCE,
    signatures=[(4, 0, 0)],
    full_signatures=[(5, 0, 0), (6, 0, 0), (3, 1, 0), (2, 2, 0)],
)
def power_eigenspaces(p: int, q: int, r: int) -> float:
    """Check that each plane of a planted decomposition is an eigenspace of the step, with eigenvalue b_i^2."""
    _derivation("power_iteration").check_eigenspaces(_signature(p, q, r))
    return 0.0


@register(
    "proofs.sandwich_compound",
    tolerance=TOLERANCE,
    signatures=[(3, 0, 0)],
    full_signatures=[(2, 1, 0), (4, 0, 0), (3, 1, 0), (3, 0, 1)],
)
def sandwich_compound(p: int, q: int, r: int) -> float:
    """Check that R x R~ is block diagonal by grade, with the compound matrices of its vector block as blocks."""
    _derivation("sandwich_compound").check_sandwich(_signature(p, q, r))
    return 0.0


@register(
    "proofs.double_rotor_parity",
    tolerance=TOLERANCE,
    signatures=[(3, 0, 0), (4, 0, 0)],
    full_signatures=[(2, 1, 0), (3, 1, 0), (3, 0, 1)],
)
def double_rotor_parity(p: int, q: int, r: int) -> float:
    """Check that R x S~ keeps the parity of x for generic even R and S."""
    _derivation("double_rotor_parity").check_parity(_signature(p, q, r))
    return 0.0


@register("proofs.rotor_log", tolerance=TOLERANCE)
def rotor_log() -> float:
    """Check exp(log R) = R for one-plane rotors of every kind and for two commuting planes."""
    _derivation("rotor_log").main()
    return 0.0
