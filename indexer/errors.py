"""Typed errors of lookalike. The CLI turns them into one-line messages; nothing else should."""

from __future__ import annotations

__all__ = [
    "LookalikeError",
    "ImageLoadError",
    "IndexNotFoundError",
    "IndexLockedError",
    "IndexCorruptError",
    "IndexMismatchError",
    "QueryError",
    "FramesError",
    "EmbedderError",
    "SkipReason",
]

from enum import Enum


class SkipReason(str, Enum):
    """Why a file was not indexed. The value is the stable code shown to users and in JSON."""

    UNREADABLE = "unreadable"
    TRUNCATED = "truncated"
    TOO_LARGE = "too-large"
    UNSUPPORTED = "unsupported-format"
    EMPTY = "empty"
    MISSING = "missing"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class LookalikeError(Exception):
    """Base class of every error lookalike raises on purpose."""

    exit_code = 1


class ImageLoadError(LookalikeError):
    """An image could not be turned into pixels; ``reason`` says why in one stable code."""

    def __init__(self, path: str, reason: SkipReason, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        msg = f"{self.path}: {reason.value}"
        super().__init__(f"{msg} ({detail})" if detail else msg)


class IndexNotFoundError(LookalikeError):
    """The index directory does not hold an index."""


class IndexLockedError(LookalikeError):
    """Another process is writing to the index."""


class IndexCorruptError(LookalikeError):
    """The catalog or a derived vector file failed a check."""


class IndexMismatchError(LookalikeError):
    """The index was built with settings this version cannot search (re-index needed)."""


class QueryError(LookalikeError):
    """A query or argument cannot be used (bad image, bad parameter)."""

    exit_code = 2


class FramesError(LookalikeError):
    """Video frames cannot be had: an unreadable video, frames of different sizes, a decoder crash."""


class EmbedderError(LookalikeError):
    """An embedder cannot be had: unknown name, missing or wrong weights, an absent device,
    or an index built with another embedder."""
