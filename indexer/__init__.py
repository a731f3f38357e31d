"""lookalike's index: color-grid descriptors of images and tiles in SQLite + FAISS.

It builds on ``lookalike.models`` (decoding, operators, embedders) and is used by the CLI.
Names are imported on first use (PEP 562), so ``import lookalike.indexer.errors`` (as every
command of the CLI does) does not pay for FAISS, SQLite or torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lookalike.models._lazy import lazy_exports

_WHERE = {
    "DESCRIPTOR_VERSION": "descriptor", "Descriptors": "descriptor", "describe_boxes": "descriptor",
    "EmbedderError": "errors", "FramesError": "errors", "ImageLoadError": "errors", "IndexCorruptError": "errors",
    "IndexLockedError": "errors", "IndexMismatchError": "errors", "IndexNotFoundError": "errors",
    "LookalikeError": "errors", "PlanError": "errors", "QueryError": "errors", "SkipReason": "errors",
    "GridHash": "gridhash",
    "Index": "index",
    "ApplyReport": "plan", "Plan": "plan", "PlanGroup": "plan", "apply_plan": "plan", "preselect": "plan",
    "undo_plan": "plan",
    "DuplicateReport": "results", "IndexInfo": "results", "IndexReport": "results", "Picture": "results",
    "RebuildReport": "results",
    "RegionPair": "results", "RegionRef": "results", "SearchHit": "results", "SearchResult": "results",
    "SkippedFile": "results", "VerifyReport": "results",
    "DEFAULT_MIN_SCORE": "searching",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE, globals())


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .descriptor import DESCRIPTOR_VERSION, Descriptors, describe_boxes
    from .errors import (
        EmbedderError, FramesError, ImageLoadError, IndexCorruptError, IndexLockedError, IndexMismatchError,
        IndexNotFoundError, LookalikeError, PlanError, QueryError, SkipReason,
    )
    from .plan import ApplyReport, Plan, PlanGroup, apply_plan, preselect, undo_plan
    from .gridhash import GridHash
    from .index import Index
    from .results import (
        DuplicateReport, IndexInfo, IndexReport, Picture, RebuildReport, RegionPair, RegionRef, SearchHit,
        SearchResult, SkippedFile, VerifyReport,
    )
    from .searching import DEFAULT_MIN_SCORE
