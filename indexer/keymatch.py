"""Duplicate regions from keypoints: which pictures share a patch, at what scale and where.

1. Candidates without N x N: ``TABLES`` keys are read from each keypoint's 256-bit hash, as
   many bits as make a bucket hold about ``BUCKET_MEAN`` keypoints; keypoints that share a key
   in some table and are close in full Hamming distance are candidate matches (sorting the
   keys: n log n). A key shared by too many keypoints is texture, not a place, and is skipped.
2. Geometry: the matches of a pair of pictures (or of one picture with itself, for copy-move)
   vote for a scale and translation (``x_b = s * x_a + t``; no rotation, no mirror: such a
   patch is not a duplicate region). A pair needs ``MIN_INLIERS`` matches that agree.
3. Pixels: both pictures aligned by that transform give both boxes and the score
   (:func:`refine_region`, :func:`verify_pair`).
"""

from __future__ import annotations

__all__ = ["KeypointSet", "candidate_matches", "Transform", "fit_transform", "scales_could_agree", "could_fit", "HASH_BYTES",
           "hash_descriptors", "pack_keypoints", "unpack_keypoints", "picture_keypoints", "refine_region",
           "verify_pair", "box_iou"]

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
TABLES = 12
#: Key bits grow with the collection so that a bucket holds about this many keypoints.
BUCKET_MEAN = 4
BUCKET_CAP = 64
MAX_HAMMING = 64  # of 256 bits
#: A keypoint keeps its candidates among its this many closest (by Hamming distance).
NEIGHBOURS = 3
MIN_INLIERS = 3
SCALE_TOLERANCE = 0.4  # |log(s_match / s_model)|
#: A copy-move match must move a keypoint at least this many of its scales (a place is not its own copy).
MIN_SHIFT_SCALES = 4.0


@dataclass(frozen=True)
class KeypointSet:
    """All keypoints of a collection, flat: ``owner`` the picture (id) of each, ``xy`` and
    ``scale`` in that picture's original pixels, ``hashes`` ``(K, 32) uint8``."""

    owner: np.ndarray
    xy: np.ndarray
    scale: np.ndarray
    hashes: np.ndarray

    def __len__(self) -> int:
        return len(self.owner)


#: Keypoints are found on the picture shrunk to this many pixels on its longer side (decoded at
#: least this large on its shorter side), at most this many of them.
KEYPOINT_SIDE = 640
KEYPOINT_DECODE_MIN_SIDE = 384
MAX_KEYPOINTS = 800


def picture_keypoints(img) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A :class:`~lookalike.models.io.images.LoadedImage`'s keypoints: ``(xy, scale, hashes)`` in
    its original pixels."""
    from lookalike.models.io.images import resize_pixels
    from lookalike.models.ops.keypoints import detect_keypoints

    h, w = img.pixels.shape[:2]
    k = min(1.0, KEYPOINT_SIDE / max(h, w))
    pixels = resize_pixels(img.pixels, max(1, round(w * k)), max(1, round(h * k))) if k < 1 else img.pixels
    kp = detect_keypoints(pixels, MAX_KEYPOINTS)
    to_original = img.width / pixels.shape[1]
    return kp.xy * to_original, kp.scale * to_original, hash_descriptors(kp.descriptors)


def hash_descriptors(descriptors: np.ndarray) -> np.ndarray:
    """``(K, D) float32`` keypoint descriptors -> ``(K, 32) uint8``: signs of 256 fixed random
    projections (Hamming distance then tracks the angle between descriptors)."""
    d = descriptors.shape[1]
    proj = np.random.default_rng(256).standard_normal((d, HASH_BITS)).astype(np.float32)
    return np.packbits(descriptors @ proj > 0, axis=1)


def pack_keypoints(xy: np.ndarray, scale: np.ndarray, hashes: np.ndarray) -> bytes:
    """One blob per picture: ``x, y`` as uint16 pixels, the scale as float16, then the hashes."""
    k = len(xy)
    return (np.clip(np.rint(xy), 0, 65535).astype("<u2").tobytes() + scale.astype("<f2").tobytes()
            + np.ascontiguousarray(hashes, np.uint8).reshape(k, HASH_BYTES).tobytes())


def unpack_keypoints(blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = len(blob) // (4 + 2 + HASH_BYTES)
    xy = np.frombuffer(blob, "<u2", 2 * k).reshape(k, 2).astype(np.float32)
    scale = np.frombuffer(blob, "<f2", k, offset=4 * k).astype(np.float32)
    hashes = np.frombuffer(blob, np.uint8, k * HASH_BYTES, offset=6 * k).reshape(k, HASH_BYTES)
    return xy, scale, hashes


def _table_bits(key_bits: int, seed: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.choice(HASH_BITS, key_bits, replace=False) for _ in range(TABLES)])


_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], np.uint16)


def _popcount(x: np.ndarray) -> np.ndarray:
    return _POPCOUNT[x].sum(-1)


def candidate_matches(kp: KeypointSet, within: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` (``i < j``) of keypoints that may show the same place: they share a key
    in some table, their hashes differ in at most :data:`MAX_HAMMING` bits, and each is among the
    :data:`NEIGHBOURS` closest of the other or of itself. Keypoints of one picture pair only with
    ``within`` (copy-move), and only when far enough apart. Memory grows with the close pairs
    only: each table's collisions are filtered before the next."""
    n = len(kp)
    z = np.zeros(0, np.int64)
    if n < 2:
        return z, z
    key_bits = int(np.clip(round(math.log2(max(n, 2) / BUCKET_MEAN)), 8, 30))
    found: list[np.ndarray] = []
    for sel in _table_bits(key_bits):
        keys = np.zeros(n, np.int64)
        for pos, bit in enumerate(sel.tolist()):  # read the key's bits from the packed hashes
            keys |= ((kp.hashes[:, bit // 8] >> (7 - bit % 8)) & 1).astype(np.int64) << pos
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, n])
        for m in range(2, BUCKET_CAP + 1):
            bs = starts[sizes == m]
            if not len(bs):
                continue
            members = order[bs[:, None] + np.arange(m)[None, :]]  # (buckets, m)
            a, b = np.triu_indices(m, 1)
            i, j = members[:, a].ravel(), members[:, b].ravel()
            keep = _popcount(kp.hashes[i] ^ kp.hashes[j]) <= MAX_HAMMING
            same = kp.owner[i] == kp.owner[j]
            if within:
                far = np.hypot(*(kp.xy[i] - kp.xy[j]).T) >= MIN_SHIFT_SCALES * np.maximum(kp.scale[i], kp.scale[j])
                keep &= ~same | far
            else:
                keep &= ~same
            found.append(np.minimum(i[keep], j[keep]) * n + np.maximum(i[keep], j[keep]))
    if not found:
        return z, z
    code = np.sort(np.concatenate(found))
    code = code[np.r_[True, code[1:] != code[:-1]]]  # each pair once, however many tables it met in
    i, j = code // n, code % n
    dist = _popcount(kp.hashes[i] ^ kp.hashes[j])
    # closest among other pictures' keypoints and, apart, among the same picture's: so --within
    # adds copy-move pairs without crowding out (or changing) the pairs across pictures
    best = np.zeros(len(i), bool)
    same = kp.owner[i] == kp.owner[j]
    for part in (np.flatnonzero(~same), np.flatnonzero(same)):
        pi, pj, pd = i[part], j[part], dist[part]
        best[part] = _nearest(pi, pj, pd, n) | _nearest(pj, pi, pd, n)
    return i[best], j[best]


def _nearest(i: np.ndarray, j: np.ndarray, dist: np.ndarray, n: int) -> np.ndarray:
    """Which pairs are among the :data:`NEIGHBOURS` closest of their keypoint ``i`` (a keypoint
    of a common texture collides with many; its true match is among its closest)."""
    order = np.lexsort((dist, i))
    si = i[order]
    first = np.r_[True, si[1:] != si[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(len(si)), 0))
    rank = np.empty(len(si), np.int64)
    rank[order] = np.arange(len(si)) - start
    return rank < NEIGHBOURS


def scales_could_agree(group: np.ndarray, xa_scale: np.ndarray, xb_scale: np.ndarray,
                       min_inliers: int = MIN_INLIERS) -> np.ndarray:
    """For matches labelled by ``group`` (``0 .. G-1``, a pair of pictures each): whether the
    group holds ``min_inliers`` matches whose scale ratios agree within
    :data:`SCALE_TOLERANCE` of one of them, as :func:`fit_transform` needs. A vectorized
    first cut over every pair at once; ``(G,) bool``."""
    g = int(group.max(initial=-1)) + 1
    if g == 0:
        return np.zeros(0, bool)
    ls = np.clip(np.log(xb_scale / xa_scale), -20.0, 20.0)
    v = np.sort(group * 100.0 + ls)  # groups 100 apart: windows never cross them
    n = np.searchsorted(v, v + SCALE_TOLERANCE, "right") - np.searchsorted(v, v - SCALE_TOLERANCE, "left")
    best = np.zeros(g, np.int64)
    np.maximum.at(best, np.floor((v + 50.0) / 100.0).astype(np.int64), n)
    return best >= min_inliers


#: Pairs of pictures with at most this many matches are checked together by :func:`could_fit`.
BATCH_MATCHES = 24


def could_fit(starts: np.ndarray, ends: np.ndarray, xa: np.ndarray, sa: np.ndarray, xb: np.ndarray,
              sb: np.ndarray, min_inliers: int = MIN_INLIERS) -> np.ndarray:
    """For groups of matches (rows ``starts[g]:ends[g]`` of ``xa``/``sa``/``xb``/``sb``, a pair of
    pictures each): whether some match's scale + translation is agreed on by ``min_inliers``
    matches, the first test of :func:`fit_transform`, computed for every group of up to
    :data:`BATCH_MATCHES` matches at once (groups of one size together); larger groups pass
    (``fit_transform`` decides). ``(G,) bool``."""
    sizes = ends - starts
    out = sizes >= min_inliers
    for m in np.unique(sizes[out & (sizes <= BATCH_MATCHES)]).tolist():
        every = np.flatnonzero(sizes == m)
        for c in range(0, len(every), 4096):  # bounded memory: (4096, m, m, 2)
            g = every[c:c + 4096]
            rows = starts[g][:, None] + np.arange(m)[None, :]  # (G, m)
            out[g] = _agreement(xa[rows], sa[rows], xb[rows], sb[rows]).sum(-1).max(-1) >= min_inliers
    return out


def _agreement(xa: np.ndarray, sa: np.ndarray, xb: np.ndarray, sb: np.ndarray,
               proposals: np.ndarray | None = None) -> np.ndarray:
    """Matches ``(..., m)`` (places ``(..., m, 2)``): ``(..., p, m)``, whether match ``q``
    agrees with the scale + translation match ``p`` proposes (its place predicted within a few
    of its keypoint scales, its scale ratio within :data:`SCALE_TOLERANCE`); every match
    proposes, or those indexed by ``proposals``."""
    s = sb / sa
    t = xb - xa * s[..., None]
    ps, pt = (s, t) if proposals is None else (s[..., proposals], t[..., proposals, :])
    pred = xa[..., None, :, :] * ps[..., :, None, None] + pt[..., :, None, :]  # (..., proposal, match, 2)
    err = np.hypot(*np.moveaxis(pred - xb[..., None, :, :], -1, 0))
    ls = np.log(s)
    pls = ls if proposals is None else ls[..., proposals]
    return (err <= np.maximum(3.0, 1.5 * sb)[..., None, :]) & (
        np.abs(pls[..., :, None] - ls[..., None, :]) <= SCALE_TOLERANCE)


#: At most this many matches of a pair of pictures propose a transform in :func:`fit_transform`.
MAX_PROPOSALS = 256


@dataclass(frozen=True)
class Transform:
    """``x_b = scale * x_a + (tx, ty)``, supported by ``inliers`` (indices into the matches given)."""

    scale: float
    tx: float
    ty: float
    inliers: np.ndarray


def fit_transform(xa: np.ndarray, sa: np.ndarray, xb: np.ndarray, sb: np.ndarray,
                  min_inliers: int = MIN_INLIERS) -> Transform | None:
    """The scale + translation most matches agree on (each match proposes one, every proposal is
    scored by the matches within a position tolerance of a few keypoint scales and a scale
    tolerance), refitted by least squares on its inliers; None below ``min_inliers``."""
    m = len(xa)
    if m < min_inliers:
        return None
    ls = np.log(sb / sa)
    # proposals x matches; a pair of pictures with many matches (textures meeting textures) has
    # MAX_PROPOSALS of them, spread evenly, propose (each still counted against every match)
    proposals = None if m <= MAX_PROPOSALS else np.linspace(0, m - 1, MAX_PROPOSALS).round().astype(np.int64)
    agree = _agreement(xa, sa, xb, sb, proposals)
    counts = agree.sum(1)
    best = int(np.argmax(counts))
    if counts[best] < min_inliers:
        return None
    inl = np.flatnonzero(agree[best])
    for _ in range(2):  # least squares on the inliers, then the inliers of the refit
        a = np.zeros((2 * len(inl), 3))
        a[0::2, 0], a[0::2, 1] = xa[inl, 0], 1
        a[1::2, 0], a[1::2, 2] = xa[inl, 1], 1
        rhs = xb[inl].reshape(-1)
        (sc, tx, ty), *_ = np.linalg.lstsq(a, rhs, rcond=None)
        if not sc > 0:
            return None
        e = np.hypot(*(xa * sc + np.array([tx, ty]) - xb).T)
        new = np.flatnonzero((e <= np.maximum(3.0, 1.5 * sb)) & (np.abs(ls - math.log(sc)) <= SCALE_TOLERANCE))
        if len(new) < min_inliers:
            return None
        inl = new
    # the inliers must span an area, not sit on one spot
    spread = np.ptp(xa[inl], axis=0)
    if spread.min() < 2 * np.median(sa[inl]):
        return None
    return Transform(float(sc), float(tx), float(ty), inl)


#: The aligned boxes' detail must correlate at least this much (normalized cross-correlation of
#: each sample minus its neighbourhood's mean, all channels: brightness and contrast changes do
#: not count). Chosen with :data:`MAX_AMBIGUITY` on bench/splice.py's tuned part; see the README.
REGION_MIN_NCC = 0.5
#: A duplicate region is at least this many pixels a side, and this share of one of its pictures.
MIN_REGION_SIDE = 24
MIN_REGION_SHARE = 0.01
#: Mean difference of detail (0-255, over 5x5 samples) under which aligned weak detail agrees.
AGREE_DETAIL = 6.0
#: Local correlation of detail (over 5x5 samples) above which strong detail agrees.
AGREE_CORRELATION = 0.5
#: Mean absolute detail (0-255) under which a sample is flat (and, over 5x5 samples, detail is weak).
FLAT_DETAIL = 3.0
#: Per-pixel color difference (0-255, after matching the gain) below which two aligned pixels agree.
AGREE_DIFF = 18.0
#: Samples across the longer side of the compared area.
REFINE_SAMPLES = 96
#: A region whose aligned detail correlates, shifted this many samples or more, at least this share
#: of how well it does aligned is not one place (a straight edge, a stripe, a repeated pattern).
AMBIGUOUS_SHIFT = 3
MAX_AMBIGUITY = 0.7
#: Windows looked in at most, each grown around the area found in the one before.
REFINE_ROUNDS = 3


def refine_region(a, b, tf: Transform, xa: np.ndarray, sa: np.ndarray, min_score: float = 0.0
                  ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int], float] | None:
    """Both boxes of a duplicate region, in original pixels, from the pixels: around the inlier
    keypoints ``xa`` (scales ``sa``) of ``a``, the connected area where ``a`` and ``b``, aligned by
    ``tf``, agree (after matching their gain: brightness changes are allowed), and the normalized
    cross-correlation of the two aligned boxes. ``a``, ``b``:
    :class:`~lookalike.models.io.images.LoadedImage`. None when too little agrees, or when a
    region scoring at least ``min_score`` is not one place (:data:`MAX_AMBIGUITY`).

    The area is looked for in a window around the inliers (grown by their own extent each way);
    when it reaches the window's edge, again in a window grown around it (inliers that cluster
    on one part of a patch still give the whole patch)."""
    pad = 2.0 * float(np.median(sa))
    core = np.array([xa[:, 0].min() - pad, xa[:, 1].min() - pad, xa[:, 0].max() + pad, xa[:, 1].max() + pad])
    # where a maps inside b
    lo = np.maximum([0.0, 0.0], (np.array([0.0, 0.0]) - [tf.tx, tf.ty]) / tf.scale)
    hi = np.minimum([a.width, a.height], (np.array([b.width, b.height]) - [tf.tx, tf.ty]) / tf.scale)
    window = _grown(core, 1.0, lo, hi)
    found = None
    for _ in range(REFINE_ROUNDS):
        if window[2] - window[0] < 8 or window[3] - window[1] < 8:
            return None
        found = _agreeing_area(a, b, tf, window, core, xa)
        if found is None:
            return None
        box, step = found[0], found[2]
        edge = (box[:2] - window[:2] < 1.5 * step) & (window[:2] - lo > step / 2)
        edge |= (window[2:] - box[2:] < 1.5 * step) & (hi - window[2:] > step / 2)
        if not edge.any():
            break
        window = _grown(np.r_[np.minimum(box[:2], window[:2]), np.maximum(box[2:], window[2:])], 0.5, lo, hi)
    assert found is not None
    (bx0, by0, bx1, by1), ncc, _, ambiguity = found
    if ncc >= min_score and ambiguity() >= MAX_AMBIGUITY:
        return None
    box_a = _int_box(bx0, by0, bx1, by1, a.width, a.height)
    box_b = _int_box(bx0 * tf.scale + tf.tx, by0 * tf.scale + tf.ty, bx1 * tf.scale + tf.tx, by1 * tf.scale + tf.ty,
                     b.width, b.height)
    if min(box_a[2], box_a[3], box_b[2], box_b[3]) < MIN_REGION_SIDE or (
            box_a[2] * box_a[3] < MIN_REGION_SHARE * a.width * a.height
            and box_b[2] * box_b[3] < MIN_REGION_SHARE * b.width * b.height):
        return None
    return box_a, box_b, ncc


def _grown(box: np.ndarray, by: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``x0, y0, x1, y1`` grown by ``by`` times its size each way, within ``lo``-``hi``."""
    size = box[2:] - box[:2]
    return np.r_[np.maximum(lo, box[:2] - by * size), np.minimum(hi, box[2:] + by * size)]


def _agreeing_area(a, b, tf: Transform, window: np.ndarray, core: np.ndarray, xa: np.ndarray):
    """In ``window`` (``x0, y0, x1, y1`` in ``a``): the textured extent ``x0, y0, x1, y1`` of the
    agreeing area that holds most inliers, the aligned detail's correlation over it, and the
    sample step; None when too little agrees. The gain between the two is matched over ``core``
    (around the inliers ``xa``)."""
    import torch
    import torch.nn.functional as F

    from lookalike.models.ops.components import label_regions

    x0, y0, x1, y1 = window.tolist()
    step = max(x1 - x0, y1 - y0) / REFINE_SAMPLES
    gx = np.arange(x0 + step / 2, x1, step)
    gy = np.arange(y0 + step / 2, y1, step)
    X, Y = np.meshgrid(gx, gy)

    def sample(img, xs, ys, spacing: float) -> torch.Tensor:
        """``img`` at ``xs, ys`` (its original pixels), samples ``spacing`` of them apart."""
        sx, sy = img.scale_xy
        k = max(1, int(spacing * min(sx, sy) / 2))  # average away detail finer than a sample
        px, py = xs * sx, ys * sy
        # only the part of the picture the samples need (and the smoothing around it)
        h0, w0 = img.pixels.shape[:2]
        cx0 = int(np.clip(np.floor(px.min()) - k - 1, 0, w0 - 1))
        cy0 = int(np.clip(np.floor(py.min()) - k - 1, 0, h0 - 1))
        cx1 = int(np.clip(np.ceil(px.max()) + k + 2, cx0 + 1, w0))
        cy1 = int(np.clip(np.ceil(py.max()) + k + 2, cy0 + 1, h0))
        pix = torch.from_numpy(img.pixels[cy0:cy1, cx0:cx1].copy()).permute(2, 0, 1)[None].float()
        if k > 1:
            pix = F.avg_pool2d(pix, 2 * k + 1, 1, k, count_include_pad=False)
        hp, wp = pix.shape[-2:]
        grid = torch.from_numpy(np.stack([(px - cx0) / max(wp - 1, 1) * 2 - 1, (py - cy0) / max(hp - 1, 1) * 2 - 1],
                                         -1)).float()[None]
        return F.grid_sample(pix, grid, align_corners=True, padding_mode="border")[0]  # (3, gh, gw)

    pa = sample(a, X, Y, step)
    pb = sample(b, X * tf.scale + tf.tx, Y * tf.scale + tf.ty, step * tf.scale)
    inside = ((X >= core[0]) & (X <= core[2]) & (Y >= core[1]) & (Y <= core[3]))
    m = torch.from_numpy(inside)
    gain = (pb[:, m].mean(1) + 1) / (pa[:, m].mean(1) + 1)
    gain = gain.clamp(0.8, 1.25)
    diff = (pa * gain[:, None, None] - pb).abs().mean(0)
    diff = F.avg_pool2d(diff[None, None], 3, 1, 1, count_include_pad=False)[0, 0]
    # the detail must agree too: two smooth areas of like color are not yet the same patch. Weak
    # detail (both sides under FLAT_DETAIL around the sample) agrees when it differs little;
    # texture (resampled and recompressed on one side) only when it correlates locally
    detail_a, detail_b = _detail(pa), _detail(pb)
    da, db = detail_a * gain[:, None, None], detail_b
    ddiff = F.avg_pool2d((da - db).abs().mean(0)[None, None], 5, 1, 2, count_include_pad=False)[0, 0]
    local = F.avg_pool2d(torch.stack([(da * db).sum(0), (da * da).sum(0), (db * db).sum(0)])[None], 5, 1, 2,
                         count_include_pad=False)[0]
    lncc = local[0] / torch.sqrt(local[1] * local[2]).clamp(min=1e-6)
    strength = F.avg_pool2d(torch.maximum(da.abs().mean(0), db.abs().mean(0))[None, None], 5, 1, 2,
                            count_include_pad=False)[0, 0]
    weak = strength < FLAT_DETAIL  # two textures of like strength and color (a copy-move's
    # surroundings in one photo) differ little on average without being the same patch
    agree = ((diff < AGREE_DIFF) & ((weak & (ddiff < AGREE_DETAIL)) | (lncc > AGREE_CORRELATION))).numpy()
    seg = label_regions(agree.astype(np.uint8), connectivity=4, background=0, stats=False)
    labels = seg.labels.numpy()
    # the component holding most of the inlier keypoints
    ix = np.clip(((xa[:, 0] - x0) / step).astype(int), 0, len(gx) - 1)
    iy = np.clip(((xa[:, 1] - y0) / step).astype(int), 0, len(gy) - 1)
    votes = labels[iy, ix]
    votes = votes[votes > 0]
    if not len(votes):
        return None
    best = np.bincount(votes).argmax()
    # the box spans the component's textured part: flat areas that happen to agree around a
    # patch (a sky continuing into a sky) do not widen it
    textured = ((detail_a.abs().mean(0) + detail_b.abs().mean(0)) > FLAT_DETAIL).numpy()
    ys_, xs_ = np.nonzero((labels == best) & textured)
    if len(xs_) < 16:
        return None
    bx0, bx1 = gx[xs_.min()] - step / 2, gx[xs_.max()] + step / 2
    by0, by1 = gy[ys_.min()] - step / 2, gy[ys_.max()] + step / 2
    # the score: normalized cross-correlation of the aligned boxes' detail (each sample minus its
    # neighbourhood's mean), all channels: smooth gradients that merely agree (skies) score nothing
    sl = (slice(None), slice(ys_.min(), ys_.max() + 1), slice(xs_.min(), xs_.max() + 1))
    va = detail_a[sl].reshape(-1).double()
    vb = detail_b[sl].reshape(-1).double()
    va, vb = va - va.mean(), vb - vb.mean()
    denom = float(torch.sqrt((va * va).sum() * (vb * vb).sum()))
    ncc = float((va * vb).sum()) / denom if denom > 1e-6 else 0.0
    def ambiguity() -> float:
        """The alignment's distinctiveness, from b around the box (a margin of samples each
        way); asked for only where the score is high enough to matter."""
        m = max(2 * AMBIGUOUS_SHIFT, (xs_.max() - xs_.min() + ys_.max() - ys_.min()) // 8)
        ex = gx[xs_.min()] + step * np.arange(-m, xs_.max() - xs_.min() + 1 + m)
        ey = gy[ys_.min()] + step * np.arange(-m, ys_.max() - ys_.min() + 1 + m)
        EX, EY = np.meshgrid(ex * tf.scale + tf.tx, ey * tf.scale + tf.ty)
        around = sample(b, EX, EY, step * tf.scale)
        in_b = torch.from_numpy((EX >= 0) & (EX <= b.width) & (EY >= 0) & (EY <= b.height))
        return _ambiguity(detail_a[sl], _detail(around), in_b, m)

    return np.array([bx0, by0, bx1, by1]), ncc, step, ambiguity


def _ambiguity(da, db, inside, m: int) -> float:
    """How well ``da`` (``(3, h, w)`` detail of the box in ``a``) correlates with ``db`` (the
    aligned detail of ``b`` around it, ``m`` samples more each way; ``inside``: which samples
    lie in ``b``) shifted away from the alignment by at least :data:`AMBIGUOUS_SHIFT` samples
    (staying in ``b``), as a share of how well it correlates aligned: near 1 where the
    alignment is not one place (a straight edge, a stripe, a repeated pattern)."""
    import torch
    import torch.nn.functional as F

    _, h, w = da.shape
    y0 = x0 = m
    k = da - da.mean()
    num = F.conv2d(db[None], k[None])[0, 0].double()  # correlation at every shift
    n = 3 * h * w
    total = F.avg_pool2d(db.sum(0)[None, None].double(), (h, w), 1)[0, 0] * (h * w)
    energy = F.avg_pool2d((db * db).sum(0)[None, None].double(), (h, w), 1)[0, 0] * (h * w)
    energy = (energy - total * total / n).clamp(min=1e-9)  # of db minus its mean under the box
    ncc = num / torch.sqrt(energy * float((k.double() ** 2).sum()))
    here = float(ncc[y0, x0])
    if here <= 0:
        return 1.0
    ys = torch.arange(ncc.shape[0])[:, None] - y0
    xs = torch.arange(ncc.shape[1])[None, :] - x0
    whole = F.avg_pool2d(inside[None, None].double(), (h, w), 1)[0, 0] > 1 - 1e-9
    away = (torch.maximum(ys.abs(), xs.abs()) >= AMBIGUOUS_SHIFT) & whole
    if not bool(away.any()):
        return 0.0
    return float(ncc[away].max()) / here


def _detail(p):
    import torch.nn.functional as F

    return p - F.avg_pool2d(p[None], 5, 1, 2, count_include_pad=False)[0]


def _int_box(x0: float, y0: float, x1: float, y1: float, w: int, h: int) -> tuple[int, int, int, int]:
    x0, y0 = max(0, int(round(x0))), max(0, int(round(y0)))
    x1, y1 = min(w, int(round(x1))), min(h, int(round(y1)))
    return x0, y0, max(1, x1 - x0), max(1, y1 - y0)


def verify_pair(a, b, xa: np.ndarray, sa: np.ndarray, xb: np.ndarray, sb: np.ndarray, min_score: float,
                same_picture: bool = False
                ) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int], float] | None:
    """Whether matched keypoints (``xa``/``sa`` in ``a``, ``xb``/``sb`` in ``b``, row by row) show
    a duplicate region: a scale + translation enough of them agree on, both boxes refined on the
    pixels, a score (the aligned detail's correlation) of at least ``min_score``, and neither box
    near uniform. Returns ``(box in a, box in b, score)`` or None. ``a``, ``b``: the pictures as
    :class:`~lookalike.models.io.images.LoadedImage`, or callables that load them (called only
    when the keypoints agree; None when a picture cannot be had); ``same_picture`` for copy-move,
    where a region overlapping its own copy is refused."""
    from .descriptor import describe_boxes

    tf = fit_transform(xa, sa, xb, sb)
    if tf is None:
        return None
    a = a() if callable(a) else a
    b = b() if callable(b) else b
    if a is None or b is None:
        return None
    found = refine_region(a, b, tf, xa[tf.inliers], sa[tf.inliers], min_score)
    if found is None:
        return None
    box_a, box_b, ncc = found
    if same_picture and box_iou(box_a, box_b) > 0.3:
        return None
    score = float(np.clip(ncc, 0.0, 1.0))
    if score < min_score:
        return None
    da = describe_boxes(a.pixels, a.width, a.height, np.array([box_a]))
    db = describe_boxes(b.pixels, b.width, b.height, np.array([box_b]))
    if da.low_info[0] or db.low_info[0]:
        return None  # near-uniform patches never make a pair
    return box_a, box_b, score


def box_iou(a: Sequence[int], b: Sequence[int]) -> float:
    """Intersection over union of two ``x, y, w, h`` boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)
