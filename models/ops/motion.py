"""Global translation between frames by phase correlation (FFT), to sub-pixel precision.

Used by :func:`~lookalike.models.ops.static_overlay.static_layer` to follow a camera pan. The sign
convention: ``shift[t] = (dy, dx)`` means ``frame_t(y, x) ~ frame_ref(y - dy, x - dx)`` (the
content moved by ``dy, dx``).
"""

from __future__ import annotations

__all__ = ["phase_shifts", "refine_shifts", "estimate_shifts", "warp_translate"]

import torch
import torch.nn.functional as F


def _gray(frames: torch.Tensor) -> torch.Tensor:
    return frames.to(torch.float32).mean(dim=-3)


def _parabola(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Sub-sample offset of the peak of three samples ``a, b, c`` around the maximum ``b``."""
    den = a - 2 * b + c
    return torch.where(den.abs() > 1e-12, 0.5 * (a - c) / den, torch.zeros_like(den)).clamp(-0.5, 0.5)


def phase_shifts(
    frames: torch.Tensor, reference: int = 0, weight: torch.Tensor | None = None, max_shift: float | None = None,
) -> torch.Tensor:
    """``(T, 2) float64`` shifts ``(dy, dx)`` of each frame relative to ``frames[reference]``.

    ``frames``: ``(T, C, H, W)`` (any real dtype). ``weight``: optional ``(H, W)`` in [0, 1]
    multiplied into the apodizing window, to silence areas that must not vote (a static
    overlay pulls the peak towards zero). ``max_shift``: ignore peaks farther than this."""
    if frames.ndim != 4:
        raise ValueError(f"expected (T, C, H, W) frames, got {tuple(frames.shape)}")
    g = _gray(frames)
    T, H, W = g.shape
    win = torch.outer(torch.hann_window(H, periodic=False, dtype=torch.float32, device=g.device),
                      torch.hann_window(W, periodic=False, dtype=torch.float32, device=g.device))
    if weight is not None:
        win = win * weight.to(win)
    g = (g - (g * win).sum(dim=(1, 2), keepdim=True) / win.sum().clamp(min=1e-12)) * win
    spec = torch.fft.rfft2(g)
    cross = spec * spec[reference].conj()
    cross = cross / cross.abs().clamp(min=1e-9)
    surf = torch.fft.irfft2(cross, s=(H, W))  # peak at the shift of frame t against the reference
    if max_shift is not None:
        yy = torch.fft.fftfreq(H, 1 / H, device=g.device).abs()[:, None]
        xx = torch.fft.fftfreq(W, 1 / W, device=g.device).abs()[None, :]
        surf = surf.masked_fill((yy > max_shift) | (xx > max_shift), float("-inf"))
    flat = surf.reshape(T, -1).argmax(dim=1)
    py, px = flat // W, flat % W
    t = torch.arange(T, device=g.device)
    fy = _parabola(surf[t, (py - 1) % H, px], surf[t, py, px], surf[t, (py + 1) % H, px])
    fx = _parabola(surf[t, py, (px - 1) % W], surf[t, py, px], surf[t, py, (px + 1) % W])
    dy = torch.where(py > H // 2, py - H, py).to(torch.float64) - fy.to(torch.float64)
    dx = torch.where(px > W // 2, px - W, px).to(torch.float64) - fx.to(torch.float64)
    return torch.stack([dy, dx], dim=1)


def warp_translate(images: torch.Tensor, shifts: torch.Tensor, size: tuple[int, int] | None = None,
                   offset: tuple[float, float] = (0.0, 0.0)) -> tuple[torch.Tensor, torch.Tensor]:
    """Bilinear translation: ``out[t](y, x) = images[t](y - oy - shifts[t, 0], x - ox - shifts[t, 1])``.

    ``images``: ``(T, C, H, W)`` float; ``shifts``: ``(T, 2)``; ``size``: the output ``(Ho, Wo)``
    (default the input's); ``offset``: ``(oy, ox)`` added to every shift. Returns the warped
    images ``(T, C, Ho, Wo)`` and their validity ``(T, 1, Ho, Wo) bool`` (every tap inside)."""
    T, C, H, W = images.shape
    Ho, Wo = size or (H, W)
    dev, dt = images.device, images.dtype
    # a translation: the sampled row depends on (t, y) only, the column on (t, x) only
    ys = torch.arange(Ho, device=dev, dtype=torch.float64)[None, :] - offset[0] - shifts[:, 0, None].to(dev)
    xs = torch.arange(Wo, device=dev, dtype=torch.float64)[None, :] - offset[1] - shifts[:, 1, None].to(dev)
    grid = torch.empty((T, Ho, Wo, 2), dtype=dt, device=dev)
    grid[..., 0] = ((2 * xs + 1) / W - 1).to(dt)[:, None, :]  # align_corners=False
    grid[..., 1] = ((2 * ys + 1) / H - 1).to(dt)[:, :, None]
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    valid = ((ys > -1e-6) & (ys < H - 1 + 1e-6))[:, :, None] & ((xs > -1e-6) & (xs < W - 1 + 1e-6))[:, None, :]
    return out, valid[:, None]


def _blur(g: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(T, H, W)``, reflect padding."""
    r = max(1, int(3 * sigma))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, device=g.device, dtype=g.dtype) / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(g[:, None], (r, r, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, r, r), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1))[:, 0]


def refine_shifts(
    frames: torch.Tensor, shifts: torch.Tensor, reference: int = 0, weight: torch.Tensor | None = None,
    iterations: int = 30, sigma: float = 1.5, tol: float = 1e-3,
) -> torch.Tensor:
    """Gauss-Newton (Lucas-Kanade) refinement of global shifts ``(T, 2)``: each frame is warped
    back onto the reference and the shift corrected by the least-squares step, with a Huber
    weight (scale: the frame's median absolute residual) so that what does not follow the motion
    (a static overlay) loses its vote. A frame stops once its step is below ``tol`` pixels;
    images in float32, the normal equations summed in float64."""
    g = _blur(_gray(frames), sigma)
    T, H, W = g.shape
    ref = g[reference]
    d = shifts.to(torch.float64).clone()
    base_w = torch.ones((H, W), dtype=g.dtype, device=g.device) if weight is None else weight.to(g)
    inner = torch.zeros((H, W), dtype=torch.bool, device=g.device)
    inner[1:-1, 1:-1] = True  # where central differences exist
    active = torch.ones(T, dtype=torch.bool, device=g.device)
    active[reference] = False
    for _ in range(iterations):
        idx = active.nonzero().squeeze(1)
        if not idx.numel():
            break
        # aligned[t](y, x) = g[t](y + dy, x + dx), which should equal ref(y, x)
        aligned, valid = warp_translate(g.index_select(0, idx)[:, None], -d[idx])
        a = aligned[:, 0]
        gy = torch.zeros_like(a)
        gx = torch.zeros_like(a)
        gy[:, 1:-1] = (a[:, 2:] - a[:, :-2]) / 2
        gx[:, :, 1:-1] = (a[:, :, 2:] - a[:, :, :-2]) / 2
        v = valid[:, 0] & inner
        e = a - ref
        err = e.abs()
        scale = torch.where(v, err, float("nan")).reshape(len(idx), -1).nanmedian(dim=1).values.nan_to_num(1.0)
        huber = torch.clamp(2.0 * (scale[:, None, None] * 1.4826 + 1e-6) / err.clamp(min=1e-12), max=1.0)
        w = v * base_w * huber
        wgy, wgx = w * gy, w * gx

        def total(x: torch.Tensor) -> torch.Tensor:
            return x.sum((1, 2), dtype=torch.float64)

        a11, a12, a22 = total(wgy * gy), total(wgy * gx), total(wgx * gx)
        b1, b2 = -total(wgy * e), -total(wgx * e)
        det = a11 * a22 - a12 * a12
        ok = det.abs() > 1e-9
        safe = det.where(ok, torch.ones_like(det))
        step_y = torch.where(ok, (a22 * b1 - a12 * b2) / safe, torch.zeros_like(det))
        step_x = torch.where(ok, (a11 * b2 - a12 * b1) / safe, torch.zeros_like(det))
        step = torch.stack([step_y, step_x], 1).clamp(-2, 2)
        d[idx] += step
        active[idx] = step.abs().amax(dim=1) >= tol
    return d


def estimate_shifts(frames: torch.Tensor, reference: int = 0, weight: torch.Tensor | None = None,
                    max_shift: float | None = None) -> torch.Tensor:
    """Phase correlation, then Lucas-Kanade refinement: ``(T, 2) float64`` shifts ``(dy, dx)``.
    ``weight`` (``(H, W)`` in [0, 1]) applies to the refinement only: cutting holes into the
    images themselves would add a static pattern that phase correlation locks onto."""
    return refine_shifts(frames, phase_shifts(frames, reference, None, max_shift), reference, weight)
