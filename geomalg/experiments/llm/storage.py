"""Atomic file writes, cache keys and the guard that keeps a results folder from being overwritten."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch

__all__ = [
    "ResultsExistError",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_text",
    "cache_key",
    "load_cached",
    "prepare_output_folder",
]

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
ROWS_FOLDER = "rows"
CACHE_FOLDER = "cache"
RESULT_FILES = ("results.md", "results.csv", "results.json", "llm_delta_log_ppl.png")


class ResultsExistError(FileExistsError):
    """The output folder contains an earlier run, and neither resume nor overwrite was requested."""


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> None:
    # The data goes to a temporary file in the same folder, which is then
    # renamed over the target. A reader, or a resumed run, therefore finds
    # the old file or the complete new one, never a partial write.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp creates the file as 0600; give it the mode a plain open() would.
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes to ``path`` atomically."""
    _atomic_write(Path(path), lambda stream: stream.write(data))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text to ``path`` atomically."""
    _atomic_write(Path(path), lambda stream: stream.write(text.encode("utf-8")))


def atomic_save(path: str | Path, value: object) -> None:
    """``torch.save`` ``value`` to ``path`` atomically."""
    _atomic_write(Path(path), lambda stream: torch.save(value, stream))


def load_cached(path: str | Path) -> object | None:
    """Return the object saved at ``path`` with :func:`atomic_save`, or ``None`` if there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def cache_key(settings: dict) -> str:
    """Return 16 hex digits of the SHA-256 of ``settings`` as sorted JSON."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _settings_differences(old: dict, new: dict) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [f"{key}: {old.get(key)!r} -> {new.get(key)!r}" for key in keys if old.get(key) != new.get(key)]


def prepare_output_folder(out: str | Path, settings: dict, resume: bool, overwrite: bool,
                          record: bool = True) -> Path:
    """Check and set up the output folder of a run.

    A folder that already has a ``run.json`` is reused only with ``resume``
    (and the same result-affecting settings) or ``overwrite``.  Overwrite
    deletes the earlier result rows and tables; it keeps the activation and
    replacement cache, whose keys include every setting that affects them.

    Parameters
    ----------
    out : str or Path
    settings : dict
        The run's result-affecting settings, stored in ``run.json``.
    resume, overwrite : bool
    record : bool
        ``False`` only checks; ``True`` also deletes old results on overwrite
        and writes ``run.json``.

    Returns
    -------
    Path
        The folder, created if needed.

    Raises
    ------
    ValueError
        If both ``resume`` and ``overwrite`` are set, or ``resume`` is set
        with settings that differ from the stored ones.
    ResultsExistError
        If the folder has results and neither flag is set.
    """
    if resume and overwrite:
        raise ValueError("pass either --resume or --overwrite, not both")
    folder = Path(out)
    run_file = folder / RUN_FILE
    stored = json.loads(run_file.read_text(encoding="utf-8")) if run_file.is_file() else None
    # JSON round trip so tuples and lists compare equal.
    settings = json.loads(json.dumps(settings, default=str))

    if stored is not None and not (resume or overwrite):
        raise ResultsExistError(
            f"output folder {str(folder)!r} already contains a run; pass --resume to continue it, "
            "--overwrite to replace its results, or choose another --out"
        )
    if stored is not None and resume and stored != settings:
        differences = "; ".join(_settings_differences(stored, settings))
        raise ValueError(
            f"cannot resume the run in {str(folder)!r} with different settings ({differences}); "
            "pass the same settings, --overwrite, or another --out"
        )

    if not record:
        return folder
    if overwrite:
        shutil.rmtree(folder / ROWS_FOLDER, ignore_errors=True)
        for name in RESULT_FILES:
            (folder / name).unlink(missing_ok=True)
        logger.info("overwriting earlier results in %s (cache kept)", folder)
    elif stored is not None:
        logger.info("resuming the run in %s", folder)

    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_file, json.dumps(settings, indent=2, sort_keys=True) + "\n")
    return folder
