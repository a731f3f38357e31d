"""Frame operators: what did not change between two frames, and a video's background.

Frames are tensors ``(C, H, W)`` or batches ``(B, C, H, W)`` on the 0-255 scale (uint8, or a
float dtype holding 0-255 values); numpy arrays ``(H, W, C)`` / ``(T, H, W, C)`` are accepted
and converted. Everything runs on the frames' device.
"""

from __future__ import annotations

__all__ = ["frame_diff", "estimate_background", "true_median", "BackgroundStream"]

import numpy as np
import torch

from ..tensors import as_chw


def _as_frames(x: np.ndarray | torch.Tensor, device=None, batch: bool = False) -> torch.Tensor:
    """numpy ``(H, W, C)``/``(T, H, W, C)`` or tensor ``(C, H, W)``/``(B, C, H, W)`` -> tensor
    ``(C, H, W)`` or ``(B, C, H, W)``."""
    t = x if isinstance(x, torch.Tensor) else as_chw(x)
    if t.ndim not in ((4,) if batch else (3, 4)) or 0 in t.shape:
        raise ValueError(f"expected {'(T, C, H, W) frames' if batch else 'a (C, H, W) frame or (B, C, H, W)'}, "
                         f"got {tuple(t.shape)}")
    if t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"frames must hold numbers on the 0-255 scale, got {t.dtype}")
    return t.to(device) if device is not None else t


def frame_diff(
    a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, tolerance: float = 0.0,
    fill: tuple[float, ...] = (0, 0, 0), device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep what did not change from ``a`` to ``b``.

    A pixel is kept (``a``'s value) when the Euclidean distance of its values in the two frames
    is at most ``tolerance`` (0-255 scale); otherwise ``fill`` is written. ``a``, ``b``:
    ``(C, H, W)`` or ``(B, C, H, W)`` tensors of one shape (or ``(H, W, C)`` numpy arrays).
    Returns ``(kept, changed)``: ``kept`` like ``a`` (``(C, H, W)`` layout, ``a``'s dtype) and
    ``changed (H, W)`` or ``(B, H, W) bool``."""
    x, y = _as_frames(a, device), _as_frames(b, device)
    if x.shape != y.shape:
        raise ValueError(f"frames differ in shape: {tuple(x.shape)} and {tuple(y.shape)}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    c = x.shape[-3]
    if len(fill) != c:
        raise ValueError(f"fill needs {c} values, got {len(fill)}")
    y = y.to(x.device)
    work = torch.int64 if not x.dtype.is_floating_point and not y.dtype.is_floating_point else torch.float64
    d = x.to(work) - y.to(work)
    changed = (d * d).sum(dim=-3) > float(tolerance) ** 2
    fill_t = torch.tensor(fill, dtype=x.dtype, device=x.device).view(c, 1, 1)
    kept = torch.where(changed.unsqueeze(-3), fill_t, x)
    return kept, changed


def true_median(stack: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The median along ``dim``: the middle value, or for an even count the mean of the two middle
    values (``torch.median`` returns the lower one). Float32 result (float64 kept as is)."""
    n = stack.shape[dim]
    if n == 0:
        raise ValueError("the median of no values")
    s = stack.movedim(dim, -1).contiguous().sort(dim=-1).values  # sorting along the last dim is faster
    lo = s[..., (n - 1) // 2]
    hi = s[..., n // 2]
    dt = torch.float64 if stack.dtype == torch.float64 else torch.float32
    return (lo.to(dt) + hi.to(dt)) / 2


def estimate_background(
    frames: np.ndarray | torch.Tensor, device: torch.device | str | None = None, chunk_rows: int = 256,
) -> torch.Tensor:
    """The background of a static-camera video: the per-pixel true median of its frames, robust
    to objects passing through (each pixel covered in fewer than half of the frames).

    ``frames``: ``(T, C, H, W)`` tensor or ``(T, H, W, C)`` numpy array, 0-255 scale. Returns
    ``(C, H, W) float32``. Rows are processed ``chunk_rows`` at a time to bound memory; for
    videos too long to hold, use :class:`BackgroundStream`."""
    x = _as_frames(frames, device, batch=True)
    _, _, H, _ = x.shape
    out = torch.empty(x.shape[1:], dtype=torch.float32, device=x.device)
    for r in range(0, H, chunk_rows):
        out[:, r:r + chunk_rows] = true_median(x[:, :, r:r + chunk_rows], dim=0)
    return out


class BackgroundStream:
    """Streaming background: a remedian (Rousseeuw & Bassett, 1990) of the frames, so a long video
    is never held. Frames go into a buffer of ``base`` frames; a full buffer is replaced by its
    true median, one level up, and so on. ``result()`` is the weighted true median of what the
    buffers hold (each entry weighted by the frames it stands for), which is exactly the true
    median while at most ``base`` frames have come. Memory: about ``base * levels`` frames.

    ``update(frame)`` takes ``(C, H, W)`` tensors or ``(H, W, C)`` arrays (0-255 scale)."""

    def __init__(self, base: int = 64, device: torch.device | str | None = None) -> None:
        if base < 3:
            raise ValueError(f"base must be at least 3, got {base}")
        self.base = base
        self.device = device
        self.count = 0
        self._levels: list[list[torch.Tensor]] = [[]]

    def update(self, frame: np.ndarray | torch.Tensor) -> None:
        f = _as_frames(frame, self.device)
        if f.ndim != 3:
            raise ValueError(f"update takes one (C, H, W) frame, got {tuple(f.shape)}")
        first = next((lv[0] for lv in self._levels if lv), None)
        if first is not None and first.shape != f.shape:
            raise ValueError(f"frames differ in shape: {tuple(first.shape)} and {tuple(f.shape)}")
        self.count += 1
        item = f.to(torch.float32)
        level = 0
        while True:
            self._levels[level].append(item)
            if len(self._levels[level]) < self.base:
                return
            item = true_median(torch.stack(self._levels[level]), dim=0)
            self._levels[level] = []
            level += 1
            if level == len(self._levels):
                self._levels.append([])

    def result(self) -> torch.Tensor:
        """``(C, H, W) float32``: the background so far."""
        items, weights = [], []
        for level, buf in enumerate(self._levels):
            items += buf
            weights += [float(self.base ** level)] * len(buf)
        if not items:
            raise ValueError("no frames yet")
        if len(set(weights)) == 1:
            return true_median(torch.stack(items), dim=0)
        return _weighted_true_median(torch.stack(items), torch.tensor(weights, device=items[0].device))


def _weighted_true_median(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-element weighted median along dim 0 of ``x (N, ...)`` with weights ``w (N,)``: the
    value where the cumulative weight first reaches half; the mean of two values when it lands
    exactly on half (the even-count rule of the true median)."""
    s, order = x.sort(dim=0)
    cw = torch.cumsum(w[order], dim=0)
    half = cw[-1:] / 2
    i = (cw < half).sum(dim=0, keepdim=True)
    lo = s.gather(0, i)
    on_half = cw.gather(0, i) == half
    hi = s.gather(0, (i + on_half.long()).clamp(max=x.shape[0] - 1))
    return ((lo + hi) / 2).squeeze(0)
