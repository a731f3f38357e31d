"""The color-grid descriptor: colors in places, plus the direction of edges in places.

Every box is described at the same relative resolution: the image is resampled so the box's
shorter side is ``BASE`` pixels, the box is converted to OKLab and pooled onto an
``COLOR_GRID x COLOR_GRID`` grid of mean colors, and onto a ``GRAD_GRID x GRAD_GRID`` grid of
histograms of signed gradient directions (``GRAD_BINS`` bins). Colors carry "same colors in the
same places"; gradient directions carry orientation, which rotation, mirroring and warping change
even when the colors are symmetric.

Box pooling uses integral images, so hundreds of tiles per image cost a few array lookups.
The vector is L2-normalised: cosine similarity (FAISS inner product) compares two boxes.
"""

from __future__ import annotations

__all__ = [
    "BASE",
    "DESCRIPTOR_DIM",
    "DESCRIPTOR_VERSION",
    "Descriptors",
    "describe_boxes",
    "LOW_INFO_THRESHOLD",
    "dihedral_variants",
    "channel_variants",
    "overlay_masks",
    "tolerant_similarity",
]

from dataclasses import dataclass

import numpy as np
from PIL import Image

from lookalike.models.orientation import CHANNEL_ORDERS, channel_order, dihedral

from .color import srgb_to_oklab

#: v2: ``info`` is detail left after a smooth fit; v3: chroma in the shadows weighs less (issue 15)
DESCRIPTOR_VERSION = "grid-v3"
BASE = 32
COLOR_GRID = 8
GRAD_GRID = 4
GRAD_BINS = 8
CHROMA_WEIGHT = 4.0
COLOR_WEIGHT = 0.75
GRAD_WEIGHT = 0.66
#: The box's mean chroma (a, b; times CHROMA_WEIGHT) is a part of its own, not normalized: the
#: cell pattern is taken relative to it, so a faint texture on a tinted ground is described by
#: its texture, not drowned by its tint (issue 15).
MEAN_WEIGHT = 1.0
#: Below this much detail (OKLab units, see :func:`_detail`) a box is "low information": near
#: uniform, like a blank wall, a flat or graded sky, a vignetted backdrop. Placed between the
#: near-uniform pictures (at most 0.0026, noise and JPEG q35 included) and the faintest
#: textures that must match (+-3% around a mid tone: 0.0039 and up) of bench/categories.py.
LOW_INFO_THRESHOLD = 0.0032
#: A cell's chroma pattern is weighted by its lightness below this OKLab L (about sRGB 73 gray):
#: in the shadows color is barely seen, and what a JPEG or a sensor leaves of it there is mostly
#: noise (star fields and night scenes at JPEG q35 lost a third of their chroma pattern's
#: agreement and fell under the threshold). Chosen on the tune half of bench/categories.py.
DARK_CHROMA_L = 0.4
_COLOR_FLOOR = 0.05
_GRAD_FLOOR = 0.02
DESCRIPTOR_DIM = COLOR_GRID * COLOR_GRID * 3 + GRAD_GRID * GRAD_GRID * GRAD_BINS + 2


@dataclass(frozen=True)
class Descriptors:
    """``vectors``: ``(N, DESCRIPTOR_DIM) float32``, unit length. ``info``: ``(N,) float32``,
    the detail in the box (color spread beyond a smooth surface); ``low_info`` marks near-uniform boxes."""

    vectors: np.ndarray
    info: np.ndarray

    @property
    def low_info(self) -> np.ndarray:
        return self.info < LOW_INFO_THRESHOLD

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


@dataclass
class _Level:
    scale: float  # level pixels per original pixel (x and y may differ by rounding; we use both)
    sx: float
    sy: float
    color_ii: np.ndarray  # (h+1, w+1, 3) float32 integral of OKLab
    grad_ii: np.ndarray  # (h+1, w+1, GRAD_BINS) float32 integral of binned gradient magnitude


def _integral(a: np.ndarray) -> np.ndarray:
    h, w, c = a.shape
    ii = np.zeros((h + 1, w + 1, c), dtype=np.float32)
    ii[1:, 1:] = a
    np.add.accumulate(ii, axis=0, out=ii)
    np.add.accumulate(ii, axis=1, out=ii)
    return ii


def _gradient_bins(lum: np.ndarray) -> np.ndarray:
    """Signed gradient directions of ``lum`` (h, w), soft-binned into GRAD_BINS magnitude maps."""
    p = np.pad(lum, 1, mode="edge")
    gx = (p[1:-1, 2:] - p[1:-1, :-2]) * 0.5
    gy = (p[2:, 1:-1] - p[:-2, 1:-1]) * 0.5
    mag = np.hypot(gx, gy)
    pos = (np.arctan2(gy, gx) % (2 * np.pi)) * (GRAD_BINS / (2 * np.pi))
    lo = np.floor(pos).astype(np.int64) % GRAD_BINS
    frac = pos - np.floor(pos)
    hi = (lo + 1) % GRAD_BINS
    out = np.zeros((lum.size, GRAD_BINS), dtype=np.float32)
    rows = np.arange(lum.size)
    out[rows, lo.ravel()] = (mag * (1 - frac)).ravel()
    out[rows, hi.ravel()] = (mag * frac).ravel()  # hi != lo, so no slot is written twice
    return out


def _level_pixels(pixels: np.ndarray, width: int, height: int, scale: float) -> np.ndarray:
    """``pixels`` (an image of ``width`` x ``height`` decoded at any scale) resampled to
    ``scale`` level pixels per original pixel."""
    lw = max(1, int(round(width * scale)))
    lh = max(1, int(round(height * scale)))
    im = Image.fromarray(pixels)
    if (lw, lh) != im.size:
        im = im.resize((lw, lh), Image.Resampling.BILINEAR if lw > im.size[0] else Image.Resampling.BOX)
    return np.asarray(im)


def _level_scales(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each box's level scale (its shorter side resampled to BASE) and the key that groups
    boxes sharing one level."""
    scales = BASE / np.minimum(boxes[:, 2], boxes[:, 3])
    return scales, np.round(np.log2(scales) * 64).astype(np.int64)


def _make_level(pixels: np.ndarray, width: int, height: int, scale: float) -> _Level:
    level = _level_pixels(pixels, width, height, scale)
    lab = srgb_to_oklab(level)
    lh, lw = level.shape[:2]
    return _Level(
        scale=scale,
        sx=lw / width,
        sy=lh / height,
        color_ii=_integral(lab),
        grad_ii=_integral(_gradient_bins(lab[..., 0]).reshape(lab.shape[0], lab.shape[1], GRAD_BINS)),
    )


def _edges(start: np.ndarray, length: np.ndarray, cells: int, limit: int) -> np.ndarray:
    """(N, cells+1) integer cell edges covering [start, start+length), each cell >= 1 px."""
    t = np.linspace(0.0, 1.0, cells + 1)[None, :]
    e = np.rint(start[:, None] + length[:, None] * t).astype(np.int64)
    e = np.clip(e, 0, limit)
    # keep cells non-empty: push edges apart from the left, then back inside from the right
    e = np.maximum(e, e[:, :1] + np.arange(cells + 1)[None, :])
    e = np.minimum(e, limit - (cells - np.arange(cells + 1))[None, :])
    return np.maximum(e, 0)


def _pool(ii: np.ndarray, xs: np.ndarray, ys: np.ndarray, mean: bool) -> np.ndarray:
    y0, y1 = ys[:, :-1, None], ys[:, 1:, None]
    x0, x1 = xs[:, None, :-1], xs[:, None, 1:]
    sums = ii[y1, x1] - ii[y0, x1] - ii[y1, x0] + ii[y0, x0]
    if not mean:
        return sums
    area = np.maximum((y1 - y0) * (x1 - x0), 1)[..., None]
    return sums / area


def _smooth_fit() -> np.ndarray:
    """``(G*G, G*G)`` projection of a COLOR_GRID x COLOR_GRID field onto quadratic surfaces."""
    yy, xx = np.mgrid[0:COLOR_GRID, 0:COLOR_GRID] / (COLOR_GRID - 1) - 0.5
    x, y = xx.ravel(), yy.ravel()
    basis = np.stack([np.ones_like(x), x, y, x * x, y * y, x * y], axis=1)
    return basis @ np.linalg.pinv(basis)


def _detail(colors: np.ndarray) -> np.ndarray:
    """``(N, G, G, 3)`` cell colors -> ``(N,)`` their spread (OKLab units) once the best smooth
    (quadratic) surface is taken away: a slope, a vignette or a graded sky leaves almost nothing,
    while texture, stars, text or edges keep it whatever their contrast."""
    n = colors.shape[0]
    cells = COLOR_GRID * COLOR_GRID
    v = colors.reshape(n, cells, 3).astype(np.float64).transpose(1, 0, 2).reshape(cells, n * 3)
    r = (np.eye(cells) - _smooth_fit()) @ v  # one matrix product for every box and channel
    return np.sqrt(r.reshape(cells, n, 3).var(axis=0).sum(axis=1))


def _describe_level(level: _Level, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = level.color_ii.shape[0] - 1, level.color_ii.shape[1] - 1
    x = boxes[:, 0] * level.sx
    y = boxes[:, 1] * level.sy
    bw = boxes[:, 2] * level.sx
    bh = boxes[:, 3] * level.sy
    cx, cy = _edges(x, bw, COLOR_GRID, w), _edges(y, bh, COLOR_GRID, h)
    colors = _pool(level.color_ii, cx, cy, mean=True)  # (N, g, g, 3)
    gx, gy = _edges(x, bw, GRAD_GRID, w), _edges(y, bh, GRAD_GRID, h)
    grads = _pool(level.grad_ii, gx, gy, mean=True)  # (N, G, G, bins)

    n = boxes.shape[0]
    mean = colors.reshape(n, -1, 3).mean(axis=1)  # (N, 3)
    centred = colors - mean[:, None, None, :]
    centred[..., 1:] *= CHROMA_WEIGHT * np.clip(colors[..., :1] / DARK_CHROMA_L, 0.0, 1.0)
    c = centred.reshape(n, -1)
    g = grads.reshape(n, -1)
    c_norm = np.linalg.norm(c, axis=1)
    g_norm = np.linalg.norm(g, axis=1)
    info = _detail(colors)
    vec = np.concatenate(
        [
            COLOR_WEIGHT * c / np.maximum(c_norm, _COLOR_FLOOR)[:, None],
            GRAD_WEIGHT * g / np.maximum(g_norm, _GRAD_FLOOR)[:, None],
            MEAN_WEIGHT * CHROMA_WEIGHT * mean[:, 1:],
        ],
        axis=1,
    )
    vec /= np.maximum(np.linalg.norm(vec, axis=1), 1e-12)[:, None]
    return vec.astype(np.float32), info.astype(np.float32)


def describe_boxes(pixels: np.ndarray, width: int, height: int, boxes: np.ndarray) -> Descriptors:
    """Describe ``boxes`` of an image.

    ``pixels``: ``(h, w, 3) uint8`` RGB, the image decoded at any scale. ``width``, ``height``:
    the original size. ``boxes``: ``(N, 4)`` ``x, y, w, h`` in original pixels, inside the image.
    Boxes of the same size share one resampled level, so tiles are cheap.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if np.any(boxes[:, 2:] <= 0):
        raise ValueError("boxes must have positive width and height")
    n = boxes.shape[0]
    vectors = np.empty((n, DESCRIPTOR_DIM), dtype=np.float32)
    info = np.empty(n, dtype=np.float32)
    scales, keys = _level_scales(boxes)  # one level per distinct (rounded) box scale
    for key in np.unique(keys):
        sel = np.nonzero(keys == key)[0]
        level = _make_level(pixels, width, height, float(scales[sel].mean()))
        v, i = _describe_level(level, boxes[sel])
        vectors[sel] = v
        info[sel] = i
    return Descriptors(vectors=vectors, info=info)


def _bin_map(flip: bool, k: int) -> np.ndarray:
    """Where each signed-direction bin goes when the image is flipped (lr) then rotated by k*90°.

    Bins are centred on ``b * 360/GRAD_BINS`` degrees of ``atan2(gy, gx)`` with y pointing down.
    A left-right flip maps angle t to 180 - t; ``np.rot90`` (counter-clockwise on screen) maps
    t to t - 90 in these y-down coordinates.
    """
    b = np.arange(GRAD_BINS)
    if flip:
        b = (GRAD_BINS // 2 - b) % GRAD_BINS
    return (b - k * (GRAD_BINS // 4)) % GRAD_BINS


def dihedral_variants(vectors: np.ndarray) -> np.ndarray:
    """``(N, D)`` descriptors of boxes to ``(8, N, D)``: the descriptors the same boxes would
    have if their pixels were transformed by each of :data:`DIHEDRAL_NAMES` (up to cell
    rounding). Index 0 is the input itself."""
    n = vectors.shape[0]
    nc = COLOR_GRID * COLOR_GRID * 3
    colors = vectors[:, :nc].reshape(n, COLOR_GRID, COLOR_GRID, 3)
    grads = vectors[:, nc:nc + GRAD_GRID * GRAD_GRID * GRAD_BINS].reshape(n, GRAD_GRID, GRAD_GRID, GRAD_BINS)
    ng = GRAD_GRID * GRAD_GRID * GRAD_BINS
    out = np.empty((8,) + vectors.shape, dtype=vectors.dtype)
    out[:, :, nc + ng:] = vectors[None, :, nc + ng:]  # the mean color stays
    for i in range(8):
        c = dihedral(colors, i, axes=(1, 2))
        g = dihedral(grads, i, axes=(1, 2))
        dst = _bin_map(i >= 4, i % 4)
        g2 = np.empty_like(g)
        g2[..., dst] = g
        out[i, :, :nc] = c.reshape(n, -1)
        out[i, :, nc:nc + ng] = g2.reshape(n, -1)
    return out


def channel_variants(pixels: np.ndarray, width: int, height: int, boxes: np.ndarray) -> np.ndarray:
    """``(5, N, D)`` descriptors of ``boxes`` with the RGB channels in each of the 5 other orders
    of :data:`~lookalike.models.orientation.CHANNEL_ORDERS` (pixel space)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scales, keys = _level_scales(boxes)
    if len(boxes) and np.all(keys == keys[0]):
        # resampling treats channels alike: resample once, to the level describe_boxes would
        # make (it then has nothing left to resample), and only reorder channels after
        pixels = _level_pixels(pixels, width, height, float(scales.mean()))
    return np.stack(
        [describe_boxes(np.ascontiguousarray(channel_order(pixels, k)), width, height, boxes).vectors
         for k in range(1, len(CHANNEL_ORDERS))]
    )


def overlay_masks() -> np.ndarray:
    """``(18, COLOR_GRID * COLOR_GRID) bool``: where an overlay usually sits on a picture, as the
    color cells (row-major) a comparison keeps, ``False`` where the overlay may be. A band one
    cell row tall at each row (a line of text, a banner), a band of the top or bottom two rows
    (a caption box, meme text), a block of 2 x 2 or 3 x 3 cells in each corner (a logo, a
    watermark, a sticker). A band or a block covers at most a quarter of the picture."""
    g = COLOR_GRID
    masks = []
    for rows in [[r] for r in range(g)] + [[0, 1], [g - 2, g - 1]]:
        m = np.ones((g, g), bool)
        m[rows, :] = False
        masks.append(m)
    for side in (2, 3):
        for y, x in ((0, 0), (0, g - side), (g - side, 0), (g - side, g - side)):
            m = np.ones((g, g), bool)
            m[y:y + side, x:x + side] = False
            masks.append(m)
    return np.stack(masks).reshape(len(masks), g * g)


def _gradient_masks(color_masks: np.ndarray) -> np.ndarray:
    """``(T, C)`` kept color cells -> ``(T, GRAD_GRID * GRAD_GRID)``: a gradient cell is kept
    when every color cell it spans is."""
    per = COLOR_GRID // GRAD_GRID  # color cells a gradient cell spans, each way
    cells = color_masks.reshape(-1, GRAD_GRID, per, GRAD_GRID, per)
    return cells.all(axis=(2, 4)).reshape(len(color_masks), GRAD_GRID * GRAD_GRID)


def _masked_parts(v: np.ndarray, color_keep: np.ndarray, grad_keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Descriptors ``(N, D)`` -> for each mask, their color pattern over the kept cells,
    re-centred and of unit norm ``(N, T, C * 3)``, and their gradient cells kept, of unit norm
    ``(N, T, G * bins)``."""
    nc, ng = COLOR_GRID * COLOR_GRID, GRAD_GRID * GRAD_GRID
    w = color_keep.astype(np.float64)[None, :, :, None]  # (1, T, C, 1)
    c = v[:, None, : nc * 3].reshape(len(v), 1, nc, 3)
    c = (c - (c * w).sum(axis=2, keepdims=True) / w.sum(axis=2, keepdims=True)) * w
    c = c.reshape(len(v), len(color_keep), nc * 3)
    g = v[:, None, nc * 3: nc * 3 + ng * GRAD_BINS].reshape(len(v), 1, ng, GRAD_BINS)
    g = (g * grad_keep.astype(np.float64)[None, :, :, None]).reshape(len(v), len(grad_keep), ng * GRAD_BINS)
    unit = lambda x: x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)  # noqa: E731
    return unit(c), unit(g)


def tolerant_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Grid similarity that tolerates an overlay: ``a (M, D)`` and ``b (V, D)`` descriptor
    vectors -> ``(M, V)`` float64, for each pair the better of the plain cosine and, for each
    place of :func:`overlay_masks`, the cosine of the two without it: the color cells there
    (and the gradient cells over them) left out, each side's color pattern re-centred and
    normalized on the cells left, the mean chroma terms left out. The same either way round.

    The color grid normalizes its cells together, relative to the mean color, so a white caption
    band over 7% of a dark picture outweighs everything else (its copy scored 0.1-0.8 against
    its source). Used for the grid's part of the fused score with an embedder (the embedder
    then has to agree); measured in bench/overlay_scores.py and bench/embed_quality.py."""
    a = np.asarray(a, np.float64).reshape(-1, DESCRIPTOR_DIM)
    b = np.asarray(b, np.float64).reshape(-1, DESCRIPTOR_DIM)
    plain = a @ b.T
    keep = overlay_masks()
    gkeep = _gradient_masks(keep)
    ca, ga = _masked_parts(a, keep, gkeep)
    cb, gb = _masked_parts(b, keep, gkeep)
    color = np.einsum("mtk,vtk->mvt", ca, cb)
    grad = np.einsum("mtk,vtk->mvt", ga, gb)
    wc, wg = COLOR_WEIGHT ** 2, GRAD_WEIGHT ** 2
    return np.maximum(plain, ((wc * color + wg * grad) / (wc + wg)).max(axis=-1))
