"""geomalg: Clifford algebra from SymPy rules to generated Numba and PyTorch kernels."""

__version__ = "0.1.0"
