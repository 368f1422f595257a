"""geomalg: Clifford algebra from SymPy rules to generated Numba and PyTorch kernels."""

__version__ = "0.1.0"

from geomalg.algebra import Algebra
from geomalg.multivector import Multivector

__all__ = ["Algebra", "Multivector", "__version__"]
