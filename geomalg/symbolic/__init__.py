"""SymPy multivectors that share the blade rules used by the generated kernels."""

from geomalg.symbolic.multivector import SymbolicMultivector

__all__ = ["SymbolicMultivector"]
