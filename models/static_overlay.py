"""static_layer: the information layer drawn over a moving video (HUD, scoreboard, logo, burned-in
subtitles), recovered from a few dozen frames of a compressed video.

No pixel repeats exactly in a compressed video, and per-pixel thresholds on the temporal range
fail where the camera pans slowly. What this does instead, using what the video tells:

1. **Follow the background.** The camera's motion is estimated as a global translation per
   frame (phase correlation, then Lucas-Kanade with robust weights; pixels whose gradient
   stays strong in every frame, which a static overlay has, are kept out of the estimate).
2. **Stitch the background.** Every frame is placed on a panorama at its shift; the panorama
   is the per-point median over frames, leaving out pixels already known (or suspected) to be
   layer, so it holds the scene without the layer wherever the scene was ever seen uncovered.
3. **Explain each pixel.** The panorama, moved back to each frame, predicts the background
   ``B_t(x)`` under every screen pixel. The layer is modelled as a constant color over the
   moving background with a constant opacity: ``I_t(x) = a C + (1 - a) B_t(x)``. A pixel is
   part of the layer when this fits the frames far better than ``I_t(x) = B_t(x)`` (a
   likelihood-ratio test against the noise level of the video) and fits them well in itself
   (something moving on its own fits neither). Its opacity ``a`` and color ``C`` come from
   the same least-squares fit; over a flat background, where ``a`` cannot be told, the
   layer is taken as opaque.
4. **Peel what the layer hid.** The first panorama is built from every pixel, so where the pan
   never moved a point of the scene out from under the layer (the middle of a panel wider than
   the pan, a line lying along the motion) it holds the layer itself and the test sees
   background. Pixels lying between two pieces of one layer group along the motion, or
   enclosed by one group, are suspects: they are left out of the panorama with the layer, and
   each is decided by steps 2-3 as soon as a point of the scene behind it has been seen
   uncovered elsewhere; each decision cleans the panorama for the next round. Suspects no
   round can decide were never uncovered: they join the layer, with the opacity and color of
   the layer around them. The middle of a ring, the gaps of a text get decided (background),
   because the scene behind them shows up outside.
5. **Object-level cleanup.** Specks smaller than ``min_area`` go.

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
    near = F.max_pool2d(strong[None, None].float(), 7, stride=1, padding=3)[0, 0] > 0
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
    return _Fit(s=s, c=c, mean_i=mi, unknown_alpha=sww < 2 * lam, n=n, layer=layer)


def _predict_all(x: torch.Tensor, shifts: torch.Tensor, exclude: torch.Tensor | None):
    pano, off = _panorama(x, shifts, exclude)
    return _predict(pano, shifts, off, tuple(x.shape[-2:]))


def _merge(primary: _Fit, fallback: _Fit) -> _Fit:
    """``primary`` where it had a background to compare with, ``fallback`` elsewhere."""
    use = primary.n >= 3
    pick = lambda a, b: torch.where(use if a.ndim == 2 else use[None], a, b)  # noqa: E731
    return _Fit(s=pick(primary.s, fallback.s), c=pick(primary.c, fallback.c),
                mean_i=pick(primary.mean_i, fallback.mean_i),
                unknown_alpha=pick(primary.unknown_alpha, fallback.unknown_alpha),
                n=torch.maximum(primary.n, fallback.n), layer=pick(primary.layer, fallback.layer))


def _pan_direction(shifts: torch.Tensor) -> tuple[float, float]:
    """Unit ``(dy, dx)`` along which the background moved most (first principal axis of the shifts)."""
    d = (shifts - shifts.mean(dim=0)).to(torch.float64)
    v = torch.linalg.svd(d, full_matrices=False).Vh[0]
    return float(v[0]), float(v[1])


def _shifted(a: torch.Tensor, oy: int, ox: int) -> torch.Tensor:
    """``out[y, x] = a[y + oy, x + ox]``, 0 outside."""
    H, W = a.shape
    out = torch.zeros_like(a)
    if abs(oy) < H and abs(ox) < W:
        out[max(0, -oy):H - max(0, oy), max(0, -ox):W - max(0, ox)] = \
            a[max(0, oy):H - max(0, -oy), max(0, ox):W - max(0, -ox)]
    return out


def _nearest_along(index: torch.Tensor, direction: tuple[float, float], reach: int) -> torch.Tensor:
    """``(H, W)``: the value of ``index`` (``(H, W) int64``, 0 off the layer) at the nearest layer
    pixel within ``reach`` steps along ``direction``, 0 where there is none."""
    out = torch.zeros_like(index)
    done = set()
    for k in range(1, reach + 1):
        step = (round(k * direction[0]), round(k * direction[1]))
        if step not in done:
            done.add(step)
            out = torch.where(out == 0, _shifted(index, *step), out)
    return out


def _layer_groups(mask: torch.Tensor, reach: int = 7) -> torch.Tensor:
    """``(H, W) int64``: layer pixels numbered by group (pixels within ``reach`` of each other:
    the letters of a text, a panel's rim found in pieces), 0 off the layer."""
    grown = F.max_pool2d(mask[None, None].float(), 2 * reach + 1, 1, reach)[0, 0] > 0
    return label_regions(grown.to(torch.uint8), 0, 8, stats=False).labels.to(torch.int64) * mask


class _Suspects:
    """Pixels off the layer lying between two pixels of one layer along a direction: two
    pixels of one group, or two pixels whose layers look alike (opacity within 0.25,
    premultiplied color within 60 levels: the far sides of a panel whose rim was found in pieces, the
    two ends of a line)."""

    def __init__(self, mask: torch.Tensor, alpha: torch.Tensor, premultiplied: torch.Tensor, reach: int) -> None:
        self.mask, self.reach = mask, reach
        self.groups = _layer_groups(mask).reshape(-1)
        self.index = (torch.arange(1, mask.numel() + 1, device=mask.device).view(mask.shape) * mask)
        self.alpha, self.pre = alpha.reshape(-1), premultiplied.reshape(premultiplied.shape[0], -1)

    def between(self, direction: tuple[float, float], alike_counts: bool = True) -> torch.Tensor:
        ahead = _nearest_along(self.index, direction, self.reach)
        behind = _nearest_along(self.index, (-direction[0], -direction[1]), self.reach)
        ok = (ahead > 0) & (behind > 0) & ~self.mask
        i, j = (ahead - 1).clamp(min=0).reshape(-1), (behind - 1).clamp(min=0).reshape(-1)
        same_group = self.groups[i] == self.groups[j]
        alike = ((self.alpha[i] - self.alpha[j]).abs() <= 0.25) & \
            ((self.pre[:, i] - self.pre[:, j]).norm(dim=0) <= 60.0)
        return ok & ((same_group | alike) if alike_counts else same_group).view(ok.shape)


def _undecided(mask: torch.Tensor, alpha: torch.Tensor, premultiplied: torch.Tensor, shifts: torch.Tensor,
               reach: int = 160) -> torch.Tensor:
    """Pixels the first pass may have missed because the pan never uncovered them: between two
    pixels of one layer along the motion (the middle of a panel or of a line lying along the
    pan), or enclosed by one layer on all four sides."""
    s = _Suspects(mask, alpha, premultiplied, reach)
    return s.between(_pan_direction(shifts), alike_counts=False) | (s.between((0.0, 1.0)) & s.between((1.0, 0.0)))


def _grow(mask: torch.Tensor, size: int) -> torch.Tensor:
    return F.max_pool2d(mask[None, None].float(), size, 1, size // 2)[0, 0] > 0


def static_layer(
    frames: np.ndarray | torch.Tensor, device: torch.device | str | None = None, min_area: int = 6,
    sensitivity: float = 1.0, rounds: int = 8,
) -> StaticLayer:
    """The static layer of ``frames``: ``(T, H, W, 3)`` uint8 array or ``(T, 3, H, W)`` tensor on
    the 0-255 scale, ``T >= 3`` (two dozen is plenty). ``min_area``: smallest kept speck, in
    pixels. ``sensitivity``: scales the evidence needed (higher finds fainter layers and more
    noise). ``rounds``: passes after the first that may decide pixels the layer hid (each
    reaches about one pan length further in). Returns a :class:`StaticLayer` on the frames' device."""
    x = _as_frames(frames, device, batch=True)
    if x.shape[0] < 3:
        raise ValueError(f"expected at least 3 frames (T, C, H, W), got {tuple(x.shape)}")
    if not sensitivity > 0:
        raise ValueError(f"sensitivity must be > 0, got {sensitivity}")
    if rounds < 0:
        raise ValueError(f"rounds must be >= 0, got {rounds}")
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

    # pass 1: everything votes for the background, the layer included, so wherever the pan never
    # moved a point of the scene out from under the layer the panorama holds the layer itself.
    fit = _fit(x, *_predict_all(x, shifts, None), sensitivity)
    mask = fit.layer
    # later passes: the layer and the pixels it may hide are left out of the panorama; a hidden
    # pixel is decided as soon as a point of the scene behind it was seen uncovered somewhere
    # else (its fit then stands, layer or background); the panorama improves with each decision
    alpha = torch.where(fit.unknown_alpha, torch.ones_like(fit.s), (1 - fit.s).clamp(0, 1))
    undecided = _undecided(mask, alpha, fit.c, shifts)
    for _ in range(rounds):
        cur = _fit(x, *_predict_all(x, shifts, _grow(mask, 5) | undecided), sensitivity)
        fit = _merge(cur, fit)  # pixels the panorama has no clean background for keep the earlier verdict
        decided = undecided & (cur.n >= 3)
        mask = (fit.layer & ~undecided) | (decided & cur.layer)
        undecided &= ~decided
        if not bool(decided.any()):
            break
    alpha = torch.where(fit.unknown_alpha, torch.ones_like(fit.s), (1 - fit.s).clamp(0, 1))
    color = torch.where(fit.unknown_alpha[None] | (alpha[None] > 0.98), fit.mean_i,
                        fit.c / alpha.clamp(min=1e-3)[None]).clamp(0, 255)
    # what no pass could decide, the pan never uncovered: between or inside pieces of one layer
    # group it is taken as part of the layer, with the opacity and color of the group around it
    mask, alpha, color = _fill_undecided(undecided, mask, alpha, color)
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


def _fill_undecided(undecided: torch.Tensor, mask: torch.Tensor, alpha: torch.Tensor, color: torch.Tensor):
    """Adds ``undecided`` to ``mask``; each connected piece takes the median opacity and color of
    the layer pixels next to it."""
    if not bool(undecided.any()):
        return mask, alpha, color
    alpha, color = alpha.clone(), color.clone()
    pieces = label_regions(undecided.to(torch.uint8), 0, 8, stats=False).labels.to(torch.int64) * undecided
    rim = _grow(undecided, 3) & mask
    near = F.max_pool2d(pieces[None, None].float(), 3, 1, 1)[0, 0].to(torch.int64) * rim  # piece next to each rim pixel
    for k in torch.unique(near[near > 0]).tolist():
        around, inside = near == k, pieces == k
        alpha[inside] = alpha[around].median()
        color[:, inside] = color[:, around].median(dim=1).values[:, None]
    return mask | undecided, alpha, color
