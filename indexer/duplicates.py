"""Near-duplicate groups: FAISS range search + union-find (duplicate regions: keymatch.py)."""

from __future__ import annotations

__all__ = ["UnionFind", "duplicate_groups"]

from typing import Callable

import faiss
import numpy as np


from .descriptor import LOW_INFO_THRESHOLD, dihedral_variants
from .fusion import GRID_ORIENTATION_MARGIN, orientation_excess, orientation_needs

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
    aspect: Callable[[float, float, float, float], float],
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
                needs = orientation_needs(variants @ vectors[a], None, GRID_ORIENTATION_MARGIN)
                if orientation_excess((variants @ vectors[b])[None], None, needs)[0] < 0:
                    continue
                uf.union(a, b)
    return sorted((sorted(g) for g in uf.groups()), key=lambda g: g[0])
