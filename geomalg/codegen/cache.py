"""Writing generated modules to the cache directory and importing them.

Generated modules are ordinary ``.py`` files, so ``inspect.getsource`` and
tracebacks show their code, and Numba's on-disk cache (``cache=True``) keeps
compiled machine code beside them in ``__pycache__``. A file is written once
under a name that encodes the spec and the generator version, by writing a
temporary file and renaming it, so concurrent processes never see half a file.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import platformdirs

from geomalg.codegen.emit import generate_source
from geomalg.codegen.spec import KernelSpec

logger = logging.getLogger(__name__)

CACHE_ENVIRONMENT_VARIABLE = "GEOMALG_CACHE_DIR"

MODULE_PREFIX = "geomalg_kernels."
"""Prefix of the names under which generated modules are registered in ``sys.modules``."""


def default_cache_dir() -> Path:
    """Return ``$GEOMALG_CACHE_DIR`` if set, else the user cache directory (``~/.cache/geomalg/kernels`` on Linux)."""
    configured = os.environ.get(CACHE_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_cache_dir("geomalg")) / "kernels"


def kernel_path(spec: KernelSpec, cache_dir: Path) -> Path:
    """Return the path of ``spec``'s generated module."""
    return Path(cache_dir) / (spec.module_name() + ".py")


def write_module(spec: KernelSpec, cache_dir: Path) -> Path:
    """Generate ``spec``'s module into ``cache_dir`` unless it is already there, and return its path.

    Raises
    ------
    OSError
        If the cache directory cannot be created or written; set ``GEOMALG_CACHE_DIR``
        or pass ``cache_dir`` to point at a writable folder.
    """
    path = kernel_path(spec, cache_dir)
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        source = generate_source(spec)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".py")
        with os.fdopen(handle, "w") as stream:
            stream.write(source)
        os.replace(temporary, path)
    except OSError as error:
        raise OSError(
            f"cannot write generated kernel {path.name} to cache directory {path.parent}: {error}; "
            f"set {CACHE_ENVIRONMENT_VARIABLE} or pass cache_dir= to use a writable folder"
        ) from error
    logger.debug("generated %s", path)
    return path


def load_kernel(spec: KernelSpec, cache_dir: Path | None = None) -> ModuleType:
    """Return the imported module for ``spec``, generating it first if needed.

    The module is registered in ``sys.modules`` as ``geomalg_kernels.<name>``
    and exposes ``apply(a, b)``.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    name = MODULE_PREFIX + spec.module_name()
    path = kernel_path(spec, cache_dir)
    module = sys.modules.get(name)
    if module is not None and Path(module.__file__) == path:
        return module

    path = write_module(spec, cache_dir)
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module
