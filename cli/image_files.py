"""Writing operator results as image files, with a user's mistake (a missing folder, an unknown
extension) turned into one :class:`QueryError`."""

from __future__ import annotations

__all__ = ["save_pixels"]

import os
from pathlib import Path

import numpy as np

from lookalike.models.errors import QueryError


def save_pixels(arr: np.ndarray, path: str | os.PathLike[str]) -> str:
    """Write ``(H, W)`` (L), ``(H, W, 3)`` (RGB) or ``(H, W, 4)`` (RGBA) uint8 pixels; the format
    follows the extension. Returns the path written."""
    from PIL import Image

    p = Path(path)
    if p.parent and not p.parent.exists():
        raise QueryError(f"cannot write {p}: {p.parent} does not exist")
    try:
        Image.fromarray(np.ascontiguousarray(arr)).save(p)
    except (OSError, ValueError, KeyError) as exc:
        raise QueryError(f"cannot write {p}: {exc}") from None
    return str(p)
