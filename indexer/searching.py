"""Search by example: a whole image or a crop against whole images and tiles.

1. Whole-image candidates come from ``images.faiss`` (cosine of descriptors, with a penalty
   when the aspect ratios differ).
2. Region candidates come from the tile segments: the query's square windows are coded
   (:mod:`~lookalike.indexer.tilecode`), their nearest tile codes by Hamming distance are
   re-ranked by the windows' projections against those codes, and each candidate image gets
   a predicted box.
3. Region candidates are refined with :func:`lookalike.models.find_crop` on the candidate's
   draft-decoded pixels, first over the range of scales the predicted box leaves open, then to a few
   percent of scale, each at a working size that keeps a candidate's cost flat; an unscaled
   crop (or any, with ``exact``) is refined once more at full size, exact to the pixel. The
   refined box is re-scored with the descriptor, so every score means the same thing
   whatever produced it.
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
from lookalike.models.threads import run_jobs
from lookalike.models.io.images import ImageSource, LoadedImage, as_image, load_image, resize_pixels, shrink_to_side

from .catalog import Catalog
from .descriptor import LOW_INFO_THRESHOLD, channel_variants, describe_boxes, dihedral_variants, tolerant_similarity
from .errors import ImageLoadError, QueryError
from .fusion import (FUSED_ORIENTATION_MARGIN, GRID_ORIENTATION_MARGIN, EmbeddingSignal, QueryEmbeddings, embed_query, fuse, orientation_excess,
                     orientation_needs)
from .regions import TILE_HASH_BITS, search_windows, split_tile_ids
from .results import Box, SearchHit
from .tilecode import tile_code

log = logging.getLogger(__name__)

#: Calibrated on the quality protocol (bench/quality.py): positives score >= 0.94, the
#: orientation check removes rotated/mirrored/recolored look-alikes.
DEFAULT_MIN_SCORE = 0.90
ASPECT_TOLERANCE = 0.05
ASPECT_PENALTY = 2.0
#: Region candidates further than this share of TILE_HASH_BITS are not worth refining.
MAX_REGION_HAMMING = round(TILE_HASH_BITS * 100 / 256)
#: Nearest tiles fetched for each window of a query, to be re-ranked by the tile code's scores
#: (64 gave the crop figures of 256 on bench/crops.py, photos and categories, 70 ms sooner at 20k).
REGION_NEIGHBOURS = 64
#: A predicted box covering this share of a candidate is left to the whole-image comparison,
#: unless that comparison scored within WHOLE_SLACK of the threshold without matching: a copy
#: with a tenth of each side cut away no longer lines up with its source's grid cells (whole
#: scores of 0.72-0.87 for such copies of charts, text, textures), but is located there.
WHOLE_SHARE = 0.8
WHOLE_SLACK = 0.2
#: Candidates are first located on images decoded at about this shorter side...
COARSE_SIDE = 256
#: The query shrunk to this shorter side once: the source of the first location's small templates.
COARSE_QUERY_SIDE = 96
#: Of the candidates scoring within COARSE_SLACK of the threshold, those found at a scale within
#: FULL_SIZE_SCALE of 1 (an unscaled crop: its box can be exact to the pixel), smaller than
#: FULL_SIZE_BELOW small pixels, or scoring within FULL_SIZE_NEAR of the threshold (where a
#: pixel of the small box can decide) are refined again at full size.
COARSE_SLACK = 0.12
FULL_SIZE_SCALE = 0.04
FULL_SIZE_NEAR = 0.04
FULL_SIZE_BELOW = 48
#: Scales tried around the one found, on small pixels, before the box is scored.
FINE_SCALES = (0.88, 0.94, 1.0, 1.06, 1.12)
#: The first location runs where the query (as the tiles predict it) is this many pixels on its
#: shorter side, the second where the box found is at most FINE_PX: a candidate costs about the
#: same whatever its size. (At 40 / 96 a query took 25% less time, but halftones and charts
#: lost crops: their dots and lines alias at that size and the coarse place was a period off.)
COARSE_QUERY_PX = 64
FINE_PX = 128
#: Places the first location keeps for the second to refine.
COARSE_PLACES = 2
#: A refined place whose NCC reaches this is taken without looking at the next.
SURE_NCC = 0.9
#: With an embedder, this many more images (nearest by tile embeddings) are refined.
EMBEDDED_REGION_CANDIDATES = 4


@dataclass(frozen=True)
class PreparedQuery:
    path: str
    image: LoadedImage
    vector: np.ndarray  # (D,)
    variants: np.ndarray  # (V, D): upright first, then dihedral and channel variants
    windows: np.ndarray  # (n, 4) square windows of the query
    window_projections: np.ndarray  # (n, TILE_HASH_BITS) float32, unit rows (tilecode.TileCode.project)
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
        window_projections=tile_code().project(wdesc.vectors), info=float(desc.info[0]),
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

    def search(self, q: PreparedQuery, k: int = 10, min_score: float = DEFAULT_MIN_SCORE, exact: bool = False
               ) -> list[SearchHit]:
        if k < 1:
            raise QueryError("k must be at least 1")
        if (self.signal is None) != (q.embedded is None):
            raise QueryError("the query was prepared for another embedder than this index's")
        best: dict[int, _Candidate] = {}
        meta: dict[int, tuple[str, int, int]] = {}
        for cand in self._whole_image_hits(q, k, min_score, meta):
            best[cand.image_id] = cand
        for cand in self._region_hits(q, k, min_score, meta, best, exact):
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
        cand = np.stack([self.image_index.reconstruct(int(i)) for i in ids])
        esims = None
        if self.signal is None:
            gsims = cand @ q.variants.T  # (M, V)
        else:  # the embedder has to agree, so the grid may forgive an overlay (a caption, a logo)
            gsims = tolerant_similarity(cand, q.variants)
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
    def _region_hits(self, q: PreparedQuery, k: int, min_score: float, meta: dict, best: dict[int, _Candidate],
                     exact: bool) -> list[_Candidate]:
        n = self.region_index.ntotal
        if n == 0:
            return []
        code = tile_code()
        dist, rids, codes = self.region_index.search_codes(code.pack(q.window_projections), min(n, REGION_NEIGHBOURS))
        far = dist > MAX_REGION_HAMMING  # not worth refining
        # best-fitting tiles first
        sims = code.asymmetric_scores(q.window_projections, codes).astype(np.float64)
        order = self._predicted_boxes(q, q.windows, sims, np.where(far, -1, rids), max(k, 6))
        if self.signal is not None:
            taken = {i for i, _ in order}
            order += [(i, p) for i, p in self._embedded_region_candidates(q, EMBEDDED_REGION_CANDIDATES)
                      if i not in taken]
        meta.update(self.catalog.images_by_id([i for i, _ in order if i not in meta]))
        todo = []
        for image_id, pred in order:
            if image_id not in meta:
                continue
            path, w, h, _ = meta[image_id]
            old = best.get(image_id)
            if old is not None and old.match:
                continue
            if pred[2] * pred[3] >= WHOLE_SHARE * w * h and (old is None or old.score < min_score - WHOLE_SLACK):
                continue
            todo.append((image_id, path, pred))
        # the candidates side by side, one torch thread each (lookalike.models.threads)
        refined = run_jobs(lambda t: self._refine(q, t[0], t[1], t[2], min_score, exact), todo)
        out = []
        for (image_id, _, _), cand in zip(todo, refined):
            if cand is not None:
                if cand.match and self._transformed_copy(q, image_id, cand.score):
                    cand.match = False
                out.append(cand)
        return out

    def _transformed_copy(self, q: PreparedQuery, image_id: int, region_score: float) -> bool:
        """Whether the candidate as a whole is a rotated, mirrored or channel-swapped copy of
        the query, found as a region of it with ``region_score``: a variant of the query that
        differs from it explains the whole candidate better than the upright query explains
        the region. A part of such a copy that looks like the whole query (the corner of a
        radial gradient, one half of a two-blob logo) is a coincidence of the picture's near
        symmetry; the orientation check on the box alone cannot see it, since there no variant
        explains the box better. (Against the region's score, not the upright query's on the
        whole picture: a copy with a tenth of each side cut away scores low as a whole, and a
        mirrored page of text can score higher there.)"""
        g = self.image_index.reconstruct(int(image_id))[None] @ q.variants.T  # (1, V)
        e = None
        if self.signal is not None:
            e = self.signal.images.reconstruct(int(image_id))[None] @ q.embedded.variants.T
        f = fuse(g, e)[0]
        needs = self._needs(q)
        return bool((np.isfinite(needs) & (region_score - f[1:] < needs)).any())

    def _embedded_region_candidates(self, q: PreparedQuery, m: int) -> list[tuple[int, tuple[float, float, float, float]]]:
        """Images whose tiles' embeddings are nearest the query's windows, best first, each with
        the box the query would have there."""
        index = self.signal.regions
        if index.ntotal == 0:
            return []
        qe = q.embedded
        sims, rids = index.search(qe.window_vectors.astype(np.float32), min(index.ntotal, 64))
        return self._predicted_boxes(q, qe.windows, sims, rids, m)

    def _predicted_boxes(self, q: PreparedQuery, windows: np.ndarray, sims: np.ndarray, rids: np.ndarray,
                         limit: int) -> list[tuple[int, tuple[float, float, float, float]]]:
        """The ``limit`` images owning the tiles that the query's ``windows`` found nearest
        (``rids``, -1 for none, with similarity ``sims``, both ``(n_windows, k)``), best first,
        each with the box the whole query would have in that image where its best window sits
        on its best tile. Only those images' tile boxes are derived."""
        flat = rids.ravel()
        live = np.flatnonzero(flat >= 0)
        if len(live) == 0:
            return []
        owners = split_tile_ids(flat[live])[0]
        # each image's best hit (the first of equals, in window order), then the best images
        order = np.lexsort((live, -sims.ravel()[live]))
        owners_sorted = owners[order]
        _, first = np.unique(owners_sorted, return_index=True)
        picked = order[np.sort(first)[:limit]]
        regions = self.catalog.regions_by_id(flat[live[picked]].tolist())
        out = []
        for j in picked.tolist():
            r = int(flat[live[j]])
            if r not in regions:
                continue
            wx, wy, ws, _ = (float(v) for v in windows[live[j] // rids.shape[1]])
            image_id, (tx, ty, tw, _) = regions[r]
            scale = tw / ws
            out.append((image_id, (tx - wx * scale, ty - wy * scale, q.image.width * scale, q.image.height * scale)))
        return out

    def _refine(self, q: PreparedQuery, image_id: int, path: str, pred: tuple[float, float, float, float],
                min_score: float, exact: bool) -> _Candidate | None:
        """Locate the query in a candidate on small, draft-decoded pixels: over a range of
        scales (:func:`_locate_coarse`), then to a few percent of scale around that spot
        (:func:`_locate_fine`). Promising candidates go to full size when the box can be
        pixel-exact there (an unscaled crop), when it is too small to describe on small pixels,
        when its score is near the threshold, or whenever ``exact`` asks for it; elsewhere the
        small box stands (within about 3% of its size of the full-size one)."""
        try:
            small = _at_most(load_image(path, min_side=COARSE_SIDE), COARSE_SIDE)
        except ImageLoadError as exc:
            log.warning("cannot refine against %s: %s", path, exc)
            return None
        rc = small.scale  # small candidate pixels per original pixel
        found = _locate_coarse(q, small.pixels, pred, rc)
        if not found:
            return None
        # the coarse places in turn, until one refines to a sure location (repetitive content
        # can fool the coarse step); the best is kept
        best = None
        for f in found:
            r = _locate_fine(q, small.pixels, f)
            best = r if best is None or r[0] > best[0] else best
            if r[0] >= SURE_NCC:
                break
        _, box_small, per_q, spread = best
        box = small.box_to_original(box_small)
        score, margin, informative = self._score_box(q, small, box)
        s_orig = per_q / rc  # query original px -> candidate original px
        unscaled = abs(s_orig - 1.0) < FULL_SIZE_SCALE
        borderline = abs(score - min_score) < FULL_SIZE_NEAR
        if score < min_score - COARSE_SLACK or not (exact or unscaled or borderline or min(box_small[2:]) < FULL_SIZE_BELOW):
            return _Candidate(image_id, score, box, informative and score >= min_score and margin >= 0, "region")
        try:
            full = load_image(path)
        except ImageLoadError as exc:
            log.warning("cannot refine against %s: %s", path, exc)
            return None
        box = _locate_full(q, full, box, s_orig, unscaled, pad=(2.0 * spread + 1) / rc + 1)
        score, margin, informative = self._score_box(q, full, box)
        return _Candidate(image_id, score, box, informative and score >= min_score and margin >= 0, "region")

    def _score_box(self, q: PreparedQuery, img: LoadedImage, box: Box) -> tuple[float, float, bool]:
        desc = describe_boxes(img.pixels, img.width, img.height, np.array([box]))
        informative = bool(not desc.low_info[0] and q.info >= LOW_INFO_THRESHOLD)
        gsims = (desc.vectors @ q.variants.T)  # (1, V)
        esims = None
        if self.signal is not None:
            esims = self.signal.box_sims(img, box, q.embedded, (q.image.width, q.image.height))[None]
        score = float(np.clip(fuse(gsims[0, 0], None if esims is None else esims[0, 0]), 0.0, 1.0))
        return score, float(orientation_excess(gsims, esims, self._needs(q))[0]), informative



def _shrunk(pixels: np.ndarray, d: float) -> np.ndarray:
    """``pixels`` resized by ``1 / d`` (``d >= 1``; unchanged at 1)."""
    if d <= 1:
        return pixels
    h, w = pixels.shape[:2]
    return resize_pixels(pixels, max(1, round(w / d)), max(1, round(h / d)))


def _locate_coarse(q: PreparedQuery, pixels: np.ndarray, pred: tuple[float, float, float, float], rc: float
                   ) -> list[tuple[float, float, float, float]]:
    """Where the query may be in ``pixels`` (a candidate decoded small, ``rc`` of its pixels per
    original pixel), over the scales that the tiles' predicted box ``pred`` (original pixels)
    leaves open. Searched where the query is about COARSE_QUERY_PX pixels on its
    shorter side. Returns the COARSE_PLACES best places ``(x, y, w, h)`` in ``pixels``
    (fractional), none when the query cannot fit."""
    from lookalike.models.ops.crop import find_crop  # torch is only imported when refining

    est = pred[2] / q.image.width  # size of the query in the candidate, original pixels
    H, W = pixels.shape[:2]
    # tiles come in steps of 4/3 to 2, so the estimate is within about 30%; an unscaled crop
    # (the common case) is always tried
    factors = {0.72, 0.85, 1.0, 1.18, 1.4}
    if 0.5 <= 1 / est <= 2:
        factors.add(round(1 / est, 4))
    qw, qh = q.image.width * est * rc, q.image.height * est * rc  # as the tiles predict, small px
    d = max(1.0, min(qw, qh) / COARSE_QUERY_PX)
    image = _shrunk(pixels, d)
    Hd, Wd = image.shape[:2]
    dy, dx = H / Hd, W / Wd  # pixels per working pixel
    qw, qh = qw / dx, qh / dy
    scales = sorted(f for f in factors if qh * f <= Hd and qw * f <= Wd and min(qh, qw) * f >= 6)
    if not scales:
        return []
    qsmall = resize_pixels(q.small if min(q.small.shape[:2]) >= min(qw, qh) else q.image.pixels,
                           max(1, round(qw)), max(1, round(qh)))
    # the whole picture: at this size it is small, and on repetitive content the tiles' place
    # can be wrong where their scale is right
    found = find_crop(image, qsmall, top_k=COARSE_PLACES, scales=scales, coarse_to_fine=False)
    return [(mx * dx, my * dy, mw * dx, mh * dy) for mx, my, mw, mh in (m.box for m in found)]


def _locate_fine(q: PreparedQuery, pixels: np.ndarray, found: tuple[float, float, float, float]
                 ) -> tuple[float, tuple[int, int, int, int], float, float]:
    """The box ``found`` by :func:`_locate_coarse`, to a few percent of scale and to a pixel
    of a working size where the box is at most FINE_PX pixels on its shorter side. Returns the
    NCC there, the box in ``pixels``, the scale found (``pixels`` per query pixel) and how many
    ``pixels`` a working pixel spans (the box's uncertainty)."""
    from lookalike.models.ops.crop import find_crop

    H, W = pixels.shape[:2]
    x, y, w, h = found
    pad = 0.12 * max(w, h) + 2
    x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
    x1, y1 = min(W, int(x + w + pad) + 1), min(H, int(y + h + pad) + 1)
    d = max(1.0, min(w, h) / FINE_PX)
    area = _shrunk(pixels[y0:y1, x0:x1], d)
    dy, dx = (y1 - y0) / area.shape[0], (x1 - x0) / area.shape[1]
    # the query shrunk once to a little over the size found: find_crop then only resizes it a little
    tw, th = max(1, round(w / dx * 1.1)), max(1, round(h / dy * 1.1))
    src = resize_pixels(q.image.pixels, tw, th) if tw < q.image.pixels.shape[1] else q.image.pixels
    per_src = w / dx / src.shape[1]  # working pixels per src pixel, as found
    fine = [per_src * f for f in FINE_SCALES
            if src.shape[0] * per_src * f <= area.shape[0] and src.shape[1] * per_src * f <= area.shape[1]
            and min(src.shape[:2]) * per_src * f >= 6]
    if not fine:
        box = (int(round(x)), int(round(y)), max(1, int(round(w))), max(1, int(round(h))))
        return -1.0, box, w / q.image.width, dx
    m = find_crop(area, src, top_k=1, scales=fine, coarse_to_fine=False)[0]
    mx, my, mw, mh = m.box
    box = (int(round(x0 + mx * dx)), int(round(y0 + my * dy)), max(1, int(round(mw * dx))), max(1, int(round(mh * dy))))
    return m.score, box, m.scale * dx * src.shape[1] / q.image.width, max(dx, dy)


def _locate_full(q: PreparedQuery, full: LoadedImage, box: Box, s_orig: float, unscaled: bool, pad: float) -> Box:
    """``box`` (original pixels, from small pixels) refined on the candidate decoded at full
    size: within ``pad`` pixels, at the scale found (exactly 1 for an unscaled crop)."""
    from lookalike.models.ops.crop import find_crop

    sf = full.scale
    pad = pad + (0 if unscaled else 0.03 * max(box[2], box[3]))
    bx, by, bw, bh = box
    ax0, ay0 = max(0, int((bx - pad) * sf)), max(0, int((by - pad) * sf))
    ax1 = min(full.pixels.shape[1], int((bx + bw + pad) * sf) + 1)
    ay1 = min(full.pixels.shape[0], int((by + bh + pad) * sf) + 1)
    area = full.pixels[ay0:ay1, ax0:ax1]
    qfull = q.image.pixels
    cands = {1.0} if unscaled and sf == 1.0 else {round(s_orig * f * sf, 4) for f in (0.98, 1.0, 1.02)}
    cands = sorted(c for c in cands if qfull.shape[0] * c <= area.shape[0] and qfull.shape[1] * c <= area.shape[1])
    if not cands:
        return box
    fx, fy, fw, fh = find_crop(area, qfull, top_k=1, scales=cands, coarse_to_fine=False)[0].box
    return full.box_to_original((fx + ax0, fy + ay0, fw, fh))
