r"""Invariant decomposition of a bivector into commuting simple bivectors.

A bivector :math:`B = \sum_{i<j} b_{ij} e_i e_j` of an algebra whose basis
vectors all square to +1 (Cl(n, 0)) or all to -1 (Cl(0, n)) corresponds to the
skew-symmetric matrix :math:`A` with :math:`A_{ij} = b_{ij}`. Its invariant
planes are the real and imaginary parts of the eigenvectors of the Hermitian
matrix :math:`iA`, whose eigenvalues come in pairs :math:`\pm\theta_m`. Each
plane carries one simple component :math:`b_m = \theta_m\, v_m \wedge u_m`
with :math:`A u_m = \theta_m v_m`, the components commute, and
:math:`B = \sum_m b_m`. Because :math:`b_m^2 = -\theta_m^2`,
:math:`\exp(b_m) = \cos\theta_m + \sin\theta_m\, v_m u_m`.

Two methods find the planes:

``"eigh"``
    ``torch.linalg.eigh`` of :math:`iA`. Repeated angles (isoclinic bivectors
    such as :math:`e_{12} + e_{34}`) give an eigenspace whose eigenvector basis
    is not unique. Any orthonormal basis of it still splits into invariant
    planes, so the components are valid although not unique.
``"power"``
    A fixed number of power iterations :math:`v \leftarrow -A^2 v` per plane,
    then deflation. It has no host synchronisation, so it suits training
    loops, and its state (one vector per plane) can be stored and passed back
    in as a warm start.

Algebras with mixed or null signatures go through
:mod:`geomalg.rotor.general` with ``"eigh"`` (eigenvectors of the
non-symmetric map :math:`v \mapsto v \rfloor B`); ``"power"`` covers only the
all +1 and all -1 signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch

from geomalg.rotor._inputs import check_bivector, to_working
from geomalg.rotor._tables import as_torch, bivector_pairs, validate_signature
from geomalg.rotor.general import general_components

METHODS = ("eigh", "power")
"""Decomposition methods accepted by :func:`invariant_decomposition`."""

DEFAULT_ITERATIONS = 20
"""Power iterations per plane when no warm start is given."""


@dataclass(frozen=True)
class Planes:
    r"""Invariant planes of a bivector, batched over leading axes.

    ``angle`` has shape ``(..., k)``; ``u`` and ``v`` have shape ``(..., k, n)``
    and are orthonormal with :math:`A u = \theta v`, so the simple component of
    plane ``m`` is :math:`\theta_m\, v_m \wedge u_m`. ``state`` contains the power
    iteration vectors ``(..., k, n)`` for a warm start, or ``None``.
    """

    angle: torch.Tensor
    u: torch.Tensor
    v: torch.Tensor
    state: torch.Tensor | None = None


def check_euclidean_like(signature: tuple[int, ...], what: str) -> None:
    """Reject signatures other than all +1 or all -1.

    Raises
    ------
    ValueError
        If the signature mixes signs or contains null vectors.
    """
    if set(signature) not in ({1}, {-1}):
        raise ValueError(
            f"{what} supports signatures whose basis vectors all square to +1 or all to -1; "
            f"got {signature}. Use method='eigh' for the decomposition, bivector_exp(..., method='taylor'), "
            "or the 'blocks' and 'dense' sandwich modes for mixed and null signatures"
        )


def skew_matrix(bivector: torch.Tensor, n: int) -> torch.Tensor:
    """Return the skew-symmetric matrix ``A`` (``..., n, n``) with ``A[i, j] = b_ij`` for ``i < j``."""
    pairs = as_torch(bivector_pairs(n), bivector, integer=True)
    matrix = bivector.new_zeros(bivector.shape[:-1] + (n, n))
    matrix[..., pairs[:, 0], pairs[:, 1]] = bivector
    matrix[..., pairs[:, 1], pairs[:, 0]] = -bivector
    return matrix


def upper_triangle(matrix: torch.Tensor, n: int) -> torch.Tensor:
    """Return the entries ``matrix[..., i, j]`` for ``i < j`` in bivector order, shape ``(..., C(n,2))``."""
    pairs = as_torch(bivector_pairs(n), matrix, integer=True)
    return matrix[..., pairs[:, 0], pairs[:, 1]]


def plane_components(planes: Planes, n: int) -> torch.Tensor:
    r"""Return the simple components :math:`\theta_m (v_m u_m^T - u_m v_m^T)` as bivectors, shape ``(..., k, C(n,2))``."""
    outer = planes.v.unsqueeze(-1) * planes.u.unsqueeze(-2) - planes.u.unsqueeze(-1) * planes.v.unsqueeze(-2)
    return planes.angle.unsqueeze(-1) * upper_triangle(outer, n)


def eigh_planes(bivector: torch.Tensor, n: int) -> Planes:
    r"""Find the invariant planes from ``torch.linalg.eigh`` of :math:`iA`.

    For an eigenvector :math:`w = (u + iv)/\sqrt{2}` with eigenvalue
    :math:`\theta \ge 0`, :math:`A u = \theta v` and :math:`A v = -\theta u`.
    The ``k = n // 2`` largest eigenvalues give one plane each; a plane whose
    angle is 0 contributes a zero component whatever its vectors.
    """
    k = n // 2
    matrix = skew_matrix(bivector, n)
    complex_dtype = torch.complex128 if bivector.dtype == torch.float64 else torch.complex64
    hermitian = 1j * matrix.to(complex_dtype)
    eigenvalues, eigenvectors = torch.linalg.eigh(hermitian)
    angle = eigenvalues[..., n - k :]
    top = eigenvectors[..., :, n - k :].transpose(-1, -2)
    scale = 2.0**0.5
    return Planes(angle=angle, u=scale * top.real, v=scale * top.imag)


def _normalize(vector: torch.Tensor) -> torch.Tensor:
    tiny = torch.finfo(vector.dtype).tiny ** 0.5
    return vector / vector.norm(dim=-1, keepdim=True).clamp_min(tiny)


def power_planes(bivector: torch.Tensor, n: int, state: torch.Tensor | None, iterations: int) -> Planes:
    r"""Find the invariant planes by power iteration on :math:`-A^2` with deflation.

    Plane ``m`` starts from ``state[..., m, :]`` and runs ``iterations`` steps
    of :math:`v \leftarrow \mathrm{normalize}(-A_m^2 v + \epsilon v)`, where
    :math:`A_m` is ``A`` minus the planes already found. The small shift
    :math:`\epsilon` keeps ``v`` non-zero when :math:`A_m` vanishes, so a
    stored state never degenerates. The loop has a fixed length and reads no
    value back to the host.
    """
    k = n // 2
    matrix = skew_matrix(bivector, n)
    batch_shape = bivector.shape[:-1]
    if state is None:
        generator = torch.Generator().manual_seed(0)
        start = torch.randn(k, n, generator=generator, dtype=torch.float64)
        state = start.to(bivector).expand(batch_shape + (k, n))
    scale = matrix.square().sum(dim=(-2, -1), keepdim=True)
    shift = 1e-6 * scale.squeeze(-1) + torch.finfo(bivector.dtype).tiny
    remainder = matrix
    angles, us, vs, states = [], [], [], []
    for m in range(k):
        vector = _normalize(state[..., m, :])
        square = remainder @ remainder
        for _ in range(iterations):
            vector = _normalize(-(square @ vector.unsqueeze(-1)).squeeze(-1) + shift * vector)
        image = (remainder @ vector.unsqueeze(-1)).squeeze(-1)
        angle = image.norm(dim=-1)
        partner = image / angle.unsqueeze(-1).clamp_min(torch.finfo(bivector.dtype).tiny ** 0.5)
        component = angle[..., None, None] * (partner.unsqueeze(-1) * vector.unsqueeze(-2) - vector.unsqueeze(-1) * partner.unsqueeze(-2))
        remainder = remainder - component
        angles.append(angle)
        us.append(vector)
        vs.append(partner)
        states.append(vector)
    return Planes(
        angle=torch.stack(angles, dim=-1),
        u=torch.stack(us, dim=-2),
        v=torch.stack(vs, dim=-2),
        state=torch.stack(states, dim=-2),
    )


def find_planes(
    bivector: torch.Tensor,
    signature: tuple[int, ...],
    method: str,
    state: torch.Tensor | None = None,
    iterations: int | None = None,
) -> Planes:
    """Dispatch to :func:`eigh_planes` or :func:`power_planes` after checking the arguments.

    Raises
    ------
    ValueError
        If ``method`` is unknown, the signature is not covered, or ``state`` has the wrong shape.
    """
    n = len(signature)
    check_euclidean_like(signature, f"invariant decomposition with method={method!r}")
    if method == "eigh":
        return eigh_planes(bivector, n)
    if method == "power":
        k = n // 2
        if state is not None:
            state = state.to(bivector)
            if state.shape[-2:] != (k, n):
                raise ValueError(
                    f"power-iteration state has shape {tuple(state.shape)}; it must end in (k, n) = ({k}, {n}), "
                    "as returned by invariant_decomposition(..., return_state=True)"
                )
        count = DEFAULT_ITERATIONS if iterations is None else int(iterations)
        if count < 1:
            raise ValueError(f"iterations={iterations} must be at least 1")
        return power_planes(bivector, n, state, count)
    raise ValueError(f"unknown decomposition method {method!r}; use one of {', '.join(METHODS)}")


def invariant_decomposition(
    bivector: Any,
    signature: Sequence[int],
    method: str = "eigh",
    state: Any = None,
    iterations: int | None = None,
    return_state: bool = False,
):
    r"""Split a bivector into ``k = n // 2`` commuting simple bivectors.

    Parameters
    ----------
    bivector
        Tensor or array of shape ``(..., C(n, 2))`` with the coefficients of
        :math:`e_{ij}`, ``i < j``, in lexicographic order.
    signature
        Squares of the basis vectors, such as ``(1,) * n``; null vectors first
        as in ``clifford.Cl(p, q, r)``.
    method
        ``"eigh"`` (exact, eigen solver, every signature) or ``"power"``
        (fixed-budget power iteration, signatures all +1 or all -1).
    state
        Warm start for ``"power"``: shape ``(..., k, n)``, as returned with ``return_state=True``.
    iterations
        Power iterations per plane; default :data:`DEFAULT_ITERATIONS`.
    return_state
        Also return the power-iteration state (``None`` for ``"eigh"``).

    Returns
    -------
    components : tensor or array of shape ``(k, ..., C(n, 2))``
        Simple bivectors :math:`b_m` with :math:`\sum_m b_m = B` and
        :math:`b_m b_l = b_l b_m`, stacked on a new leading axis. For all +1 or
        all -1 signatures ``"eigh"`` orders them by increasing angle. In other
        signatures they come by decreasing :math:`|b_m^2|`, and the last one is
        the remainder, which also carries any null component
        (:math:`b^2 = 0`). The dtype and type follow the input.
    state : tensor of shape ``(..., k, n)`` or None
        Only when ``return_state`` is true.

    Raises
    ------
    ValueError
        If the last axis is not C(n, 2) or the method is unknown; with
        ``"power"``, if the signature is mixed or null; in mixed and null
        signatures, if the bivector is loxodromic (complex-conjugate
        :math:`b_m^2`, possible when p, q >= 2) or its part with
        :math:`b^2 \approx 0` is not simple (two or more null planes).

    Notes
    -----
    Gradients flow through ``torch.linalg.eigh`` in the all +1 and all -1
    signatures. In other signatures (n >= 4) the components carry no gradient. Where two angles coincide
    (isoclinic planes) or an angle is 0 the components are not unique and
    their gradient is not finite; :func:`geomalg.rotor.bivector_exp` and the
    sandwich operators do not differentiate through the decomposition and stay
    finite there.
    """
    squares = validate_signature(signature)
    n = len(squares)
    tensor, kind = to_working(bivector, "bivector")
    check_bivector(tensor, n)
    state_tensor = None if state is None else to_working(state, "state")[0]
    if method == "eigh" and set(squares) not in ({1}, {-1}):
        components = kind.restore(general_components(tensor, squares).movedim(-2, 0))
        return (components, None) if return_state else components
    planes = find_planes(tensor, squares, method, state_tensor, iterations)
    components = kind.restore(plane_components(planes, n).movedim(-2, 0))
    if return_state:
        return components, planes.state
    return components
