r"""Invariant decomposition and logarithm in every signature Cl(p, q, r).

A bivector :math:`B` with coefficient matrix :math:`A` (:math:`A_{ij} = b_{ij}`,
skew) acts on vectors by :math:`M = A\eta`, where :math:`\eta` is the diagonal
metric. :math:`M` is :math:`\eta`-skew (:math:`M^T\eta = -\eta M`), so its
eigenvalues come in pairs :math:`\pm\mu` and :math:`\det(xI - M) = x^{n-2k}
p(x^2)` with the roots :math:`\lambda_i = \mu_i^2 = b_i^2` of the invariant
polynomial. Eigenvectors of different pairs are :math:`\eta`-orthogonal
(:math:`(\mu_a + \mu_b)\, v_a^T \eta v_b = 0`). For a pair with eigenvectors
:math:`v` (:math:`+\mu`) and :math:`w` (:math:`-\mu`) scaled so that
:math:`v^T\eta w = 1`, the simple component is

.. math::
    A_i = \mu_i\,(v w^T - w v^T),

which needs no inverse of :math:`\eta` and so is also valid with null vectors.
Elliptic planes (:math:`\lambda < 0`) have :math:`\mu = i\theta` and
:math:`w \propto \bar v`. Hyperbolic planes (:math:`\lambda > 0`) have real
:math:`\mu` and null eigenvectors. The component with the smallest
:math:`|\lambda|` is taken as the remainder :math:`B - \sum_i b_i`, so the
components sum to :math:`B` exactly. That remainder also carries null
components (:math:`\lambda = 0`, :math:`\exp(b) = 1 + b`), whose eigenvectors
form Jordan chains that ``eig`` cannot separate.

Loxodromic bivectors (complex-conjugate :math:`\lambda`, possible when
:math:`p, q \ge 2`) have no split into real simple bivectors, and
:func:`general_components` raises ``ValueError`` for them.
"""

from __future__ import annotations

import math

import torch

from geomalg import blades
from geomalg.rotor import products
from geomalg.rotor._tables import as_torch, bivector_pairs, vector_map_structure

NULL_TOLERANCE = 1e-6
r"""Relative size of :math:`|\mu|` (to the largest :math:`|A_{ij}|`) below which a plane counts as null."""

LOG_TOLERANCE = 1e-9
r"""Largest relative error of :math:`\exp(\log R)` that :func:`general_log` accepts."""

REPEAT_TOLERANCE = 1e-8
r"""Relative distance of two :math:`\mu` below which their planes count as repeated (isoclinic)."""


def _skew(bivector: torch.Tensor, n: int) -> torch.Tensor:
    # Imported here because geomalg.rotor.decomposition imports this module.
    from geomalg.rotor.decomposition import skew_matrix

    return skew_matrix(bivector, n)


def _upper_triangle(matrix: torch.Tensor, n: int) -> torch.Tensor:
    from geomalg.rotor.decomposition import upper_triangle

    return upper_triangle(matrix, n)


def _group_unitary(gram: torch.Tensor, same_group: torch.Tensor) -> torch.Tensor:
    """Return a unitary ``U`` (``..., m, m``) that diagonalizes each repeated group of a Hermitian Gram matrix.

    Entries between groups are dropped and each group gets its own diagonal
    shift, larger than the spread of any group's eigenvalues, so ``eigh`` never
    mixes vectors of different groups.
    """
    m = gram.shape[-1]
    masked = torch.where(same_group, gram, torch.zeros_like(gram))
    masked = 0.5 * (masked + masked.conj().transpose(-1, -2))
    group_index = torch.argmax(same_group.to(torch.int64), dim=-1).to(gram.real.dtype)
    spread = masked.abs().sum(dim=(-2, -1)).unsqueeze(-1)
    shift = group_index * (4.0 * spread + 1.0)
    shifted = masked + torch.diag_embed(shift.to(gram.dtype))
    _, unitary = torch.linalg.eigh(shifted)
    # eigh sorts by eigenvalue, which follows the group shifts; undo that order
    # so column j stays in the group of representative j.
    order = torch.argsort(group_index + 0.5 * torch.arange(m, dtype=group_index.dtype, device=gram.device) / m, dim=-1)
    inverse = torch.argsort(order, dim=-1)
    return unitary.gather(-1, inverse.unsqueeze(-2).expand(unitary.shape))


def _pick_representatives(
    eigenvalues: torch.Tensor, eigenvectors: torch.Tensor, scale: torch.Tensor, count: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return ``(mu, valid, vectors)`` for the ``count`` largest non-null eigenvalues, one per +-mu pair.

    Raises
    ------
    ValueError
        If a chosen pair has a complex square (a loxodromic bivector).
    """
    n = eigenvectors.shape[-1]

    # Pick one representative of each +-mu pair: positive real part, or positive
    # imaginary part when the eigenvalue is (nearly) imaginary.
    real, imaginary = eigenvalues.real, eigenvalues.imag
    score = torch.where(real.abs() > imaginary.abs(), real, imaginary)
    magnitude = eigenvalues.abs()
    null_level = NULL_TOLERANCE * scale.unsqueeze(-1)
    candidate = (score > 0) & (magnitude > null_level)
    key = torch.where(candidate, magnitude, -torch.ones_like(magnitude))
    order = torch.argsort(key, dim=-1, descending=True)[..., :count]
    chosen_mu = eigenvalues.gather(-1, order)
    valid = candidate.gather(-1, order)
    representatives = eigenvectors.gather(-1, order.unsqueeze(-2).expand(-1, n, -1))

    squares = chosen_mu * chosen_mu
    loxodromic = valid & (squares.imag.abs() > 1e-6 * squares.abs().clamp_min(1e-300))
    if bool(loxodromic.any()):
        raise ValueError(
            "bivector is loxodromic: B^2 has complex-conjugate invariants lambda (possible in Cl(p, q) with "
            "p, q >= 2), so it has no split into real commuting simple bivectors; use "
            "bivector_exp(..., method='taylor') for its exponential"
        )

    return chosen_mu, valid, representatives


def _dual_vectors(
    eigenvalues: torch.Tensor,
    eigenvectors: torch.Tensor,
    chosen_mu: torch.Tensor,
    valid: torch.Tensor,
    elliptic: torch.Tensor,
    representatives: torch.Tensor,
    metric: torch.Tensor,
    scale: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(v, w)``, each ``(batch, n, count)``, with ``M v = mu v``, ``M w = -mu w`` and ``v_a^T eta w_b = delta_ab``."""
    n = eigenvectors.shape[-1]
    count = chosen_mu.shape[-1]
    device = eigenvectors.device

    # Partners: elliptic pairs use the conjugate eigenvector. Hyperbolic pairs
    # take distinct eigenvectors nearest -mu, one per representative, so a
    # repeated mu still gets a basis of its partner eigenspace.
    used = torch.zeros(eigenvalues.shape, dtype=torch.bool, device=device)
    partner_columns = []
    for j in range(count):
        distance = (eigenvalues + chosen_mu[..., j : j + 1]).abs()
        distance = torch.where(used, torch.full_like(distance, math.inf), distance)
        index = distance.argmin(dim=-1, keepdim=True)
        used = used.scatter(-1, index, True)
        partner_columns.append(eigenvectors.gather(-1, index.unsqueeze(-2).expand(-1, n, -1)).squeeze(-1))
    partners = torch.stack(partner_columns, dim=-1)

    # Repeated elliptic mu: rotate the representatives so that the Hermitian
    # Gram matrix v_a^T eta conj(v_b) is diagonal within each group. Then each
    # conjugate partner is dual to its own representative, so every component is real.
    complex_metric = metric.to(eigenvectors.dtype)
    same_group = (chosen_mu.unsqueeze(-1) - chosen_mu.unsqueeze(-2)).abs() <= REPEAT_TOLERANCE * scale[:, None, None]
    same_group = same_group & elliptic.unsqueeze(-1) & elliptic.unsqueeze(-2)
    same_group = same_group | torch.eye(count, dtype=torch.bool, device=device)
    hermitian = representatives.transpose(-1, -2) @ (complex_metric[:, None] * representatives.conj())
    # With V' = V conj(U) the Gram matrix becomes U^H H U, which eigh makes diagonal.
    unitary = _group_unitary(hermitian, same_group)
    representatives = representatives @ unitary.conj()
    partners = torch.where(elliptic.unsqueeze(-2), representatives.conj(), partners)

    # Dual basis: w = partners H^{-1} with H = V^T eta W, so v_a^T eta w_b = delta_ab.
    gram = representatives.transpose(-1, -2) @ (complex_metric[:, None] * partners)
    pair_mask = valid.unsqueeze(-1) & valid.unsqueeze(-2)
    identity = torch.eye(count, dtype=gram.dtype, device=device)
    gram = torch.where(pair_mask, gram, identity.expand_as(gram))
    duals = torch.linalg.solve(gram.transpose(-1, -2), partners.transpose(-1, -2)).transpose(-1, -2)
    return representatives, duals


def general_components(bivector: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Split bivectors of any signature into ``k = n // 2`` commuting simple components.

    Parameters
    ----------
    bivector
        Tensor of shape ``(..., C(n, 2))``, any floating dtype; computed in float64.
    signature
        Squares of the basis vectors (1, -1 or 0).

    Returns
    -------
    Tensor of shape ``(..., k, C(n, 2))`` in the input's dtype. Components are
    ordered by decreasing :math:`|\lambda|` except the last, which is the
    remainder :math:`B - \sum_i b_i` (the smallest :math:`|\lambda|`, or the
    null part). Unused slots are zero. For ``n >= 4`` the result carries no
    gradient.

    Raises
    ------
    ValueError
        If a bivector is loxodromic (complex :math:`\lambda`), or the part of
        :math:`B` with :math:`\lambda \approx 0` is not simple (two or more
        null or near-null planes, which only happens with two or more null
        basis vectors or at near-degenerate inputs).
    """
    n = len(signature)
    k = n // 2
    if k < 2:
        return bivector.unsqueeze(-2).clone()

    dtype = bivector.dtype
    working = bivector.detach().to(torch.float64)
    batch_shape = working.shape[:-1]
    flat = working.reshape(-1, working.shape[-1])
    skew = _skew(flat, n)

    metric = torch.tensor(signature, dtype=torch.float64, device=flat.device)
    action = skew * metric
    scale = skew.abs().amax(dim=(-2, -1)).clamp_min(torch.finfo(torch.float64).tiny)
    eigenvalues, eigenvectors = torch.linalg.eig(action)

    chosen_mu, valid, representatives = _pick_representatives(eigenvalues, eigenvectors, scale, k - 1)
    elliptic = valid & ((chosen_mu * chosen_mu).real < 0)
    representatives, duals = _dual_vectors(eigenvalues, eigenvectors, chosen_mu, valid, elliptic, representatives, metric, scale)

    outer = representatives.unsqueeze(-2) * duals.unsqueeze(-3)
    planes = chosen_mu[..., None, None, :] * (outer - outer.transpose(-2, -3))
    planes = planes.real * valid[..., None, None, :].to(torch.float64)
    explicit = _upper_triangle(planes.movedim(-1, -3), n)
    remainder = flat - explicit.sum(dim=-2)
    _check_remainder_simple(remainder, n, scale)
    components = torch.cat([explicit, remainder.unsqueeze(-2)], dim=-2)
    _check_components(components, metric, n, scale)
    return components.reshape(batch_shape + components.shape[-2:]).to(dtype)


def _check_remainder_simple(remainder: torch.Tensor, n: int, scale: torch.Tensor) -> None:
    """Raise ``ValueError`` where the remainder has rank above 2 (``b ^ b != 0``)."""
    values = torch.linalg.svdvals(_skew(remainder, n))
    third = values[..., 2] if n >= 4 else torch.zeros_like(scale)
    bad = third > 1e-6 * scale
    if bool(bad.any()):
        raise ValueError(
            "the part of the bivector with lambda = b^2 near 0 is not simple: it spans two or more null or "
            f"near-null planes (rank-3 singular value {float(third.max()):.3g} against coefficient scale "
            f"{float(scale.max()):.3g}), so no split into commuting simple bivectors was found; "
            "use bivector_exp(..., method='taylor') for the exponential"
        )


def _check_components(components: torch.Tensor, metric: torch.Tensor, n: int, scale: torch.Tensor) -> None:
    """Raise ``ValueError`` unless every component is simple and each pair commutes, relative to ``scale``.

    NOTE: repeated hyperbolic planes of multiplicity 3 or more under a
    generic change of basis (``e15 + e26 + e37 + e48`` boosted in Cl(4, 4))
    fail this check, because ``eig`` splits their real eigenvalue into
    complex pairs. They raise here instead of returning wrong components.
    """
    skews = _skew(components, n)
    rank_excess = torch.linalg.svdvals(skews)[..., 2].amax(dim=-1)
    maps = skews * metric
    products_ab = maps.unsqueeze(-3) @ maps.unsqueeze(-4)
    commutators = (products_ab - products_ab.transpose(-3, -4)).abs().amax(dim=(-4, -3, -2, -1))
    bad = (rank_excess > 1e-7 * scale) | (commutators > 1e-7 * scale * scale)
    if bool(bad.any()):
        raise ValueError(
            "invariant decomposition failed: the components found are not simple or do not commute "
            f"(rank-3 singular value {float(rank_excess.max()):.3g}, commutator {float(commutators.max()):.3g}, "
            f"coefficient scale {float(scale.max()):.3g}); this happens for planes repeated three or more "
            "times with b^2 > 0. Use bivector_exp(..., method='taylor') for the exponential"
        )


def principal_matrix_log(matrix: torch.Tensor, max_roots: int = 60) -> torch.Tensor:
    r"""Return the principal logarithm of real matrices ``(..., n, n)`` by inverse scaling and squaring.

    Repeated Denman-Beavers square roots bring the matrix within 0.1 of the
    identity, then a 40-term series of :math:`\log(I + E)` is scaled back by
    :math:`2^s`. Unlike an eigen-decomposition this works for defective
    matrices (unipotent maps of null planes).

    Raises
    ------
    ValueError
        If the square roots do not converge, which happens when the matrix has
        an eigenvalue on the closed negative real axis.
    """
    n = matrix.shape[-1]
    identity = torch.eye(n, dtype=matrix.dtype, device=matrix.device)
    current = matrix
    roots = 0
    while float((current - identity).abs().sum(dim=-1).amax()) > 0.1:
        if roots == max_roots:
            raise ValueError(
                "the vector rotation has an eigenvalue on the negative real axis (a plane turned by exactly "
                "pi/2 in rotor angle, or a reflection), so no principal logarithm exists"
            )
        # Product form of the Denman-Beavers iteration, which stays stable for
        # the badly conditioned maps of large hyperbolic rapidities.
        root = current
        product = current
        for _ in range(100):
            inverse_product = torch.linalg.inv(product)
            root = 0.5 * (root + root @ inverse_product)
            product = 0.5 * (identity + 0.5 * (product + inverse_product))
            if float((product - identity).abs().amax()) <= 1e-15:
                break
        if not bool(torch.isfinite(root).all()):
            raise ValueError("the vector rotation is singular or has an eigenvalue on the negative real axis")
        current = root
        roots += 1
    difference = current - identity
    power = difference
    total = difference.clone()
    for j in range(2, 41):
        power = power @ difference
        total = total + ((-1) ** (j + 1) / j) * power
    return total * (2.0**roots)


def general_log(rotor: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return a bivector ``B`` with :math:`\exp(B) = R` for rotors of any signature, float64 ``(..., C(n,2))``.

    ``B`` comes from the principal logarithm of the vector map
    :math:`L = \exp(\mathrm{ad}_B)`, :math:`\mathrm{ad}_B x = Bx - xB`. That fixes ``R`` up to
    sign, and a wrong sign is repaired by turning the elliptic component with
    the largest angle by :math:`\pi`. With two or more null basis vectors the
    part of ``B`` spanned by null-null blades acts as zero on vectors, so it
    is read from :math:`\langle \exp(B)^{\sim} R\rangle_2` afterwards.

    Raises
    ------
    ValueError
        If the square roots of ``L`` do not converge, if :math:`\exp(B) = -R`
        and ``B`` has no elliptic plane (a rotor outside the identity
        component has no real logarithm), if that sign repair meets a
        loxodromic ``B``, or if the result misses ``R`` by more than
        :data:`LOG_TOLERANCE` (relative).
    """
    from geomalg.rotor.exponential import taylor_exp
    from geomalg.rotor.sandwich import multiplication_matrix

    n = len(signature)
    working = rotor.to(torch.float64)
    rotation = _vector_map_of_rotor(working, signature)
    generator = principal_matrix_log(rotation)

    bivector = bivector_from_vector_map(generator, signature)

    if sum(1 for square in signature if square == 0) >= 2:
        candidate = taylor_exp(bivector, signature)
        left = multiplication_matrix(products.reverse(candidate, n), signature, "left", None)
        residual = torch.einsum("...ij,...j->...i", left, working)
        pairs = torch.tensor(_null_pair_mask(signature), dtype=torch.bool, device=working.device)
        grade_two = residual[..., blades.grade_slice(n, 2)]
        bivector = bivector + torch.where(pairs, grade_two * torch.sign(residual[..., :1]), torch.zeros_like(grade_two))

    candidate = taylor_exp(bivector, signature)
    agreement = products.scalar_part_of_product(working, products.reverse(candidate, n), signature)
    flip = agreement < 0
    if not bool(flip.any()):
        return _refine_log(bivector, working, signature)

    components = general_components(bivector, signature)
    squares = _component_squares(components, signature)
    angles = torch.sqrt(torch.clamp(-squares, min=0.0))
    elliptic = squares < -1e-12 * components.abs().amax(dim=(-2, -1), keepdim=True).squeeze(-1).clamp_min(1e-300)
    if bool((flip & ~elliptic.any(dim=-1)).any()):
        raise ValueError(
            "the rotor is -exp(B) for every real bivector B found: it has no elliptic plane to absorb the sign, "
            "so it lies outside the identity component and has no real logarithm"
        )
    largest = torch.where(elliptic, angles, -torch.ones_like(angles)).argmax(dim=-1, keepdim=True)
    angle = angles.gather(-1, largest).squeeze(-1)
    plane = components.gather(-2, largest.unsqueeze(-1).expand(largest.shape + (components.shape[-1],))).squeeze(-2)
    factor = (angle - math.pi) / angle.clamp_min(1e-300)
    corrected = bivector + ((factor - 1.0).unsqueeze(-1) * plane)
    return _refine_log(torch.where(flip.unsqueeze(-1), corrected, bivector), working, signature)


def bivector_from_vector_map(generator: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return the bivector ``B`` (``..., C(n,2)``) whose map :math:`x \mapsto Bx - xB` is closest to ``generator`` (``..., n, n``).

    The least-squares solve goes through the pseudo-inverse, so blades that act
    as zero on vectors (two null vectors) get coefficient 0.
    """
    structure = as_torch(vector_map_structure(signature), generator)
    solve = torch.linalg.pinv(structure.reshape(structure.shape[0], -1).T)
    return torch.einsum("pk,...k->...p", solve, generator.reshape(generator.shape[:-2] + (-1,)))


def _refine_log(bivector: torch.Tensor, rotor: torch.Tensor, signature: tuple[int, ...], max_steps: int = 8) -> torch.Tensor:
    r"""Polish ``B`` by Newton steps on :math:`\exp(B) = R`, then check the result.

    The logarithm of the vector map loses about ``cond(L) * eps`` (1e-8 at
    hyperbolic rapidities near 10, more next to an elliptic quarter turn), so
    each step solves :math:`\Phi_B(\delta B) = \langle \exp(B)^{\sim} R \rangle_2`
    with the derivative of the exponential map.

    Raises
    ------
    ValueError
        If :math:`\exp(B)` still differs from ``R`` by more than
        :data:`LOG_TOLERANCE` times the largest rotor coefficient.
    """
    from geomalg.rotor.exponential import dexp_matrix, taylor_exp
    from geomalg.rotor.sandwich import multiplication_matrix

    n = len(signature)
    scale = rotor.abs().amax(dim=-1).clamp_min(1.0)
    for _ in range(max_steps):
        candidate = taylor_exp(bivector, signature)
        left = multiplication_matrix(products.reverse(candidate, n), signature, "left", None)
        error = torch.einsum("...oa,...a->...o", left, rotor)[..., blades.grade_slice(n, 2)]
        step = torch.linalg.lstsq(dexp_matrix(bivector, signature), error.unsqueeze(-1)).solution.squeeze(-1)
        bivector = bivector + step
        if float(step.abs().amax()) <= 1e-15 * max(1.0, float(bivector.abs().amax())):
            break

    residual = (taylor_exp(bivector, signature) - rotor).abs().amax(dim=-1) / scale
    if bool((residual > LOG_TOLERANCE).any()):
        raise ValueError(
            f"rotor_log did not converge: exp(log R) differs from R by {float(residual.max()):.3g} (relative); "
            "the rotor is probably at an elliptic quarter turn (the vector map has eigenvalue -1) or "
            "is not a rotor (R R~ != 1)"
        )
    return bivector


def _vector_map_of_rotor(rotor: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return ``L`` (``..., n, n``) with :math:`R e_i \tilde R = \sum_j L_{ji} e_j`, from full products.

    Unlike :func:`geomalg.rotor.exponential.vector_rotation_of_rotor`, this
    divides by no :math:`e_j^2`, so null basis vectors are allowed.
    """
    from geomalg.rotor.sandwich import multiplication_matrix

    n = len(signature)
    eye = torch.eye(n, dtype=rotor.dtype, device=rotor.device)
    turned = products.vector_product(eye, products.reverse(rotor, n).unsqueeze(-2), signature, "left")
    left = multiplication_matrix(rotor, signature, "left", None)
    images = torch.einsum("...oa,...ia->...io", left, turned)
    vectors = images[..., blades.grade_slice(n, 1)]
    return vectors.transpose(-1, -2)


def _component_squares(components: torch.Tensor, signature: tuple[int, ...]) -> torch.Tensor:
    r"""Return :math:`b^2` (a scalar for simple ``b``) of each component, shape ``(..., k)``."""
    pairs = bivector_pairs(len(signature))
    weights = [-signature[i] * signature[j] for i, j in pairs]
    table = torch.tensor(weights, dtype=components.dtype, device=components.device)
    return (components * components * table).sum(dim=-1)


def _null_pair_mask(signature: tuple[int, ...]) -> list[bool]:
    return [signature[i] == 0 and signature[j] == 0 for i, j in bivector_pairs(len(signature))]
