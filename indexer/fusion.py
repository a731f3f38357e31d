"""The learned signal beside the color grid: the query's embeddings and how scores are fused.

With an embedder, every comparison yields two cosines: the color grid's ``g`` and the
embedder's ``e``. They are fused into the one score users see (:func:`fuse`), for the upright
query and for each of its 12 rotated, mirrored and channel-swapped variants, and the
orientation check runs on the fused scores: a hit is refused when a transformed query
explains it better than the upright one.
"""

from __future__ import annotations

__all__ = [
    "EmbeddingSignal", "QueryEmbeddings", "embed_query", "fuse", "GRID_WEIGHT",
    "FUSED_ORIENTATION_MARGIN", "GRID_ORIENTATION_MARGIN", "SAME_VARIANT", "orientation_needs", "orientation_excess",
]

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lookalike.models.io.images import LoadedImage, resize_pixels
from lookalike.models.orientation import orientation_variants

from .regions import TILE_FRACTIONS, search_windows

if TYPE_CHECKING:  # pragma: no cover
    from lookalike.models.embed.embedding import Embedder

#: Weight of the color grid in the fused score (the embedder has the rest). Equal weights,
#: chosen before measuring and not tuned: on held-out photos both cosines of a hard edit's
#: source sit near 0.9-1.0 and those of other photos near 0.5-0.65 (bench/embed_quality.py).
GRID_WEIGHT = 0.5
#: With an embedder, a hit is a match only when the upright query's fused score beats that of
#: every rotated, mirrored or channel-swapped variant by at least this much.
FUSED_ORIENTATION_MARGIN = 0.02
#: With the color grid alone, the upright query must not lose to any variant that differs from
#: it. It used to be allowed to lose by 0.01, and then by 0.002: both let channel-swapped logos
#: and charts through (bench/quality.py per category), where a copy of a nearly symmetric
#: picture may now be refused instead.
GRID_ORIENTATION_MARGIN = 0.0


def fuse(grid: np.ndarray | float, embedding: np.ndarray | float | None) -> np.ndarray:
    """The fused score from the grid's and the embedder's cosines (broadcasting); the grid's
    alone when there is no embedding."""
    g = np.asarray(grid, np.float64)
    if embedding is None:
        return g
    return GRID_WEIGHT * g + (1.0 - GRID_WEIGHT) * np.asarray(embedding, np.float64)


#: Without the pixels to tell (duplicates compare stored vectors), a variant whose fused
#: similarity to the upright query is above ``1 - SAME_VARIANT`` counts as the same picture.
SAME_VARIANT = 0.002


def orientation_needs(grid_self: np.ndarray, embed_self: np.ndarray | None, least: float,
                      same: np.ndarray | None = None) -> np.ndarray:
    """How much the upright query must beat each of its variants on a hit to be a match.

    ``grid_self``, ``embed_self``: ``(V,)`` similarities of the query's variants (upright first)
    to the upright query. ``least``: the margin asked of a variant that clearly differs
    (negative: a tolerance). A variant only ``d`` away from the upright query is asked for at
    most ``d / 2`` (a hit must be nearer the upright query than the variant). A variant that is
    the same picture (``same``, ``(V - 1,) bool`` from
    :func:`lookalike.models.orientation.same_variants`; without it, ``d < SAME_VARIANT``) is not
    asked anything. Returns ``(V - 1,)``, ``-inf`` where nothing is asked."""
    d = 1.0 - fuse(np.asarray(grid_self)[1:], None if embed_self is None else np.asarray(embed_self)[1:])
    need = np.minimum(least, d / 2.0)
    skip = d < SAME_VARIANT if same is None else np.asarray(same, bool)
    return np.where(skip, -np.inf, need)


def orientation_excess(grid_sims: np.ndarray, embed_sims: np.ndarray | None, needs: np.ndarray) -> np.ndarray:
    """``(M, V)`` similarities of M candidates to the query's variants (upright first) and the
    ``(V - 1,)`` needs of :func:`orientation_needs` -> ``(M,)``: by how much the upright query's
    fused score beats every variant beyond what is asked; a candidate passes when it is >= 0."""
    f = fuse(grid_sims, embed_sims)
    return (f[:, :1] - f[:, 1:] - needs[None, :]).min(axis=1)


@dataclass(frozen=True)
class QueryEmbeddings:
    """A query through the embedder: ``variants (13, E)`` (upright first, same order as the
    grid's variants), and ``window_vectors (M, E)`` of its square ``windows (M, 4)`` (query
    pixels), embedded at the scales of the index's 1/2, 1/3 and 1/4 tiles."""

    variants: np.ndarray
    windows: np.ndarray
    window_vectors: np.ndarray


def embed_query(embedder: Embedder, img: LoadedImage) -> QueryEmbeddings:
    pixels = img.pixels
    variants = embedder.embed(orientation_variants(pixels))
    wins = search_windows(img.width, img.height).astype(np.float64)
    px_wins = img.boxes_to_pixels(wins)
    rows, boxes = [], []
    for f in TILE_FRACTIONS[1:]:
        side = max(8, round(embedder.input_side * f))
        rows.append(embedder.embed_with_regions([pixels], [px_wins], side=side)[0][1:])
        boxes.append(wins)
    return QueryEmbeddings(variants, np.concatenate(boxes), np.concatenate(rows))


@dataclass
class EmbeddingSignal:
    """An index's embedder with its two FAISS indexes (whole images, tiles)."""

    embedder: Any
    images: Any
    regions: Any

    def box_sims(self, img: LoadedImage, box: tuple[int, int, int, int], query: QueryEmbeddings,
                 size: tuple[int, int]) -> np.ndarray:
        """``(V,)`` cosines of the query's variants to ``box`` (original pixels of ``img``), cut
        out and embedded alone at the query's size."""
        pixels, k = img.pixels, img.scale
        x, y, w, h = box
        crop = pixels[int(y * k): int(np.ceil((y + h) * k)), int(x * k): int(np.ceil((x + w) * k))]
        if crop.size == 0:
            return np.zeros(len(query.variants))
        crop = resize_pixels(np.ascontiguousarray(crop), max(1, size[0]), max(1, size[1]), smooth=True)
        return query.variants @ self.embedder.embed([crop])[0]
