"""Derived FAISS indexes: built, written atomically, verified on open.

Whole-image descriptors and embeddings are searched by inner product (= cosine), tile hashes
by Hamming distance. An index is exact (flat) up to a size threshold and approximate (HNSW,
or a binary IVF) beyond it. Ids are mapped without a reverse map (``IndexIDMap``): readers
find a vector by its id themselves (:class:`.segments.LoadedFamily`). Nothing here is a source
of truth: any file can be deleted and rebuilt from SQLite (:mod:`.segments` says which files).
"""

from __future__ import annotations

__all__ = [
    "APPROXIMATE_IMAGES",
    "APPROXIMATE_REGIONS",
    "build_image_index",
    "build_region_index",
    "write_index_file",
    "approximate_kind",
    "set_search_effort",
    "read_index_file",
    "checksum",
]

import hashlib
import logging
import os
from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorruptError

log = logging.getLogger(__name__)

#: Beyond this many whole images, a segment of image vectors is HNSW instead of flat.
APPROXIMATE_IMAGES = 200_000
#: Beyond this many searchable tiles, a segment of tile hashes is a binary IVF instead of flat.
APPROXIMATE_REGIONS = 3_000_000
HNSW_NEIGHBOURS = 32
HNSW_EF_SEARCH = 128
IVF_NPROBE = 48


def build_image_index(ids: np.ndarray, vectors: np.ndarray, dim: int, approximate_above: int = APPROXIMATE_IMAGES) -> faiss.Index:
    """An ID-mapped inner-product index over ``vectors`` ``(N, dim) float32`` (unit rows)."""
    if len(ids) > approximate_above:
        base = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 80
        base.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        base = faiss.IndexFlatIP(dim)
    index = faiss.IndexIDMap(base)
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, np.float32), np.ascontiguousarray(ids, np.int64))
    return index


def build_region_index(ids: np.ndarray, hashes: np.ndarray, bits: int, approximate_above: int = APPROXIMATE_REGIONS) -> faiss.IndexBinary:
    """An ID-mapped Hamming index over ``hashes`` ``(R, bits // 8) uint8``: flat, or an
    inverted file (IVF, Hamming k-means cells) beyond ``approximate_above`` tiles."""
    n = len(ids)
    if n > approximate_above:
        nlist = int(max(1, min(4096, 4 * np.sqrt(n), n // 39 or 1)))
        base = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(bits), bits, nlist)
        rng = np.random.default_rng(0)
        sample = hashes[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        base.train(np.ascontiguousarray(sample, np.uint8))
        base.nprobe = min(nlist, IVF_NPROBE)
    else:
        base = faiss.IndexBinaryFlat(bits)
    index = faiss.IndexBinaryIDMap(base)
    if n:
        index.add_with_ids(np.ascontiguousarray(hashes, np.uint8), np.ascontiguousarray(ids, np.int64))
    if isinstance(base, faiss.IndexBinaryIVF):
        base.make_direct_map()
    return index


def _inner(index: faiss.Index | faiss.IndexBinary):
    if isinstance(index, faiss.IndexBinary):
        return faiss.downcast_IndexBinary(index.index)
    return faiss.downcast_index(index.index)


def approximate_kind(index: faiss.Index | faiss.IndexBinary) -> str:
    name = type(_inner(index)).__name__
    return "hnsw" if "HNSW" in name else "ivf" if "IVF" in name else "flat"


def set_search_effort(index: faiss.Index | faiss.IndexBinary) -> None:
    inner = _inner(index)
    if hasattr(inner, "hnsw"):
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    if hasattr(inner, "nprobe"):
        inner.nprobe = min(inner.nlist, IVF_NPROBE)
        inner.make_direct_map()


def checksum(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def _serialize(index: faiss.Index | faiss.IndexBinary) -> bytes:
    if isinstance(index, faiss.IndexBinary):
        return faiss.serialize_index_binary(index).tobytes()
    return faiss.serialize_index(index).tobytes()


def write_index_file(index: faiss.Index | faiss.IndexBinary, path: Path) -> str:
    """Write ``index`` to ``path`` atomically (temp file, fsync, rename, fsync dir); returns its
    checksum, to be recorded in the catalog."""
    data = _serialize(index)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return checksum(data)


def read_index_file(path: Path, expected_checksum: str, binary: bool) -> faiss.Index | faiss.IndexBinary:
    """Read a derived index, refusing it unless its checksum is the recorded one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path}: {exc.strerror or exc}") from None
    if checksum(data) != expected_checksum:
        raise IndexCorruptError(f"{path} does not match its recorded checksum")
    arr = np.frombuffer(data, dtype=np.uint8)
    try:
        index = faiss.deserialize_index_binary(arr) if binary else faiss.deserialize_index(arr)
    except RuntimeError as exc:
        raise IndexCorruptError(f"{path} is not a readable FAISS index: {exc}") from None
    set_search_effort(index)
    return index
