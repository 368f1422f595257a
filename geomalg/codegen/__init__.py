"""Code generation: symbolic products become importable Numba, NumPy and Torch kernel modules."""

from geomalg.codegen.cache import default_cache_dir, load_kernel
from geomalg.codegen.emit import generate_source
from geomalg.codegen.spec import BACKENDS, GENERATOR_VERSION, TABLE_MAX_TERMS, UNROLL_MAX_TERMS, KernelSpec

__all__ = [
    "BACKENDS",
    "GENERATOR_VERSION",
    "TABLE_MAX_TERMS",
    "UNROLL_MAX_TERMS",
    "KernelSpec",
    "default_cache_dir",
    "generate_source",
    "load_kernel",
]
