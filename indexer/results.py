"""Small result types passed between the library and its callers.

Each has ``to_dict()``: the JSON object the command line prints for it (the fields documented
in the README), so a script, a web page and the CLI see the same thing."""

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
    "RebuildReport",
    "Picture",
    "RegionHit",
]

from dataclasses import asdict, dataclass, field
from typing import Any

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

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "score": self.score, "match": self.match, "box": list(self.box)}


@dataclass(frozen=True)
class RegionHit:
    """An indexed picture that shares a region with a query: ``query_box`` in the query,
    ``box`` in the picture (original pixels), ``score`` the aligned pixels' detail correlation."""

    path: str
    query_box: Box
    box: Box
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "query_box": list(self.query_box), "box": list(self.box), "score": self.score}


@dataclass(frozen=True)
class SearchResult:
    """The hits of one query; ``error`` (and no hits) when the query could not be searched;
    ``regions`` when shared regions were asked for."""

    query: str
    hits: list[SearchHit]
    error: str = ""
    regions: list[RegionHit] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"query": self.query, "hits": [h.to_dict() for h in self.hits]}
        if self.regions is not None:
            out["regions"] = [r.to_dict() for r in self.regions]
        if self.error:
            out["error"] = self.error
        return out


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

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "removed": self.removed, "unchanged": self.unchanged,
                "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped]}


@dataclass(frozen=True)
class RegionRef:
    path: str
    box: Box

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "box": list(self.box)}


@dataclass(frozen=True)
class RegionPair:
    a: RegionRef
    b: RegionRef
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "score": self.score}


@dataclass(frozen=True)
class DuplicateReport:
    """``groups`` of near-duplicate paths; ``scores[i]``: group i's weakest link (the lowest,
    over its members, of a member's best score with another member), so a group whose score
    is s holds together at any threshold up to s."""

    groups: list[list[str]]
    regions: list[RegionPair] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"groups": self.groups, "scores": self.scores, "regions": [r.to_dict() for r in self.regions]}


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
    keypoints: bool = False  # kept for duplicate regions (index --regions)
    segments: int = 0  # FAISS segment files, all families
    tile_code: str = ""  # the tiles' code and its bits, as the index's tile scheme records them

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    problems: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RebuildReport:
    """What the FAISS files hold after a rebuild: images, and searchable (not near-uniform) regions."""

    images: int
    regions: int

    def to_dict(self) -> dict[str, Any]:
        return {"rebuilt": True, "images": self.images, "regions": self.regions}


@dataclass(frozen=True)
class Picture:
    """An indexed picture as the catalog recorded it: ``mtime`` in seconds since the epoch,
    ``format`` named from the file's extension (``JPEG``, ``PNG``...)."""

    id: int
    path: str
    size: int
    mtime_ns: int
    width: int
    height: int

    @property
    def format(self) -> str:
        from PIL import Image

        ext = "." + self.path.rsplit(".", 1)[-1].lower() if "." in self.path else ""
        return Image.registered_extensions().get(ext, ext.lstrip(".").upper() or "?")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "size": self.size, "mtime": self.mtime_ns / 1e9,
                "width": self.width, "height": self.height, "format": self.format}
