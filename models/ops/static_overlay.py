"""static_layer: the information layer drawn over a moving video (HUD, scoreboard, logo, burned-in
subtitles), recovered from a few dozen frames of a compressed video.

No pixel repeats exactly in a compressed video, and per-pixel thresholds on the temporal range
fail where the camera pans slowly. What this does instead, using what the video tells:

1. **Follow the background.** The camera's motion is estimated as a global translation per
   frame (phase correlation, then Lucas-Kanade with robust weights; pixels whose gradient
   stays strong in every frame, which a static overlay has, are kept out of the estimate).
2. **Stitch the background.** Every frame is placed on a panorama at its shift; the panorama
   is the per-point median over frames, leaving out pixels already known to be overlay, so it
   holds the scene without the layer wherever the scene was ever seen uncovered.
3. **Explain each pixel.** The panorama, moved back to each frame, predicts the background
   ``B_t(x)`` under every screen pixel. The layer is modelled as a constant color over the
   moving background with a constant opacity: ``I_t(x) = a C + (1 - a) B_t(x)``. A pixel is
   part of the layer when this fits the frames far better than ``I_t(x) = B_t(x)`` (a
   likelihood-ratio test against the noise level of the video) and fits them well in itself
   (something moving on its own fits neither). Its opacity ``a`` and color ``C`` come from
   the same least-squares fit; over a flat background, where ``a`` cannot be told, the
   layer is taken as opaque. Steps 2 and 3 repeat once with the layer left out.
4. **Object-level cleanup.** Areas the panorama never saw uncovered (the inside of a panel
   wider than the pan) are filled when the layer surrounds them, with the opacity and color
   of the layer around them. The rest of a translucent panel found in part is tested against
   a panorama that leaves out everything near it (see :func:`_extend_panels`), and a panel
   the pan ran along is followed along its straight edges (:mod:`.panel_edges`). Edge pixels
   with under half the opacity, or half the brightness contrast, of their neighbours
   (compression's halo) are trimmed, and specks smaller than ``min_area`` go.

The output is an RGBA layer (alpha where static, partial for translucent parts) and the mask.
A video whose background does not move (static camera) gives no evidence: the result is empty
and a warning is logged.
"""

from __future__ import annotations

__all__ = ["StaticLayer", "static_layer"]

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .components import label_regions
from .frames import _as_frames
from .motion import estimate_shifts, warp_translate
from .panel_edges import extend_along_edges, translucent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaticLayer:
    """``rgba``: ``(4, H, W) float32`` in [0, 1] (color, then opacity; 0 off the layer).
    ``mask``: ``(H, W) bool``. ``shifts``: ``(T, 2)`` background motion ``(dy, dx)`` per frame."""

    rgba: torch.Tensor
    mask: torch.Tensor
    shifts: torch.Tensor


def _static_edge_weight(g: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` weight, 0 near edges that stay strong in every frame (an overlay's), else 1."""
    gy = (g[:, 2:, 1:-1] - g[:, :-2, 1:-1]).abs()
    gx = (g[:, 1:-1, 2:] - g[:, 1:-1, :-2]).abs()
    persistent = F.pad((gy + gx).amin(dim=0), (1, 1, 1, 1))
    strong = persistent > 12.0
    near = _grow(strong, 3)
    return (~near).to(torch.float32)


def _panorama(frames: torch.Tensor, shifts: torch.Tensor, exclude: torch.Tensor | None):
    """Median panorama of ``frames (T, C, H, W)`` placed at ``-shifts``; pixels in ``exclude
    (H, W)`` are left out. Returns the panorama ``(C, Hp, Wp)`` (NaN where never seen), and the
    offset to add to screen coordinates."""
    T, C, H, W = frames.shape
    off = shifts.amax(dim=0)
    low = shifts.amin(dim=0)
    Hp = H + int(np.ceil(float(off[0] - low[0]))) + 1
    Wp = W + int(np.ceil(float(off[1] - low[1]))) + 1
    keep = torch.ones((T, 1, H, W), dtype=frames.dtype, device=frames.device)
    if exclude is not None:
        keep = keep * (~exclude).to(frames.dtype)
    stack = torch.cat([frames, keep], dim=1)
    # P(q) = frame_t(q + d_t - off)
    placed, valid = warp_translate(stack, -shifts, size=(Hp, Wp), offset=(float(off[0]), float(off[1])))
    good = valid & (placed[:, C:] > 0.999)
    vals = placed[:, :C].masked_fill(~good, float("nan"))
    return torch.nanmedian(vals, dim=0).values, (float(off[0]), float(off[1]))


def _predict(pano: torch.Tensor, shifts: torch.Tensor, off: tuple[float, float], size: tuple[int, int]):
    """The panorama moved back under each frame: ``(T, C, H, W)`` and validity ``(T, 1, H, W)``."""
    known = ~torch.isnan(pano[:1])
    stack = torch.cat([torch.nan_to_num(pano), known.to(pano.dtype)], dim=0)[None].expand(len(shifts), -1, -1, -1)
    # B_t(x) = P(x - d_t + off)
    out, valid = warp_translate(stack.contiguous(), shifts, size=size, offset=(-off[0], -off[1]))
    c = pano.shape[0]
    return out[:, :c], valid & (out[:, c:] > 0.999)


@dataclass(frozen=True)
class _Fit:
    """Per pixel, over the frames where the background is predicted: ``I = s B + c``."""

    s: torch.Tensor  # (H, W) the background's share, 1 - opacity
    c: torch.Tensor  # (C, H, W) the layer's contribution a * C
    mean_i: torch.Tensor  # (C, H, W)
    mean_b: torch.Tensor  # (C, H, W) of the predicted background
    unknown_alpha: torch.Tensor  # (H, W) it varies too little to tell the opacity: taken as opaque
    n: torch.Tensor  # (H, W) frames with a prediction
    layer: torch.Tensor  # (H, W) the test's verdict


def _fit(x: torch.Tensor, pred: torch.Tensor, valid: torch.Tensor, sensitivity: float) -> _Fit:
    C = x.shape[1]
    v = valid.to(x.dtype)  # (T, 1, H, W)
    n = v.sum(dim=0)[0]
    nn = n.clamp(min=1)
    mi, mb = (x * v).sum(0) / nn, (pred * v).sum(0) / nn  # (C, H, W)
    di, db = (x - mi) * v, (pred - mb) * v
    sww, swi = (db * db).sum((0, 1)), (db * di).sum((0, 1))
    rss_bg = (((x - pred) * v) ** 2).sum((0, 1))
    usable = n >= 3
    per = rss_bg / (C * nn)
    noise = torch.median(per[usable]).clamp(min=1.0) if bool(usable.any()) else torch.tensor(1.0)
    lam = 4.0 * C * noise  # ridge towards s = 1 where the background barely moves under the pixel
    s = ((swi + lam) / (sww + lam)).clamp(-0.2, 1.2)
    c = mi - s * mb
    rss_fit = (((x - s * pred - c) * v) ** 2).sum((0, 1))
    gain = (rss_bg - rss_fit) / noise
    flat = sww < 9.0 * C * noise * nn  # the background's spread under the pixel is within ~3 noise sigmas
    # a layer is I = a C + (1 - a) B with 0 < a <= 1 and C a color: an offset on an unchanged
    # background (s ~ 1, a bias of the prediction) or a negative opacity is not one
    alpha = 1 - s
    implied = c / alpha.clamp(min=1e-3)[None]
    physical = (alpha >= 0.1) & (implied > -25).all(0) & (implied < 280).all(0)
    # where the background does not vary under a pixel (flat, or an edge along the motion) a
    # small offset is as likely a misprediction as a layer: ask for a clear color difference
    layer = usable & (gain > 40.0 / sensitivity) & (rss_fit < 0.3 * rss_bg) & (per > 36.0 / sensitivity) \
        & torch.where(flat, per > 400.0 / sensitivity, physical)
    return _Fit(s=s, c=c, mean_i=mi, mean_b=mb, unknown_alpha=sww < 2 * lam, n=n, layer=layer)


def _predict_all(x: torch.Tensor, shifts: torch.Tensor, exclude: torch.Tensor | None):
    pano, off = _panorama(x, shifts, exclude)
    return _predict(pano, shifts, off, tuple(x.shape[-2:]))


def _merge(primary: _Fit, fallback: _Fit) -> _Fit:
    """``primary`` where it had a background to compare with, ``fallback`` elsewhere."""
    use = primary.n >= 3
    pick = lambda a, b: torch.where(use if a.ndim == 2 else use[None], a, b)  # noqa: E731
    return _Fit(s=pick(primary.s, fallback.s), c=pick(primary.c, fallback.c),
                mean_i=pick(primary.mean_i, fallback.mean_i), mean_b=pick(primary.mean_b, fallback.mean_b),
                unknown_alpha=pick(primary.unknown_alpha, fallback.unknown_alpha),
                n=torch.maximum(primary.n, fallback.n), layer=pick(primary.layer, fallback.layer))


def _holes(mask: torch.Tensor, reach: int = 7, max_share: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x, y, w, h)`` the layer may fill without pass 1 seeing it: the bounding box of
    the layer pixels of each group (pixels within ``reach`` of each other form a group; a
    translucent panel shows up as pieces of its rim); boxes above ``max_share`` of the frame
    are left out."""
    H, W = mask.shape
    out: list[tuple[int, int, int, int]] = []
    if not bool(mask.any()):
        return out
    grown = _grow(mask, reach)
    seg = label_regions(grown.to(torch.uint8), 0, 8, stats=False)
    groups = seg.labels.to(torch.int64) * mask  # each layer pixel with the number of its group
    for lab in torch.unique(groups[mask]).tolist():
        ys, xs = torch.nonzero(groups == lab, as_tuple=True)
        if len(ys) < 2:
            continue
        q = torch.tensor([0.01, 0.99], dtype=torch.float64, device=mask.device)
        y0, y1 = torch.quantile(ys.to(torch.float64), q).round().long().tolist()  # strays do not stretch it
        x0, x1 = torch.quantile(xs.to(torch.float64), q).round().long().tolist()
        out.append((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    out = _merge_boxes(out)
    return [b for b in out if b[2] * b[3] <= max_share * H * W]


def _merge_boxes(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Overlapping boxes become their union (a panel's rim may come in several groups)."""
    boxes = list(boxes)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                ax, ay, aw, ah = boxes[i]
                bx, by, bw, bh = boxes[j]
                if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                    x0, y0 = min(ax, bx), min(ay, by)
                    boxes[i] = (x0, y0, max(ax + aw, bx + bw) - x0, max(ay + ah, by + bh) - y0)
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _box_mask(boxes: list[tuple[int, int, int, int]], like: torch.Tensor) -> torch.Tensor:
    out = torch.zeros_like(like, dtype=torch.bool)
    for x, y, w, h in boxes:
        out[y:y + h, x:x + w] = True
    return out


def static_layer(
    frames: np.ndarray | torch.Tensor, device: torch.device | str | None = None, min_area: int = 6,
    sensitivity: float = 1.0,
) -> StaticLayer:
    """The static layer of ``frames``: ``(T, H, W, 3)`` uint8 array or ``(T, 3, H, W)`` tensor on
    the 0-255 scale, ``T >= 3`` (two dozen is plenty). ``min_area``: smallest kept speck, in
    pixels. ``sensitivity``: scales the evidence needed (higher finds fainter layers and more
    noise). Returns a :class:`StaticLayer` on the frames' device."""
    x = _as_frames(frames, device, batch=True)
    if x.shape[0] < 3:
        raise ValueError(f"expected at least 3 frames (T, C, H, W), got {tuple(x.shape)}")
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, got {sensitivity}")
    x = x.to(torch.float32)
    T, C, H, W = x.shape
    weight = _static_edge_weight(x.mean(dim=1))
    shifts = estimate_shifts(x, reference=T // 2, weight=weight if weight.mean() > 0.3 else None)
    span = float((shifts.amax(0) - shifts.amin(0)).abs().max())
    if span < 1.0:
        log.warning("the background does not move (%.2f px over %d frames): a static layer cannot be told "
                    "from a static background", span, T)
        empty = torch.zeros((H, W), dtype=torch.bool, device=x.device)
        return StaticLayer(torch.zeros((4, H, W), device=x.device), empty, shifts)

    # pass 1: everything votes for the background. Pass 2: the layer found and the areas it may
    # cover unseen are left out of the panorama and re-tested against the cleaner background;
    # where pass 2 has no background left to compare with (a slow pan never uncovered it), pass 1 stands.
    first = _fit(x, *_predict_all(x, shifts, None), sensitivity)
    holes = _holes(first.layer)
    exclude = _grow(first.layer, 2) | _box_mask(holes, first.layer)
    pred2, valid2 = _predict_all(x, shifts, exclude)
    second = _fit(x, pred2, valid2, sensitivity)
    fit = _merge(second, first)
    mask = fit.layer
    alpha = torch.where(fit.unknown_alpha, torch.ones_like(fit.s), (1 - fit.s).clamp(0, 1))
    color = torch.where(fit.unknown_alpha[None] | (alpha[None] > 0.98), fit.mean_i,
                        fit.c / alpha.clamp(min=1e-3)[None]).clamp(0, 255)
    # pass 1 compared the candidate areas with themselves; pass 2 tested the part the pan uncovered
    mask, alpha, color = _fill_holes(holes, x, pred2, valid2, mask, alpha, color)
    mask, alpha, color = _extend_panels(x, shifts, mask, alpha, color, reach=int(np.ceil(span)) + 4,
                                        sensitivity=sensitivity)
    mask, alpha, color = extend_along_edges(x, mask, alpha, color)
    # compression smears each shape into its surroundings: an edge pixel's fitted opacity and
    # the brightness of its mean difference from the background are both about the share of it
    # the shape covers times the shape's own (brightness rather than color: the chroma is
    # subsampled and smears further; and it is known over a flat background, the opacity is not)
    diff = fit.mean_i - fit.mean_b
    luma = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(-1, 1, 1)
    contrast = ((diff * luma).sum(dim=0) if C == 3 else diff.mean(dim=0)).abs()
    mask = _trim_halo(_trim_halo(mask, contrast), alpha)
    mask = _drop_specks(mask, min_area)
    alpha = torch.where(mask, alpha.clamp(min=0.05), torch.zeros_like(alpha))
    rgba = torch.cat([color / 255 * mask, alpha[None]], dim=0).to(torch.float32)
    return StaticLayer(rgba=rgba, mask=mask, shifts=shifts)


def _drop_specks(mask: torch.Tensor, min_area: int) -> torch.Tensor:
    if min_area <= 1 or not bool(mask.any()):
        return mask
    seg = label_regions(mask.to(torch.uint8), 0, 8, stats=True)
    labels = seg.labels.to(torch.int64)
    area = torch.zeros(seg.count + 1, dtype=torch.int64, device=mask.device)
    area[1:] = torch.as_tensor(seg.stats.area, device=mask.device)
    is_on = torch.zeros(seg.count + 1, dtype=torch.bool, device=mask.device)
    on_color = torch.as_tensor(seg.stats.color[:, 0] > 0.5, device=mask.device)
    is_on[1:] = on_color
    keep = is_on & (area >= min_area)
    return keep[labels]


def _enclosed(on: torch.Tensor, sides: int = 3) -> torch.Tensor:
    """``(h, w) bool``: pixels with a layer pixel of ``on`` on at least ``sides`` of the four
    sides (left, right, above, below) in their row or column: the inside of a panel whose rim
    was found (one side may be missing), not the gaps between the letters of a text."""
    def seen_before(m: torch.Tensor, dim: int) -> torch.Tensor:
        return torch.cummax(m.to(torch.uint8), dim=dim).values.bool()

    count = (seen_before(on, 1).int() + seen_before(on.flip(1), 1).flip(1).int()
             + seen_before(on, 0).int() + seen_before(on.flip(0), 0).flip(0).int())
    return count >= sides


def _pooled_layer(xb: torch.Tensor, bb: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Least squares of ``I = s B + c`` pooled over pixels and frames with weights ``w``
    ``(T, 1, h, w)``: one ``s`` and one ``c`` per channel. Returns ``(s, c (C,), spread)``, spread
    being the standard deviation of the background over them (per channel, pooled)."""
    tot = w.sum().clamp(min=1)
    mi = (xb * w).sum(dim=(0, 2, 3)) / tot
    mb = (bb * w).sum(dim=(0, 2, 3)) / tot
    db = (bb - mb.view(1, -1, 1, 1)) * w
    sbb = (db * (bb - mb.view(1, -1, 1, 1))).sum()
    s = (db * (xb - mi.view(1, -1, 1, 1))).sum() / sbb.clamp(min=1e-6)
    return s, mi - s * mb, (sbb / (tot * xb.shape[1])).sqrt()


def _fill_holes(boxes: list[tuple[int, int, int, int]], x: torch.Tensor, pred: torch.Tensor, valid: torch.Tensor,
                mask: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor, margin: int = 4,
                min_spread: float = 6.0):
    """Each box around a group of layer pixels is decided as a whole, by its free pixels that
    pass 2 could test (the pan moved them out from under the layer; ``pred``, ``valid``: pass
    2's background), away from the box's rim where the layer's edge blurs. One layer
    ``I = a C + (1 - a) B`` is fitted to all of them at once; the box fills when that layer has a real opacity
    and explains the tested pixels better in sum, as the inside of a panel wider than the pan
    does and the middle of a ring or the gaps of a text do not. Filled: the free pixels that
    are unseen or not clearly background, with the fitted opacity and color. Only pixels the
    box's layer encloses (see :func:`_enclosed`) take part."""
    mask, alpha, color = mask.clone(), alpha.clone(), color.clone()
    usable = valid.sum(dim=0)[0] >= 1  # the fit is pooled: one frame per pixel is enough to vote
    whole = (slice(None), slice(None))
    for bx, by, w, h in boxes:
        box = (slice(by, by + h), slice(bx, bx + w))
        free = ~mask[box] & _enclosed(mask[box])
        inner = torch.zeros_like(free)
        inner[margin:h - margin, margin:w - margin] = True
        seen = free & usable[box] & inner
        if int(seen.sum()) < 10:
            continue
        xb, bb = x[whole + box], pred[whole + box]
        vb = valid[whole + box].to(x.dtype)
        n = vb.sum(dim=(0, 1)).clamp(min=1)
        rss_bg = (((xb - bb) ** 2) * vb).sum(dim=(0, 1))
        # two hypotheses for the layer: one fitted to the tested pixels, and the translucent rim
        # found around them (when there is one); each must have a real opacity and explain most
        # of what plain background leaves unexplained, judged per pixel by the median (a few
        # halo pixels of a text on the panel, or a sliver of background inside the box, cannot
        # outvote the rest). The fitted one has 4 free parameters, so it must explain more.
        s, c, spread = _pooled_layer(xb, bb, vb * seen)
        if float(spread) < min_spread:
            continue  # a flat background under the box: the opacity cannot be told
        hypotheses = [(1 - s, c, 0.5)]
        rim = mask[box] & (alpha[box] > 0.1) & (alpha[box] < 0.9)
        if int(rim.sum()) >= 20:
            a_rim = alpha[box][rim].median()
            hypotheses.append((a_rim, a_rim * color[(slice(None),) + box][:, rim].median(dim=1).values, 0.25))
        chosen = None
        for a, ac, need in hypotheses:
            if not 0.1 <= float(a) <= 1.0:
                continue
            layered = (1 - a) * bb + ac.view(1, -1, 1, 1)
            llr = rss_bg - (((xb - layered) ** 2) * vb).sum(dim=(0, 1))  # > 0: the layer explains it better
            if float((llr[seen] / rss_bg[seen].clamp(min=1e-6)).median()) >= need:
                chosen = (a, ac, llr)
                break
        if chosen is None:
            continue
        a, ac, llr = chosen
        col = (ac / a).clamp(0, 255)
        fill = free & (~usable[box] | (llr / n > -100.0))
        alpha[box][fill] = a
        color[(slice(None),) + box][:, fill] = col[:, None]
        mask[box] |= fill
    return mask, alpha, color


def _trim_halo(mask: torch.Tensor, strength: torch.Tensor, share: float = 0.5, window: int = 5) -> torch.Tensor:
    """``mask`` without the pixels on its edge whose ``strength`` (opacity, or contrast with the
    background) is under ``share`` of the strongest within ``window``: compression blurs a
    shape's edge into its surroundings, and an edge pixel's strength is about the share of it
    the shape covers times the shape's own (a pixel belongs to the layer when the layer covers
    at least half of it)."""
    strongest = F.max_pool2d((strength * mask)[None, None], window, 1, window // 2)[0, 0]
    edge = mask & _grow(~mask, 1)
    return mask & ~(edge & (strength < share * strongest))


def _grow(m: torch.Tensor, r: int) -> torch.Tensor:
    """``m (H, W) bool`` dilated by ``r`` pixels (a square)."""
    return F.max_pool2d(m[None, None].float(), 2 * r + 1, 1, r)[0, 0] > 0 if r > 0 else m


def _between(on: torch.Tensor, reach: int) -> torch.Tensor:
    """``(H, W) bool``: pixels with a pixel of ``on`` within ``reach`` on both sides, to the left
    and right in their row or above and below in their column."""
    def both_sides(dim: int) -> torch.Tensor:
        L = on.shape[dim]
        count = F.pad(torch.cumsum(on.to(torch.int32), dim=dim), (1, 0) if dim == 1 else (0, 0, 1, 0))
        i = torch.arange(L, device=on.device)
        at = lambda j: count.index_select(dim, j)  # noqa: E731  on-pixels before position j
        before = at(i) - at((i - reach).clamp(min=0)) > 0
        after = at((i + reach + 1).clamp(max=L)) - at(i + 1) > 0
        return before & after

    return both_sides(1) | both_sides(0)


def _extend_panels(x: torch.Tensor, shifts: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor,
                   color: torch.Tensor, reach: int, sensitivity: float, solid: float = 0.4, min_side: int = 16):
    """The rest of translucent panels that passes 1 and 2 found in part.

    The part of a panel not found yet was in the panorama, so the background predicted behind
    it is itself seen through the panel, and the panel seems not to be there. For every solid
    translucent piece of the layer (opacity between 0.15 and 0.85 inside; it fills at least
    ``solid`` of its box, at least ``min_side`` pixels each way: a panel, not a ring, a line or
    a word), one opacity ``a`` and color ``C`` (medians over
    its inner pixels), a panorama is built without the layer and without anything within
    ``reach`` of the piece. Each pixel there that this panorama still predicts (the pan showed
    its scene elsewhere) is tested: ``a C + (1 - a) B`` must explain its frames far better
    than ``B``. Pixels the pan never showed uncovered, lying between the piece and pixels found
    that way (within ``reach`` along a row or a column), are inside the panel; so is a found
    pixel at the piece's edge (where compression blurs) only when it lies between. What
    connects to the piece is added, with its opacity and color."""
    trans = translucent(mask, alpha)
    inner = trans & ~_grow(~trans, 1)
    pieces = label_regions(mask.to(torch.uint8), 0, 8, background=0, stats=True)
    groups = []
    for i in range(pieces.count):
        _, _, w, h = (int(v) for v in pieces.stats.box[i])
        piece = pieces.labels == i + 1
        core = inner & piece
        if int(core.sum()) < 50 or min(w, h) < min_side or pieces.stats.area[i] < solid * w * h:
            continue
        groups.append((piece, _grow(piece, reach), core, alpha[core].median(), color[:, core].median(dim=1).values))
    if not groups:
        return mask, alpha, color
    zone = torch.zeros_like(mask)
    for _, around, *_ in groups:
        zone |= around
    zone &= ~mask
    C, (H, W) = x.shape[1], mask.shape
    pano, off = _panorama(x, shifts, _grow(mask, 2) | zone)
    pred, valid = _predict(pano, shifts, off, (H, W))
    v = valid.to(x.dtype)
    n = v.sum(dim=(0, 1))
    rss_bg = (((x - pred) ** 2) * v).sum(dim=(0, 1))
    testable = n >= 3
    if not bool(testable.any()):
        return mask, alpha, color
    noise = (rss_bg / (C * n.clamp(min=1)))[testable].median().clamp(min=1.0)
    mask, alpha, color = mask.clone(), alpha.clone(), color.clone()
    for piece, around, core, a, c in groups:
        near = zone & around
        rss_layer = (((x - (1 - a) * pred - (a * c)[None, :, None, None]) ** 2) * v).sum(dim=(0, 1))
        found = near & testable & (rss_layer < 0.5 * rss_bg) & ((rss_bg - rss_layer) / noise > 20.0 / sensitivity)
        beyond = found & ~_grow(piece, 2)
        add = (near & (~testable | found) & _between((mask & around) | beyond, reach)) | beyond
        joined = label_regions((mask | add).to(torch.uint8), 0, 8, background=0, stats=False).labels
        add &= torch.isin(joined, torch.unique(joined[core]))
        alpha[add] = a
        color[:, add] = c[:, None]
        mask |= add
    return mask, alpha, color
