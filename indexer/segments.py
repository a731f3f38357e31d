"""Derived FAISS files as segments: each committed batch adds small ones, merges make big ones.

A *family* is one kind of vector (whole-image descriptors, tile hashes, and with an embedder
whole-image and tile embeddings). Each family is a list of segment files, each an ID-mapped
FAISS index written before the catalog transaction that records it (so a file either is
recorded and complete, or is an orphan that the next writer deletes). Removing or replacing a
picture writes a *tombstone* (its image id) instead of touching the files: readers drop
tombstoned ids from their results, merges drop them from the data.

Merging (a tiered rule, as in log-structured stores): a segment's tier is ``floor(log_F(count
/ BASE))``; whenever ``F`` segments of a family share a tier they are merged into one, so a
family of ``n`` vectors has at most ``F`` segments per tier, ``O(F log n)`` in all, and every
vector is rewritten ``O(log n)`` times. A merged segment beyond the family's approximate
threshold is built approximate (HNSW for floats, a binary IVF for hashes) and its quantizer
trained on the merged data itself: each approximate segment is trained once, when it is
written, and retrained only when merges grow it into the next tier. When every segment of
every family has been merged into one, no tombstone is needed any more and they are cleared.

Readers load the recorded segments of one catalog snapshot; a file that a merge has just
replaced is found gone, and the snapshot is read again.
"""

from __future__ import annotations

__all__ = ["Family", "LoadedFamily", "SEGMENT_PREFIX", "FANOUT", "BASE", "segment_name", "build_segment",
           "merge_plan", "vectors_of", "live_ids", "orphans"]

import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .catalog import SegmentRow
from .regions import TILE_ID_BITS
from .vectors import build_image_index, build_region_index

SEGMENT_PREFIX = "seg-"
#: Segments of a tier merged at once.
FANOUT = 8
#: Vectors in a segment of tier 0.
BASE = 2048


@dataclass(frozen=True)
class Family:
    """One kind of vector: its name, whether binary (Hamming), its dimension (bits for binary),
    whether ids are tile ids (the owner is ``id >> TILE_ID_BITS``) and its approximate threshold."""

    name: str
    binary: bool
    dim: int
    tiles: bool
    approximate_above: int

    def owners(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.int64)
        return ids >> TILE_ID_BITS if self.tiles else ids

    def build(self, ids: np.ndarray, vectors: np.ndarray) -> faiss.Index | faiss.IndexBinary:
        if self.binary:
            return build_region_index(ids, vectors.reshape(len(ids), self.dim // 8), self.dim, self.approximate_above)
        return build_image_index(ids, vectors.reshape(len(ids), self.dim), self.dim, self.approximate_above)


def segment_name(family: str, generation: int) -> str:
    """A fresh file name: the family, the generation it was made at, and a random part (two
    writers never race, but a crashed one may have left a file of that generation)."""
    return f"{SEGMENT_PREFIX}{family}-{generation:010d}-{secrets.token_hex(4)}.faiss"


def build_segment(directory: Path, family: Family, generation: int, ids: np.ndarray, vectors: np.ndarray
                  ) -> SegmentRow:
    """Build a segment of ``vectors`` under ``ids`` and write it (atomically, fsynced)."""
    from .vectors import approximate_kind, write_index_file

    index = family.build(ids, vectors)
    name = segment_name(family.name, generation)
    digest = write_index_file(index, directory / name)
    return SegmentRow(name, family.name, int(index.ntotal), digest, approximate_kind(index))


def _tier(count: int) -> int:
    return int(math.floor(math.log(max(count, 1) / BASE, FANOUT))) if count > BASE else 0


def merge_plan(segments: list[SegmentRow]) -> list[list[SegmentRow]]:
    """Groups of one family's segments to merge now: ``FANOUT`` of the same tier, oldest first."""
    by_tier: dict[int, list[SegmentRow]] = {}
    for s in segments:
        by_tier.setdefault(_tier(s.count), []).append(s)
    return [group[i:i + FANOUT] for group in by_tier.values() for i in range(0, len(group) - FANOUT + 1, FANOUT)]


def vectors_of(index: faiss.Index | faiss.IndexBinary) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, vectors)`` a segment holds, in its order (floats or packed bits)."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    inner = faiss.downcast_IndexBinary(index.index) if isinstance(index, faiss.IndexBinary) \
        else faiss.downcast_index(index.index)
    if hasattr(inner, "make_direct_map"):
        inner.make_direct_map()
    vectors = inner.reconstruct_n(0, int(inner.ntotal)) if inner.ntotal else None
    if vectors is None:
        width = inner.code_size if isinstance(index, faiss.IndexBinary) else inner.d
        vectors = np.zeros((0, width), np.uint8 if isinstance(index, faiss.IndexBinary) else np.float32)
    return ids, np.asarray(vectors)


def live_ids(family: Family, ids: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` whose picture has no tombstone (``dead``: sorted image ids)."""
    if not len(dead):
        return np.ones(len(ids), bool)
    return ~np.isin(family.owners(ids), dead, assume_unique=False)


def orphans(directory: Path, recorded: set[str]) -> list[Path]:
    """Segment files and temporary files in ``directory`` that no catalog row records."""
    out = []
    for entry in os.scandir(directory):
        name = entry.name
        if (name.startswith(SEGMENT_PREFIX) and name.endswith(".faiss") and name not in recorded) or \
                (name.startswith(f".{SEGMENT_PREFIX}") and name.endswith(".tmp")):
            out.append(Path(entry.path))
    return out


class LoadedFamily:
    """A family's segments of one snapshot, searched as one index: ``ntotal``, ``search`` and
    ``reconstruct`` as a FAISS index has them, tombstoned pictures left out."""

    def __init__(self, family: Family, indexes: list[faiss.Index | faiss.IndexBinary], dead: np.ndarray) -> None:
        self.family = family
        self.dead = dead
        self.parts: list[list] = []  # [index, tombstoned vectors in it, (sorted ids, their positions) once asked]
        self.ntotal = 0
        for index in indexes:
            n_dead = 0
            if len(dead):
                n_dead = int((~live_ids(family, faiss.vector_to_array(index.id_map), dead)).sum())
            self.parts.append([index, n_dead, None])
            self.ntotal += int(index.ntotal) - n_dead

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, ids)``, each ``(n, k)``: nearest first (smallest Hamming distance, or
        largest inner product); ``-1`` ids where fewer than ``k`` exist."""
        n = len(x)
        worst = np.iinfo(np.int32).max if self.family.binary else -np.inf
        dists, ids = [], []
        for index, n_dead, _ in self.parts:
            if index.ntotal == 0:
                continue
            kk = int(min(index.ntotal, k + n_dead))
            d, i = index.search(x, kk)
            if n_dead:
                gone = (i >= 0) & ~live_ids(self.family, i.ravel(), self.dead).reshape(i.shape)
                i = np.where(gone, -1, i)
            d = np.where(i >= 0, d, worst)
            dists.append(d)
            ids.append(i)
        if not dists:
            return (np.full((n, k), worst, np.float32 if not self.family.binary else np.int32),
                    np.full((n, k), -1, np.int64))
        d, i = np.concatenate(dists, axis=1), np.concatenate(ids, axis=1)
        order = np.argsort(d if self.family.binary else -d, axis=1, kind="stable")[:, :k]
        d, i = np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)
        if d.shape[1] < k:
            pad = k - d.shape[1]
            d = np.pad(d, ((0, 0), (0, pad)), constant_values=worst)
            i = np.pad(i, ((0, 0), (0, pad)), constant_values=-1)
        return d, i

    def reconstruct(self, vector_id: int) -> np.ndarray:
        """The stored vector of a live id (``KeyError`` when no segment holds it)."""
        if len(self.dead) and np.isin(self.family.owners(np.array([vector_id])), self.dead)[0]:
            raise KeyError(vector_id)
        for part in reversed(self.parts):
            index = part[0]
            if part[2] is None:  # the id lookup is made on first use (whole-image families only need it)
                ids = faiss.vector_to_array(index.id_map).astype(np.int64)
                order = np.argsort(ids, kind="stable")
                part[2] = (ids[order], order)
            sorted_ids, order = part[2]
            j = int(np.searchsorted(sorted_ids, vector_id))
            if j < len(sorted_ids) and sorted_ids[j] == vector_id:
                inner = faiss.downcast_IndexBinary(index.index) if self.family.binary \
                    else faiss.downcast_index(index.index)
                return inner.reconstruct(int(order[j]))
        raise KeyError(vector_id)
