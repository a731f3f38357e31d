"""Near-duplicate groups (FAISS range search + union-find) and duplicate regions."""

from __future__ import annotations

__all__ = ["UnionFind", "duplicate_groups", "duplicate_regions", "REGION_MIN_FRACTION"]

import math
from typing import Callable

import faiss
import numpy as np

from lookalike.models.io.images import LoadedImage

from .descriptor import LOW_INFO_THRESHOLD, dihedral_variants
from .gridhash import HASH_BITS

#: ``dupes --regions`` compares tiles at least this share of their image's shorter side
#: (all-pairs over the finest tiles would be quadratic in millions of tiles).
REGION_MIN_FRACTION = 0.45
_BATCH = 4096


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, a: int) -> int:
        p = self.parent
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def duplicate_groups(
    vectors: np.ndarray, sizes: np.ndarray, info: np.ndarray, min_score: float,
    orientation_tolerance: float, aspect: Callable[[float, float, float, float], float],
) -> list[list[int]]:
    """Row-index groups of near-duplicates among ``vectors`` ``(N, D)`` (unit rows).

    Pairs come from an exact inner-product range search in batches (never an N x N matrix);
    a pair joins when its aspect-adjusted score reaches ``min_score``, neither image is low
    information, and neither is more like a rotated or mirrored version of the other."""
    n = len(vectors)
    uf = UnionFind(n)
    if n < 2:
        return []
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, np.float32))
    # the range radius is the raw cosine; aspect and orientation checks only remove pairs
    for start in range(0, n, _BATCH):
        lims, sims, ids = index.range_search(np.ascontiguousarray(vectors[start:start + _BATCH]), float(min_score))
        for qi in range(len(lims) - 1):
            a = start + qi
            if info[a] < LOW_INFO_THRESHOLD:
                continue
            for s, b in zip(sims[lims[qi]:lims[qi + 1]].tolist(), ids[lims[qi]:lims[qi + 1]].tolist()):
                if b <= a or info[b] < LOW_INFO_THRESHOLD:
                    continue
                if s * aspect(sizes[a][0], sizes[a][1], sizes[b][0], sizes[b][1]) < min_score:
                    continue
                variants = dihedral_variants(vectors[a:a + 1])[:, 0]
                sims_v = variants @ vectors[b]
                if sims_v[1:].max() - sims_v[0] > orientation_tolerance:
                    continue
                uf.union(a, b)
    return sorted((sorted(g) for g in uf.groups()), key=lambda g: g[0])


def duplicate_regions(
    region_ids: np.ndarray, hashes: np.ndarray, owners: np.ndarray, min_score: float,
    same_group: Callable[[int, int], bool],
) -> list[tuple[int, int, float]]:
    """Best pair of duplicate tiles for each pair of different images: ``(region_a, region_b,
    score)`` with the score estimated from the Hamming distance of the hashes. Tiles of one
    image never pair with each other; image pairs that ``same_group`` says are whole-image
    duplicates are left out (every tile of theirs would pair)."""
    if len(region_ids) < 2:
        return []
    radius = int(math.floor(HASH_BITS * math.acos(min(1.0, min_score)) / math.pi)) + 1
    index = faiss.IndexBinaryFlat(hashes.shape[1] * 8)
    index.add(np.ascontiguousarray(hashes))
    best: dict[tuple[int, int], tuple[int, int, int]] = {}
    for start in range(0, len(region_ids), _BATCH):
        lims, dist, idx = index.range_search(np.ascontiguousarray(hashes[start:start + _BATCH]), radius)
        for qi in range(len(lims) - 1):
            a = start + qi
            for d, b in zip(dist[lims[qi]:lims[qi + 1]].tolist(), idx[lims[qi]:lims[qi + 1]].tolist()):
                oa, ob = int(owners[a]), int(owners[b])
                if oa >= ob or same_group(oa, ob):
                    continue
                key = (oa, ob)
                if key not in best or d < best[key][0]:
                    best[key] = (d, a, b)
    out = [(int(region_ids[a]), int(region_ids[b]), math.cos(math.pi * d / HASH_BITS)) for d, a, b in best.values()]
    return sorted(out, key=lambda t: -t[2])


#: Aligned pixels of two duplicate regions must correlate at least this much (NCC).
REGION_MIN_NCC = 0.7


def confirm_region_pair(
    a: LoadedImage, box_a: tuple[int, int, int, int], b: LoadedImage, box_b: tuple[int, int, int, int],
) -> tuple[tuple[int, int, int, int], float] | None:
    """Check a candidate pair of tiles on pixels. The central part of ``box_a`` is located in
    a neighbourhood of ``box_b`` by NCC (tiles of two images sit on different grids), and the
    aligned box is scored with the descriptor. Returns ``(aligned box in b, score)``, or None
    when the pixels do not agree. Boxes are in the images' original pixels."""
    from lookalike.models.ops.crop import find_crop  # torch only when confirming

    from .descriptor import describe_boxes

    pix_a, pix_b = a.pixels, b.pixels
    sa, sb = a.scale, b.scale
    ax, ay, aw, ah = box_a
    inner = 0.15
    ia = pix_a[int(round((ay + ah * inner) * sa)): int(round((ay + ah * (1 - inner)) * sa)),
               int(round((ax + aw * inner) * sa)): int(round((ax + aw * (1 - inner)) * sa))]
    bx, by, bw, bh = box_b
    scale = (bw / aw) * (sb / sa)
    pad = 0.35
    x0, y0 = max(0, int((bx - bw * pad) * sb)), max(0, int((by - bh * pad) * sb))
    x1 = min(pix_b.shape[1], int(np.ceil((bx + bw * (1 + pad)) * sb)))
    y1 = min(pix_b.shape[0], int(np.ceil((by + bh * (1 + pad)) * sb)))
    region = pix_b[y0:y1, x0:x1]
    if ia.size == 0 or region.size == 0:
        return None
    try:
        m = find_crop(region, ia, top_k=1, scales=[scale])[0]
    except ValueError:
        return None
    if m.score < REGION_MIN_NCC:
        return None
    # map the inner crop's position back to the full tile, in b's original pixels
    mx, my, mw, mh = m.box
    full_w, full_h = mw / (1 - 2 * inner), mh / (1 - 2 * inner)
    fx = (x0 + mx - full_w * inner) / sb
    fy = (y0 + my - full_h * inner) / sb
    fw, fh = full_w / sb, full_h / sb
    fx, fy = max(0.0, fx), max(0.0, fy)
    fw, fh = min(fw, b.width - fx), min(fh, b.height - fy)
    aligned = (int(round(fx)), int(round(fy)), max(1, int(round(fw))), max(1, int(round(fh))))
    da = describe_boxes(pix_a, a.width, a.height, np.array([box_a]))
    db = describe_boxes(pix_b, b.width, b.height, np.array([aligned]))
    if da.low_info[0] or db.low_info[0]:
        return None
    return aligned, float(np.clip(da.vectors[0] @ db.vectors[0], 0.0, 1.0))
