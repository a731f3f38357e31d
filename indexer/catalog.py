"""The SQLite catalog: the source of truth of an index (through sqlite-utils).

Tables: ``meta`` (settings, the tile scheme and the generation counter), ``runs``, ``images``,
``descriptors`` (whole-image vectors: the color grid, and the embedder's when there is one),
``tiles`` (one row a picture: its tiles' hashes, low-information mask and float16 embeddings as
blobs; the boxes are derived from the picture's size by the recorded tile scheme), ``keypoints``,
``skipped`` (files not indexed, with the reason), ``segments`` (the derived FAISS files and what
they hold) and ``tombstones`` (pictures removed since the segments holding them were written).

Paths are stored as the file name's bytes (``os.fsencode``), so any name round-trips. Every
write is one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the catalog as of the last
commit; the FAISS segments of a batch are written inside its transaction and recorded by it.
"""

from __future__ import annotations

__all__ = ["Catalog", "ImageRecord", "StoredFile", "SegmentRow", "SCHEMA_VERSION", "EMBEDDING_KIND"]

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import sqlite_utils

from .errors import IndexCorruptError, IndexMismatchError
from .regions import TILE_HASH_BITS, TILE_SCHEME, split_tile_ids, tile_boxes, tile_boxes_at, tile_ids

#: 2: paths as bytes, a picture's tiles in one row, FAISS segments and tombstones.
SCHEMA_VERSION = 2
TILE_HASH_BYTES = TILE_HASH_BITS // 8
#: ``descriptors.kind`` of whole-image embeddings (the color grid's is ``grid``).
EMBEDDING_KIND = "embedding"
CATALOG_NAME = "catalog.sqlite"


@dataclass(frozen=True)
class StoredFile:
    """What the catalog knows of a file on disk, to tell whether it changed."""

    id: int
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ImageRecord:
    """One described image, ready to be written: whole-image vector plus its tiles."""

    path: str
    size: int
    mtime_ns: int
    width: int
    height: int
    vector: np.ndarray  # (D,) float32
    hash_hex: str
    info: float
    region_boxes: np.ndarray  # (R, 4) int: the tile scheme's boxes for this size (not stored)
    region_hashes: np.ndarray  # (R, TILE_HASH_BITS // 8) uint8
    region_low_info: np.ndarray  # (R,) bool
    keypoints: bytes = b""  # keymatch.pack_keypoints: places, scales, hashes (original pixels)
    embedding: np.ndarray | None = None  # (E,) float32, when the index has an embedder
    region_embeddings: np.ndarray | None = None  # (R, E) float32

    @property
    def searchable(self) -> np.ndarray:
        """``(S,) int64`` numbers of the tiles that are searchable (not low-information)."""
        return np.flatnonzero(~np.asarray(self.region_low_info, bool))


@dataclass(frozen=True)
class SegmentRow:
    """A derived FAISS file as the catalog records it."""

    name: str
    family: str
    count: int
    checksum: str
    kind: str


def _b(path: str) -> bytes:
    return os.fsencode(path)


def _s(raw: bytes) -> str:
    return os.fsdecode(bytes(raw))


def _low_mask(low: bytes | None, count: int) -> np.ndarray:
    """``(count,) bool``: which of a picture's tiles are near-uniform (the ``tiles.low_info`` bits)."""
    return np.unpackbits(np.frombuffer(low or b"", np.uint8), count=count).astype(bool)


class Catalog:
    """A connection to an index's catalog. Not shared between threads."""

    def __init__(self, path: Path, create: bool = False, readonly: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise FileNotFoundError(self.path)
        uri = f"file:{self.path}?mode=ro" if readonly else f"file:{self.path}"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30.0)
            conn.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"cannot open catalog {self.path}: {exc}") from None
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        if create:
            self._create_schema()
        self._check_schema()

    # -- schema ---------------------------------------------------------------------------
    def _create_schema(self) -> None:
        db = self.db
        with self.transaction():
            db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db["runs"].create(
                {"id": int, "started": float, "finished": float, "status": str, "added": int,
                 "updated": int, "removed": int, "unchanged": int, "skipped": int},
                pk="id", if_not_exists=True,
            )
            # AUTOINCREMENT: an id is never given twice (a tombstone names a removed picture's id)
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS images (id INTEGER PRIMARY KEY AUTOINCREMENT, path BLOB NOT NULL, "
                "size INTEGER, mtime_ns INTEGER, width INTEGER, height INTEGER, hash TEXT, info FLOAT, run_id INTEGER)")
            db["images"].create_index(["path"], unique=True, if_not_exists=True)
            db["descriptors"].create(
                {"image_id": int, "kind": str, "vector": bytes},
                pk=("image_id", "kind"), foreign_keys=[("image_id", "images", "id")],
                if_not_exists=True,
            )
            db["tiles"].create(
                {"image_id": int, "count": int, "searchable": int, "low_info": bytes, "hashes": bytes,
                 "embeddings": bytes},
                pk="image_id", foreign_keys=[("image_id", "images", "id")], if_not_exists=True,
            )
            db["skipped"].create(
                {"path": bytes, "reason": str, "detail": str, "size": int, "mtime_ns": int, "run_id": int},
                pk="path", if_not_exists=True,
            )
            db["segments"].create(
                {"name": str, "family": str, "count": int, "checksum": str, "kind": str, "generation": int},
                pk="name", if_not_exists=True,
            )
            db["tombstones"].create({"image_id": int, "generation": int}, pk="image_id", if_not_exists=True)
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("tile_scheme", TILE_SCHEME)
                self.set_meta("generation", "0")
                self.set_meta("created", f"{time.time():.3f}")

    def ensure_keypoint_table(self) -> None:
        with self.transaction():
            self.db["keypoints"].create({"image_id": int, "data": bytes}, pk="image_id",
                                        foreign_keys=[("image_id", "images", "id")], if_not_exists=True)

    def _has_table(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (name,)).fetchone() is not None

    def _check_schema(self) -> None:
        try:
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{self.path} is not a lookalike catalog: {exc}") from None
        if version is None:
            raise IndexCorruptError(f"{self.path} is not a lookalike catalog (no schema version)")
        if int(version) != SCHEMA_VERSION:
            raise IndexMismatchError(
                f"index at {self.path.parent} has catalog schema {version}, this version uses {SCHEMA_VERSION}: "
                f"re-index needed (into a new folder, or delete this one)",
                code="reindex-needed", directory=str(self.path.parent), found=str(version))
        scheme = self.get_meta("tile_scheme")
        if scheme != TILE_SCHEME:
            raise IndexMismatchError(
                f"index at {self.path.parent} was made with tile scheme {scheme}, this version uses {TILE_SCHEME}: "
                f"re-index needed (into a new folder, or delete this one)",
                code="reindex-needed", directory=str(self.path.parent), found=str(scheme))

    # -- transactions -------------------------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb) -> None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> "Catalog._Tx":
        """A write transaction taken with ``BEGIN IMMEDIATE`` (the write lock up front)."""
        return Catalog._Tx(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- meta -------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def bump_generation(self) -> int:
        gen = self.generation + 1
        self.set_meta("generation", str(gen))
        return gen

    # -- runs -----------------------------------------------------------------------------
    def start_run(self) -> int:
        with self.transaction():
            cur = self.conn.execute(
                "INSERT INTO runs(started, status, added, updated, removed, unchanged, skipped) "
                "VALUES (?, 'running', 0, 0, 0, 0, 0)", (time.time(),)
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, status: str, **counts: int) -> None:
        with self.transaction():
            self.db["runs"].update(run_id, dict(finished=time.time(), status=status, **counts))

    # -- images -----------------------------------------------------------------------------
    def stored_files(self) -> dict[str, StoredFile]:
        rows = self.conn.execute("SELECT id, path, size, mtime_ns FROM images")
        return {_s(r[1]): StoredFile(int(r[0]), _s(r[1]), int(r[2]), int(r[3])) for r in rows}

    def skipped_files(self) -> dict[str, tuple[int, int, str, str]]:
        """``path -> (size, mtime_ns, reason, detail)`` of files recorded as skipped."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, reason, detail FROM skipped")
        return {_s(r[0]): (int(r[1] or -1), int(r[2] or -1), r[3], r[4] or "") for r in rows}

    def write_batch(
        self,
        run_id: int,
        records: Iterable[ImageRecord],
        skipped: Iterable[tuple[str, str, str, int, int]],
        removed: Iterable[int] = (),
        kind: str = "grid",
        segments: Callable[[list[tuple[int, ImageRecord]]], list[SegmentRow]] | None = None,
    ) -> None:
        """Insert or replace images (with their descriptors and tiles), record skipped files and
        drop removed image ids: all in one transaction, and bump the generation. ``segments``,
        given the new ``(image id, record)`` pairs, writes their FAISS segment files and returns
        them, to be recorded in the same transaction (the removed ids become tombstones)."""
        records = list(records)
        skipped = list(skipped)
        removed = [int(i) for i in removed]
        with self.transaction() as conn:
            for rec in records:
                old = conn.execute("SELECT id FROM images WHERE path = ?", (_b(rec.path),)).fetchone()
                if old is not None:
                    removed.append(int(old[0]))
            for p, *_ in skipped:
                old = conn.execute("SELECT id FROM images WHERE path = ?", (_b(p),)).fetchone()
                if old is not None:
                    removed.append(int(old[0]))
            removed = sorted(set(removed))
            self._delete_images(conn, removed)
            written: list[tuple[int, ImageRecord]] = []
            for rec in records:
                cur = conn.execute(
                    "INSERT INTO images(path, size, mtime_ns, width, height, hash, info, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (_b(rec.path), rec.size, rec.mtime_ns, rec.width, rec.height, rec.hash_hex,
                     float(rec.info), run_id),
                )
                image_id = int(cur.lastrowid)
                written.append((image_id, rec))
                conn.execute(
                    "INSERT INTO descriptors(image_id, kind, vector) VALUES (?, ?, ?)",
                    (image_id, kind, np.ascontiguousarray(rec.vector, np.float32).tobytes()),
                )
                if rec.embedding is not None:
                    conn.execute(
                        "INSERT INTO descriptors(image_id, kind, vector) VALUES (?, ?, ?)",
                        (image_id, EMBEDDING_KIND, np.ascontiguousarray(rec.embedding, np.float32).tobytes()),
                    )
                if rec.keypoints:
                    conn.execute("INSERT INTO keypoints(image_id, data) VALUES (?, ?)", (image_id, rec.keypoints))
                low = np.asarray(rec.region_low_info, bool)
                emb = None if rec.region_embeddings is None else \
                    np.ascontiguousarray(rec.region_embeddings, np.float16).tobytes()
                conn.execute(
                    "INSERT INTO tiles(image_id, count, searchable, low_info, hashes, embeddings) VALUES (?, ?, ?, ?, ?, ?)",
                    (image_id, len(low), int((~low).sum()), np.packbits(low).tobytes(),
                     np.ascontiguousarray(rec.region_hashes, np.uint8).tobytes(), emb),
                )
                conn.execute("DELETE FROM skipped WHERE path = ?", (_b(rec.path),))
            conn.executemany(
                "INSERT OR REPLACE INTO skipped(path, reason, detail, size, mtime_ns, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ((_b(p), r, d, s, m, run_id) for p, r, d, s, m in skipped),
            )
            if records or removed or skipped:
                gen = self.bump_generation()
                conn.executemany("INSERT OR REPLACE INTO tombstones(image_id, generation) VALUES (?, ?)",
                                 ((i, gen) for i in removed))
                if segments is not None and written:
                    self._insert_segments(conn, segments(written), gen)

    def forget_skipped(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        if not paths:
            return
        with self.transaction() as conn:
            conn.executemany("DELETE FROM skipped WHERE path = ?", ((_b(p),) for p in paths))

    def _delete_images(self, conn: sqlite3.Connection, ids: list[int]) -> None:
        has_keypoints = self._has_table("keypoints")
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            conn.execute(f"DELETE FROM tiles WHERE image_id IN ({marks})", part)
            if has_keypoints:
                conn.execute(f"DELETE FROM keypoints WHERE image_id IN ({marks})", part)
            conn.execute(f"DELETE FROM descriptors WHERE image_id IN ({marks})", part)
            conn.execute(f"DELETE FROM images WHERE id IN ({marks})", part)

    # -- segments -----------------------------------------------------------------------------
    @staticmethod
    def _insert_segments(conn: sqlite3.Connection, rows: Iterable[SegmentRow], generation: int) -> None:
        conn.executemany(
            "INSERT INTO segments(name, family, count, checksum, kind, generation) VALUES (?, ?, ?, ?, ?, ?)",
            ((r.name, r.family, r.count, r.checksum, r.kind, generation) for r in rows))

    def segments(self) -> list[SegmentRow]:
        """Every recorded FAISS segment, oldest first."""
        rows = self.conn.execute("SELECT name, family, count, checksum, kind FROM segments ORDER BY generation, name")
        return [SegmentRow(r[0], r[1], int(r[2]), r[3], r[4]) for r in rows]

    def state(self) -> tuple[int, list[SegmentRow], np.ndarray]:
        """``(generation, segments, tombstoned image ids (sorted int64))``, read in one snapshot."""
        self.conn.execute("BEGIN")
        try:
            gen = self.generation
            segs = self.segments()
            dead = np.array(sorted(int(r[0]) for r in self.conn.execute("SELECT image_id FROM tombstones")), np.int64)
        finally:
            self.conn.execute("COMMIT")
        return gen, segs, dead

    def replace_segments(self, add: Iterable[SegmentRow], drop: Iterable[str], clear_tombstones: bool = False) -> None:
        """Record ``add`` and forget the segments named in ``drop`` in one transaction (a
        compaction or a rebuild); ``clear_tombstones`` when no segment holds a removed picture."""
        with self.transaction() as conn:
            gen = self.bump_generation()
            conn.executemany("DELETE FROM segments WHERE name = ?", ((n,) for n in drop))
            self._insert_segments(conn, add, gen)
            if clear_tombstones:
                conn.execute("DELETE FROM tombstones")

    # -- reads --------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        q = self.conn.execute
        tiles = q("SELECT coalesce(sum(count), 0), coalesce(sum(searchable), 0) FROM tiles").fetchone()
        return {
            "images": int(q("SELECT count(*) FROM images").fetchone()[0]),
            "regions": int(tiles[0]),
            "searchable_regions": int(tiles[1]),
            "skipped": int(q("SELECT count(*) FROM skipped").fetchone()[0]),
            "runs": int(q("SELECT count(*) FROM runs").fetchone()[0]),
        }

    def image_vectors(self, kind: str = "grid") -> tuple[np.ndarray, np.ndarray]:
        """``(ids int64 (N,), vectors float32 (N, D))`` of whole images, by id."""
        rows = self.conn.execute(
            "SELECT image_id, vector FROM descriptors WHERE kind = ? ORDER BY image_id", (kind,)
        ).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(len(rows), -1)
        return ids, vecs.copy()

    def _tile_rows(self, column: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(tile ids of searchable tiles, per picture: its rows of ``column``'s blob)``."""
        ids: list[np.ndarray] = []
        parts: list[np.ndarray] = []
        cur = self.conn.execute(f"SELECT image_id, count, low_info, {column} FROM tiles ORDER BY image_id")
        dtype = np.uint8 if column == "hashes" else np.float16
        while True:
            rows = cur.fetchmany(10_000)
            if not rows:
                break
            for image_id, count, low, blob in rows:
                if blob is None or not count:
                    continue
                keep = np.flatnonzero(~_low_mask(low, count))
                ids.append(tile_ids(int(image_id), keep))
                parts.append(np.frombuffer(blob, dtype).reshape(count, -1)[keep])
        return (np.concatenate(ids) if ids else np.zeros(0, np.int64)), parts

    def region_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tile ids int64 (R,), hashes uint8 (R, B))`` of searchable (not low-information) tiles."""
        ids, parts = self._tile_rows("hashes")
        if not len(ids):
            return ids, np.zeros((0, 0), np.uint8)
        return ids, np.concatenate(parts)

    def region_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(tile ids int64 (R,), vectors float32 (R, E))`` of searchable tiles' embeddings."""
        ids, parts = self._tile_rows("embeddings")
        if not len(ids):
            return ids, np.zeros((0, 0), np.float32)
        return ids, np.concatenate(parts).astype(np.float32)

    def keypoint_blobs(self) -> Iterator[tuple[int, bytes]]:
        """``(image_id, keymatch.pack_keypoints blob)`` of every image that has keypoints, by id."""
        if self._has_table("keypoints"):
            yield from self.conn.execute("SELECT image_id, data FROM keypoints ORDER BY image_id")

    def ids_with_keypoints(self) -> set[int]:
        if not self._has_table("keypoints"):
            return set()
        return {int(r[0]) for r in self.conn.execute("SELECT image_id FROM keypoints")}

    def images_by_id(self, ids: Iterable[int]) -> dict[int, tuple[str, int, int, float]]:
        """``id -> (path, width, height, info)``."""
        ids = [int(i) for i in ids]
        out: dict[int, tuple[str, int, int, float]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(f"SELECT id, path, width, height, info FROM images WHERE id IN ({marks})", part):
                out[int(r[0])] = (_s(r[1]), int(r[2]), int(r[3]), float(r[4]))
        return out

    def image_facts(self, where: str, values: Iterable[Any]) -> list[tuple[int, str, int, int, int, int]]:
        """``(id, path, size, mtime_ns, width, height)`` of the images whose ``where`` column
        (``id`` or ``path``) is one of ``values``."""
        assert where in ("id", "path")
        values = [_b(v) for v in values] if where == "path" else list(values)
        out: list[tuple[int, str, int, int, int, int]] = []
        for chunk in range(0, len(values), 500):
            part = values[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(
                    f"SELECT id, path, size, mtime_ns, width, height FROM images WHERE {where} IN ({marks})", part):
                out.append((int(r[0]), _s(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])))
        return out

    def regions_by_id(self, ids: Iterable[int]) -> dict[int, tuple[int, tuple[int, int, int, int]]]:
        """``tile id -> (image id, box)``: boxes derived from the picture's size by the tile scheme."""
        ids = np.array(sorted({int(i) for i in ids}), np.int64)
        owners, numbers = split_tile_ids(ids)
        sizes = {i: (w, h) for i, (_, w, h, _) in self.images_by_id(np.unique(owners).tolist()).items()}
        out: dict[int, tuple[int, tuple[int, int, int, int]]] = {}
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(ids) else np.zeros(0, np.int64)
        for s0, s1 in zip(starts.tolist(), np.r_[starts[1:], len(ids)].tolist()):
            owner = int(owners[s0])
            if owner not in sizes:
                continue
            boxes = tile_boxes_at(*sizes[owner], numbers[s0:s1])
            for tid, box in zip(ids[s0:s1].tolist(), boxes.tolist()):
                if box[0] >= 0:
                    out[tid] = (owner, tuple(box))
        return out

    def records(self, batch: int = 1000) -> Iterator[ImageRecord]:
        """Every stored picture as an :class:`ImageRecord` (to merge into another index)."""
        has_keypoints = self._has_table("keypoints")
        last = -1
        while True:
            rows = self.conn.execute(
                "SELECT i.id, i.path, i.size, i.mtime_ns, i.width, i.height, i.hash, i.info, d.vector, e.vector, "
                "t.count, t.low_info, t.hashes, t.embeddings, "
                + ("k.data " if has_keypoints else "NULL ")
                + "FROM images i JOIN descriptors d ON d.image_id = i.id AND d.kind = 'grid' "
                f"LEFT JOIN descriptors e ON e.image_id = i.id AND e.kind = '{EMBEDDING_KIND}' "
                "LEFT JOIN tiles t ON t.image_id = i.id "
                + ("LEFT JOIN keypoints k ON k.image_id = i.id " if has_keypoints else "")
                + "WHERE i.id > ? ORDER BY i.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for (image_id, path, size, mtime, w, h, hash_hex, info, vec, emb, count, low, hashes, tile_emb,
                 kp) in rows:
                count = int(count or 0)
                yield ImageRecord(
                    path=_s(path), size=int(size), mtime_ns=int(mtime), width=int(w), height=int(h),
                    vector=np.frombuffer(vec, np.float32).copy(), hash_hex=hash_hex, info=float(info),
                    region_boxes=tile_boxes(int(w), int(h)),
                    region_hashes=np.frombuffer(hashes or b"", np.uint8).reshape(count, -1) if count
                    else np.zeros((0, TILE_HASH_BYTES), np.uint8),
                    region_low_info=_low_mask(low, count), keypoints=bytes(kp or b""),
                    embedding=None if emb is None else np.frombuffer(emb, np.float32).copy(),
                    region_embeddings=None if tile_emb is None else
                    np.frombuffer(tile_emb, np.float16).reshape(max(count, 1), -1)[:count].astype(np.float32),
                )
            last = int(rows[-1][0])

    def iter_paths(self) -> Iterator[str]:
        for r in self.conn.execute("SELECT path FROM images ORDER BY path"):
            yield _s(r[0])
