"""The ``Index`` facade: one directory holding the SQLite catalog and derived FAISS files."""

from __future__ import annotations

__all__ = ["Index", "IMAGE_VECTORS", "REGION_VECTORS"]

import logging
import os
from pathlib import Path
from typing import Callable, Iterable

import faiss
import numpy as np

from .catalog import CATALOG_NAME, Catalog, ImageRecord
from .describing import describe_files
from .descriptor import DESCRIPTOR_DIM, DESCRIPTOR_VERSION
from .duplicates import REGION_MIN_FRACTION, confirm_region_pair, duplicate_groups, duplicate_regions
from .errors import ImageLoadError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QueryError
from .gridhash import HASH_BITS
from .loading import DEFAULT_MAX_PIXELS, load_image
from .locking import WriteLock
from .results import (
    DuplicateReport, IndexInfo, IndexReport, RegionPair, RegionRef, SearchHit, SkippedFile, VerifyReport,
)
from .scanning import scan, under_roots
from .searching import (
    DEFAULT_MIN_SCORE, ORIENTATION_TOLERANCE, PreparedQuery, Searcher, aspect_factor, prepare_query,
)
from .vectors import (
    APPROXIMATE_IMAGES, APPROXIMATE_REGIONS, approximate_kind, build_image_index, build_region_index,
    read_index_file, write_index_file,
)

log = logging.getLogger(__name__)

IMAGE_VECTORS = "images.faiss"
REGION_VECTORS = "regions.faiss"
BATCH = 32

Progress = Callable[[int, int], None]


class Index:
    """An image index. Open with :meth:`open`; use as a context manager to close it.

    >>> with Index.open("lookalike-index", create=True) as index:   # doctest: +SKIP
    ...     index.add(["photos/"])
    ...     hits = index.search("query.jpg")
    """

    def __init__(self, directory: Path, catalog: Catalog, approximate_images: int, approximate_regions: int) -> None:
        self.directory = directory
        self.catalog = catalog
        self.approximate_images = approximate_images
        self.approximate_regions = approximate_regions
        self._vectors: tuple[faiss.Index, faiss.IndexBinary, int] | None = None

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        create: bool = False,
        approximate_images: int = APPROXIMATE_IMAGES,
        approximate_regions: int = APPROXIMATE_REGIONS,
    ) -> "Index":
        """Open the index in ``directory``; with ``create``, make it if it does not exist."""
        d = Path(directory).expanduser()
        db_path = d / CATALOG_NAME
        if not db_path.exists():
            if not create:
                raise IndexNotFoundError(f"no index at {d} (create one with `lookalike index PATH --index {d}`)")
            if d.exists() and not d.is_dir():
                raise QueryError(f"{d} exists and is not a folder")
            d.mkdir(parents=True, exist_ok=True)
            with WriteLock(d):
                catalog = Catalog(db_path, create=True)
                if catalog.get_meta("descriptor") is None:
                    with catalog.transaction():
                        catalog.set_meta("descriptor", DESCRIPTOR_VERSION)
                        catalog.set_meta("hash_bits", str(HASH_BITS))
        else:
            catalog = Catalog(db_path)
        found = catalog.get_meta("descriptor")
        if found != DESCRIPTOR_VERSION:
            catalog.close()
            raise IndexMismatchError(
                f"index at {d} was built with descriptor {found!r}, this version uses {DESCRIPTOR_VERSION!r}: re-index needed"
            )
        return cls(d, catalog, approximate_images, approximate_regions)

    def close(self) -> None:
        self.catalog.close()
        self._vectors = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        progress: Progress | None = None,
        workers: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> IndexReport:
        """Bring the index up to date with the image files under ``paths``: add new files,
        re-describe changed ones, drop indexed files under these paths that are gone. Bad files
        are skipped and reported; a crash at any point loses at most the batch in flight."""
        with WriteLock(self.directory):
            files, roots = scan(paths)
            stored = self.catalog.stored_files()
            skipped_before = self.catalog.skipped_files()
            todo = []
            unchanged = 0
            still_skipped: list[SkippedFile] = []
            for f in files:
                s = stored.get(f.path)
                if s is not None and s.size == f.size and s.mtime_ns == f.mtime_ns:
                    unchanged += 1
                elif s is None and skipped_before.get(f.path, ())[:2] == (f.size, f.mtime_ns):
                    _, _, reason, detail = skipped_before[f.path]
                    still_skipped.append(SkippedFile(f.path, reason, detail))
                else:
                    todo.append(f)
            seen = {f.path for f in files}
            gone = [s.id for p, s in stored.items() if p not in seen and under_roots(p, roots)]
            self.catalog.forget_skipped(p for p in skipped_before if p not in seen and under_roots(p, roots))

            run_id = self.catalog.start_run()
            added = updated = 0
            skipped = list(still_skipped)
            records: list[ImageRecord] = []
            skips: list[tuple[str, str, str, int, int]] = []
            done = 0
            if progress:
                progress(0, len(todo))
            status = "failed"
            try:
                for outcome in describe_files(todo, workers=workers, max_pixels=max_pixels):
                    if outcome.record is not None:
                        records.append(outcome.record)
                        if outcome.file.path in stored:
                            updated += 1
                        else:
                            added += 1
                    else:
                        f = outcome.file
                        skips.append((f.path, outcome.reason, outcome.detail, f.size, f.mtime_ns))
                        skipped.append(SkippedFile(f.path, outcome.reason, outcome.detail))
                    done += 1
                    if len(records) + len(skips) >= BATCH:
                        self.catalog.write_batch(run_id, records, skips)
                        records, skips = [], []
                    if progress:
                        progress(done, len(todo))
                self.catalog.write_batch(run_id, records, skips, removed=gone)
                status = "done"
            finally:
                self.catalog.finish_run(
                    run_id, status, added=added, updated=updated, removed=len(gone) if status == "done" else 0,
                    unchanged=unchanged, skipped=len(skipped),
                )
            self._write_vectors()
        return IndexReport(
            added=added, updated=updated, removed=len(gone), unchanged=unchanged,
            skipped=sorted(skipped, key=lambda s: s.path),
        )

    def rebuild(self) -> None:
        """Recreate the FAISS files from the catalog."""
        with WriteLock(self.directory):
            self._write_vectors()

    def _build_vectors(self) -> tuple[faiss.Index, faiss.IndexBinary]:
        ids, vecs = self.catalog.image_vectors()
        images = build_image_index(ids, vecs.reshape(len(ids), DESCRIPTOR_DIM), DESCRIPTOR_DIM, self.approximate_images)
        rids, hashes = self.catalog.region_hashes()
        regions = build_region_index(rids, hashes.reshape(len(rids), HASH_BITS // 8), HASH_BITS, self.approximate_regions)
        return images, regions

    def _write_vectors(self) -> None:
        gen = self.catalog.generation
        images, regions = self._build_vectors()
        for name, index in ((IMAGE_VECTORS, images), (REGION_VECTORS, regions)):
            digest = write_index_file(index, self.directory / name)
            kind = approximate_kind(index)
            self.catalog.record_vector_file(name, gen, int(index.ntotal), digest, kind)
        self._vectors = (images, regions, gen)

    # -- reading -------------------------------------------------------------------------------
    def _load_vectors(self) -> tuple[faiss.Index, faiss.IndexBinary]:
        gen = self.catalog.generation
        if self._vectors is not None and self._vectors[2] == gen:
            return self._vectors[0], self._vectors[1]
        loaded = []
        for name, binary in ((IMAGE_VECTORS, False), (REGION_VECTORS, True)):
            rec = self.catalog.vector_file(name)
            path = self.directory / name
            index = None
            if rec is not None and rec[0] == gen and path.exists():
                try:
                    index = read_index_file(path, rec[2], binary)
                except IndexCorruptError as exc:
                    log.warning("%s; rebuilding it from the catalog in memory (run `lookalike rebuild`)", exc)
            else:
                log.info("%s is out of date; rebuilding it from the catalog in memory", name)
            loaded.append(index)
        if any(i is None for i in loaded):
            built = self._build_vectors()
            loaded = [b if l is None else l for l, b in zip(loaded, built)]
        self._vectors = (loaded[0], loaded[1], gen)
        return loaded[0], loaded[1]

    def search(self, query: str | os.PathLike[str], k: int = 10, min_score: float | None = None) -> list[SearchHit]:
        """Indexed images that look like ``query`` (an image file), best first, each once with
        its best box. ``min_score`` (default :data:`DEFAULT_MIN_SCORE`) sets ``match``."""
        q = prepare_query(str(query))
        return self.search_prepared(q, k, min_score)

    def search_prepared(self, q: PreparedQuery, k: int = 10, min_score: float | None = None) -> list[SearchHit]:
        """Like :meth:`search`, for a query already prepared with :func:`prepare_query`."""
        threshold = DEFAULT_MIN_SCORE if min_score is None else float(min_score)
        if not 0.0 <= threshold <= 1.0:
            raise QueryError("min-score must be between 0 and 1")
        images, regions = self._load_vectors()
        return Searcher(self.catalog, images, regions).search(q, k=k, min_score=threshold)

    def duplicates(self, regions: bool = False, min_score: float | None = None) -> DuplicateReport:
        """Groups of near-duplicate images and, with ``regions``, the best duplicate region
        pair of each pair of images that share one."""
        threshold = DEFAULT_MIN_SCORE if min_score is None else float(min_score)
        if not 0.0 <= threshold <= 1.0:
            raise QueryError("min-score must be between 0 and 1")
        ids, vecs = self.catalog.image_vectors()
        meta = self.catalog.images_by_id(ids.tolist())
        sizes = np.array([(meta[i][1], meta[i][2]) for i in ids.tolist()]).reshape(-1, 2)
        info = np.array([meta[i][3] for i in ids.tolist()])
        rows = duplicate_groups(vecs.reshape(len(ids), DESCRIPTOR_DIM), sizes, info, threshold,
                                ORIENTATION_TOLERANCE, aspect_factor)
        groups = [sorted(meta[int(ids[r])][0] for r in g) for g in rows]
        groups.sort()
        pairs: list[RegionPair] = []
        if regions:
            group_of: dict[int, int] = {}
            for gi, g in enumerate(rows):
                for r in g:
                    group_of[int(ids[r])] = gi
            rids, hashes, owners, boxes = self._coarse_region_hashes()
            found = duplicate_regions(
                rids, hashes, owners, threshold,
                lambda a, b: a in group_of and group_of.get(b) == group_of[a],
            )
            box_of = dict(zip(rids.tolist(), (tuple(int(v) for v in b) for b in boxes)))
            owner_of = dict(zip(rids.tolist(), owners.tolist()))
            pixels = _PixelCache()
            for ra, rb, _ in found:
                ia, ib = owner_of[ra], owner_of[rb]
                pa, pb = pixels.get(meta[ia][0]), pixels.get(meta[ib][0])
                if pa is None or pb is None:
                    continue
                size_a, size_b = (meta[ia][1], meta[ia][2]), (meta[ib][1], meta[ib][2])
                confirmed = confirm_region_pair(pa, size_a, box_of[ra], pb, size_b, box_of[rb])
                if confirmed is None or confirmed[1] < threshold:
                    continue
                a = RegionRef(meta[ia][0], box_of[ra])
                b = RegionRef(meta[ib][0], confirmed[0])
                if (a.path, a.box) > (b.path, b.box):
                    a, b = b, a
                pairs.append(RegionPair(a, b, round(confirmed[1], 6)))
            pairs.sort(key=lambda p: (-p.score, p.a.path, p.b.path))
        return DuplicateReport(groups=groups, regions=pairs)

    def _coarse_region_hashes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        rows = self.catalog.conn.execute(
            "SELECT r.id, r.image_id, r.x, r.y, r.w, r.h, r.hash FROM regions r JOIN images i ON i.id = r.image_id "
            "WHERE r.low_info = 0 AND r.w >= ? * min(i.width, i.height)", (REGION_MIN_FRACTION,)
        ).fetchall()
        if not rows:
            z = np.zeros(0, np.int64)
            return z, np.zeros((0, HASH_BITS // 8), np.uint8), z, np.zeros((0, 4), np.int64)
        rids = np.array([r[0] for r in rows], np.int64)
        owners = np.array([r[1] for r in rows], np.int64)
        boxes = np.array([r[2:6] for r in rows], np.int64)
        hashes = np.frombuffer(b"".join(r[6] for r in rows), np.uint8).reshape(len(rows), -1)
        return rids, hashes, owners, boxes

    def info(self) -> IndexInfo:
        counts = self.catalog.counts()
        kinds = []
        for name in (IMAGE_VECTORS, REGION_VECTORS):
            row = self.catalog.conn.execute("SELECT kind FROM vector_files WHERE name = ?", (name,)).fetchone()
            kinds.append(row[0] if row else "missing")
        return IndexInfo(
            directory=str(self.directory.resolve()), images=counts["images"], regions=counts["regions"],
            searchable_regions=counts["searchable_regions"], skipped=counts["skipped"], runs=counts["runs"],
            generation=self.catalog.generation, descriptor=DESCRIPTOR_VERSION,
            image_index=kinds[0], region_index=kinds[1],
        )

    def skipped(self) -> list[SkippedFile]:
        return [SkippedFile(p, r, d) for p, r, d in self.catalog.skipped_list()]

    def verify(self) -> VerifyReport:
        """Check the catalog's integrity and that each FAISS file is current, intact and holds
        exactly the catalog's vectors."""
        problems: list[str] = []
        ok = self.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"catalog integrity check failed: {ok}")
        gen = self.catalog.generation
        ids, vecs = self.catalog.image_vectors()
        rids, hashes = self.catalog.region_hashes()
        expected = {IMAGE_VECTORS: (ids, vecs, False), REGION_VECTORS: (rids, hashes, True)}
        for name, (want_ids, want, binary) in expected.items():
            rec = self.catalog.vector_file(name)
            path = self.directory / name
            if rec is None:
                problems.append(f"{name}: not recorded in the catalog (run `lookalike rebuild`)")
                continue
            if rec[0] != gen:
                problems.append(f"{name}: built at generation {rec[0]}, catalog is at {gen}")
            if not path.exists():
                problems.append(f"{name}: file is missing")
                continue
            try:
                index = read_index_file(path, rec[2], binary)
            except IndexCorruptError as exc:
                problems.append(str(exc))
                continue
            got_ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            if index.ntotal != len(want_ids) or not np.array_equal(np.sort(got_ids), np.sort(want_ids)):
                problems.append(f"{name}: holds {index.ntotal} vectors, the catalog has {len(want_ids)}")
                continue
            if len(want_ids):
                sample = np.linspace(0, len(want_ids) - 1, min(64, len(want_ids))).astype(int)
                for j in sample:
                    got = index.reconstruct(int(want_ids[j]))
                    if not np.array_equal(np.asarray(got).ravel(), np.asarray(want[j]).ravel()):
                        problems.append(f"{name}: vector {int(want_ids[j])} differs from the catalog")
                        break
        return VerifyReport(ok=not problems, problems=problems)


class _PixelCache:
    """Decoded pixels of the last few images, for confirming region pairs."""

    def __init__(self, size: int = 64, min_side: int = 256) -> None:
        self.size = size
        self.min_side = min_side
        self._items: dict[str, np.ndarray | None] = {}

    def get(self, path: str) -> np.ndarray | None:
        if path not in self._items:
            if len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            try:
                self._items[path] = load_image(path, min_side=self.min_side).pixels
            except ImageLoadError as exc:
                log.warning("cannot confirm regions of %s: %s", path, exc)
                self._items[path] = None
        return self._items[path]
