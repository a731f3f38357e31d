"""Finding the image files under the paths a user names."""

from __future__ import annotations

__all__ = ["ScannedFile", "scan"]

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..errors import QueryError
from .images import SUPPORTED_EXTENSIONS


@dataclass(frozen=True)
class ScannedFile:
    path: str  # absolute
    size: int
    mtime_ns: int


def _stat(p: Path) -> ScannedFile | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return ScannedFile(str(p), st.st_size, st.st_mtime_ns)


def scan(roots: Iterable[str | os.PathLike[str]]) -> tuple[list[ScannedFile], list[str]]:
    """Image files under ``roots`` (recursively, sorted, symlinked dirs not followed) and the
    absolute roots themselves. A file named explicitly is taken whatever its extension; files
    found in folders are taken by extension. A root that does not exist is a :class:`QueryError`."""
    found: dict[str, ScannedFile] = {}
    abs_roots: list[str] = []
    for root in roots:
        p = Path(root).expanduser()
        if not p.exists():
            raise QueryError(f"no such file or folder: {root}")
        p = p.resolve()
        abs_roots.append(str(p))
        if p.is_file():
            f = _stat(p)
            if f:
                found[f.path] = f
            continue
        for dirpath, dirnames, filenames in os.walk(p):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in filenames:
                if name.startswith(".") or Path(name).suffix.lower() not in SUPPORTED_EXTENSIONS:
                    continue
                f = _stat(Path(dirpath) / name)
                if f:
                    found[f.path] = f
    return [found[k] for k in sorted(found)], abs_roots


def under_roots(path: str, roots: list[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or inside one of them."""
    for r in roots:
        if path == r or path.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False
