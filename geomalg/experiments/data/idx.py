"""Reader for the IDX array format of the MNIST family of datasets.

An IDX file starts with a 4-byte magic number: two zero bytes, a type code
(``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B`` int16, ``0x0C`` int32,
``0x0D`` float32, ``0x0E`` float64) and the number of dimensions.  Then come
the dimension sizes as big-endian uint32 and the values in row-major order,
big-endian.  Files may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IdxFormatError", "read_idx"]

_TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxFormatError(ValueError):
    """An IDX file whose header or length does not match the format."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise IdxFormatError(f"{path}: invalid or truncated gzip data ({error}); "
                             "replace the file with an intact copy") from error


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed, into a numpy array.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.  Gzip compression is detected from the content, not the name.
    expected_ndim : int, optional
        Number of dimensions the caller expects, checked against the header.

    Returns
    -------
    numpy.ndarray
        Array of the shape in the header, in the native byte order of the
        header's type (``uint8`` for image and label files).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    IdxFormatError
        If the magic number, type code, dimension count or data length is
        invalid, or the gzip stream is corrupt.  The message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise IdxFormatError(f"{path}: file has {len(data)} bytes, too short for an IDX header")

    magic = int.from_bytes(data[:4], "big")
    type_code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or type_code not in _TYPE_CODES:
        raise IdxFormatError(f"{path}: invalid IDX magic number 0x{magic:08X}; "
                             "expected 0x000008NN for unsigned-byte data (NN = dimension count)")
    if expected_ndim is not None and ndim != expected_ndim:
        raise IdxFormatError(f"{path}: header declares {ndim} dimensions, expected {expected_ndim}")

    header_length = 4 + 4 * ndim
    if len(data) < header_length:
        raise IdxFormatError(f"{path}: file ends inside the header ({len(data)} of {header_length} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))

    dtype = _TYPE_CODES[type_code]
    expected_length = header_length + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected_length:
        raise IdxFormatError(f"{path}: wrong size, {len(data)} bytes where the header shape {shape} "
                             f"needs {expected_length}; the file is truncated or corrupt")

    values = np.frombuffer(data, dtype=dtype, offset=header_length).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)
