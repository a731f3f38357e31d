"""lookalike's index: color-grid descriptors of images and tiles in SQLite + FAISS."""

from .descriptor import DESCRIPTOR_VERSION, Descriptors, describe_boxes
from .errors import (
    ImageLoadError, IndexCorruptError, IndexLockedError, IndexMismatchError, IndexNotFoundError,
    LookalikeError, QueryError, SkipReason,
)
from .gridhash import GridHash
from .index import Index
from .loading import LoadedImage, load_image
from .results import (
    DuplicateReport, IndexInfo, IndexReport, RegionPair, RegionRef, SearchHit, SearchResult, SkippedFile,
    VerifyReport,
)
from .searching import DEFAULT_MIN_SCORE

__all__ = [
    "DEFAULT_MIN_SCORE",
    "DESCRIPTOR_VERSION",
    "Descriptors",
    "DuplicateReport",
    "GridHash",
    "ImageLoadError",
    "Index",
    "IndexCorruptError",
    "IndexInfo",
    "IndexLockedError",
    "IndexMismatchError",
    "IndexNotFoundError",
    "IndexReport",
    "LoadedImage",
    "LookalikeError",
    "QueryError",
    "RegionPair",
    "RegionRef",
    "SearchHit",
    "SearchResult",
    "SkipReason",
    "SkippedFile",
    "VerifyReport",
    "describe_boxes",
    "load_image",
]
