"""Two-phase Chan-Vese segmentation (active contours without edges) for smooth grayscale images.

Chan & Vese (2001): a level set ``phi`` splits the image into ``phi > 0`` and ``phi <= 0``; the
energy ``mu * length + lambda1 * sum_in (I - c1)^2 + lambda2 * sum_out (I - c2)^2`` is lowered
by gradient descent with a smoothed Dirac delta. Same parameters and checkerboard start as
``skimage.segmentation.chan_vese``; torch ops, CPU or CUDA.
"""

from __future__ import annotations

__all__ = ["chan_vese"]

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..tensors import as_chw


def _curvature(phi: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``div(grad phi / |grad phi|)`` with central differences (edge-replicated)."""
    p = F.pad(phi[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    fy = (p[2:, 1:-1] - p[:-2, 1:-1]) / 2
    fx = (p[1:-1, 2:] - p[1:-1, :-2]) / 2
    norm = torch.sqrt(fx * fx + fy * fy + eps)
    nx = F.pad((fx / norm)[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    ny = F.pad((fy / norm)[None, None], (1, 1, 1, 1), mode="replicate")[0, 0]
    return (nx[1:-1, 2:] - nx[1:-1, :-2]) / 2 + (ny[2:, 1:-1] - ny[:-2, 1:-1]) / 2


def chan_vese(
    image: np.ndarray | torch.Tensor, mu: float = 0.25, lambda1: float = 1.0, lambda2: float = 1.0,
    tol: float = 1e-3, max_iterations: int = 500, dt: float = 0.5, device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(H, W) bool`` foreground (``phi > 0``) of a grayscale image.

    ``image``: ``(H, W)`` array or tensor, or ``(H, W, C)`` array / ``(C, H, W)`` tensor (averaged
    to gray); scaled to [0, 1] by its own range. ``mu``: length penalty (larger = smoother
    boundaries). Stops when the mean change of ``phi`` per iteration falls below ``tol``."""
    arr = image if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected a grayscale image (H, W), got {tuple(arr.shape)}")
    x = as_chw(arr)
    x = x[0] if arr.ndim == 2 else x.to(torch.float64).mean(dim=0)
    if 0 in x.shape:
        raise ValueError(f"expected a grayscale image (H, W), got {tuple(x.shape)}")
    x = x.to(device) if device is not None else x
    img = x.to(torch.float64)
    lo, hi = img.min(), img.max()
    img = (img - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(img)
    H, W = img.shape
    yy = torch.arange(H, dtype=torch.float64, device=img.device)[:, None]
    xx = torch.arange(W, dtype=torch.float64, device=img.device)[None, :]
    phi = torch.sin(math.pi / 5 * yy) * torch.sin(math.pi / 5 * xx)  # skimage's checkerboard start
    for _ in range(max_iterations):
        inside = phi > 0
        n_in = inside.sum()
        c1 = img[inside].mean() if int(n_in) else img.new_tensor(0.0)
        c2 = img[~inside].mean() if int(n_in) < img.numel() else img.new_tensor(0.0)
        delta = 1.0 / (math.pi * (1.0 + phi * phi))  # smoothed Dirac delta, epsilon 1
        force = mu * _curvature(phi) - lambda1 * (img - c1) ** 2 + lambda2 * (img - c2) ** 2
        new = phi + dt * delta * force
        change = float((new - phi).abs().mean())
        phi = new
        if change < tol * dt:
            break
    return phi > 0
