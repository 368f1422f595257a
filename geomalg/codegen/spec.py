"""What a generated kernel computes, and which code shape it takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from geomalg import blades

GENERATOR_VERSION = 3
"""Bumped whenever generated source changes, so cached modules from older versions are not reused."""

BACKENDS = ("numpy", "numba", "torch")

UNROLL_MAX_TERMS = {"numpy": 256, "numba": 256, "torch": 256}
"""Largest product, in blade-pair terms, that is expanded symbolically into straight-line code.

Unrolled code has one statement per term. Numba compiles it to registers and
it beats a table loop, but compile time grows with the term count (about a
second at 256 terms). The array backends issue about two array operations per
term on contiguous coefficient vectors, which beats gathers while the per-call
overhead of a few hundred operations stays small next to the work. A full
product has 4**n terms, so full x full products unroll up to n = 4;
grade-restricted products unroll much further.
"""

TABLE_MAX_TERMS = 1 << 22
"""Largest product table held in memory (about 4M terms, 100 MB); larger tables are streamed in chunks.

A full x full product reaches this at n = 11, so full products at n >= 12 rebuild
their table chunk by chunk from the blade rules on every call.
"""


@dataclass(frozen=True)
class KernelSpec:
    """A bilinear product of one algebra, restricted to operand grades, for one backend."""

    operation: str
    signature: tuple[int, ...]
    a_grades: tuple[int, ...]
    b_grades: tuple[int, ...]
    backend: str

    def __post_init__(self) -> None:
        if self.operation not in blades.OPERATIONS:
            raise ValueError(f"unknown operation {self.operation!r}; use one of {', '.join(blades.OPERATIONS)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; use one of {', '.join(BACKENDS)}")

    @property
    def n(self) -> int:
        return len(self.signature)

    @property
    def term_bound(self) -> int:
        """Upper bound on the number of blade-pair terms."""
        return blades.count_terms(self.signature, self.operation, self.a_grades, self.b_grades)

    @property
    def is_full(self) -> bool:
        """True when both operands may hold every grade."""
        every = tuple(range(self.n + 1))
        return self.a_grades == every and self.b_grades == every

    @property
    def mode(self) -> str:
        """``"unrolled"``, ``"split"``, ``"table"`` or ``"streamed"``.

        Small products unroll (:data:`UNROLL_MAX_TERMS`). Full x full Torch products
        run as batched matrix products (:mod:`geomalg.codegen.split`). Other
        products loop over a table, streamed past :data:`TABLE_MAX_TERMS` terms.
        """
        if self.term_bound <= UNROLL_MAX_TERMS[self.backend]:
            return "unrolled"
        if self.backend == "torch" and self.is_full:
            return "split"
        if self.term_bound <= TABLE_MAX_TERMS:
            return "table"
        return "streamed"

    @property
    def algebra_name(self) -> str:
        """Name such as ``Cl(3,0,1)`` (p positive, q negative, r null squares)."""
        p = self.signature.count(1)
        q = self.signature.count(-1)
        r = self.signature.count(0)
        return f"Cl({p},{q},{r})"

    def module_name(self) -> str:
        """Return a file and module name that is unique for the spec and the generator version."""
        p = self.signature.count(1)
        q = self.signature.count(-1)
        r = self.signature.count(0)
        grades = "g" + "".join(map(str, self.a_grades)) + "x" + "".join(map(str, self.b_grades))
        if len(grades) > 40:
            grades = "gfull" if self.a_grades == self.b_grades == tuple(range(self.n + 1)) else "gmixed"
        key = repr((GENERATOR_VERSION, self.operation, self.signature, self.a_grades, self.b_grades, self.backend, self.mode))
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        return f"{self.operation}_p{p}q{q}r{r}_{grades}_{self.backend}_{digest}"
