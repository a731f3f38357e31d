"""The ``Index`` facade: one directory holding the SQLite catalog and derived FAISS files."""

from __future__ import annotations

__all__ = ["Index", "IMAGE_VECTORS", "REGION_VECTORS", "EMBEDDING_VECTORS", "REGION_EMBEDDING_VECTORS"]

import contextlib
import dataclasses
import functools
import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import faiss
import numpy as np

from lookalike.models.io.files import scan, under_roots
from lookalike.models.io.images import DEFAULT_MAX_PIXELS, ImageSource, LoadedImage, as_image, load_image
from lookalike.models.threads import run_jobs

from .catalog import CATALOG_NAME, EMBEDDING_KIND, Catalog, ImageRecord, SegmentRow
from .describing import DescribeOutcome, describe_file, describe_files
from .descriptor import DESCRIPTOR_DIM, DESCRIPTOR_VERSION
from .duplicates import duplicate_groups
from .keymatch import (
    HASH_BYTES, MAX_HAMMING, MIN_INLIERS, MIN_SHIFT_SCALES, NEIGHBOURS, REGION_MIN_NCC, KeypointSet,
    candidate_matches, could_fit, picture_keypoints, scales_could_agree, unpack_keypoints, verify_pair,
)
from .errors import (
    ImageLoadError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QueryError,
)
from .gridhash import HASH_BITS
from .locking import WriteLock
from .regions import TILE_HASH_BITS, tile_ids
from .segments import Family, LoadedFamily, Segment, build_segment, live_ids, merge_plan, orphans, read_segment
from .results import (
    DuplicateReport, IndexInfo, IndexReport, Picture, RebuildReport, RegionHit, RegionPair, RegionRef, SearchHit,
    SkippedFile, VerifyReport,
)
from .searching import (
    DEFAULT_MIN_SCORE, EmbeddingSignal, Searcher, aspect_factor, prepare_query,
)
from .vectors import APPROXIMATE_IMAGES, APPROXIMATE_REGIONS

if TYPE_CHECKING:  # pragma: no cover
    from lookalike.models.embed.embedding import Embedder

log = logging.getLogger(__name__)

#: The vector families (each a list of FAISS segment files, see :mod:`.segments`).
IMAGE_VECTORS = "images"
REGION_VECTORS = "regions"
EMBEDDING_VECTORS = "embeddings"
REGION_EMBEDDING_VECTORS = "region_embeddings"
#: Beyond this many tombstoned pictures (and this share of the index), every family is merged
#: into one segment without them.
TOMBSTONES_FULL_MERGE = 1000
TOMBSTONES_FULL_SHARE = 0.1
BATCH = 32
NO_EMBEDDER = "none"

Progress = Callable[[int, int], None]


class Index:
    """An image index. Open with :meth:`open`; use as a context manager to close it.

    >>> with Index.open("lookalike-index", create=True) as index:   # doctest: +SKIP
    ...     index.add(["photos/"])
    ...     hits = index.search("query.jpg")
    """

    def __init__(self, directory: Path, catalog: Catalog, approximate_images: int, approximate_regions: int,
                 weights: str | None = None, device: str = "auto") -> None:
        self.directory = directory
        self.catalog = catalog
        self.approximate_images = approximate_images
        self.approximate_regions = approximate_regions
        self.weights = weights
        self.device = device
        self._vectors: tuple[dict[str, Any], int] | None = None
        self._embedder: Embedder | None = None
        self._writer: WriteLock | None = None
        self._keypoints_cache: tuple[int, KeypointSet, Any] | None = None

    @property
    def embedder_name(self) -> str:
        """The embedder this index was built with (``none``: the color grid alone)."""
        return self.catalog.get_meta("embedder") or NO_EMBEDDER

    @property
    def embedder_dim(self) -> int:
        return int(self.catalog.get_meta("embedder_dim") or 0)

    @property
    def keeps_keypoints(self) -> bool:
        """Whether this index keeps keypoints (``add(..., keypoints=True)`` once), which duplicate regions need."""
        return self.catalog.get_meta("keypoints") == "1"

    def embedder(self) -> Embedder | None:
        """The index's embedder, loaded on first use; ``None`` for ``none``. Weights that are not
        the ones the index was built with are refused (:class:`IndexMismatchError`)."""
        name = self.embedder_name
        if name == NO_EMBEDDER:
            return None
        if self._embedder is None:
            from lookalike.models.embed.registry import load_embedder

            weights = self.weights or self.catalog.get_meta("embedder_weights") or None
            emb = load_embedder(name, weights, self.device)
            want = self.catalog.get_meta("embedder_version")
            if want and emb.version != want:
                found = weights or "default"
                raise IndexMismatchError(
                    f"index at {self.directory} was built with {name} version {want}; the weights found "
                    f"({found}) are version {emb.version}: open it with the original weights file or re-index "
                    f"into a new folder",
                    code="weights-mismatch", directory=str(self.directory), name=name, want=want, found=found,
                    version=emb.version,
                )
            self._embedder = emb
        return self._embedder

    def _set_embedder(self, name: str) -> None:
        """Record ``name`` (loading it, to learn its version and dimension) in an empty index."""
        emb = None
        if name != NO_EMBEDDER:
            from lookalike.models.embed.registry import load_embedder

            emb = load_embedder(name, self.weights, self.device)
        with self.catalog.transaction():
            self.catalog.set_meta("embedder", name)
            self.catalog.set_meta("embedder_version", emb.version if emb else "")
            self.catalog.set_meta("embedder_dim", str(emb.dim if emb else 0))
            self.catalog.set_meta("embedder_weights", str(Path(self.weights).resolve()) if emb and self.weights else "")
        self._embedder = emb
        self._vectors = None

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        create: bool = False,
        approximate_images: int = APPROXIMATE_IMAGES,
        approximate_regions: int = APPROXIMATE_REGIONS,
        embedder: str | None = None,
        weights: str | os.PathLike[str] | None = None,
        device: str = "auto",
    ) -> "Index":
        """Open the index in ``directory``; with ``create``, make it if it does not exist.

        ``embedder`` (``none``, ``lookalike-s``, a torchvision name) is recorded when the index
        is new (or still empty); an index built with another embedder is refused
        (:class:`IndexMismatchError`: re-index needed). ``None`` takes the index's own.
        ``weights`` is a local weights file for the embedder; ``device`` where it runs."""
        d = Path(directory).expanduser()
        db_path = d / CATALOG_NAME
        if not db_path.exists():
            if not create:
                raise IndexNotFoundError(f"no index at {d} (open it with create=True to make one)", directory=str(d))
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
        ix = cls(d, catalog, approximate_images, approximate_regions,
                 str(weights) if weights is not None else None, device)
        try:
            ix._choose_embedder(embedder)
        except BaseException:
            catalog.close()
            raise
        return ix

    def _choose_embedder(self, requested: str | None) -> None:
        stored = self.catalog.get_meta("embedder")
        if requested is None:
            if stored is None and self.catalog.counts()["images"] == 0:
                self._set_embedder(NO_EMBEDDER)
            return
        if requested == (stored or NO_EMBEDDER):
            if requested != NO_EMBEDDER and self.weights:
                self.embedder()  # the weights given must be the ones the index was built with
            return
        if self.catalog.counts()["images"] == 0:
            with self.writing():
                self._set_embedder(requested)
            return
        raise IndexMismatchError(
            f"index at {self.directory} was built with embedder {stored or NO_EMBEDDER!r}, not {requested!r}: "
            f"re-index into a new folder or delete this one",
            code="embedder-mismatch", directory=str(self.directory), stored=stored or NO_EMBEDDER, requested=requested,
        )

    def close(self) -> None:
        self.catalog.close()
        self._vectors = None

    def __enter__(self) -> "Index":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the index's write lock (:class:`IndexLockedError` if another process does) for a
        whole operation made of several writes; the writes inside take it over, not again."""
        if self._writer is not None:
            yield
            return
        with WriteLock(self.directory) as lock:
            self._writer = lock
            try:
                self._remove_files(())  # what a crashed writer left: files no transaction recorded
                yield
            finally:
                self._writer = None

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        progress: Progress | None = None,
        workers: int | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        keypoints: bool = False,
    ) -> IndexReport:
        """Bring the index up to date with the image files under ``paths``: add new files,
        re-describe changed ones, drop indexed files under these paths that are gone. Bad files
        are skipped and reported; a crash at any point loses at most the batch in flight.

        ``keypoints``: from now on this index also keeps every picture's keypoints, which
        duplicate regions need (:meth:`duplicates` with ``regions``); pictures under ``paths``
        indexed without them are described again. An index that keeps them always does."""
        with self.writing():
            if keypoints and not self.keeps_keypoints:
                self.catalog.ensure_keypoint_table()
                with self.catalog.transaction():
                    self.catalog.set_meta("keypoints", "1")
            keypoints = self.keeps_keypoints
            with_keypoints = self.catalog.ids_with_keypoints() if keypoints else set()
            files, roots = scan(paths)
            stored = self.catalog.stored_files()
            skipped_before = self.catalog.skipped_files()
            todo = []
            unchanged = 0
            still_skipped: list[SkippedFile] = []
            for f in files:
                s = stored.get(f.path)
                if (s is not None and s.size == f.size and s.mtime_ns == f.mtime_ns
                        and (not keypoints or s.id in with_keypoints)):
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
            embedder = self.embedder()
            describe = functools.partial(describe_file, embed_side=embedder.input_side if embedder else 0,
                                         keypoints=keypoints)
            waiting: list[DescribeOutcome] = []  # described, waiting for the embedder
            try:
                for outcome in describe_files(todo, workers=workers, max_pixels=max_pixels, describe=describe):
                    if outcome.record is not None:
                        if outcome.file.path in stored:
                            updated += 1
                        else:
                            added += 1
                        if embedder is None:
                            records.append(outcome.record)
                        else:
                            waiting.append(outcome)
                            if len(waiting) >= embedder.batch_size:
                                records.extend(_embed_records(embedder, waiting))
                                waiting = []
                    else:
                        f = outcome.file
                        skips.append((f.path, outcome.reason, outcome.detail, f.size, f.mtime_ns))
                        skipped.append(SkippedFile(f.path, outcome.reason, outcome.detail))
                    done += 1
                    if len(records) + len(skips) >= BATCH:
                        self._commit(run_id, records, skips)
                        records, skips = [], []
                    if progress:
                        progress(done, len(todo))
                if waiting:
                    records.extend(_embed_records(embedder, waiting))
                self._commit(run_id, records, skips, removed=gone)
                status = "done"
            finally:
                self.catalog.finish_run(
                    run_id, status, added=added, updated=updated, removed=len(gone) if status == "done" else 0,
                    unchanged=unchanged, skipped=len(skipped),
                )
        return IndexReport(
            added=added, updated=updated, removed=len(gone), unchanged=unchanged,
            skipped=sorted(skipped, key=lambda s: s.path),
        )

    def forget(self, paths: Iterable[str]) -> int:
        """Drop these indexed pictures (absolute paths as stored) from the catalog and the FAISS
        files, whatever their files now hold; returns how many were indexed."""
        with self.writing():
            ids = [p.id for p in self.pictures(paths=paths)]
            if not ids:
                return 0
            run_id = self.catalog.start_run()
            status = "failed"
            try:
                self._commit(run_id, [], [], removed=ids)
                status = "done"
            finally:
                self.catalog.finish_run(run_id, status, removed=len(ids) if status == "done" else 0)
        return len(ids)

    def pictures(self, ids: Iterable[int] = (), paths: Iterable[str] = ()) -> list[Picture]:
        """The indexed pictures with these ids or paths (those not indexed are left out), in
        the order asked."""
        ids, paths = [int(i) for i in ids], [str(p) for p in paths]
        rows = {r[0]: Picture(*r) for r in self.catalog.image_facts("id", ids)}
        by_path = {r[1]: Picture(*r) for r in self.catalog.image_facts("path", paths)}
        return [rows[i] for i in ids if i in rows] + [by_path[p] for p in paths if p in by_path]

    def rebuild(self) -> RebuildReport:
        """Recreate every FAISS segment from the catalog: one segment a family, no tombstones."""
        with self.writing():
            _, old, _ = self.catalog.state()
            gen = self.catalog.generation + 1
            rows = []
            for fam in self._families().values():
                ids, vectors = self._catalog_vectors(fam.name)
                rows.append(build_segment(self.directory, fam, gen, ids, vectors))
            self.catalog.replace_segments(rows, [s.name for s in old], clear_tombstones=True)
            self._remove_files([s.name for s in old])
        counts = self.catalog.counts()
        return RebuildReport(images=counts["images"], regions=counts["searchable_regions"])

    def add_records(self, records: Iterable[ImageRecord], batch: int = 500) -> int:
        """Store described pictures (records made by :func:`describe_file`, read from another
        index, or synthetic) through the same write path as :meth:`add`: batched
        transactions, each with its FAISS segments. Returns how many were stored."""
        with self.writing():
            run_id = self.catalog.start_run()
            done, status, pending = 0, "failed", []
            try:
                for rec in records:
                    pending.append(rec)
                    if len(pending) >= batch:
                        self._commit(run_id, pending, [])
                        done, pending = done + len(pending), []
                self._commit(run_id, pending, [])
                done += len(pending)
                status = "done"
            finally:
                self.catalog.finish_run(run_id, status, added=done)
        return done

    def merge(self, other: str | os.PathLike[str], batch: int = 500) -> IndexReport:
        """Merge in the pictures of another index (built elsewhere: another process, another
        machine) with the same descriptor, tile scheme, embedder and keypoint setting. Its
        records are read from its catalog (not its FAISS files: ids differ) and stored through
        :meth:`add_records`; a path indexed in both takes the other index's record."""
        if Path(other).expanduser().resolve() == self.directory.resolve():
            raise QueryError(f"cannot merge {self.directory} into itself", code="merge-itself")
        with Index.open(other) as src:
            for what, mine, theirs in (
                    ("embedder", self.embedder_name, src.embedder_name),
                    ("embedder version", self.catalog.get_meta("embedder_version") or "",
                     src.catalog.get_meta("embedder_version") or ""),
                    ("keypoints", self.keeps_keypoints, src.keeps_keypoints)):
                if mine != theirs:
                    raise IndexMismatchError(
                        f"cannot merge {src.directory} into {self.directory}: {what} differs ({theirs!r} there, "
                        f"{mine!r} here)", code="merge-mismatch", directory=str(src.directory))
            stored = set(self.catalog.stored_files())
            counts = {"added": 0, "updated": 0}

            def records() -> Iterator[ImageRecord]:
                for rec in src.catalog.records():
                    counts["updated" if rec.path in stored else "added"] += 1
                    yield rec

            self.add_records(records(), batch=batch)
        return IndexReport(added=counts["added"], updated=counts["updated"])

    # -- segments ------------------------------------------------------------------------------
    def _families(self) -> dict[str, Family]:
        out = {
            IMAGE_VECTORS: Family(IMAGE_VECTORS, False, DESCRIPTOR_DIM, False, self.approximate_images),
            REGION_VECTORS: Family(REGION_VECTORS, True, TILE_HASH_BITS, True, self.approximate_regions),
        }
        if self.embedder_name != NO_EMBEDDER:
            dim = self.embedder_dim
            out[EMBEDDING_VECTORS] = Family(EMBEDDING_VECTORS, False, dim, False, self.approximate_images)
            out[REGION_EMBEDDING_VECTORS] = Family(REGION_EMBEDDING_VECTORS, False, dim, True, self.approximate_regions)
        return out

    def _catalog_vectors(self, family: str) -> tuple[np.ndarray, np.ndarray]:
        """What a family holds, read from the catalog (the source of truth)."""
        return {
            IMAGE_VECTORS: self.catalog.image_vectors,
            REGION_VECTORS: self.catalog.region_hashes,
            EMBEDDING_VECTORS: lambda: self.catalog.image_vectors(EMBEDDING_KIND),
            REGION_EMBEDDING_VECTORS: self.catalog.region_embeddings,
        }[family]()

    @staticmethod
    def _record_vectors(family: str, written: list[tuple[int, ImageRecord]]) -> tuple[np.ndarray, np.ndarray]:
        """What a family holds of freshly written records ``(image id, record)``: the same
        values the catalog stores (tile embeddings through float16)."""
        if family in (IMAGE_VECTORS, EMBEDDING_VECTORS):
            rows = [(i, r.vector if family == IMAGE_VECTORS else r.embedding) for i, r in written]
            rows = [(i, v) for i, v in rows if v is not None]
            if not rows:
                return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
            return np.array([i for i, _ in rows], np.int64), np.stack([np.asarray(v, np.float32) for _, v in rows])
        ids, parts = [], []
        for image_id, r in written:
            keep = r.searchable
            data = r.region_hashes if family == REGION_VECTORS else r.region_embeddings
            if data is None or not len(keep):
                continue
            ids.append(tile_ids(image_id, keep))
            part = np.asarray(data)[keep]
            parts.append(part if family == REGION_VECTORS else part.astype(np.float16).astype(np.float32))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        return np.concatenate(ids), np.concatenate(parts)

    def _commit(self, run_id: int, records: list[ImageRecord], skips: list, removed: Iterable[int] = ()) -> None:
        """One catalog transaction with the FAISS segments of its new pictures, then merges."""
        families = self._families()

        def segments(written: list[tuple[int, ImageRecord]]) -> list[SegmentRow]:
            gen = self.catalog.generation
            rows = []
            for fam in families.values():
                ids, vectors = self._record_vectors(fam.name, written)
                if len(ids):
                    rows.append(build_segment(self.directory, fam, gen, ids, vectors))
            return rows

        removed = list(removed)
        if not records and not skips and not removed:
            return
        self.catalog.write_batch(run_id, records, skips, removed=removed, segments=segments)
        self._merge_segments()

    def _merge_segments(self) -> None:
        """Merge segments by the tiered rule (see :mod:`.segments`); with many tombstones,
        merge every family into one segment without the removed pictures."""
        gen, segs, dead = self.catalog.state()
        families = self._families()
        images = sum(s.count for s in segs if s.family == IMAGE_VECTORS)
        full = len(dead) > max(TOMBSTONES_FULL_MERGE, TOMBSTONES_FULL_SHARE * images)
        groups = []
        for fam in families.values():
            mine = [s for s in segs if s.family == fam.name]
            groups += [(fam, g) for g in ([mine] if full and mine else merge_plan(mine))]
        if not groups:
            return
        add, drop = [], []
        for fam, group in groups:
            ids, vectors = [], []
            for seg in group:
                i, v = read_segment(self.directory / seg.name, seg.checksum, fam).vectors()
                keep = live_ids(fam, i, dead)
                ids.append(i[keep])
                vectors.append(v[keep])
            add.append(build_segment(self.directory, fam, gen + 1, np.concatenate(ids), np.concatenate(vectors)))
            drop += [s.name for s in group]
        self.catalog.replace_segments(add, drop, clear_tombstones=full)
        self._remove_files(drop)

    def _remove_files(self, names: Iterable[str]) -> None:
        """Delete replaced segment files and any orphan a crash left (the write lock is held)."""
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
        for path in orphans(self.directory, {s.name for s in self.catalog.segments()}):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    # -- reading -------------------------------------------------------------------------------
    def _load_vectors(self) -> dict[str, Any]:
        """Every family of the catalog's current snapshot, loaded from its segment files. A
        file that a concurrent merge replaced sends the reader back to the new snapshot; a
        damaged or missing one is rebuilt in memory from the catalog, with a warning."""
        families = self._families()
        for _ in range(5):
            gen, segs, dead = self.catalog.state()
            if self._vectors is not None and self._vectors[1] == gen:
                return self._vectors[0]
            loaded: dict[str, list] = {name: [] for name in families}
            damaged: set[str] = set()
            moved = False
            for seg in segs:
                fam = families.get(seg.family)
                if fam is None or seg.family in damaged:
                    continue
                try:
                    loaded[seg.family].append(read_segment(self.directory / seg.name, seg.checksum, fam))
                except IndexCorruptError as exc:
                    if self.catalog.generation != gen:
                        moved = True
                        break
                    log.warning("%s; rebuilding %s from the catalog in memory (run `lookalike rebuild`)",
                                exc, seg.family)
                    damaged.add(seg.family)
            if moved:
                continue
            out: dict[str, Any] = {}
            for name, fam in families.items():
                if name in damaged:
                    out[name] = LoadedFamily(fam, [Segment.build(fam, *self._catalog_vectors(name))], np.zeros(0, np.int64))
                else:
                    out[name] = LoadedFamily(fam, loaded[name], dead)
            self._vectors = (out, gen)
            return out
        raise IndexCorruptError(f"the segments of {self.directory} kept changing while being read")

    def search(self, query: ImageSource, k: int = 10, min_score: float | None = None, exact: bool = False
               ) -> list[SearchHit]:
        """Indexed images that look like ``query``, best first, each once with its best box.

        ``query``: an image file, a PIL image or an ``(H, W, 3) uint8`` array. ``min_score``
        (default :data:`DEFAULT_MIN_SCORE`) sets ``match``. Region boxes are located on
        draft-decoded pixels, and at full size where they can be exact (an unscaled crop);
        ``exact`` decodes every promising candidate at full size (slower). A query that cannot
        be read or used raises :class:`QueryError`."""
        threshold = _threshold(min_score)
        q = prepare_query(query, self.embedder())
        vectors = self._load_vectors()
        return Searcher(self.catalog, vectors[IMAGE_VECTORS], vectors[REGION_VECTORS], self._signal(vectors)).search(
            q, k=k, min_score=threshold, exact=exact)

    def search_regions(self, query: ImageSource, k: int = 10, min_score: float | None = None) -> list[RegionHit]:
        """Indexed pictures that share a region with any part of ``query`` (the reverse of a crop
        query: the query is the collage, the index holds the source), best first, each once
        with the box in the query and in the picture. Needs an index that keeps keypoints."""
        self._require_keypoints()
        threshold = REGION_MIN_NCC if min_score is None else _threshold(min_score)
        try:
            img = as_image(query)
        except ImageLoadError as exc:
            raise QueryError(f"cannot read query {query}: {exc.reason.value}", code="query-unreadable",
                             path=str(query), reason=exc.reason.value) from None
        qxy, qs, qh = picture_keypoints(img)
        kp, index = self._keypoint_index()
        if not len(qh) or index.ntotal == 0:
            return []
        dist, nn = index.search(np.ascontiguousarray(qh), NEIGHBOURS)
        qi = np.repeat(np.arange(len(qh)), NEIGHBOURS)
        dist, nn = dist.ravel(), nn.ravel()
        ok = (nn >= 0) & (dist <= MAX_HAMMING)
        qi, ki = qi[ok], nn[ok]
        owners = kp.owner[ki]
        meta = self.catalog.images_by_id(np.unique(owners).tolist())
        pixels = _PixelCache()

        def check(owner: int) -> RegionHit | None:
            sel = owners == owner
            other = functools.partial(pixels.get, meta[owner][0])
            found = verify_pair(img, other, qxy[qi[sel]], qs[qi[sel]], kp.xy[ki[sel]], kp.scale[ki[sel]], threshold)
            return None if found is None else RegionHit(meta[owner][0], found[0], found[1], round(found[2], 6))

        todo = [int(o) for o, n in zip(*np.unique(owners, return_counts=True)) if n >= MIN_INLIERS and int(o) in meta]
        hits = [h for h in run_jobs(check, todo) if h is not None]  # the candidates side by side
        hits.sort(key=lambda h: (-h.score, h.path))
        return hits[:k]

    def _require_keypoints(self) -> None:
        if not self.keeps_keypoints:
            raise IndexMismatchError(
                f"index at {self.directory} keeps no keypoints, which duplicate regions need: index its "
                f"folders again with keypoints (only the pictures are described again)",
                code="no-keypoints", directory=str(self.directory))

    def _keypoint_index(self) -> tuple[KeypointSet, Any]:
        """Every keypoint, and a FAISS binary index of their hashes (kept until the catalog changes)."""
        gen = self.catalog.generation
        if self._keypoints_cache is None or self._keypoints_cache[0] != gen:
            kp = self._keypoints()
            index = faiss.IndexBinaryFlat(HASH_BYTES * 8)
            if len(kp):
                index.add(np.ascontiguousarray(kp.hashes))
            self._keypoints_cache = (gen, kp, index)
        return self._keypoints_cache[1], self._keypoints_cache[2]

    def _signal(self, vectors: dict[str, Any]) -> EmbeddingSignal | None:
        emb = self.embedder()
        if emb is None:
            return None
        return EmbeddingSignal(emb, vectors[EMBEDDING_VECTORS], vectors[REGION_EMBEDDING_VECTORS])

    def duplicates(self, regions: bool = False, min_score: float | None = None, within: bool = False) -> DuplicateReport:
        """Groups of near-duplicate images and, with ``regions``, the pairs of images that share a
        region (a pasted patch, a reused photo, a crop), each with both boxes and a score; with
        ``within`` too, regions repeated inside one picture (copy-move). Pairs that are whole-image
        duplicates are reported as groups only."""
        threshold = _threshold(min_score)
        ids, vecs = self.catalog.image_vectors()
        meta = self.catalog.images_by_id(ids.tolist())
        sizes = np.array([(meta[i][1], meta[i][2]) for i in ids.tolist()]).reshape(-1, 2)
        info = np.array([meta[i][3] for i in ids.tolist()])
        rows = duplicate_groups(vecs.reshape(len(ids), DESCRIPTOR_DIM), sizes, info, threshold,
                                aspect_factor)
        vecs = vecs.reshape(len(ids), DESCRIPTOR_DIM)
        scored = sorted((sorted(meta[int(ids[r])][0] for r in g), _weakest_link(vecs[g], sizes[g])) for g in rows)
        groups = [g for g, _ in scored]
        pairs: list[RegionPair] = []
        if regions:
            self._require_keypoints()
            group_of = {int(ids[r]): gi for gi, g in enumerate(rows) for r in g}
            pairs = self._region_pairs(REGION_MIN_NCC if min_score is None else threshold, group_of, meta, within)
        return DuplicateReport(groups=groups, regions=pairs, scores=[s for _, s in scored])

    def _keypoints(self) -> KeypointSet:
        owners, xys, scales, hashes = [], [], [], []
        for image_id, blob in self.catalog.keypoint_blobs():
            xy, sc, h = unpack_keypoints(blob)
            owners.append(np.full(len(xy), image_id, np.int64))
            xys.append(xy)
            scales.append(sc)
            hashes.append(h)
        if not owners:
            return KeypointSet(np.zeros(0, np.int64), np.zeros((0, 2), np.float32), np.zeros(0, np.float32),
                               np.zeros((0, HASH_BYTES), np.uint8))
        return KeypointSet(np.concatenate(owners), np.concatenate(xys), np.concatenate(scales), np.concatenate(hashes))

    def _region_pairs(self, region_threshold: float, group_of: dict[int, int], meta: dict, within: bool) -> list[RegionPair]:
        """Region pairs from keypoint matches: candidates by hash keys, a scale + translation that
        enough of them agree on, both boxes refined on the pixels, scored with the descriptor."""
        kp = self._keypoints()
        i, j = candidate_matches(kp, within=within)
        # orient every match from the lower picture id to the higher; inside one picture, along
        # the shift (so all matches of one copy-move point the same way)
        d = kp.xy[j] - kp.xy[i]
        flip = (kp.owner[i] > kp.owner[j]) | ((kp.owner[i] == kp.owner[j]) & (
            (d[:, 0] < 0) | ((np.abs(d[:, 0]) < MIN_SHIFT_SCALES * kp.scale[i]) & (d[:, 1] < 0))))
        i, j = np.where(flip, j, i), np.where(flip, i, j)
        key = kp.owner[i] * (int(kp.owner.max(initial=0)) + 1) + kp.owner[j]
        order = np.argsort(key, kind="stable")
        key, i, j = key[order], i[order], j[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
        ends = np.r_[starts[1:], len(key)]
        enough = (ends - starts) >= MIN_INLIERS  # most pairs of pictures share a match or two by chance
        enough &= scales_could_agree(np.repeat(np.arange(len(starts)), ends - starts), kp.scale[i], kp.scale[j])
        starts, ends = starts[enough], ends[enough]
        fits = could_fit(starts, ends, kp.xy[i], kp.scale[i], kp.xy[j], kp.scale[j])  # the fit's first test, batched
        starts, ends = starts[fits], ends[fits]
        most = np.argsort(starts - ends, kind="stable")  # the best-supported pairs first
        pixels = _PixelCache()
        pairs: list[RegionPair] = []
        for s0, e0 in zip(starts[most].tolist(), ends[most].tolist()):
            ia, ib = int(kp.owner[i[s0]]), int(kp.owner[j[s0]])
            if ia != ib and ia in group_of and group_of.get(ib) == group_of[ia]:
                continue  # whole-image duplicates: a group, not a region pair
            mi, mj = i[s0:e0], j[s0:e0]
            found = verify_pair(functools.partial(pixels.get, meta[ia][0]), functools.partial(pixels.get, meta[ib][0]),
                                kp.xy[mi], kp.scale[mi], kp.xy[mj], kp.scale[mj], region_threshold,
                                same_picture=ia == ib)
            if found is None:
                continue
            box_a, box_b, score = found
            a, b = RegionRef(meta[ia][0], box_a), RegionRef(meta[ib][0], box_b)
            if (a.path, a.box) > (b.path, b.box):
                a, b = b, a
            pairs.append(RegionPair(a, b, round(score, 6)))
        pairs.sort(key=lambda p: (-p.score, p.a.path, p.a.box, p.b.path, p.b.box))
        return pairs

    def info(self) -> IndexInfo:
        counts = self.catalog.counts()
        segs = self.catalog.segments()

        def kind(family: str) -> str:
            mine = [s for s in segs if s.family == family]
            return max(mine, key=lambda s: s.count).kind if mine else "empty"

        return IndexInfo(
            directory=str(self.directory.resolve()), images=counts["images"], regions=counts["regions"],
            searchable_regions=counts["searchable_regions"], skipped=counts["skipped"], runs=counts["runs"],
            generation=self.catalog.generation, descriptor=DESCRIPTOR_VERSION,
            image_index=kind(IMAGE_VECTORS), region_index=kind(REGION_VECTORS), embedder=self.embedder_name,
            embedder_version=self.catalog.get_meta("embedder_version") or "", embedder_dim=self.embedder_dim,
            keypoints=self.keeps_keypoints, segments=len(segs), tile_code=self._tile_code(),
        )

    def _tile_code(self) -> str:
        scheme = json.loads(self.catalog.get_meta("tile_scheme"))  # (checked on open: this version's)
        return f"{scheme['code']} ({scheme['hash_bits']} bits)"

    def verify(self) -> VerifyReport:
        """Check the catalog's integrity and that the FAISS segments are intact and, tombstoned
        pictures left out, hold exactly the catalog's vectors, each once."""
        problems: list[str] = []
        ok = self.catalog.conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"catalog integrity check failed: {ok}")
        _, segs, dead = self.catalog.state()
        for name, fam in self._families().items():
            want_ids, want = self._catalog_vectors(name)
            got_ids, got = [], []
            before = len(problems)
            for seg in (s for s in segs if s.family == name):
                path = self.directory / seg.name
                if not path.exists():
                    problems.append(f"{name}: segment {seg.name} is missing (run `lookalike rebuild`)")
                    continue
                try:
                    i, v = read_segment(path, seg.checksum, fam).vectors()
                except IndexCorruptError as exc:
                    problems.append(f"{name}: {exc} (run `lookalike rebuild`)")
                    continue
                if len(i) != seg.count:
                    problems.append(f"{name}: segment {seg.name} holds {len(i)} vectors, the catalog says {seg.count}")
                keep = live_ids(fam, i, dead)
                got_ids.append(i[keep])
                got.append(v[keep])
            if len(problems) > before:
                continue  # the family's other checks would only repeat it
            ids = np.concatenate(got_ids) if got_ids else np.zeros(0, np.int64)
            if len(np.unique(ids)) != len(ids):
                problems.append(f"{name}: {len(ids) - len(np.unique(ids))} vectors are held twice")
                continue
            if not np.array_equal(np.sort(ids), np.sort(want_ids)):
                problems.append(f"{name}: the segments hold {len(ids)} vectors, the catalog has {len(want_ids)}")
                continue
            if len(ids):
                vectors = np.concatenate(got)[np.argsort(ids)]
                order = np.argsort(want_ids)
                if not np.array_equal(vectors.reshape(len(ids), -1), np.asarray(want)[order].reshape(len(ids), -1)):
                    problems.append(f"{name}: some vectors differ from the catalog's (run `lookalike rebuild`)")
        return VerifyReport(ok=not problems, problems=problems)


def _weakest_link(vectors: np.ndarray, sizes: np.ndarray) -> float:
    """The lowest, over a group's members, of a member's best aspect-adjusted score with another."""
    w, h = sizes[:, 0].astype(np.float64), sizes[:, 1].astype(np.float64)
    sims = (vectors @ vectors.T) * aspect_factor(w[:, None], h[:, None], w[None, :], h[None, :])
    np.fill_diagonal(sims, -1.0)
    return round(float(np.clip(sims.max(axis=1).min(), 0.0, 1.0)), 6)


def _threshold(min_score: float | None) -> float:
    threshold = DEFAULT_MIN_SCORE if min_score is None else float(min_score)
    if not 0.0 <= threshold <= 1.0:
        raise QueryError("min_score must be between 0 and 1", code="bad-min-score", value=threshold)
    return threshold


def _embed_records(embedder: Embedder, outcomes: list[DescribeOutcome]) -> list[ImageRecord]:
    """The outcomes' records with the whole-image and tile embeddings filled in (one forward
    pass per image, batched)."""
    boxes = [LoadedImage(o.embed_pixels, o.record.width, o.record.height).boxes_to_pixels(o.record.region_boxes)
             for o in outcomes]
    rows = embedder.embed_with_regions([o.embed_pixels for o in outcomes], boxes)
    return [dataclasses.replace(o.record, embedding=e[0], region_embeddings=e[1:]) for o, e in zip(outcomes, rows)]


class _PixelCache:
    """The last few images, decoded small, for confirming region pairs (shared by the threads
    that confirm them side by side)."""

    def __init__(self, size: int = 64, min_side: int = 256) -> None:
        self.size = size
        self.min_side = min_side
        self._items: dict[str, LoadedImage | None] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> LoadedImage | None:
        with self._lock:
            if path in self._items:
                return self._items[path]
        try:
            img: LoadedImage | None = load_image(path, min_side=self.min_side)
        except ImageLoadError as exc:
            log.warning("cannot confirm regions of %s: %s", path, exc)
            img = None
        with self._lock:
            while len(self._items) >= self.size:
                self._items.pop(next(iter(self._items)))
            self._items[path] = img
        return img
