"""The :class:`Algebra` class: Cl(p, q, r) operations on NumPy arrays and Torch tensors.

Every bilinear product goes through a kernel that :mod:`geomalg.codegen`
generates from the symbolic rules of :mod:`geomalg.blades`. The involutions are
per-blade sign flips taken from the same module. Operands are coefficient arrays of shape
``(..., 2**n)`` in canonical blade order, or :class:`~geomalg.multivector.Multivector`
objects that also record their algebra.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np
import torch

from geomalg import blades
from geomalg.codegen import KernelSpec, load_kernel
from geomalg.numeric import arrays
from geomalg.symbolic import SymbolicMultivector

GradeSelection = int | Sequence[int] | None

NUMPY_BACKENDS = ("numba", "numpy")

INVERSE_GENERAL_MAX_DIMENSION = 10
"""Largest n for which :meth:`Algebra.inverse` solves the dense 2**n x 2**n system for a non-versor."""


class Algebra:
    """The Clifford algebra Cl(p, q, r).

    Parameters
    ----------
    p, q, r
        Numbers of basis vectors that square to +1, -1 and 0. Basis vectors are
        ordered as in ``clifford.Cl(p, q, r)``: null vectors first, then positive, then negative.
    backend
        Kernel backend for NumPy inputs: ``"numba"`` (default, compiled loops) or
        ``"numpy"`` (vectorized array code). Torch inputs always use the Torch backend.
    cache_dir
        Folder for generated kernel modules; defaults to ``$GEOMALG_CACHE_DIR`` or the user cache directory.

    Raises
    ------
    TypeError, ValueError
        If a count is not a non-negative integer or ``p + q + r > 16``, or the backend is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> from geomalg import Algebra
    >>> alg = Algebra(3)
    >>> e1, e2 = np.eye(8)[1], np.eye(8)[2]
    >>> float(alg.geometric_product(e1, e2)[alg.blade_names.index("e12")])
    1.0
    """

    def __init__(self, p: int, q: int = 0, r: int = 0, *, backend: str = "numba", cache_dir: str | Path | None = None) -> None:
        self.signature = blades.signature_vector(p, q, r)
        self.p, self.q, self.r = int(p), int(q), int(r)
        self.n = len(self.signature)
        self.dim = 1 << self.n
        if backend not in NUMPY_BACKENDS:
            raise ValueError(f"unknown backend {backend!r} for NumPy inputs; use 'numba' or 'numpy'")
        self.backend = backend
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._kernels: dict[KernelSpec, ModuleType] = {}

    # Description of the basis.

    @property
    def blade_names(self) -> list[str]:
        """Blade names in canonical order: ``''`` for the scalar, then ``'e1'``, ..., ``'e12'``, ..."""
        return blades.blade_names(self.n)

    @property
    def bitmaps(self) -> np.ndarray:
        """Bitmap of each blade in canonical order (bit i set when e_{i+1} is a factor)."""
        return blades.blade_bitmaps(self.n)

    @property
    def blade_grades(self) -> np.ndarray:
        """Grade of each blade in canonical order."""
        return blades.blade_grades(self.n)

    def grade_slice(self, k: int) -> slice:
        """Return the slice of the last axis that contains the grade-``k`` coefficients."""
        return blades.grade_slice(self.n, k)

    def __repr__(self) -> str:
        return f"Algebra({self.p}, {self.q}, {self.r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Algebra) and other.signature == self.signature

    def __hash__(self) -> int:
        return hash(("Algebra", self.signature))

    # Construction of elements.

    def multivector(self, values: Any, grades: GradeSelection = None):
        """Wrap coefficients of shape ``(..., 2**n)`` as a :class:`~geomalg.multivector.Multivector`.

        ``grades`` records which grades are present so products pick grade-aware kernels;
        coefficients outside those grades are set to zero.
        """
        from geomalg.multivector import Multivector

        values = arrays.as_coefficients(values, self.dim, "values")
        if grades is not None:
            grades = blades.normalize_grades(grades, self.n)
            values = self.grade(values, grades)
        return Multivector(self, values, grades)

    def blade(self, name: str, coefficient: float = 1.0, like: Any = None):
        """Return ``coefficient`` times the blade named ``name`` (such as ``"e13"`` or ``""``) as a Multivector.

        Raises
        ------
        ValueError
            If no blade has that name.
        """
        names = self.blade_names
        if name not in names:
            raise ValueError(f"no blade named {name!r} in {self!r}; {_suggest_blade(name, names)}")
        values = np.zeros(self.dim)
        values[names.index(name)] = coefficient
        if arrays.is_tensor(like):
            values = torch.as_tensor(values, dtype=like.dtype, device=like.device)
        return self.multivector(values, grades=int(self.blade_grades[names.index(name)]))

    def symbolic(self, name: str, grades: GradeSelection = None, **assumptions) -> SymbolicMultivector:
        """Return a SymPy multivector whose coefficients on ``grades`` are symbols ``<name><blade>``."""
        return SymbolicMultivector.generic(self.signature, name, grades, **assumptions)

    # Kernels.

    def kernel(self, operation: str, a_grades: GradeSelection = None, b_grades: GradeSelection = None, backend: str = "numba") -> ModuleType:
        """Return the generated module computing ``operation`` for operands of the given grades.

        The module exposes ``apply(a, b)`` on ``(batch, 2**n)`` operands; its source is
        visible to ``inspect.getsource``.
        """
        spec = KernelSpec(
            operation,
            self.signature,
            blades.normalize_grades(a_grades, self.n),
            blades.normalize_grades(b_grades, self.n),
            backend,
        )
        module = self._kernels.get(spec)
        if module is None:
            module = load_kernel(spec, self.cache_dir)
            self._kernels[spec] = module
        return module

    def _unwrap(self, value: Any, name: str):
        """Return ``(coefficients, recorded grades, was a Multivector)`` for one operand."""
        from geomalg.multivector import Multivector

        if isinstance(value, Multivector):
            if value.algebra != self:
                raise ValueError(
                    f"{name} belongs to {value.algebra!r}, not {self!r}; operands must come from the same algebra"
                )
            return value.value, value.grades, True
        return arrays.as_coefficients(value, self.dim, name), None, False

    def _wrap(self, values, grades, wrap: bool):
        from geomalg.multivector import Multivector

        return Multivector(self, values, grades) if wrap else values

    def _bilinear(self, operation: str, a: Any, b: Any, grades):
        a_values, a_recorded, a_wrapped = self._unwrap(a, "a")
        b_values, b_recorded, b_wrapped = self._unwrap(b, "b")
        a_grades, b_grades = _split_grades(grades)
        a_grades = blades.normalize_grades(a_grades if a_grades is not None else a_recorded, self.n)
        b_grades = blades.normalize_grades(b_grades if b_grades is not None else b_recorded, self.n)

        a_values, b_values = arrays.match_kinds(a_values, b_values)
        a_flat, b_flat, leading = arrays.flatten_pair(a_values, b_values)
        backend = "torch" if arrays.is_tensor(a_flat) else self.backend
        module = self.kernel(operation, a_grades, b_grades, backend)
        result = module.apply(a_flat, b_flat).reshape(*leading, self.dim)

        out_grades = blades.output_grades(operation, a_grades, b_grades, self.n) or (0,)
        return self._wrap(result, out_grades, a_wrapped or b_wrapped)

    # Products.

    def geometric_product(self, a: Any, b: Any, grades=None):
        r"""Return the geometric product :math:`a b`.

        Parameters
        ----------
        a, b
            Arrays or tensors of shape ``(..., 2**n)`` (leading axes broadcast), or Multivectors.
        grades
            Optional pair ``(a_grades, b_grades)``; each entry is ``None`` (all grades),
            one grade or a sequence. The product then uses only those grades of each operand,
            through a kernel that computes just the blades they can reach.

        Returns
        -------
        Array or tensor of shape ``(..., 2**n)`` with the promoted dtype (a Multivector if an operand was one).

        Raises
        ------
        ValueError
            If a last axis is not ``2**n``, operands come from different algebras or lie on different devices.
        TypeError
            If an operand is not real-valued.
        """
        return self._bilinear("geometric_product", a, b, grades)

    def outer_product(self, a: Any, b: Any, grades=None):
        r"""Return the outer (wedge) product :math:`a \wedge b`; arguments as :meth:`geometric_product`."""
        return self._bilinear("outer_product", a, b, grades)

    def left_contraction(self, a: Any, b: Any, grades=None):
        r"""Return the left contraction :math:`a \rfloor b`; arguments as :meth:`geometric_product`.

        For blades of grades k and l it is the grade l - k part of the geometric
        product, and zero when k > l.
        """
        return self._bilinear("left_contraction", a, b, grades)

    def scalar_product(self, a: Any, b: Any, grades=None):
        r"""Return the scalar product :math:`\langle a b \rangle_0` with shape ``(...)``."""
        result = self._bilinear("scalar_product", a, b, grades)
        values = result.value if hasattr(result, "algebra") else result
        return values[..., 0]

    # Involutions and grade selection.

    def _signed(self, a: Any, kind: str):
        values, recorded, wrapped = self._unwrap(a, "a")
        result = values * arrays.sign_vector(blades.involution_signs(self.n, kind), values)
        return self._wrap(result, recorded, wrapped)

    def reverse(self, a: Any):
        r"""Return the reverse :math:`\tilde a`: grade k is multiplied by :math:`(-1)^{k(k-1)/2}`."""
        return self._signed(a, "reverse")

    def grade_involution(self, a: Any):
        r"""Return the grade involution :math:`\hat a`: grade k is multiplied by :math:`(-1)^k`."""
        return self._signed(a, "grade_involution")

    def clifford_conjugate(self, a: Any):
        r"""Return the Clifford conjugate :math:`\bar a`: grade k is multiplied by :math:`(-1)^{k(k+1)/2}`."""
        return self._signed(a, "clifford_conjugate")

    def grade(self, a: Any, k: int | Sequence[int]):
        r"""Return the grade-``k`` part :math:`\langle a \rangle_k` (all other coefficients zero).

        ``k`` may be one grade or a sequence of grades.
        """
        values, _, wrapped = self._unwrap(a, "a")
        selected = blades.normalize_grades(k, self.n)
        mask = np.isin(self.blade_grades, selected).astype(np.int8)
        return self._wrap(values * arrays.sign_vector(mask, values), selected, wrapped)

    # Metric operations.

    def pseudoscalar_square(self) -> int:
        """Return :math:`I^2` for the unit pseudoscalar ``I = e1 e2 ... en`` (+1, -1, or 0 if degenerate)."""
        top = np.int64(self.dim - 1)
        return int(blades.blade_product_sign(top, top, self.signature))

    def dual(self, a: Any):
        r"""Return the dual :math:`a I^{-1}`, as ``clifford``'s ``MultiVector.dual()``.

        Raises
        ------
        ValueError
            If the metric is degenerate (r > 0), where the pseudoscalar has no inverse.
        """
        square = self.pseudoscalar_square()
        if square == 0:
            raise ValueError(
                f"the dual a I^-1 is undefined in the degenerate algebra {self!r} because its pseudoscalar squares "
                "to 0; compute it in a non-degenerate algebra (r = 0)"
            )
        values, recorded, wrapped = self._unwrap(a, "a")
        inverse_pseudoscalar = np.zeros(self.dim)
        inverse_pseudoscalar[-1] = 1.0 / square
        if arrays.is_tensor(values):
            inverse_pseudoscalar = torch.as_tensor(inverse_pseudoscalar, dtype=values.dtype, device=values.device)
        else:
            inverse_pseudoscalar = inverse_pseudoscalar.astype(values.dtype)
        result = self.geometric_product(values, inverse_pseudoscalar, grades=(recorded, self.n))
        grades = None if recorded is None else tuple(sorted(self.n - g for g in recorded))
        return self._wrap(result, grades, wrapped)

    def norm(self, a: Any):
        r"""Return :math:`\sqrt{|\langle \tilde a a \rangle_0|}` with shape ``(...)``, as ``abs()`` in ``clifford``."""
        values, _, _ = self._unwrap(a, "a")
        square = self.scalar_product(self.reverse(values), values)
        if arrays.is_tensor(square):
            return torch.sqrt(torch.abs(square))
        return np.sqrt(np.abs(square))

    def inverse(self, a: Any):
        r"""Return :math:`a^{-1}` such that :math:`a a^{-1} = a^{-1} a = 1`.

        For a versor (where :math:`a \tilde a` is a non-zero scalar) this is
        :math:`\tilde a / (a \tilde a)`. Any other element with n <= 10 is
        inverted by solving the linear system of its left multiplication, and the
        result is checked on both sides. For Torch inputs the checks read values
        back to the host.

        Raises
        ------
        ValueError
            If an element is not invertible (for example a null vector, or ``1 + e1``
            in Cl(1)), or if a non-versor is given for n > 10.
        """
        values, recorded, wrapped = self._unwrap(a, "a")
        tolerance = _round_off(values)
        scale = (values * values).sum(-1)
        reverse = self.reverse(values)
        product = self.geometric_product(values, reverse)
        scalar = product[..., 0]
        off_scalar = _max_abs(product[..., 1:]) if self.n > 0 else _zeros_like(scalar)

        is_versor = _all(off_scalar <= tolerance * scale) and _all(_abs(scalar) > tolerance * scale)
        if is_versor:
            return self._wrap(reverse / scalar[..., None], recorded, wrapped)
        if self.n > INVERSE_GENERAL_MAX_DIMENSION:
            raise ValueError(
                f"a has no versor inverse (a ~a is not a non-zero scalar) and general inversion is limited to "
                f"n <= {INVERSE_GENERAL_MAX_DIMENSION}, but {self!r} has n = {self.n}"
            )
        return self._wrap(self._general_inverse(values, tolerance), None, wrapped)

    def _general_inverse(self, values, tolerance: float):
        identity = np.eye(self.dim)
        if arrays.is_tensor(values):
            identity = torch.as_tensor(identity, dtype=values.dtype, device=values.device)
        else:
            identity = identity.astype(values.dtype)
        # Row j of `rows` is a e_j, so a x = sum_j x_j (a e_j) = rows^T x.
        rows = self.geometric_product(values[..., None, :], identity)
        target = identity[0]
        system = rows.transpose(-1, -2) if arrays.is_tensor(values) else np.swapaxes(rows, -1, -2)
        try:
            if arrays.is_tensor(values):
                solution = torch.linalg.solve(system, target.expand(*rows.shape[:-1]))
            else:
                solution = np.linalg.solve(system, np.broadcast_to(target, rows.shape[:-1])[..., None])[..., 0]
        except (np.linalg.LinAlgError, RuntimeError):
            solution = None

        if solution is None:
            bad = _singular_rows(system)
        else:
            left = _max_abs(self.geometric_product(values, solution) - target)
            right = _max_abs(self.geometric_product(solution, values) - target)
            residual = np.asarray(_to_numpy(left) if arrays.is_tensor(left) else left)
            residual = np.maximum(residual, np.asarray(_to_numpy(right) if arrays.is_tensor(right) else right))
            bad = np.argwhere(~np.isfinite(residual) | (residual > 1e3 * tolerance))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            element = _to_numpy(values[index]) if arrays.is_tensor(values) else values[index]
            where = f" at batch index {index} ({len(bad)} of the batch are singular)" if index else ""
            raise ValueError(
                f"element {_describe(self, element)}{where} is not invertible in {self!r}: no b with a b = b a = 1 "
                "exists because its left multiplication is singular. Null vectors (v^2 = 0), zero and "
                "zero-divisors such as 1 + e1 in Cl(1) have no inverse"
            )
        return solution

    # Rotors: thin wrappers over geomalg.rotor that take and return full multivectors.

    def _bivector_part(self, a: Any, name: str):
        """Return ``(grade-2 coefficients, was a Multivector)`` after checking that ``a`` has no other grade."""
        values, _, wrapped = self._unwrap(a, name)
        grades = blades.blade_grades(self.n)
        others = values[..., np.nonzero(grades != 2)[0]]
        if not _all(others == 0):
            raise ValueError(
                f"{name} must be a bivector, but it has non-zero coefficients outside grade 2; "
                f"pass alg.grade({name}, 2) to drop them"
            )
        return values[..., blades.grade_slice(self.n, 2)], wrapped

    def _embed_bivector(self, bivector):
        """Return full multivectors ``(..., 2**n)`` whose grade-2 part is ``bivector``."""
        shape = bivector.shape[:-1] + (self.dim,)
        full = bivector.new_zeros(shape) if arrays.is_tensor(bivector) else np.zeros(shape, dtype=bivector.dtype)
        full[..., blades.grade_slice(self.n, 2)] = bivector
        return full

    def invariant_decomposition(self, a: Any, method: str = "eigh"):
        r"""Split the bivector ``a`` into ``n // 2`` commuting simple bivectors.

        Returns an array of shape ``(n // 2, ..., 2**n)`` whose entries along the
        leading axis sum to ``a``. See :func:`geomalg.rotor.invariant_decomposition`.

        Raises
        ------
        ValueError
            If ``a`` has grades other than 2, or the signature mixes signs or has null vectors.
        """
        from geomalg import rotor

        bivector, wrapped = self._bivector_part(a, "a")
        components = rotor.invariant_decomposition(bivector, self.signature, method=method)
        return self._wrap(self._embed_bivector(components), (2,), wrapped)

    def bivector_exp(self, a: Any, method: str = "auto"):
        r"""Return the rotor :math:`\exp(a)` of the bivector ``a``, shape ``(..., 2**n)``.

        See :func:`geomalg.rotor.bivector_exp`.

        Raises
        ------
        ValueError
            If ``a`` has grades other than 2, or ``method`` does not cover the signature.
        """
        from geomalg import rotor

        bivector, wrapped = self._bivector_part(a, "a")
        result = rotor.bivector_exp(bivector, self.signature, method=method)
        return self._wrap(result, tuple(range(0, self.n + 1, 2)), wrapped)

    def rotor_log(self, a: Any):
        r"""Return a bivector ``b`` with :math:`\exp(b) = a` for the rotor ``a``, shape ``(..., 2**n)``.

        See :func:`geomalg.rotor.rotor_log`.

        Raises
        ------
        ValueError
            If the signature mixes signs or has null vectors.
        """
        from geomalg import rotor

        values, _, wrapped = self._unwrap(a, "a")
        bivector = rotor.rotor_log(values, self.signature)
        return self._wrap(self._embed_bivector(bivector), (2,), wrapped)


def _suggest_blade(name: str, names: list[str]) -> str:
    """Return a hint for an unknown blade name: the canonical spelling when the indices exist but are out of order."""
    digits = name[1:].split("_") if "_" in name else list(name[1:])
    if name.startswith("e") and all(d.isdigit() for d in digits) and digits:
        separator = "_" if "_" in (names[-1] if names else "") else ""
        canonical = "e" + separator.join(sorted(digits, key=int))
        if canonical in names and len(set(digits)) == len(digits):
            return f"blade names list indices in increasing order, so use {canonical!r} (and negate if the swap is odd)"
    return f"names run {names[0]!r}, {names[1:4]}, ..., {names[-1]!r} (see blade_names)"


def _to_numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if arrays.is_tensor(values) else np.asarray(values)


def _singular_rows(system) -> np.ndarray:
    """Return the batch indices of the matrices in ``system`` that are singular to working precision."""
    matrices = _to_numpy(system).astype(np.float64)
    if matrices.ndim == 2:
        matrices = matrices[None]
        ranks = np.linalg.matrix_rank(matrices)
        return np.argwhere(ranks < matrices.shape[-1])[:, :0]
    ranks = np.linalg.matrix_rank(matrices)
    return np.argwhere(ranks < matrices.shape[-1])


def _describe(algebra, element: np.ndarray) -> str:
    terms = [f"{c:.6g}{('*' + name) if name else ''}" for c, name in zip(element, algebra.blade_names) if c != 0]
    if not terms:
        return "0"
    text = " + ".join(terms[:8])
    if len(terms) > 8:
        text += " + ..."
    return text


def _split_grades(grades):
    if grades is None:
        return None, None
    if not isinstance(grades, (tuple, list)) or len(grades) != 2:
        raise ValueError(
            f"grades={grades!r} must be a pair (a_grades, b_grades), each None, a grade or a sequence of grades"
        )
    return grades[0], grades[1]


def _round_off(values) -> float:
    if arrays.is_tensor(values):
        return float(torch.finfo(values.dtype).eps) * 64
    return float(np.finfo(values.dtype).eps) * 64


def _max_abs(values):
    if arrays.is_tensor(values):
        return values.abs().amax(dim=-1) if values.shape[-1] else values.new_zeros(values.shape[:-1])
    return np.abs(values).max(axis=-1) if values.shape[-1] else np.zeros(values.shape[:-1])


def _abs(values):
    return values.abs() if arrays.is_tensor(values) else np.abs(values)


def _all(condition) -> bool:
    return bool(condition.all()) if arrays.is_tensor(condition) else bool(np.all(condition))


def _zeros_like(values):
    return torch.zeros_like(values) if arrays.is_tensor(values) else np.zeros_like(values)
