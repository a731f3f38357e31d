"""Keypoints: distinctive places of a picture, each with a scale and an upright color descriptor.

Detection is the difference-of-Gaussians scale space (extrema over space and scale, low-contrast
and edge-like responses dropped), so the same place of a picture found at another size comes
back at the matching scale. The descriptor is a histogram of gradient orientations on a 4x4
grid of cells over a window of 8 keypoint scales, *not* turned to a dominant orientation
(lookalike is orientation-sensitive: a rotated or mirrored patch must not match), beside the
mean chroma of each cell (color-aware). Brightness and contrast changes cancel out.
"""

from __future__ import annotations

__all__ = ["Keypoints", "detect_keypoints", "DESCRIPTOR_DIM"]

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..tensors import as_chw

SCALES_PER_OCTAVE = 4
SIGMA0 = 1.6
CONTRAST = 0.004  # DoG response (luma in [0, 1], per scale step) a keypoint needs
EDGE_RATIO = 10.0  # principal curvature ratio above which a response is an edge, not a corner
CELLS = 4
BINS = 8
SAMPLES = 16  # per side of the descriptor window
WINDOW = 8.0  # descriptor window side, in keypoint scales
CHROMA_WEIGHT = 1.5
DESCRIPTOR_DIM = CELLS * CELLS * (BINS + 2)
_MIN_LEVEL_SIDE = 16
#: Pictures up to this many pixels on their longer side are searched from twice their size (0: never).
UPSAMPLE_BELOW = 640


@dataclass(frozen=True)
class Keypoints:
    """``xy`` ``(K, 2) float32`` (x, y) in the given pixels; ``scale`` ``(K,) float32`` the
    detection scale (sigma, pixels); ``response`` ``(K,)``; ``descriptors`` ``(K, D) float32``
    unit rows (``D`` = :data:`DESCRIPTOR_DIM`)."""

    xy: np.ndarray
    scale: np.ndarray
    response: np.ndarray
    descriptors: np.ndarray

    def __len__(self) -> int:
        return len(self.xy)


def _gauss_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, device=device, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(N, C, H, W)``, reflect-padded."""
    k = _gauss_kernel(sigma, x.device)
    r = (len(k) - 1) // 2
    c = x.shape[1]
    r_h, r_w = min(r, x.shape[2] - 1), min(r, x.shape[3] - 1)
    kh = k[r - r_h: r + r_h + 1] if r_h < r else k
    kw = k[r - r_w: r + r_w + 1] if r_w < r else k
    x = F.pad(x, (r_w, r_w, 0, 0), mode="reflect")
    x = F.conv2d(x, (kw / kw.sum()).view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r_h, r_h), mode="reflect")
    return F.conv2d(x, (kh / kh.sum()).view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def detect_keypoints(pixels: np.ndarray | torch.Tensor, max_points: int = 256,
                     device: torch.device | str | None = None) -> Keypoints:
    """Keypoints of ``pixels`` (``(H, W, 3) uint8`` array or ``(3, H, W)`` tensor, 0-255), the
    ``max_points`` strongest, spread over the picture (each eighth of each side keeps its share)."""
    x = as_chw(pixels, device)
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected (H, W, 3) pixels, got {tuple(x.shape)}")
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    rgb = x.float()[None] / 255.0
    h, w = rgb.shape[-2:]
    empty = Keypoints(np.zeros((0, 2), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32),
                      np.zeros((0, DESCRIPTOR_DIM), np.float32))
    if min(h, w) < _MIN_LEVEL_SIDE:
        return empty
    up = 2.0 if UPSAMPLE_BELOW and max(h, w) <= UPSAMPLE_BELOW else 1.0
    if up > 1:  # small pictures: a first octave at twice the size finds the small places too (as SIFT does)
        rgb = F.interpolate(rgb, scale_factor=up, mode="bilinear", align_corners=False)
    r, g, b = rgb[:, 0:1], rgb[:, 1:2], rgb[:, 2:3]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    chroma = torch.cat([b - luma, r - luma], 1)  # (1, 2, H, W), brightness-free color

    k = 2.0 ** (1.0 / SCALES_PER_OCTAVE)
    sigmas = [SIGMA0 * k ** i for i in range(SCALES_PER_OCTAVE + 3)]
    base = _blur(luma, math.sqrt(max(SIGMA0 ** 2 - 0.5 ** 2, 0.01)))
    cands: list[tuple[torch.Tensor, ...]] = []
    levels: list[tuple[torch.Tensor, torch.Tensor, float]] = []  # (gaussian, chroma, octave factor)
    octave, factor, chroma_o = base, 1.0 / up, chroma
    while min(octave.shape[-2:]) >= _MIN_LEVEL_SIDE:
        gauss = [octave]
        for i in range(1, len(sigmas)):  # each level from the one before: small kernels
            gauss.append(_blur(gauss[-1], math.sqrt(sigmas[i] ** 2 - sigmas[i - 1] ** 2)))
        stack = torch.cat(gauss, 1)  # (1, S+3, h, w)
        dog = stack[:, 1:] - stack[:, :-1]  # (1, S+2, h, w)
        d = dog[0]
        peak_max = _scale_space_max(d)
        peak_min = -_scale_space_max(-d)
        extremum = ((d == peak_max) | (d == peak_min)) & (d.abs() > 0.8 * CONTRAST * (k - 1) / (2 ** 0.5 - 1))
        extremum[0] = False
        extremum[-1] = False
        extremum[:, :2] = False
        extremum[:, -2:] = False
        extremum[:, :, :2] = False
        extremum[:, :, -2:] = False
        si, yi, xi = torch.nonzero(extremum, as_tuple=True)
        if len(si):
            # a quadratic fit in space and scale around each extremum (Brown and Lowe): where the
            # peak really is, and its height; edge-like peaks (principal curvature ratio) are dropped
            c = d[si, yi, xi]
            dx = (d[si, yi, xi + 1] - d[si, yi, xi - 1]) / 2
            dy = (d[si, yi + 1, xi] - d[si, yi - 1, xi]) / 2
            ds = (d[si + 1, yi, xi] - d[si - 1, yi, xi]) / 2
            dxx = d[si, yi, xi + 1] + d[si, yi, xi - 1] - 2 * c
            dyy = d[si, yi + 1, xi] + d[si, yi - 1, xi] - 2 * c
            dss = d[si + 1, yi, xi] + d[si - 1, yi, xi] - 2 * c
            dxy = (d[si, yi + 1, xi + 1] - d[si, yi + 1, xi - 1] - d[si, yi - 1, xi + 1] + d[si, yi - 1, xi - 1]) / 4
            dxs = (d[si + 1, yi, xi + 1] - d[si + 1, yi, xi - 1] - d[si - 1, yi, xi + 1] + d[si - 1, yi, xi - 1]) / 4
            dys = (d[si + 1, yi + 1, xi] - d[si + 1, yi - 1, xi] - d[si - 1, yi + 1, xi] + d[si - 1, yi - 1, xi]) / 4
            hess = torch.stack([torch.stack([dxx, dxy, dxs], -1), torch.stack([dxy, dyy, dys], -1),
                                torch.stack([dxs, dys, dss], -1)], -2)
            grad = torch.stack([dx, dy, ds], -1)
            det3 = torch.linalg.det(hess)
            safe = det3.abs() > 1e-12
            off = torch.zeros_like(grad)
            off[safe] = -torch.linalg.solve(hess[safe], grad[safe][..., None])[..., 0]
            off = off.clamp(-0.6, 0.6)
            peak = c + 0.5 * (grad * off).sum(-1)
            tr, det = dxx + dyy, dxx * dyy - dxy ** 2
            ok = safe & (det > 0) & (tr ** 2 * EDGE_RATIO < (EDGE_RATIO + 1) ** 2 * det)
            ok &= peak.abs() > CONTRAST * (k - 1) / (2 ** 0.5 - 1)
            si, yi, xi, off, peak = si[ok], yi[ok], xi[ok], off[ok], peak[ok]
            lvl = len(levels)
            cands.append(((xi.float() + off[:, 0]) * factor, (yi.float() + off[:, 1]) * factor,
                          sigmas[0] * k ** (si.float() + off[:, 2]) * factor,
                          peak.abs(), torch.full_like(si, lvl), si))
        levels.append((stack, chroma_o, factor))
        octave = gauss[SCALES_PER_OCTAVE][:, :, ::2, ::2]
        chroma_o = F.avg_pool2d(chroma_o, 2, ceil_mode=True)[:, :, :octave.shape[-2], :octave.shape[-1]]
        factor *= 2
    if not cands:
        return empty
    xs, ys, ss, rs, ls, si = (torch.cat(c) for c in zip(*cands))
    keep = _spread(xs, ys, rs, w, h, max_points)
    xs, ys, ss, rs, ls, si = xs[keep], ys[keep], ss[keep], rs[keep], ls[keep], si[keep]
    desc = torch.zeros((len(xs), DESCRIPTOR_DIM), device=x.device)
    for lvl, (stack, chroma_o, factor) in enumerate(levels):
        sel = torch.nonzero(ls == lvl, as_tuple=True)[0]
        if len(sel):
            desc[sel] = _describe(stack, chroma_o, factor, xs[sel], ys[sel], ss[sel], si[sel])
    return Keypoints(
        torch.stack([xs, ys], 1).cpu().numpy().astype(np.float32), ss.cpu().numpy().astype(np.float32),
        rs.cpu().numpy().astype(np.float32), desc.cpu().numpy().astype(np.float32),
    )


def _scale_space_max(d: torch.Tensor) -> torch.Tensor:
    """The maximum over each 3x3x3 neighbourhood (space and the two neighbouring scales) of ``(S, H, W)``."""
    p = F.pad(d, (1, 1, 1, 1), value=float("-inf"))
    m = torch.maximum(torch.maximum(p[:, :, :-2], p[:, :, 1:-1]), p[:, :, 2:])
    m = torch.maximum(torch.maximum(m[:, :-2], m[:, 1:-1]), m[:, 2:])
    out = m.clone()
    out[1:] = torch.maximum(out[1:], m[:-1])
    out[:-1] = torch.maximum(out[:-1], m[1:])
    return out


def _spread(xs: torch.Tensor, ys: torch.Tensor, resp: torch.Tensor, w: int, h: int, n: int) -> torch.Tensor:
    """Indices of the ``n`` strongest responses, at most ``2 n / 64`` from each cell of an 8x8 grid
    first (a small pasted patch in a busy picture keeps its keypoints), then the strongest of the rest."""
    order = torch.argsort(resp, descending=True)
    cell = (torch.clamp((ys[order] * 8 / h).long(), 0, 7) * 8 + torch.clamp((xs[order] * 8 / w).long(), 0, 7))
    rank = torch.zeros_like(cell)
    # rank of each keypoint within its cell (order is by response)
    sorted_cell, idx = torch.sort(cell, stable=True)
    first = torch.ones_like(sorted_cell, dtype=torch.bool)
    first[1:] = sorted_cell[1:] != sorted_cell[:-1]
    start = torch.cummax(torch.where(first, torch.arange(len(cell), device=cell.device), 0), 0).values
    rank[idx] = torch.arange(len(cell), device=cell.device) - start
    per_cell = max(1, (2 * n) // 64)
    first_pick = order[rank < per_cell]
    rest = order[rank >= per_cell]
    return torch.cat([first_pick[:n], rest[: max(0, n - len(first_pick))]])


def _describe(stack: torch.Tensor, chroma: torch.Tensor, factor: float, xs: torch.Tensor, ys: torch.Tensor,
              ss: torch.Tensor, si: torch.Tensor) -> torch.Tensor:
    """Descriptors of keypoints detected on one octave (``stack``: its Gaussian levels)."""
    _, _, h, w = stack.shape
    gx = torch.zeros_like(stack)
    gy = torch.zeros_like(stack)
    gx[..., 1:-1] = (stack[..., 2:] - stack[..., :-2]) / 2
    gy[..., 1:-1, :] = (stack[..., 2:, :] - stack[..., :-2, :]) / 2
    n = len(xs)
    # sample positions: SAMPLES x SAMPLES over a window of WINDOW scales, in octave pixels
    t = (torch.arange(SAMPLES, device=xs.device, dtype=torch.float32) + 0.5) / SAMPLES - 0.5
    half = ss / factor * WINDOW
    px = xs[:, None, None] / factor + t[None, None, :] * half[:, None, None]
    py = ys[:, None, None] / factor + t[None, :, None] * half[:, None, None]
    px, py = torch.broadcast_tensors(px, py)
    grid = torch.stack([px / (w - 1) * 2 - 1, py / (h - 1) * 2 - 1], -1)  # (n, S, S, 2)
    flat = grid.view(1, n * SAMPLES, SAMPLES, 2)
    pick = torch.arange(n, device=xs.device)
    level = si.long()
    both = F.grid_sample(torch.cat([gx, gy], 1), flat, align_corners=True, padding_mode="zeros")
    both = both.view(2, stack.shape[1], n, SAMPLES, SAMPLES)  # every level sampled, then each keypoint's own
    gxs, gys = both[0][level, pick], both[1][level, pick]
    ch = F.grid_sample(chroma, flat, align_corners=True, padding_mode="border").view(2, n, SAMPLES, SAMPLES)
    ch = ch.permute(1, 0, 2, 3)
    weight = torch.exp(-(t[None, :] ** 2 + t[:, None] ** 2) / (2 * 0.5 ** 2))  # Gaussian over the window
    mag = torch.sqrt(gxs ** 2 + gys ** 2) * weight
    ang = torch.atan2(gys, gxs) % (2 * math.pi) / (2 * math.pi) * BINS
    lo = torch.floor(ang).long() % BINS
    frac = ang - torch.floor(ang)
    hist = torch.zeros((n, SAMPLES, SAMPLES, BINS), device=xs.device)
    hist.scatter_add_(3, lo[..., None], (mag * (1 - frac))[..., None])
    hist.scatter_add_(3, ((lo + 1) % BINS)[..., None], (mag * frac)[..., None])
    cs = SAMPLES // CELLS
    hist = hist.view(n, CELLS, cs, CELLS, cs, BINS).sum((2, 4)).reshape(n, -1)
    hist = F.normalize(hist, dim=1).clamp(max=0.2)
    hist = F.normalize(hist, dim=1)
    col = ch.view(n, 2, CELLS, cs, CELLS, cs).mean((3, 5)).permute(0, 2, 3, 1).reshape(n, -1)
    return F.normalize(torch.cat([hist, col * CHROMA_WEIGHT], 1), dim=1)
