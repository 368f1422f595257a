"""Dataset file readers shared by the experiments."""

from .idx import IdxFormatError, read_idx

__all__ = ["IdxFormatError", "read_idx"]
