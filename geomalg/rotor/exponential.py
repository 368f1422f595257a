r"""Exponential of bivectors and logarithm of rotors.

:func:`bivector_exp` computes :math:`R = \exp(B)` as a full multivector. The
forward pass multiplies the closed-form exponentials of the simple components
(``"eigh"`` and ``"power"``) or sums a scaled Taylor series of left
multiplication by ``B`` (``"taylor"``, any signature). The backward pass never
differentiates through the decomposition; it uses the derivative of the
exponential map,

.. math::
    dR = R\, \Phi_B(dB), \qquad
    \Phi_B = \int_0^1 e^{-s\,\mathrm{ad}_B}\, ds,

where :math:`\mathrm{ad}_B H = BH - HB` is a ``C(n,2) x C(n,2)`` matrix on
bivectors. :math:`\Phi_B` comes from one ``torch.linalg.matrix_exp`` of a
block matrix and is smooth in ``B``, so gradients stay finite at zero,
repeated and tiny angles.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch

from geomalg import blades
from geomalg.rotor import products
from geomalg.rotor._inputs import check_bivector, check_multivector, to_working
from geomalg.rotor._tables import (
    as_torch,
    bivector_adjoint_structure,
    bivector_gather,
    gather_last,
    validate_signature,
)
from geomalg.rotor.decomposition import Planes, eigh_planes, find_planes, plane_components
from geomalg.rotor.general import bivector_from_vector_map, general_log

EXP_METHODS = ("auto", "eigh", "power", "taylor")
"""Methods accepted by :func:`bivector_exp`; ``"auto"`` is ``"eigh"`` where it applies, else ``"taylor"``."""

TAYLOR_STEP_NORM = 0.5
"""Bound on the norm of ``B / s`` in one scaled Taylor step."""


def resolve_exp_method(method: str, signature: tuple[int, ...]) -> str:
    """Return the concrete method for ``"auto"`` and check the name.

    Raises
    ------
    ValueError
        If ``method`` is unknown.
    """
    if method not in EXP_METHODS:
        raise ValueError(f"unknown exponential method {method!r}; use one of {', '.join(EXP_METHODS)}")
    if method == "auto":
        return "eigh" if set(signature) in ({1}, {-1}) else "taylor"
    return method


def rotor_from_planes(planes: Planes, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Multiply the simple exponentials :math:`\cos\theta_m + \sin\theta_m\, v_m u_m`, shape ``(..., 2**n)``.

    Valid for signatures whose vectors all square to +1 or all to -1, where
    :math:`(v_m u_m)^2 = -1` for orthonormal ``u_m``, ``v_m``.
    """
    n = len(signature)
    rotor = products.scalar_multivector(planes.angle, n, planes.angle.shape[:-1])
    for m in range(planes.angle.shape[-1]):
        cosine = torch.cos(planes.angle[..., m]).unsqueeze(-1)
        sine = torch.sin(planes.angle[..., m]).unsqueeze(-1)
        turned = products.vector_product(planes.v[..., m, :], products.vector_product(planes.u[..., m, :], rotor, signature, "left"), signature, "left")
        rotor = cosine * rotor + sine * turned
    return rotor


def taylor_exp(bivector: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return :math:`\exp(B)` by ``s`` steps of a Taylor series in left multiplication by ``B / s``.

    ``s`` makes :math:`\|B/s\|_1 \le` :data:`TAYLOR_STEP_NORM`, so each step's
    truncation error is below machine precision. Choosing ``s`` reads one
    number back to the host.
    """
    n = len(signature)
    terms = 20 if bivector.dtype == torch.float64 else 12
    bound = float(bivector.abs().sum(dim=-1).max()) if bivector.numel() else 0.0
    steps = max(1, math.ceil(bound / TAYLOR_STEP_NORM))
    scaled = bivector / steps
    rotor = products.scalar_multivector(bivector, n, bivector.shape[:-1])
    for _ in range(steps):
        term = rotor
        total = rotor
        for j in range(1, terms + 1):
            term = products.bivector_product(scaled, term, signature, "left") / j
            total = total + term
        rotor = total
    return rotor


def dexp_matrix(bivector: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return :math:`\Phi_B = \int_0^1 e^{-s\,\mathrm{ad}_B} ds` as a matrix on bivectors, shape ``(..., C(n,2), C(n,2))``.

    The top-right block of :math:`\exp\begin{pmatrix}-G & I\\ 0 & 0\end{pmatrix}`
    equals :math:`\int_0^1 e^{-sG} ds` for any square ``G``.
    """
    structure = as_torch(bivector_adjoint_structure(signature), bivector)
    adjoint = torch.einsum("...p,pqr->...qr", bivector, structure)
    size = adjoint.shape[-1]
    block = adjoint.new_zeros(adjoint.shape[:-2] + (2 * size, 2 * size))
    block[..., :size, :size] = -adjoint
    block[..., :size, size:] = torch.eye(size, dtype=adjoint.dtype, device=adjoint.device)
    return torch.linalg.matrix_exp(block)[..., :size, size:]


def exp_vector_jacobian(bivector: torch.Tensor, rotor: torch.Tensor, grad_rotor: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return :math:`\Phi_B^T\, g` with :math:`g_q = \langle \partial L / \partial R,\; R e_q\rangle`, shape ``(..., C(n,2))``."""
    table = bivector_gather(signature, "right")
    index = as_torch(table.index, rotor, integer=True)
    sign = as_torch(table.sign, rotor)
    gathered = gather_last(rotor, index)
    per_blade = torch.einsum("...o,qo,...qo->...q", grad_rotor, sign, gathered)
    return torch.einsum("...qp,...q->...p", dexp_matrix(bivector, signature), per_blade)


class _ExpGradient(torch.autograd.Function):
    """Attach the smooth exponential-map derivative to a rotor computed without autograd."""

    @staticmethod
    def forward(ctx, bivector, rotor, signature):
        ctx.signature = signature
        ctx.save_for_backward(bivector, rotor)
        return rotor.clone()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_rotor):
        bivector, rotor = ctx.saved_tensors
        grad = exp_vector_jacobian(bivector, rotor, grad_rotor, ctx.signature)
        return grad, None, None


def exp_tensor(
    bivector: torch.Tensor,
    signature: tuple[int, ...],
    method: str = "auto",
    state: torch.Tensor | None = None,
    iterations: int | None = None,
    return_state: bool = False,
):
    """Return ``exp(B)`` for a working tensor, and the power-iteration state if requested; see :func:`bivector_exp`."""
    method = resolve_exp_method(method, signature)
    new_state = None
    with torch.no_grad():
        if method == "taylor":
            rotor = taylor_exp(bivector, signature)
        else:
            planes = find_planes(bivector, signature, method, state, iterations)
            rotor = rotor_from_planes(planes, signature)
            new_state = planes.state
    if bivector.requires_grad:
        rotor = _ExpGradient.apply(bivector, rotor, signature)
    if return_state:
        return rotor, new_state
    return rotor


def bivector_exp(
    bivector: Any,
    signature: Sequence[int],
    method: str = "auto",
    state: Any = None,
    iterations: int | None = None,
    return_state: bool = False,
):
    r"""Compute the rotor :math:`R = \exp(B)` as a full multivector.

    Parameters
    ----------
    bivector
        Tensor or array of shape ``(..., C(n, 2))``.
    signature
        Squares of the basis vectors, null vectors first as in ``clifford.Cl(p, q, r)``.
    method
        ``"eigh"`` or ``"power"`` (closed-form exponentials of the invariant
        decomposition, signatures all +1 or all -1), ``"taylor"`` (any
        signature) or ``"auto"``.
    state, iterations
        Warm start and iteration budget for ``"power"``.
    return_state
        Also return the power-iteration state, shape ``(..., k, n)``, to pass
        back as ``state`` next time (``None`` for the other methods).

    Returns
    -------
    rotor : tensor or array of shape ``(..., 2**n)``
        In canonical blade order, with the input's dtype. float16 and bfloat16
        inputs are computed in float32.
    state : tensor or None
        Only when ``return_state`` is true.

    Raises
    ------
    ValueError
        If the last axis is not C(n, 2), or the method does not cover the signature.

    Notes
    -----
    :math:`R \tilde R = 1` is satisfied to round-off in every signature. The gradient
    with respect to ``B`` is the exact derivative of the exponential map
    (see the module documentation), so it is finite everywhere. Only first
    derivatives are supported.
    """
    squares = validate_signature(signature)
    tensor, kind = to_working(bivector, "bivector")
    check_bivector(tensor, len(squares))
    state_tensor = None if state is None else to_working(state, "state")[0]
    if return_state:
        rotor, new_state = exp_tensor(tensor, squares, method, state_tensor, iterations, return_state=True)
        return kind.restore(rotor), new_state
    return kind.restore(exp_tensor(tensor, squares, method, state_tensor, iterations))


def vector_rotation_of_rotor(rotor: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return the matrix ``L`` of :math:`x \mapsto R x \tilde R` on vectors, shape ``(..., n, n)``.

    :math:`L_{ji}\, e_j^2 = \langle (e_j R)(e_i \tilde R) \rangle_0`, which needs
    only products with basis vectors.
    """
    n = len(signature)
    eye = torch.eye(n, dtype=rotor.dtype, device=rotor.device)
    rotor_by_vector = products.vector_product(eye, rotor.unsqueeze(-2), signature, "left")
    reverse_by_vector = products.vector_product(eye, products.reverse(rotor, n).unsqueeze(-2), signature, "left")
    squares = as_torch(blades.blade_product_sign(blades.blade_bitmaps(n), blades.blade_bitmaps(n), signature), rotor)
    scalar = torch.einsum("...jo,...io,o->...ji", rotor_by_vector, reverse_by_vector, squares)
    vector_squares = torch.tensor(signature, dtype=rotor.dtype, device=rotor.device)
    return scalar * vector_squares.unsqueeze(-1)


def _log_vector_generator(rotation: torch.Tensor) -> torch.Tensor:
    """Return a real skew matrix ``X`` with ``expm(X) = rotation`` for a rotation ``(..., n, n)``.

    Eigenvalues ``exp(i phi)`` with ``phi`` in (-pi, pi) map to ``i phi``. The
    eigenspace of -1 has even dimension and real eigenvectors, so it is split
    into planes turned by pi, taken from ``eigh`` of its projector.
    """
    n = rotation.shape[-1]
    eigenvalues, eigenvectors = torch.linalg.eig(rotation)
    inverse = torch.linalg.inv(eigenvectors)
    tolerance = 1e-6
    minus_one = (eigenvalues.real < 0) & (eigenvalues.imag.abs() < tolerance)
    angles = torch.where(minus_one, torch.zeros_like(eigenvalues.real), torch.angle(eigenvalues))
    generator = (eigenvectors * (1j * angles).unsqueeze(-2)) @ inverse
    projector = ((eigenvectors * minus_one.to(eigenvectors.dtype).unsqueeze(-2)) @ inverse).real
    projector = 0.5 * (projector + projector.transpose(-1, -2))
    weights, basis = torch.linalg.eigh(projector)
    half_turns = torch.zeros_like(rotation)
    for m in range(n // 2):
        first = basis[..., :, n - 1 - 2 * m]
        second = basis[..., :, n - 2 - 2 * m]
        inside = (weights[..., n - 2 - 2 * m] > 0.5).to(rotation.dtype)[..., None, None]
        plane = second.unsqueeze(-1) * first.unsqueeze(-2) - first.unsqueeze(-1) * second.unsqueeze(-2)
        half_turns = half_turns + inside * math.pi * plane
    return generator.real + half_turns


def log_tensor(rotor: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    """Return the bivector of a working rotor tensor; see :func:`rotor_log`."""
    n = len(signature)
    working = rotor.to(torch.float64)
    rotation = vector_rotation_of_rotor(working, signature)
    generator = _log_vector_generator(rotation)

    bivector = bivector_from_vector_map(generator, signature)

    # The vector rotation fixes R only up to sign; when exp(B) = -R, one plane
    # turns by an extra pi, which flips the sign and keeps its angle in (-pi, pi].
    candidate = exp_tensor(bivector, signature, "eigh")
    agreement = products.scalar_part_of_product(working, products.reverse(candidate, n), signature)
    planes = eigh_planes(bivector, n)
    largest = planes.angle.argmax(dim=-1, keepdim=True)
    angle = planes.angle.gather(-1, largest).squeeze(-1)
    u = planes.u.gather(-2, largest.unsqueeze(-1).expand(largest.shape + (n,))).squeeze(-2)
    v = planes.v.gather(-2, largest.unsqueeze(-1).expand(largest.shape + (n,))).squeeze(-2)
    tiny_angle = angle < 1e-12
    new_angle = torch.where(tiny_angle, torch.full_like(angle, math.pi), angle - math.pi)
    unit_plane = plane_components(Planes(angle=torch.ones_like(angle)[..., None], u=u[..., None, :], v=v[..., None, :]), n)[..., 0, :]
    # With every angle 0 (R = -1) the eigenvectors need not span a plane; any plane works, so take e_12.
    first_plane = torch.zeros_like(unit_plane)
    first_plane[..., 0] = 1.0
    unit_plane = torch.where(tiny_angle.unsqueeze(-1), first_plane, unit_plane)
    corrected = bivector + (new_angle - angle).unsqueeze(-1) * unit_plane
    flip = (agreement < 0).unsqueeze(-1)
    return torch.where(flip, corrected, bivector).to(rotor.dtype)


def rotor_log(rotor: Any, signature: Sequence[int]):
    r"""Compute a bivector ``B`` with :math:`\exp(B) = R`.

    Parameters
    ----------
    rotor
        Tensor or array of shape ``(..., 2**n)`` holding a rotor
        (:math:`R \tilde R = 1`, even grades only).
    signature
        Squares of the basis vectors, null vectors first as in ``clifford.Cl(p, q, r)``.

    Returns
    -------
    Tensor or array of shape ``(..., C(n, 2))`` with the input's dtype, computed in float64.

    Raises
    ------
    ValueError
        If the last axis is not ``2**n``. In mixed and null signatures also
        when no real logarithm is found: an elliptic plane at rotor angle
        exactly :math:`\pm\pi/2`, a rotor outside the identity component, or
        a sign repair that needs the decomposition of a loxodromic ``B``.

    Notes
    -----
    Signatures all +1 or all -1: the rotor fixes the vector rotation ``L``;
    the eigenvalues :math:`e^{i\varphi}` of ``L`` give the planes and the
    angles :math:`\varphi/2`, and the sign of :math:`\langle R \tilde R_0\rangle_0`
    decides whether one plane needs an extra half turn. Every plane angle is
    in :math:`(-\pi, \pi]`, and where the rotor has several planes at angle
    :math:`\pm\pi/2` or :math:`\pi` one of the logarithms is returned.

    Other signatures (:func:`geomalg.rotor.general.general_log`): ``B`` comes
    from the principal matrix logarithm of ``L`` (elliptic angles in
    :math:`(-\pi/2, \pi/2)`, any hyperbolic rapidity, any null translation),
    then one elliptic plane is turned by :math:`\pi` if :math:`\exp(B) = -R`,
    and two Newton steps polish ``B``. :math:`\exp(\log R) = R` holds for
    rotors in the identity component with no elliptic plane at angle
    :math:`\pm\pi/2`. ``R`` and ``-R`` are told apart only through an
    elliptic plane, so ``-exp(B)`` for purely hyperbolic or null ``B`` raises.

    NOTE: gradients flow through ``torch.linalg.eig`` of ``L`` in the all +1
    and all -1 signatures and are not finite where ``L`` has repeated
    eigenvalues (isoclinic or half-turn planes). The other signatures return
    no gradient.
    """
    squares = validate_signature(signature)
    tensor, kind = to_working(rotor, "rotor")
    check_multivector(tensor, len(squares), "rotor")
    if set(squares) in ({1}, {-1}):
        return kind.restore(log_tensor(tensor, squares))
    with torch.no_grad():
        bivector = general_log(tensor.detach(), squares)
    return kind.restore(bivector.to(tensor.dtype))
