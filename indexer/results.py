"""Small result types passed between the library and its callers."""

from __future__ import annotations

__all__ = [
    "Box",
    "SearchHit",
    "SearchResult",
    "SkippedFile",
    "IndexReport",
    "RegionRef",
    "RegionPair",
    "DuplicateReport",
    "IndexInfo",
    "VerifyReport",
]

from dataclasses import dataclass, field

Box = tuple[int, int, int, int]  # x, y, w, h in the image's original pixels


@dataclass(frozen=True)
class SearchHit:
    """An indexed image that resembles the query: ``box`` is where (the whole image for a
    whole-image hit), ``score`` in [0, 1], ``match`` whether it passes the threshold and the
    orientation check (not a rotated, mirrored or channel-swapped look-alike)."""

    path: str
    score: float
    box: Box
    match: bool
    kind: str = "image"  # "image" or "region"


@dataclass(frozen=True)
class SearchResult:
    query: str
    hits: list[SearchHit]


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)


@dataclass(frozen=True)
class RegionRef:
    path: str
    box: Box


@dataclass(frozen=True)
class RegionPair:
    a: RegionRef
    b: RegionRef
    score: float


@dataclass(frozen=True)
class DuplicateReport:
    groups: list[list[str]]
    regions: list[RegionPair] = field(default_factory=list)


@dataclass(frozen=True)
class IndexInfo:
    directory: str
    images: int
    regions: int
    searchable_regions: int
    skipped: int
    runs: int
    generation: int
    descriptor: str
    image_index: str
    region_index: str
    embedder: str = "none"
    embedder_version: str = ""
    embedder_dim: int = 0


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    problems: list[str]
