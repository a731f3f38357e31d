"""Derived FAISS files as segments: each committed batch adds small ones, merges make big ones.

A *family* is one kind of vector (whole-image descriptors, tile hashes, and with an embedder
whole-image and tile embeddings). Each family is a list of segment files, each an ID-mapped
FAISS index written before the catalog transaction that records it (so a file either is
recorded and complete, or is an orphan that the next writer deletes). Removing or replacing a
picture writes a *tombstone* (its image id) instead of touching the files: readers drop
tombstoned ids from their results, merges drop them from the data.

Merging (a tiered rule, as in log-structured stores): a segment under ``BASE`` vectors is of
tier 0, else of tier ``1 + floor(log_F(count / BASE))``; whenever ``F`` segments of a family
share a tier they are merged into one, so a family of ``n`` vectors has fewer than ``F``
segments per tier, ``O(F log n)`` in all, and every vector is rewritten ``O(log n)`` times. A merged segment beyond the family's approximate
threshold is built approximate (HNSW for floats, a binary IVF for hashes) and its quantizer
trained on the merged data itself: each approximate segment is trained once, when it is
written, and retrained only when merges grow it into the next tier. When every segment of
every family has been merged into one, no tombstone is needed any more and they are cleared.

Readers load the recorded segments of one catalog snapshot; a file that a merge has just
replaced is found gone, and the snapshot is read again.
"""

from __future__ import annotations

__all__ = ["Family", "Segment", "SegmentIds", "LoadedFamily", "SEGMENT_PREFIX", "FANOUT", "BASE", "segment_name",
           "build_segment", "read_segment", "merge_plan", "live_ids", "orphans"]

import math
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from lookalike.models.threads import run_jobs

from .catalog import SegmentRow
from .errors import IndexCorruptError
from .regions import TILE_ID_BITS, split_tile_ids
from .vectors import (
    approximate_kind, build_image_index, build_region_index, deserialize, faiss_threads, read_file, serialize,
    write_file,
)

SEGMENT_PREFIX = "seg-"
#: Segments of a tier merged at once.
FANOUT = 8
#: Segments under this many vectors are tier 0.
BASE = 2048
#: Up to this many vectors searched at once, segments are searched side by side (one FAISS
#: thread each) rather than one after another with FAISS's threads over the vectors.
FEW_QUERIES = 256
_MAGIC = b"LKSEG\x00\x01\x00"
_HEADER = struct.Struct("<8sQQQ")  # magic, FAISS bytes, owners, tile numbers


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
        return split_tile_ids(ids)[0] if self.tiles else np.asarray(ids, np.int64)

    def build(self, vectors: np.ndarray) -> faiss.Index | faiss.IndexBinary:
        if self.binary:
            return build_region_index(vectors.reshape(len(vectors), self.dim // 8), self.dim, self.approximate_above)
        return build_image_index(vectors.reshape(len(vectors), self.dim), self.dim, self.approximate_above)


@dataclass(frozen=True)
class SegmentIds:
    """The ids of a segment's vectors, by position, compactly: the pictures (``owners``,
    ascending), where each one's vectors start (``starts``, one more than the owners), and for
    tile families each vector's tile number (``numbers``, uint16): 2 bytes a tile instead of 8."""

    owners: np.ndarray  # (P,) int64
    starts: np.ndarray  # (P + 1,) int64
    numbers: np.ndarray | None  # (T,) uint16, tile families only

    @classmethod
    def from_ids(cls, ids: np.ndarray, tiles: bool) -> "SegmentIds":
        """From ids sorted ascending."""
        ids = np.asarray(ids, np.int64)
        owners_all, numbers = split_tile_ids(ids) if tiles else (ids, None)
        first = np.flatnonzero(np.r_[True, owners_all[1:] != owners_all[:-1]]) if len(ids) else np.zeros(0, np.int64)
        starts = np.r_[first, len(ids)].astype(np.int64)
        return cls(owners_all[first].copy(), starts, None if numbers is None else numbers.astype(np.uint16))

    def __len__(self) -> int:
        return int(self.starts[-1]) if len(self.starts) else 0

    def owner_at(self, positions: np.ndarray) -> np.ndarray:
        """Owners of vectors at ``positions`` (``-1`` stays ``-1``)."""
        positions = np.asarray(positions, np.int64)
        at = np.searchsorted(self.starts, np.maximum(positions, 0), side="right") - 1
        return np.where(positions >= 0, self.owners[np.clip(at, 0, max(len(self.owners) - 1, 0))], -1) \
            if len(self.owners) else np.full(positions.shape, -1, np.int64)

    def ids_at(self, positions: np.ndarray) -> np.ndarray:
        """Ids of vectors at ``positions`` (``-1`` stays ``-1``)."""
        positions = np.asarray(positions, np.int64)
        owners = self.owner_at(positions)
        if self.numbers is None:
            return owners
        numbers = self.numbers[np.clip(positions, 0, max(len(self.numbers) - 1, 0))].astype(np.int64) \
            if len(self.numbers) else np.zeros(positions.shape, np.int64)
        return np.where(positions >= 0, (owners << TILE_ID_BITS) | numbers, -1)

    def all_ids(self) -> np.ndarray:
        return self.ids_at(np.arange(len(self), dtype=np.int64))

    def position(self, vector_id: int) -> int:
        """Where ``vector_id`` sits, or ``-1``."""
        owner, number = split_tile_ids(np.array([vector_id])) if self.numbers is not None else ([vector_id], None)
        j = int(np.searchsorted(self.owners, owner[0]))
        if j == len(self.owners) or self.owners[j] != owner[0]:
            return -1
        lo, hi = int(self.starts[j]), int(self.starts[j + 1])
        if number is None:
            return lo
        k = int(np.searchsorted(self.numbers[lo:hi], number[0]))
        return lo + k if k < hi - lo and self.numbers[lo + k] == number[0] else -1


@dataclass
class Segment:
    """A loaded segment: a FAISS index answering positions, and the ids of those positions."""

    index: faiss.Index | faiss.IndexBinary
    ids: SegmentIds

    @classmethod
    def build(cls, family: Family, ids: np.ndarray, vectors: np.ndarray) -> "Segment":
        """In memory, from ``ids`` (any order) and their ``vectors``."""
        order = np.argsort(ids, kind="stable")
        ids = np.asarray(ids, np.int64)[order]
        return cls(family.build(np.asarray(vectors)[order]), SegmentIds.from_ids(ids, family.tiles))

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, vectors)`` it holds, by position (floats, or packed bits)."""
        n = self.ntotal
        if n == 0:
            if isinstance(self.index, faiss.IndexBinary):
                return np.zeros(0, np.int64), np.zeros((0, self.index.code_size), np.uint8)
            return np.zeros(0, np.int64), np.zeros((0, self.index.d), np.float32)
        return self.ids.all_ids(), np.asarray(self.index.reconstruct_n(0, n))


def segment_name(family: str, generation: int) -> str:
    """A fresh file name: the family, the generation it was made at, and a random part (two
    writers never race, but a crashed one may have left a file of that generation)."""
    return f"{SEGMENT_PREFIX}{family}-{generation:010d}-{secrets.token_hex(4)}.faiss"


def build_segment(directory: Path, family: Family, generation: int, ids: np.ndarray, vectors: np.ndarray
                  ) -> SegmentRow:
    """Build a segment of ``vectors`` under ``ids`` (sorted here) and write it, atomically and
    fsynced: the FAISS index, then the compact ids, in one file with one checksum."""
    seg = Segment.build(family, ids, vectors)
    index, sid = seg.index, seg.ids
    blob = serialize(index)
    numbers = sid.numbers if sid.numbers is not None else np.zeros(0, np.uint16)
    header = _HEADER.pack(_MAGIC, len(blob), len(sid.owners), len(numbers))
    name = segment_name(family.name, generation)
    digest = write_file([header, blob, sid.owners, sid.starts, numbers], directory / name)
    return SegmentRow(name, family.name, int(index.ntotal), digest, approximate_kind(index))


def read_segment(path: Path, checksum: str, family: Family) -> Segment:
    """A segment file, refused (:class:`IndexCorruptError`) unless intact."""
    data = read_file(path, checksum)
    try:
        magic, n_blob, n_owners, n_numbers = _HEADER.unpack_from(data, 0)
        if magic != _MAGIC:
            raise ValueError("not a lookalike segment")
        at = _HEADER.size
        index = deserialize(np.frombuffer(data, np.uint8, n_blob, at), family.binary)
        at += n_blob
        # copies: views would keep the whole file's bytes alive beside the index built from them
        owners = np.frombuffer(data, np.int64, n_owners, at).copy()
        at += 8 * n_owners
        starts = np.frombuffer(data, np.int64, n_owners + 1, at).copy()
        at += 8 * (n_owners + 1)
        numbers = np.frombuffer(data, np.uint16, n_numbers, at).copy() if family.tiles else None
    except (ValueError, struct.error) as exc:
        raise IndexCorruptError(f"{path} is not a readable segment: {exc}") from None
    return Segment(index, SegmentIds(owners, starts, numbers))


def _tier(count: int) -> int:
    """0 below BASE vectors, then one more for each FANOUT-fold: [BASE, 8 BASE) is 1, and so on."""
    return 0 if count < BASE else 1 + int(math.floor(math.log(count / BASE, FANOUT) + 1e-9))


def merge_plan(segments: list[SegmentRow]) -> list[list[SegmentRow]]:
    """Groups of one family's segments to merge now: ``FANOUT`` of the same tier, oldest first."""
    by_tier: dict[int, list[SegmentRow]] = {}
    for s in segments:
        by_tier.setdefault(_tier(s.count), []).append(s)
    return [group[i:i + FANOUT] for group in by_tier.values() for i in range(0, len(group) - FANOUT + 1, FANOUT)]


def live_ids(family: Family, ids: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Mask of ``ids`` whose picture has no tombstone (``dead``: sorted image ids)."""
    if not len(dead):
        return np.ones(len(ids), bool)
    return ~np.isin(family.owners(ids), dead)


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

    def __init__(self, family: Family, segments: list[Segment], dead: np.ndarray) -> None:
        self.family = family
        self.dead = dead
        self.parts: list[tuple[Segment, int]] = []  # each segment, and how many of its vectors are tombstoned
        self.ntotal = 0
        for seg in segments:
            n_dead = 0
            if len(dead):
                gone = np.isin(seg.ids.owners, dead)
                n_dead = int(np.diff(seg.ids.starts)[gone].sum())
            self.parts.append((seg, n_dead))
            self.ntotal += seg.ntotal - n_dead

    def search(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, ids)``, each ``(n, k)``: nearest first (smallest Hamming distance, or
        largest inner product); ``-1`` ids where fewer than ``k`` exist."""
        d, i, _ = self._search(x, k, False)
        return d, i

    def search_codes(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A binary family's :meth:`search`, with the codes found: ``(n, k, code bytes) uint8``
        (zeros where the id is ``-1``)."""
        if not self.family.binary:
            raise TypeError("search_codes is for binary families")
        return self._search(x, k, True)

    def _search(self, x: np.ndarray, k: int, with_codes: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        n = len(x)
        worst = np.iinfo(np.int32).max if self.family.binary else -np.inf
        def one(part: tuple[Segment, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
            seg, n_dead = part
            kk = int(min(seg.ntotal, k + n_dead))
            c = None
            if with_codes:
                d, pos, c = _search_and_reconstruct(seg.index, x, kk)
            else:
                d, pos = seg.index.search(x, kk)
            if n_dead:
                gone = (pos >= 0) & np.isin(seg.ids.owner_at(pos), self.dead)
                pos = np.where(gone, -1, pos)
            i = seg.ids.ids_at(pos)
            return np.where(i >= 0, d, worst), i, c

        parts = [p for p in self.parts if p[0].ntotal]
        if len(x) <= FEW_QUERIES and len(parts) > 1:
            # the segments side by side, one FAISS thread each: FAISS's threads over a search's
            # few dozen windows waited on each other more than they worked
            with faiss_threads(1):
                found = run_jobs(one, parts)
        else:  # many queries (duplicates): FAISS's threads share them out
            found = [one(p) for p in parts]
        dists, ids = [f[0] for f in found], [f[1] for f in found]
        codes = [f[2] for f in found] if with_codes else []
        width = self.family.dim // 8
        if not dists:
            return (np.full((n, k), worst, np.int32 if self.family.binary else np.float32),
                    np.full((n, k), -1, np.int64), np.zeros((n, k, width), np.uint8) if with_codes else None)
        d, i = np.concatenate(dists, axis=1), np.concatenate(ids, axis=1)
        order = np.argsort(d if self.family.binary else -d, axis=1, kind="stable")[:, :k]
        d, i = np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)
        c = np.take_along_axis(np.concatenate(codes, axis=1), order[:, :, None], 1) if with_codes else None
        if d.shape[1] < k:
            pad = k - d.shape[1]
            d = np.pad(d, ((0, 0), (0, pad)), constant_values=worst)
            i = np.pad(i, ((0, 0), (0, pad)), constant_values=-1)
            c = np.pad(c, ((0, 0), (0, pad), (0, 0))) if with_codes else None
        if with_codes:
            c[i < 0] = 0
        return d, i, c

    def reconstruct(self, vector_id: int) -> np.ndarray:
        """The stored vector of a live id (``KeyError`` when no segment holds it)."""
        if len(self.dead) and np.isin(self.family.owners(np.array([vector_id])), self.dead)[0]:
            raise KeyError(vector_id)
        for seg, _ in reversed(self.parts):
            j = seg.ids.position(int(vector_id))
            if j >= 0:
                return seg.index.reconstruct(j)
        raise KeyError(vector_id)


def _search_and_reconstruct(index: faiss.IndexBinary, x: np.ndarray, k: int
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``index.search`` that also hands back the codes found (FAISS reads them where it finds
    them: an IVF needs no direct map for this)."""
    x = np.ascontiguousarray(x, np.uint8)
    n = len(x)
    d = np.empty((n, k), np.int32)
    pos = np.empty((n, k), np.int64)
    codes = np.zeros((n, k, index.code_size), np.uint8)
    index.search_and_reconstruct(n, faiss.swig_ptr(x), k, faiss.swig_ptr(d), faiss.swig_ptr(pos), faiss.swig_ptr(codes))
    return d, pos, codes
