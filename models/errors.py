"""Typed errors of lookalike: one base class, a stable ``code`` on every error.

Messages say what is wrong and what to provide, in the words of the library (a weights file,
a device, a method name). The command line turns them into one line each and, by ``code``,
names its own flags (``cli/errors.py``); nothing below the CLI mentions a flag.
"""

from __future__ import annotations

__all__ = [
    "LookalikeError",
    "ImageLoadError",
    "QueryError",
    "FramesError",
    "EmbedderError",
    "SkipReason",
]

from enum import Enum
from typing import Any


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
    """Base class of every error lookalike raises on purpose.

    ``code``: a stable name for the kind of failure (the class's own, or a finer one given
    when raised, e.g. ``weights-missing``); ``details``: the values the message was made from
    (a path, a device name), for callers that word it their own way; ``exit_code``: what a
    command exits with."""

    code = "error"
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class ImageLoadError(LookalikeError):
    """An image could not be turned into pixels; ``reason`` says why in one stable code."""

    code = "image-unreadable"

    def __init__(self, path: str, reason: SkipReason, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        msg = f"{self.path}: {reason.value}"
        super().__init__(f"{msg} ({detail})" if detail else msg, path=self.path, reason=reason.value)


class QueryError(LookalikeError):
    """A query or argument cannot be used (bad image, bad parameter)."""

    code = "bad-input"
    exit_code = 2


class FramesError(LookalikeError):
    """Video frames cannot be had: an unreadable video, frames of different sizes, a decoder crash."""

    code = "frames"


class EmbedderError(LookalikeError):
    """An embedder cannot be had: unknown name, missing or wrong weights, an absent device."""

    code = "embedder"
