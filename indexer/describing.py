"""From an image file to what the catalog stores: whole-image descriptor, tiles, hashes.

Files are described in worker processes (decode and pooling are CPU-bound); a decoder that
crashes a worker costs that one file, never the batch.
"""

from __future__ import annotations

__all__ = ["describe_file", "describe_files", "DescribeOutcome", "DECODE_MIN_SIDE"]

import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from lookalike.models.io.files import ScannedFile
from lookalike.models.io.images import DEFAULT_MAX_PIXELS, load_image, shrink_to_side

from .catalog import ImageRecord
from .descriptor import BASE, describe_boxes
from .errors import ImageLoadError, SkipReason
from .gridhash import GridHash, hash_vectors
from .keymatch import KEYPOINT_DECODE_MIN_SIDE, pack_keypoints, picture_keypoints
from .regions import TILE_FRACTIONS, tile_boxes
from .tilecode import tile_code

log = logging.getLogger(__name__)

#: Decoding at this shorter side is enough for the smallest tile to be described at BASE
#: (and at keymatch.KEYPOINT_DECODE_MIN_SIDE for keypoints).
DECODE_MIN_SIDE = int(BASE / min(TILE_FRACTIONS))


@dataclass(frozen=True)
class DescribeOutcome:
    """Either a record to store or the reason a file was skipped."""

    file: ScannedFile
    record: ImageRecord | None = None
    reason: str = ""
    detail: str = ""
    #: The pixels shrunk for an embedder (shorter side ``embed_side``), when one was asked for.
    embed_pixels: np.ndarray | None = None


def describe_file(file: ScannedFile, max_pixels: int = DEFAULT_MAX_PIXELS, embed_side: int = 0,
                  keypoints: bool = False) -> DescribeOutcome:
    """Decode once, describe the whole image and every tile (and, with ``keypoints``, find its
    keypoints). Never raises for a bad image. With ``embed_side``, also hand back the pixels
    shrunk for an embedder."""
    try:
        img = load_image(file.path, min_side=KEYPOINT_DECODE_MIN_SIDE if keypoints else DECODE_MIN_SIDE,
                         max_pixels=max_pixels)
    except ImageLoadError as exc:
        return DescribeOutcome(file, reason=exc.reason.value, detail=exc.detail)
    try:
        # shrunk as the embedder would shrink them itself (the query is embedded from full pixels)
        small = shrink_to_side(img.pixels, embed_side, smooth=True) if embed_side else None
        return DescribeOutcome(file, record=_record(file, img, keypoints), embed_pixels=small)
    except Exception as exc:  # a bug or an odd image costs this file, not the batch
        log.exception("cannot describe %s", file.path)
        return DescribeOutcome(file, reason=SkipReason.UNREADABLE.value, detail=f"cannot describe: {exc}")


def _record(file: ScannedFile, img, keypoints: bool = False) -> ImageRecord:
    whole = np.array([[0, 0, img.width, img.height]], dtype=np.int64)
    tiles = tile_boxes(img.width, img.height)
    desc = describe_boxes(img.pixels, img.width, img.height, np.concatenate([whole, tiles]))
    hashes = hash_vectors(desc.vectors[:1])
    return ImageRecord(
        keypoints=pack_keypoints(*picture_keypoints(img)) if keypoints else b"",
        path=file.path,
        size=file.size,
        mtime_ns=file.mtime_ns,
        width=img.width,
        height=img.height,
        vector=desc.vectors[0],
        hash_hex=GridHash(hashes[0]).hex(),
        info=float(desc.info[0]),
        region_boxes=tiles,
        region_hashes=tile_code().encode(desc.vectors[1:]),
        region_low_info=desc.low_info[1:],
    )


Describe = Callable[[ScannedFile, int], DescribeOutcome]


def _describe_chunk(files: list[ScannedFile], max_pixels: int, describe: Describe) -> list[DescribeOutcome]:
    return [describe(f, max_pixels) for f in files]


def _crashed(file: ScannedFile) -> DescribeOutcome:
    return DescribeOutcome(file, reason=SkipReason.UNREADABLE.value, detail="the decoder crashed on this file")


def describe_files(
    files: list[ScannedFile], workers: int | None = None, max_pixels: int = DEFAULT_MAX_PIXELS,
    chunk: int = 8, describe: Describe = describe_file,
) -> Iterator[DescribeOutcome]:
    """Describe ``files`` (in no particular order) with ``workers`` processes (default: one
    per CPU; 1 describes in this process). ``describe`` must be a module-level function."""
    workers = workers or min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(files) <= chunk:
        for f in files:
            yield describe(f, max_pixels)
        return
    chunks = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    yield from _pooled(chunks, workers, max_pixels, describe)


#: Thread-pool variables of OpenMP, OpenBLAS, MKL, Accelerate and numexpr.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                "NUMEXPR_NUM_THREADS")


@contextlib.contextmanager
def _one_thread_per_worker() -> Iterator[None]:
    """Worker processes started inside this block run their math libraries on one thread each
    (unless the user set these variables): the pool already has one worker per core, and
    letting every worker's BLAS start a thread per core as well made indexing twice as slow.
    Spawned processes read the environment when they start; this process is not affected."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for k, v in saved.items():
        if v is None:
            os.environ[k] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)


def _pooled(chunks: list[list[ScannedFile]], workers: int, max_pixels: int, describe: Describe) -> Iterator[DescribeOutcome]:
    ctx = multiprocessing.get_context("spawn")
    pending = list(reversed(chunks))
    while pending:
        suspects: list[ScannedFile] = []
        with _one_thread_per_worker(), ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            running: dict[Future, list[ScannedFile]] = {}
            try:
                while pending or running:
                    while pending and len(running) < workers * 3:
                        c = pending.pop()
                        running[pool.submit(_describe_chunk, c, max_pixels, describe)] = c
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for fut in done:
                        results = fut.result()  # raises BrokenProcessPool if a worker died
                        del running[fut]
                        yield from results
            except BrokenProcessPool:
                # a worker died (a decoder crash): the files in flight are suspects, each
                # redone alone; the rest go on in a fresh pool
                for c in running.values():
                    suspects.extend(c)
        for f in suspects:
            yield _describe_isolated(f, max_pixels, describe)


def _describe_isolated(file: ScannedFile, max_pixels: int, describe: Describe) -> DescribeOutcome:
    ctx = multiprocessing.get_context("spawn")
    try:
        with _one_thread_per_worker(), ProcessPoolExecutor(1, mp_context=ctx) as pool:
            return pool.submit(describe, file, max_pixels).result()
    except BrokenProcessPool:
        log.warning("decoder crashed on %s", file.path)
        return _crashed(file)
