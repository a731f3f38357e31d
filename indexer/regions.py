"""Which boxes of an image are indexed: the whole image and overlapping square tiles."""

from __future__ import annotations

__all__ = [
    "TILE_FRACTIONS", "TILE_STRIDE", "TILE_SCHEME", "TILE_HASH_BITS", "TILE_ID_BITS", "tile_boxes", "tile_boxes_at", "tile_ids", "split_tile_ids",
    "query_windows", "inner_windows", "search_windows",
]

import json

import numpy as np

from .tilecode import TILE_CODE, TILE_CODE_BITS

#: Tile sides as fractions of the image's shorter side (three or more scales, down to 1/4).
TILE_FRACTIONS = (1.0, 1 / 2, 1 / 3, 1 / 4)
#: Step between neighbouring tiles, as a fraction of the tile side.
TILE_STRIDE = 1 / 3
#: Tiles smaller than this many original pixels are not indexed (too little to see).
MIN_TILE = 16


#: The tile geometry and the tile code, recorded in an index's ``meta`` (``tile_scheme``): tiles
#: are not stored box by box but derived from a picture's size with this scheme, so an index made
#: with another scheme (or another code) is refused (re-index needed).
#: Bits of a tile's code (indexer/tilecode.py): 128 bits of a fitted projection rank crops as well
#: as the 256 SimHash bits before them (bench/tilecode.py --compare).
TILE_HASH_BITS = TILE_CODE_BITS
TILE_SCHEME = json.dumps({"name": "square-grid-v1", "fractions": [round(f, 6) for f in TILE_FRACTIONS],
                          "stride": round(TILE_STRIDE, 6), "min_tile": MIN_TILE, "hash_bits": TILE_HASH_BITS,
                          "code": TILE_CODE}, sort_keys=True)
#: A tile's id in the FAISS files is ``image_id << TILE_ID_BITS | its index in tile_boxes``.
TILE_ID_BITS = 16


def tile_ids(image_id: int, index: np.ndarray) -> np.ndarray:
    """``(n,) int64`` ids of tiles number ``index`` of picture ``image_id``."""
    return (np.int64(image_id) << TILE_ID_BITS) | np.asarray(index, np.int64)


def split_tile_ids(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(image ids, tile numbers)`` of tile ids."""
    ids = np.asarray(ids, np.int64)
    return ids >> TILE_ID_BITS, ids & ((1 << TILE_ID_BITS) - 1)


def _positions(length: int, side: int, step: float) -> np.ndarray:
    if side >= length:
        return np.array([0])
    n = int(np.ceil((length - side) / step)) + 1
    return np.rint(np.linspace(0, length - side, n)).astype(np.int64)


def _levels(width: int, height: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Each tile scale of a ``width`` x ``height`` image: ``(xs, ys, side)``, in tile order,
    leaving out a scale whose only tile would be the image itself (a square image's full side)."""
    short = min(width, height)
    out = []
    for f in TILE_FRACTIONS:
        side = int(round(short * f))
        if side < MIN_TILE or side == width == height:
            continue
        step = max(1.0, side * TILE_STRIDE)
        out.append((_positions(width, side, step), _positions(height, side, step), side))
    return out


def tile_boxes(width: int, height: int) -> np.ndarray:
    """``(N, 4) int64`` square tiles ``x, y, w, h`` covering the image at each scale, evenly
    spread so the first and last tile of each row touch the image's edges. Excludes the whole
    image itself (a square image's full-size tile is the image)."""
    out = []
    for xs, ys, side in _levels(int(width), int(height)):
        gx, gy = np.meshgrid(xs, ys)
        out.append(np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, side), np.full(gx.size, side)], 1))
    return np.concatenate(out).astype(np.int64) if out else np.zeros((0, 4), np.int64)


def tile_boxes_at(width: int, height: int, numbers: np.ndarray) -> np.ndarray:
    """``tile_boxes(width, height)[numbers]`` without making every box (``-1`` rows for a
    number past the last tile)."""
    numbers = np.asarray(numbers, np.int64)
    levels = _levels(int(width), int(height))
    counts = np.array([len(xs) * len(ys) for xs, ys, _ in levels], np.int64)
    first = np.r_[0, np.cumsum(counts)]
    out = np.full((len(numbers), 4), -1, np.int64)
    level = np.searchsorted(first, numbers, side="right") - 1
    for li, (xs, ys, side) in enumerate(levels):
        sel = (level == li) & (numbers < first[-1])
        k = numbers[sel] - first[li]
        out[sel] = np.stack([xs[k % len(xs)], ys[k // len(xs)], np.full(len(k), side), np.full(len(k), side)], 1)
    return out


def query_windows(width: int, height: int) -> np.ndarray:
    """Square windows of a query, to compare with square tiles: the whole query when it is
    nearly square, else squares of its shorter side slid along the longer one."""
    short, long_ = min(width, height), max(width, height)
    if long_ <= short * 1.25:
        return np.array([[0, 0, width, height]], dtype=np.int64)
    pos = _positions(long_, short, short / 2)
    if width >= height:
        return np.stack([pos, np.zeros_like(pos), np.full_like(pos, short), np.full_like(pos, short)], 1)
    return np.stack([np.zeros_like(pos), pos, np.full_like(pos, short), np.full_like(pos, short)], 1)


#: Inner windows of a query: this fraction of its shorter side...
INNER_FRACTION = 2 / 3
#: ...slid by this fraction of the window's side.
INNER_STRIDE = 1 / 6


def inner_windows(width: int, height: int) -> np.ndarray:
    """Squares of 2/3 of the query's shorter side slid over it. A query that is a large part
    of an indexed image (a 25% trim, say: 3/4 of its side) has no tile of its own size; its
    inner windows are the size of that image's half-side tiles."""
    side = int(round(min(width, height) * INNER_FRACTION))
    if side < MIN_TILE:
        return np.zeros((0, 4), np.int64)
    step = max(1.0, side * INNER_STRIDE)
    xs, ys = _positions(width, side, step), _positions(height, side, step)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, side), np.full(gx.size, side)], 1)


def search_windows(width: int, height: int) -> np.ndarray:
    """Every window of a query matched against tiles: :func:`query_windows`, then
    :func:`inner_windows`."""
    return np.concatenate([query_windows(width, height), inner_windows(width, height)]).astype(np.int64)
