"""The SQLite catalog: the source of truth of an index (through sqlite-utils).

Tables: ``meta`` (settings and the generation counter), ``runs``, ``images``, ``descriptors``
(whole-image vectors: the color grid, and the embedder's when there is one), ``regions``
(tile boxes and hashes), ``region_embeddings`` (float16 tile embeddings), ``skipped`` (files not indexed, with
the reason) and ``vector_files`` (what each derived FAISS file was built from). Every write is
one ``BEGIN IMMEDIATE`` transaction, so a crash leaves the catalog as of the last commit.
"""

from __future__ import annotations

__all__ = ["Catalog", "ImageRecord", "StoredFile", "SCHEMA_VERSION", "EMBEDDING_KIND"]

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import sqlite_utils

from .errors import IndexCorruptError

SCHEMA_VERSION = 1
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
    region_boxes: np.ndarray  # (R, 4) int
    region_hashes: np.ndarray  # (R, HASH_BITS // 8) uint8
    region_info: np.ndarray  # (R,) float32
    region_low_info: np.ndarray  # (R,) bool
    keypoints: bytes = b""  # keymatch.pack_keypoints: places, scales, hashes (original pixels)
    embedding: np.ndarray | None = None  # (E,) float32, when the index has an embedder
    region_embeddings: np.ndarray | None = None  # (R, E) float32


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
            db["images"].create(
                {"id": int, "path": str, "size": int, "mtime_ns": int, "width": int, "height": int,
                 "hash": str, "info": float, "run_id": int},
                pk="id", not_null={"path"}, if_not_exists=True,
            )
            db["images"].create_index(["path"], unique=True, if_not_exists=True)
            db["descriptors"].create(
                {"image_id": int, "kind": str, "vector": bytes},
                pk=("image_id", "kind"), foreign_keys=[("image_id", "images", "id")],
                if_not_exists=True,
            )
            db["regions"].create(
                {"id": int, "image_id": int, "x": int, "y": int, "w": int, "h": int,
                 "info": float, "low_info": int, "hash": bytes},
                pk="id", foreign_keys=[("image_id", "images", "id")], if_not_exists=True,
            )
            db["regions"].create_index(["image_id"], if_not_exists=True)
            db["skipped"].create(
                {"path": str, "reason": str, "detail": str, "size": int, "mtime_ns": int, "run_id": int},
                pk="path", if_not_exists=True,
            )
            self._create_embedding_table()
            db["vector_files"].create(
                {"name": str, "generation": int, "count": int, "checksum": str, "kind": str},
                pk="name", if_not_exists=True,
            )
            if self.get_meta("schema_version") is None:
                self.set_meta("schema_version", str(SCHEMA_VERSION))
                self.set_meta("generation", "0")
                self.set_meta("created", f"{time.time():.3f}")

    def _create_embedding_table(self) -> None:
        self.db["region_embeddings"].create(
            {"region_id": int, "vector": bytes}, pk="region_id",
            foreign_keys=[("region_id", "regions", "id")], if_not_exists=True,
        )

    def ensure_keypoint_table(self) -> None:
        with self.transaction():
            self.db["keypoints"].create({"image_id": int, "data": bytes}, pk="image_id",
                                        foreign_keys=[("image_id", "images", "id")], if_not_exists=True)

    def _has_table(self, name: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (name,)).fetchone() is not None

    def ensure_embedding_table(self) -> None:
        """Catalogs made before embedders existed get the table on first use."""
        if "region_embeddings" not in self.db.table_names():
            with self.transaction():
                self._create_embedding_table()

    def _check_schema(self) -> None:
        try:
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as exc:
            raise IndexCorruptError(f"{self.path} is not a lookalike catalog: {exc}") from None
        if version is None:
            raise IndexCorruptError(f"{self.path} is not a lookalike catalog (no schema version)")
        if int(version) != SCHEMA_VERSION:
            raise IndexCorruptError(f"catalog schema {version} is not supported (expected {SCHEMA_VERSION})")

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
        return {r[1]: StoredFile(int(r[0]), r[1], int(r[2]), int(r[3])) for r in rows}

    def skipped_files(self) -> dict[str, tuple[int, int, str, str]]:
        """``path -> (size, mtime_ns, reason, detail)`` of files recorded as skipped."""
        rows = self.conn.execute("SELECT path, size, mtime_ns, reason, detail FROM skipped")
        return {r[0]: (int(r[1] or -1), int(r[2] or -1), r[3], r[4] or "") for r in rows}

    def write_batch(
        self,
        run_id: int,
        records: Iterable[ImageRecord],
        skipped: Iterable[tuple[str, str, str, int, int]],
        removed: Iterable[int] = (),
        kind: str = "grid",
    ) -> None:
        """Insert or replace images (with their descriptors and regions), record skipped files
        and drop removed image ids: all in one transaction, and bump the generation."""
        records = list(records)
        skipped = list(skipped)
        removed = list(removed)
        with self.transaction() as conn:
            for rec in records:
                old = conn.execute("SELECT id FROM images WHERE path = ?", (rec.path,)).fetchone()
                if old is not None:
                    removed.append(int(old[0]))
            self._delete_images(conn, removed)
            for rec in records:
                cur = conn.execute(
                    "INSERT INTO images(path, size, mtime_ns, width, height, hash, info, run_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.path, rec.size, rec.mtime_ns, rec.width, rec.height, rec.hash_hex,
                     float(rec.info), run_id),
                )
                image_id = int(cur.lastrowid)
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
                region_ids = []
                for b, i, lo, h in zip(rec.region_boxes, rec.region_info, rec.region_low_info, rec.region_hashes):
                    cur = conn.execute(
                        "INSERT INTO regions(image_id, x, y, w, h, info, low_info, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (image_id, int(b[0]), int(b[1]), int(b[2]), int(b[3]), float(i), int(lo), h.tobytes()),
                    )
                    region_ids.append(int(cur.lastrowid))
                if rec.region_embeddings is not None:
                    half = np.ascontiguousarray(rec.region_embeddings, np.float16)
                    conn.executemany(
                        "INSERT INTO region_embeddings(region_id, vector) VALUES (?, ?)",
                        ((rid, v.tobytes()) for rid, v in zip(region_ids, half)),
                    )
                conn.execute("DELETE FROM skipped WHERE path = ?", (rec.path,))
            conn.executemany(
                "INSERT OR REPLACE INTO skipped(path, reason, detail, size, mtime_ns, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                ((p, r, d, s, m, run_id) for p, r, d, s, m in skipped),
            )
            for p, *_ in skipped:
                old = conn.execute("SELECT id FROM images WHERE path = ?", (p,)).fetchone()
                if old is not None:
                    self._delete_images(conn, [int(old[0])])
            if records or removed or skipped:
                self.bump_generation()

    def forget_skipped(self, paths: Iterable[str]) -> None:
        paths = list(paths)
        if not paths:
            return
        with self.transaction() as conn:
            conn.executemany("DELETE FROM skipped WHERE path = ?", ((p,) for p in paths))

    @staticmethod
    def _delete_images(conn: sqlite3.Connection, ids: list[int]) -> None:
        has_embeddings = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'region_embeddings'").fetchone() is not None
        has_keypoints = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'keypoints'").fetchone() is not None
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            if has_embeddings:
                conn.execute(f"DELETE FROM region_embeddings WHERE region_id IN "
                             f"(SELECT id FROM regions WHERE image_id IN ({marks}))", part)
            conn.execute(f"DELETE FROM regions WHERE image_id IN ({marks})", part)
            if has_keypoints:
                conn.execute(f"DELETE FROM keypoints WHERE image_id IN ({marks})", part)
            conn.execute(f"DELETE FROM descriptors WHERE image_id IN ({marks})", part)
            conn.execute(f"DELETE FROM images WHERE id IN ({marks})", part)

    # -- reads --------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        q = self.conn.execute
        return {
            "images": int(q("SELECT count(*) FROM images").fetchone()[0]),
            "regions": int(q("SELECT count(*) FROM regions").fetchone()[0]),
            "searchable_regions": int(q("SELECT count(*) FROM regions WHERE low_info = 0").fetchone()[0]),
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

    def _id_blobs(self, sql: str) -> tuple[np.ndarray, bytes]:
        """Rows ``(id, blob)`` of ``sql``, fetched in chunks: ``(ids int64 (R,), the blobs joined)``."""
        ids: list[np.ndarray] = []
        blobs: list[bytes] = []
        cur = self.conn.execute(sql)
        while True:
            rows = cur.fetchmany(100_000)
            if not rows:
                break
            ids.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
            blobs.append(b"".join(r[1] for r in rows))
        return (np.concatenate(ids) if ids else np.zeros(0, np.int64)), b"".join(blobs)

    def region_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int64 (R,), hashes uint8 (R, B))`` of searchable (not low-information) tiles."""
        ids, blob = self._id_blobs("SELECT id, hash FROM regions WHERE low_info = 0 ORDER BY id")
        if not len(ids):
            return ids, np.zeros((0, 0), np.uint8)
        return ids, np.frombuffer(blob, np.uint8).reshape(len(ids), -1).copy()

    def region_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int64 (R,), vectors float32 (R, E))`` of searchable tiles' embeddings."""
        if "region_embeddings" not in self.db.table_names():
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids, blob = self._id_blobs(
            "SELECT e.region_id, e.vector FROM region_embeddings e JOIN regions r ON r.id = e.region_id "
            "WHERE r.low_info = 0 ORDER BY e.region_id")
        if not len(ids):
            return ids, np.zeros((0, 0), np.float32)
        return ids, np.frombuffer(blob, np.float16).reshape(len(ids), -1).astype(np.float32)

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
                out[int(r[0])] = (r[1], int(r[2]), int(r[3]), float(r[4]))
        return out

    def image_facts(self, where: str, values: Iterable[Any]) -> list[tuple[int, str, int, int, int, int]]:
        """``(id, path, size, mtime_ns, width, height)`` of the images whose ``where`` column
        (``id`` or ``path``) is one of ``values``."""
        assert where in ("id", "path")
        values = list(values)
        out: list[tuple[int, str, int, int, int, int]] = []
        for chunk in range(0, len(values), 500):
            part = values[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(
                    f"SELECT id, path, size, mtime_ns, width, height FROM images WHERE {where} IN ({marks})", part):
                out.append((int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])))
        return out

    def regions_by_id(self, ids: Iterable[int]) -> dict[int, tuple[int, tuple[int, int, int, int]]]:
        ids = [int(i) for i in ids]
        out: dict[int, tuple[int, tuple[int, int, int, int]]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            marks = ",".join("?" * len(part))
            for r in self.conn.execute(f"SELECT id, image_id, x, y, w, h FROM regions WHERE id IN ({marks})", part):
                out[int(r[0])] = (int(r[1]), (int(r[2]), int(r[3]), int(r[4]), int(r[5])))
        return out

    def vector_file(self, name: str) -> tuple[int, int, str] | None:
        row = self.conn.execute("SELECT generation, count, checksum FROM vector_files WHERE name = ?", (name,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]), str(row[2]))

    def record_vector_file(self, name: str, generation: int, count: int, checksum: str, kind: str) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO vector_files(name, generation, count, checksum, kind) VALUES (?, ?, ?, ?, ?)",
                (name, generation, count, checksum, kind),
            )

    def iter_paths(self) -> Iterator[str]:
        for r in self.conn.execute("SELECT path FROM images ORDER BY path"):
            yield r[0]
