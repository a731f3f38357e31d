"""Errors of the index, beside the ones it shares with ``lookalike.models`` (re-exported here,
so ``from lookalike.indexer.errors import ...`` names every error an index can raise)."""

from __future__ import annotations

__all__ = [
    "LookalikeError",
    "ImageLoadError",
    "IndexNotFoundError",
    "IndexLockedError",
    "IndexCorruptError",
    "IndexMismatchError",
    "PlanError",
    "QueryError",
    "FramesError",
    "EmbedderError",
    "SkipReason",
]

from lookalike.models.errors import EmbedderError, FramesError, ImageLoadError, LookalikeError, QueryError, SkipReason


class IndexNotFoundError(LookalikeError):
    """The index directory does not hold an index."""

    code = "index-not-found"


class IndexLockedError(LookalikeError):
    """Another process is writing to the index."""

    code = "index-locked"


class IndexCorruptError(LookalikeError):
    """The catalog or a derived vector file failed a check."""

    code = "index-corrupt"


class IndexMismatchError(LookalikeError):
    """The index was built with settings this version cannot search (re-index needed)."""

    code = "index-mismatch"


class PlanError(LookalikeError):
    """A review plan that cannot be read, or that would trash every picture of a group."""

    code = "bad-plan"
