"""Search by example: a whole image or a crop against whole images and tiles.

1. Whole-image candidates come from ``images.faiss`` (cosine of descriptors, with a penalty
   when the aspect ratios differ).
2. Region candidates come from ``regions.faiss``: the query's square windows are hashed and
   matched against tile hashes; each candidate image gets a predicted box.
3. Region candidates are refined with :func:`lookalike.models.find_crop` on the candidate's
   pixels (exact to the pixel for an unscaled crop) and re-scored with the descriptor of the
   refined box, so every score means the same thing whatever produced it.
4. A hit is a ``match`` when its score reaches the threshold and the upright query beats its
   own rotations, mirrors and channel swaps on that hit (the orientation check).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MIN_SCORE", "PreparedQuery", "prepare_query", "Searcher", "aspect_factor", "EmbeddingSignal"]

import logging
import os
from dataclasses import dataclass

import numpy as np

from lookalike.models.orientation import same_variants
from lookalike.models.io.images import ImageSource, LoadedImage, as_image, load_image, resize_pixels, shrink_to_side

from .catalog import Catalog
from .descriptor import LOW_INFO_THRESHOLD, channel_variants, describe_boxes, dihedral_variants
from .errors import ImageLoadError, QueryError
from .fusion import (FUSED_ORIENTATION_MARGIN, GRID_ORIENTATION_MARGIN, EmbeddingSignal, QueryEmbeddings, embed_query, fuse, orientation_excess,
                     orientation_needs)
from .gridhash import hash_vectors
from .regions import TILE_HASH_BITS, search_windows
from .results import Box, SearchHit

log = logging.getLogger(__name__)

#: Calibrated on the quality protocol (bench/quality.py): positives score >= 0.94, the
#: orientation check removes rotated/mirrored/recolored look-alikes.
DEFAULT_MIN_SCORE = 0.90
ASPECT_TOLERANCE = 0.05
ASPECT_PENALTY = 2.0
#: Region candidates further than this share of TILE_HASH_BITS are not worth refining.
MAX_REGION_HAMMING = round(TILE_HASH_BITS * 100 / 256)
#: A predicted box covering this share of a candidate is left to the whole-image comparison.
WHOLE_SHARE = 0.8
#: Candidates are first located on images decoded at about this shorter side...
COARSE_SIDE = 256
#: ...with the query at most this many pixels on its shorter side...
COARSE_QUERY_SIDE = 96
#: ...and only those scoring within this of the threshold are refined at full size.
COARSE_SLACK = 0.12
#: With an embedder, this many more images (nearest by tile embeddings) are refined.
EMBEDDED_REGION_CANDIDATES = 4


@dataclass(frozen=True)
class PreparedQuery:
    path: str
    image: LoadedImage
    vector: np.ndarray  # (D,)
    variants: np.ndarray  # (V, D): upright first, then dihedral and channel variants
    windows: np.ndarray  # (n, 4) square windows of the query
    window_hashes: np.ndarray  # (n, TILE_HASH_BITS // 8)
    info: float
    small: np.ndarray  # (h, w, 3) uint8, the query shrunk for the coarse location step
    same: np.ndarray  # (V - 1,) bool: which variants leave the query's pixels as they are
    embedded: QueryEmbeddings | None = None  # with an embedder


def prepare_query(query: ImageSource, embedder=None) -> PreparedQuery:
    """Decode a query (a file, a PIL image or pixels) at full size and describe it (and embed
    it, given an embedder). A query that cannot be read raises :class:`QueryError`."""
    path = str(query) if isinstance(query, (str, os.PathLike)) else "<image>"
    try:
        img = as_image(query)
    except ImageLoadError as exc:
        raise QueryError(f"cannot read query {path}: {exc.reason.value}" + (f" ({exc.detail})" if exc.detail else ""),
                         code="query-unreadable", path=path, reason=exc.reason.value) from None
    whole = np.array([[0, 0, img.width, img.height]])
    desc = describe_boxes(img.pixels, img.width, img.height, whole)
    variants = np.concatenate(
        [dihedral_variants(desc.vectors)[:, 0], channel_variants(img.pixels, img.width, img.height, whole)[:, 0]]
    )
    windows = search_windows(img.width, img.height)
    wdesc = describe_boxes(img.pixels, img.width, img.height, windows)
    return PreparedQuery(
        path=path, image=img, vector=desc.vectors[0], variants=variants, windows=windows,
        window_hashes=hash_vectors(wdesc.vectors, TILE_HASH_BITS), info=float(desc.info[0]),
        small=shrink_to_side(img.pixels, COARSE_QUERY_SIDE), same=same_variants(img.pixels),
        embedded=embed_query(embedder, img) if embedder is not None else None,
    )


def _at_most(img: LoadedImage, side: int) -> LoadedImage:
    """``img`` with its decoded pixels shrunk so the shorter side is at most 1.5 x ``side``."""
    if min(img.pixels.shape[:2]) <= side * 1.5:
        return img
    return LoadedImage(shrink_to_side(img.pixels, side), img.width, img.height)


def aspect_factor(qw: float, qh: float, cw: float, ch: float) -> float:
    """1 when aspect ratios agree (within 5%), falling off as they diverge. Takes numbers, or
    arrays that broadcast (the factor of each pair)."""
    d = np.abs(np.log((qw / qh) / (cw / ch)))
    return np.exp(-ASPECT_PENALTY * np.maximum(0.0, d - ASPECT_TOLERANCE))


@dataclass
class _Candidate:
    image_id: int
    score: float
    box: Box
    match: bool
    kind: str


class Searcher:
    """Runs queries against one catalog and its two FAISS indexes."""

    def __init__(self, catalog: Catalog, image_index, region_index, signal: EmbeddingSignal | None = None) -> None:
        self.catalog = catalog
        self.image_index = image_index
        self.region_index = region_index
        self.signal = signal
        # what the upright query must beat its clearly different variants by (fusion.py)
        self._least_margin = GRID_ORIENTATION_MARGIN if signal is None else FUSED_ORIENTATION_MARGIN

    def _needs(self, q: PreparedQuery) -> np.ndarray:
        """What the orientation check asks of each of this query's variants (see
        :func:`~lookalike.indexer.fusion.orientation_needs`)."""
        esims = None if q.embedded is None else q.embedded.variants @ q.embedded.variants[0]
        return orientation_needs(q.variants @ q.vector, esims, self._least_margin, q.same)

    def search(self, q: PreparedQuery, k: int = 10, min_score: float = DEFAULT_MIN_SCORE) -> list[SearchHit]:
        if k < 1:
            raise QueryError("k must be at least 1")
        if (self.signal is None) != (q.embedded is None):
            raise QueryError("the query was prepared for another embedder than this index's")
        best: dict[int, _Candidate] = {}
        meta: dict[int, tuple[str, int, int]] = {}
        for cand in self._whole_image_hits(q, k, min_score, meta):
            best[cand.image_id] = cand
        for cand in self._region_hits(q, k, min_score, meta, best):
            old = best.get(cand.image_id)
            if old is None or (cand.match, cand.score) > (old.match, old.score):
                best[cand.image_id] = cand
        ranked = sorted(best.values(), key=lambda c: (-c.score, meta[c.image_id][0]))[:k]
        return [SearchHit(meta[c.image_id][0], round(float(c.score), 6), c.box, bool(c.match), c.kind) for c in ranked]

    # -- whole images ---------------------------------------------------------------------
    def _whole_image_hits(self, q: PreparedQuery, k: int, min_score: float, meta: dict) -> list[_Candidate]:
        n = self.image_index.ntotal
        if n == 0:
            return []
        want = min(n, max(4 * k, 32))
        _, ids = self.image_index.search(q.vector[None].astype(np.float32), want)
        ids = ids[0][ids[0] >= 0]
        if self.signal is not None:
            _, eids = self.signal.images.search(q.embedded.variants[:1].astype(np.float32), want)
            ids = np.unique(np.concatenate([ids, eids[0][eids[0] >= 0]]))
        if len(ids) == 0:
            return []
        meta.update(self.catalog.images_by_id(ids.tolist()))
        gsims = np.stack([self.image_index.reconstruct(int(i)) for i in ids]) @ q.variants.T  # (M, V)
        esims = None
        if self.signal is not None:
            esims = np.stack([self.signal.images.reconstruct(int(i)) for i in ids]) @ q.embedded.variants.T
        fused = fuse(gsims[:, 0], None if esims is None else esims[:, 0])
        margins = orientation_excess(gsims, esims, self._needs(q))
        out = []
        for i, s, m in zip(ids.tolist(), fused.tolist(), margins.tolist()):
            path, w, h, info = meta[i]
            score = max(0.0, min(1.0, s)) * aspect_factor(q.image.width, q.image.height, w, h)
            informative = info >= LOW_INFO_THRESHOLD and q.info >= LOW_INFO_THRESHOLD
            ok = informative and score >= min_score and m >= 0
            out.append(_Candidate(i, score, (0, 0, w, h), ok, "image"))
        return out

    # -- regions ------------------------------------------------------------------------------
    def _region_hits(self, q: PreparedQuery, k: int, min_score: float, meta: dict, best: dict[int, _Candidate]) -> list[_Candidate]:
        n = self.region_index.ntotal
        if n == 0:
            return []
        dist, rids = self.region_index.search(q.window_hashes, min(n, 256))
        far = dist > MAX_REGION_HAMMING  # not worth refining
        per_image = self._predicted_boxes(q, q.windows, -dist.astype(np.float64), np.where(far, -1, rids))
        order = sorted(per_image.items(), key=lambda kv: -kv[1][0])[: max(k, 6)]  # nearest tiles first
        if self.signal is not None:
            taken = {i for i, _ in order}
            order += [(i, (-1, p)) for i, p in self._embedded_region_candidates(q, EMBEDDED_REGION_CANDIDATES)
                      if i not in taken]
        meta.update(self.catalog.images_by_id([i for i, _ in order if i not in meta]))
        out = []
        for image_id, (_, pred) in order:
            if image_id not in meta:
                continue
            path, w, h, _ = meta[image_id]
            old = best.get(image_id)
            if old is not None and old.match:
                continue
            if pred[2] * pred[3] >= WHOLE_SHARE * w * h:
                continue
            cand = self._refine(q, image_id, path, pred, min_score)
            if cand is not None:
                out.append(cand)
        return out

    def _embedded_region_candidates(self, q: PreparedQuery, m: int) -> list[tuple[int, tuple[float, float, float, float]]]:
        """Images whose tiles' embeddings are nearest the query's windows, best first, each with
        the box the query would have there."""
        index = self.signal.regions
        if index.ntotal == 0:
            return []
        qe = q.embedded
        sims, rids = index.search(qe.window_vectors.astype(np.float32), min(index.ntotal, 64))
        best = self._predicted_boxes(q, qe.windows, sims, rids)
        return [(i, p) for i, (_, p) in sorted(best.items(), key=lambda kv: -kv[1][0])[:m]]

    def _predicted_boxes(self, q: PreparedQuery, windows: np.ndarray, sims: np.ndarray, rids: np.ndarray
                         ) -> dict[int, tuple[float, tuple[float, float, float, float]]]:
        """For each image owning a tile that one of the query's ``windows`` found (``rids``, -1
        for none, with similarity ``sims``, both ``(n_windows, k)``): the best similarity and
        the box the whole query would have in that image, where the window sits on the tile."""
        regions = self.catalog.regions_by_id({int(r) for r in rids.ravel() if r >= 0})
        best: dict[int, tuple[float, tuple[float, float, float, float]]] = {}
        for wi, (srow, rrow) in enumerate(zip(sims, rids)):
            wx, wy, ws, _ = (float(v) for v in windows[wi])
            for sim, r in zip(srow.tolist(), rrow.tolist()):
                if r < 0 or r not in regions:
                    continue
                image_id, (tx, ty, tw, _) = regions[r]
                scale = tw / ws
                pred = (tx - wx * scale, ty - wy * scale, q.image.width * scale, q.image.height * scale)
                if image_id not in best or sim > best[image_id][0]:
                    best[image_id] = (sim, pred)
        return best

    def _refine(self, q: PreparedQuery, image_id: int, path: str, pred: tuple[float, float, float, float], min_score: float) -> _Candidate | None:
        """Locate the query in a candidate: first on small pixels over a range of scales, then,
        for promising candidates only, at full size near that spot (exact for unscaled crops)."""
        from lookalike.models.ops.crop import find_crop  # torch is only imported when refining

        try:
            small = _at_most(load_image(path, min_side=COARSE_SIDE), COARSE_SIDE)
        except ImageLoadError as exc:
            log.warning("cannot refine against %s: %s", path, exc)
            return None
        rc = small.scale  # small candidate pixels per original pixel
        est = pred[2] / q.image.width  # size of the query in the candidate, original pixels
        t = est * rc  # query original pixels -> small candidate pixels, as the tiles predict
        H, W = small.pixels.shape[:2]
        qw, qh = q.image.width * t, q.image.height * t
        if min(qw, qh) < 6:
            return None
        qsmall = resize_pixels(q.small if min(q.small.shape[:2]) >= min(qw, qh) else q.image.pixels,
                            max(1, round(qw)), max(1, round(qh)))
        # tiles come in steps of 4/3 to 2, so the estimate is within about 30%; an unscaled
        # crop (the common case) is always tried
        factors = {0.72, 0.85, 1.0, 1.18, 1.4}
        if 0.5 <= 1 / est <= 2:
            factors.add(round(1 / est, 4))
        scales = sorted(f for f in factors if qh * f <= H and qw * f <= W and min(qh, qw) * f >= 6)
        if not scales:
            return None
        m = find_crop(small.pixels, qsmall, top_k=1, scales=scales, coarse_to_fine=False)[0]
        box = small.box_to_original(m.box)
        score, margin, informative = self._score_box(q, small, box)
        if score < min_score - COARSE_SLACK:
            return _Candidate(image_id, score, box, False, "region")
        # full size, in a neighbourhood of the coarse box, at the scale found (and 1.0)
        try:
            full = load_image(path)
        except ImageLoadError as exc:
            log.warning("cannot refine against %s: %s", path, exc)
            return None
        s_orig = m.scale * t / rc  # query original px -> candidate original px
        pad = 0.15
        bx, by, bw, bh = box
        x0, y0 = max(0, int(bx - bw * pad) - 4), max(0, int(by - bh * pad) - 4)
        x1, y1 = min(full.width, int(bx + bw * (1 + pad)) + 5), min(full.height, int(by + bh * (1 + pad)) + 5)
        sf = full.scale
        area = full.pixels[int(y0 * sf): int(y1 * sf), int(x0 * sf): int(x1 * sf)]
        qfull = q.image.pixels
        cands = {round(s_orig * f * sf, 4) for f in (0.96, 1.0, 1.04)}
        if abs(s_orig - 1.0) < 0.15:
            cands.add(1.0)
        cands = sorted(c for c in cands if qfull.shape[0] * c <= area.shape[0] and qfull.shape[1] * c <= area.shape[1])
        if cands:
            mf = find_crop(area, qfull, top_k=1, scales=cands)[0]
            fx, fy, fw, fh = mf.box
            box = full.box_to_original((fx + int(x0 * sf), fy + int(y0 * sf), fw, fh))
            score, margin, informative = self._score_box(q, full, box)
        ok = informative and score >= min_score and margin >= 0
        return _Candidate(image_id, score, box, ok, "region")

    def _score_box(self, q: PreparedQuery, img: LoadedImage, box: Box) -> tuple[float, float, bool]:
        desc = describe_boxes(img.pixels, img.width, img.height, np.array([box]))
        informative = bool(not desc.low_info[0] and q.info >= LOW_INFO_THRESHOLD)
        gsims = (desc.vectors @ q.variants.T)  # (1, V)
        esims = None
        if self.signal is not None:
            esims = self.signal.box_sims(img, box, q.embedded, (q.image.width, q.image.height))[None]
        score = float(np.clip(fuse(gsims[0, 0], None if esims is None else esims[0, 0]), 0.0, 1.0))
        return score, float(orientation_excess(gsims, esims, self._needs(q))[0]), informative

