"""find-crop: where in an image does a crop come from?

Zero-mean normalised cross-correlation over all color channels (the measure of OpenCV's
``TM_CCOEFF_NORMED``), computed as in Lewis' fast NCC: the numerator by FFT (or by direct
convolution for tiny crops) and the window statistics from integral images, in float64.
Large images are searched coarse-to-fine: a pyramid level finds candidate peaks, which are
then confirmed at full resolution in a small neighbourhood.
"""

from __future__ import annotations

__all__ = ["CropMatch", "find_crop", "ncc_map", "FindCrop"]

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..tensors import as_chw

_FLAT = 1e-9  # variance (per pixel, [0, 1] units) below which a window or crop is flat
_COARSE_MIN_SIDE = 12  # a crop is not shrunk below this many pixels on its shorter side
_DIRECT_WORK = 200_000  # positions x crop pixels up to which direct convolution beats the FFT (float64)


@dataclass(frozen=True)
class CropMatch:
    """One occurrence: ``box`` is ``(x, y, w, h)`` in image pixels, ``score`` the NCC in
    [-1, 1] (1 = identical up to brightness and contrast), ``scale`` crop-to-image size."""

    box: tuple[int, int, int, int]
    score: float
    scale: float

    def to_dict(self) -> dict[str, Any]:
        return {"box": list(self.box), "score": round(self.score, 6)}


def _as_chw(x: np.ndarray | torch.Tensor, device: torch.device | str | None, name: str) -> torch.Tensor:
    """Accept ``(H, W, 3) uint8`` / ``(H, W)`` numpy or ``(C, H, W)`` float tensors in [0, 1];
    return ``(C, H, W) float32`` (pyramids and resizing run in float32, correlation in float64)."""
    if not isinstance(x, (np.ndarray, torch.Tensor)):
        raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3):
        want = "(H, W) or (H, W, C)" if isinstance(x, np.ndarray) else "(C, H, W)"
        raise ValueError(f"{name}: expected {want}, got shape {tuple(x.shape)}")
    t = as_chw(x)
    t = t.to(torch.float32) / 255.0 if t.dtype == torch.uint8 else t.to(torch.float32)
    if t.shape[1] == 0 or t.shape[2] == 0:
        raise ValueError(f"{name} is empty")
    return t.to(device) if device is not None else t


def _integral(x: torch.Tensor) -> torch.Tensor:
    return F.pad(x.cumsum(1).cumsum(2), (1, 0, 1, 0))


def _window_sums(ii: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Sums of every h x w window from an integral image ``ii``: (C, H-h+1, W-w+1)."""
    return ii[:, h:, w:] - ii[:, :-h, w:] - ii[:, h:, :-w] + ii[:, :-h, :-w]


def _fft_size(n: int) -> int:
    """The smallest length >= ``n`` whose only prime factors are 2, 3 and 5 (fast FFT sizes)."""
    best = 1 << max(0, (n - 1).bit_length())
    p3 = 1
    while p3 < best:
        p35 = p3
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 5
        p3 *= 3
    return best


class _Prepared:
    """An image in float64 with what every crop size reuses: integral images of x and x^2 and
    the spectrum (computed on first use, zero-padded to fast FFT sizes)."""

    def __init__(self, image: torch.Tensor) -> None:
        self.x = image.to(torch.float64)
        self.ii1 = _integral(self.x)
        self.ii2 = _integral(self.x * self.x)
        self.fft_shape = (_fft_size(self.x.shape[1]), _fft_size(self.x.shape[2]))
        self._spectrum: torch.Tensor | None = None

    def spectrum(self) -> torch.Tensor:
        if self._spectrum is None:
            self._spectrum = torch.fft.rfft2(self.x, s=self.fft_shape)
        return self._spectrum


def _correlate(img: _Prepared, kernel: torch.Tensor) -> torch.Tensor:
    """Valid cross-correlation of the image (C, H, W) with (C, h, w), summed over channels:
    direct convolution for tiny kernels or little work, FFT otherwise."""
    c, H, W = img.x.shape
    _, h, w = kernel.shape
    if (H - h + 1) * (W - w + 1) * h * w <= _DIRECT_WORK or h * w <= 16:
        return F.conv2d(img.x[None], kernel[None])[0, 0]
    # zero padding beyond (H, W) leaves the valid part of the circular correlation as it is
    fk = torch.fft.rfft2(torch.flip(kernel, (1, 2)), s=img.fft_shape)
    full = torch.fft.irfft2((img.spectrum() * fk).sum(0), s=img.fft_shape)
    return full[h - 1:H, w - 1:W]


def ncc_map(image: torch.Tensor, crop: torch.Tensor) -> torch.Tensor:
    """Zero-mean NCC of ``crop`` ``(C, h, w)`` at every valid position of ``image`` ``(C, H, W)``.

    Returns ``(H - h + 1, W - w + 1) float64`` in [-1, 1]. Flat windows or a flat crop never
    divide by zero: where both are flat the score is ``1 - |mean difference|`` (so equal flat
    colors score 1), where only one is flat it is 0.
    """
    if image.shape[0] != crop.shape[0]:
        raise ValueError(f"image has {image.shape[0]} channels, crop has {crop.shape[0]}")
    _, h, w = crop.shape
    if h > image.shape[1] or w > image.shape[2]:
        raise ValueError(f"crop {w}x{h} is larger than the image {image.shape[2]}x{image.shape[1]}")
    return _ncc(_Prepared(image), crop)


def _ncc(img: _Prepared, crop: torch.Tensor) -> torch.Tensor:
    crop = crop.to(torch.float64)  # window sums lose precision in float32
    _, h, w = crop.shape
    n = h * w
    t_mean = crop.mean(dim=(1, 2), keepdim=True)
    t0 = crop - t_mean
    t_var = float((t0 * t0).sum())
    s1 = _window_sums(img.ii1, h, w)
    s2 = _window_sums(img.ii2, h, w)
    i_var = (s2 - s1 * s1 / n).sum(0).clamp_min(0)
    num = _correlate(img, t0)
    flat_t = t_var <= _FLAT * n * crop.shape[0]
    flat_i = i_var <= _FLAT * n * crop.shape[0]
    denom = torch.sqrt(i_var * t_var)
    score = torch.where(flat_i | flat_t, torch.zeros_like(num), num / denom.clamp_min(1e-30))
    if flat_t:
        diff = (s1 / n - t_mean.reshape(-1, 1, 1)).abs().mean(0)
        score = torch.where(flat_i, 1.0 - diff, score)
    return score.clamp(-1.0, 1.0)


def _peaks(score: torch.Tensor, k: int, radius_y: int, radius_x: int) -> list[tuple[int, int, float]]:
    """Top ``k`` maxima, each suppressing a (2r+1) neighbourhood (greedy non-maximum suppression)."""
    s = score.clone()
    out = []
    for _ in range(k):
        flat = int(torch.argmax(s))
        y, x = divmod(flat, s.shape[1])
        v = float(s[y, x])
        if v == -math.inf:
            break
        out.append((y, x, v))
        s[max(0, y - radius_y): y + radius_y + 1, max(0, x - radius_x): x + radius_x + 1] = -math.inf
    return out


def _resize(t: torch.Tensor, h: int, w: int) -> torch.Tensor:
    if (h, w) == tuple(t.shape[1:]):
        return t
    return F.interpolate(t[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]


def _pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``[x, x/2, x/4, ...]`` by 2x2 averaging, ``levels`` entries."""
    out = [x]
    for _ in range(levels - 1):
        out.append(F.avg_pool2d(out[-1][None], 2)[0])
    return out


def _levels_for(h: int, w: int) -> int:
    """How many pyramid levels keep the crop's shorter side at least _COARSE_MIN_SIDE."""
    n = 1
    while min(h, w) >= _COARSE_MIN_SIDE * 2 ** n and n < 5:
        n += 1
    return n


def _coarse_peaks(level: _Prepared, crop_small: torch.Tensor, k: int) -> list[tuple[int, int, float]]:
    """Peaks of a shrunk crop on a pyramid level, in that level's pixels."""
    ry, rx = max(1, crop_small.shape[1] // 2), max(1, crop_small.shape[2] // 2)
    return _peaks(_ncc(level, crop_small), k, ry, rx)


def _refine_peak(img_pyr: list[torch.Tensor], crop_pyr: list[torch.Tensor], y: int, x: int) -> tuple[int, int, float]:
    """Follow a coarse peak down the pyramid, searching +-2 pixels at each finer level."""
    v = -1.0
    for level in range(len(img_pyr) - 2, -1, -1):
        img, tpl = img_pyr[level], crop_pyr[level]
        _, H, W = img.shape
        _, h, w = tpl.shape
        cy, cx = 2 * y, 2 * x
        y0, x0 = min(max(0, cy - 2), H - h), min(max(0, cx - 2), W - w)
        y1, x1 = min(H - h, cy + 2), min(W - w, cx + 2)
        local = ncc_map(img[:, y0:y1 + h, x0:x1 + w], tpl)
        ly, lx = divmod(int(torch.argmax(local)), local.shape[1])
        y, x, v = y0 + ly, x0 + lx, float(local[ly, lx])
    return y, x, v


def _search_scales(
    image: torch.Tensor, crops: list[tuple[float, torch.Tensor]], top_k: int, coarse: bool,
) -> list[tuple[float, int, int, float, int, int]]:
    """``(scale, y, x, score, h, w)`` candidates over all scales, confirmed at full size."""
    results = []
    if not coarse:
        prepared = _Prepared(image)
        for s, tpl in crops:
            _, h, w = tpl.shape
            for y, x, v in _peaks(_ncc(prepared, tpl), top_k, max(1, h // 2), max(1, w // 2)):
                results.append((s, y, x, v, h, w))
        return results
    # coarse pass over every scale, then only the best few candidates go down the pyramid
    coarse_hits = []
    pyramids: dict[int, list[torch.Tensor]] = {}
    coarsest: dict[int, _Prepared] = {}
    crop_pyrs = []
    for i, (s, tpl) in enumerate(crops):
        _, h, w = tpl.shape
        n = _levels_for(h, w)
        if n not in pyramids:
            pyramids[n] = _pyramid(image, n)
            coarsest[n] = _Prepared(pyramids[n][-1])
        crop_pyrs.append(_pyramid(tpl, n))
        for y, x, v in _coarse_peaks(coarsest[n], crop_pyrs[i][-1], max(2, top_k)):
            coarse_hits.append((v, i, y, x))
    coarse_hits.sort(key=lambda t: -t[0])
    for _, i, y, x in coarse_hits[: max(3, 2 * top_k)]:
        s, tpl = crops[i]
        _, h, w = tpl.shape
        n = len(crop_pyrs[i])
        if n == 1:
            v = float(ncc_map(image[:, y:y + h, x:x + w], tpl)[0, 0])
        else:
            y, x, v = _refine_peak(pyramids[n], crop_pyrs[i], y, x)
        results.append((s, y, x, v, h, w))
    return results


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def find_crop(
    image: np.ndarray | torch.Tensor,
    crop: np.ndarray | torch.Tensor,
    top_k: int = 1,
    scales: Sequence[float] | None = None,
    coarse_to_fine: bool = True,
    device: torch.device | str | None = None,
) -> list[CropMatch]:
    """Find where ``crop`` occurs in ``image``.

    ``image``, ``crop``: ``(H, W, 3) uint8`` numpy arrays, or ``(C, H, W)`` tensors (uint8, or
    float in [0, 1]); same channel count. ``scales``: sizes of the crop in the image relative to
    its own size (default ``[1.0]``: an unscaled crop, found to the exact pixel). Returns up to
    ``top_k`` :class:`CropMatch` best first, peaks at least half a crop apart.
    Raises ``ValueError`` when the crop is larger than the image at every scale.
    """
    if top_k < 1:
        raise ValueError("top_k must be at least 1")
    img = _as_chw(image, device, "image")
    tpl = _as_chw(crop, img.device, "crop")
    if img.shape[0] != tpl.shape[0]:
        raise ValueError(f"image has {img.shape[0]} channels, crop has {tpl.shape[0]}")
    scales = [1.0] if scales is None else [float(s) for s in scales]
    if not scales or any(s <= 0 for s in scales):
        raise ValueError("scales must be positive")
    _, H, W = img.shape
    crops = []
    for s in scales:
        h, w = max(1, round(tpl.shape[1] * s)), max(1, round(tpl.shape[2] * s))
        if h <= H and w <= W:
            crops.append((s, _resize(tpl, h, w)))
    if not crops:
        raise ValueError(
            f"crop {tpl.shape[2]}x{tpl.shape[1]} is larger than the image {W}x{H} at every scale searched"
        )
    found = [CropMatch(box=(x, y, w, h), score=v, scale=s) for s, y, x, v, h, w in _search_scales(img, crops, top_k, coarse_to_fine)]
    found.sort(key=lambda m: -m.score)
    kept: list[CropMatch] = []
    for m in found:
        if all(_iou(m.box, k.box) < 0.5 for k in kept):
            kept.append(m)
    return kept[:top_k]


class FindCrop(torch.nn.Module):
    """Module form of :func:`find_crop` with fixed ``top_k`` and ``scales``."""

    def __init__(self, top_k: int = 1, scales: Sequence[float] | None = None) -> None:
        super().__init__()
        self.top_k = top_k
        self.scales = scales

    def forward(self, image: torch.Tensor, crop: torch.Tensor) -> list[CropMatch]:  # type: ignore[override]
        return find_crop(image, crop, top_k=self.top_k, scales=self.scales)
