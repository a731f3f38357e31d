"""Learned embeddings that keep layout: one small interface over any convolutional trunk.

An :class:`Embedder` runs a trunk once per image and pools its feature map over boxes with
``torchvision.ops.roi_align``: the whole image is one box, every stored tile another, so an
image and all its regions cost one forward pass. Each box is pooled into a 2x2 grid of GeM
cells (upper-left, upper-right, lower-left, lower-right), which keeps where things are: a
mirrored image moves its features to other cells. The grid is projected to ``dim`` and
L2-normalized (float32).
"""

from __future__ import annotations

__all__ = ["Embedder", "GridHead", "resolve_device", "gem"]

import logging
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..tensors import as_chw

from lookalike.models.errors import EmbedderError

log = logging.getLogger(__name__)

#: Cells per side of the pooled grid.
GRID = 2
#: roi_align samples per cell side (the GeM then pools them).
SAMPLES = 3
#: Longest input side, in multiples of the shorter one.
MAX_ASPECT = 4


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; asking for one that is absent is an error."""
    name = str(device or "auto")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise EmbedderError(f"unknown device {name!r} (use auto, cpu, cuda or mps)", code="unknown-device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EmbedderError("device cuda: no CUDA device is available here", code="device-unavailable",
                            device="cuda", kind="CUDA")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EmbedderError("device mps: no MPS device is available here", code="device-unavailable",
                            device="mps", kind="MPS")
    return dev


def gem(x: torch.Tensor, p: float = 3.0, dims: tuple[int, ...] = (-2, -1), eps: float = 1e-6) -> torch.Tensor:
    """Generalized mean pooling over ``dims`` of non-negative features."""
    return x.clamp(min=eps).pow(p).mean(dim=dims).pow(1.0 / p)


class GridHead(nn.Module):
    """Pools ``(B, C, h, w)`` features over boxes into 2x2 GeM cells, projects, normalizes.

    ``rois`` are ``(R, 5)`` float rows ``(batch index, x0, y0, x1, y1)`` in input pixels.
    ``projection``: ``"learned"`` (a trained linear layer), ``"random"`` (a fixed seeded
    Gaussian matrix: inner products are kept on average, Johnson-Lindenstrauss) or ``"none"``.
    ``dense``: GeM over 6x6 bilinear samples per cell side pair (what lookalike-s is trained
    with); otherwise roi_align averages ``x^p`` over 3x3 samples per cell (4x fewer samples).
    """

    def __init__(self, channels: int, stride: int, dim: int | None = None, projection: str = "learned",
                 p: float = 3.0, dense: bool = True) -> None:
        super().__init__()
        self.channels, self.stride, self.p, self.dense = channels, stride, p, dense
        grid_dim = channels * GRID * GRID
        self.dim = grid_dim if projection == "none" else int(dim or grid_dim)
        self.projection = projection
        if projection == "learned":
            self.proj = nn.Linear(grid_dim, self.dim)
        elif projection == "random":
            g = torch.Generator().manual_seed(0)
            self.register_buffer("matrix", torch.randn(grid_dim, self.dim, generator=g) / self.dim ** 0.5)
        elif projection != "none":
            raise ValueError(f"unknown projection {projection!r}")

    def forward(self, features: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        from torchvision.ops import roi_align

        if self.dense:
            n = GRID * SAMPLES
            cells = roi_align(features.float(), rois.float(), output_size=(n, n), spatial_scale=1.0 / self.stride,
                              sampling_ratio=2, aligned=True)  # (R, C, n, n)
            r, c = cells.shape[:2]
            cells = cells.view(r, c, GRID, SAMPLES, GRID, SAMPLES).permute(0, 1, 2, 4, 3, 5)
            pooled = gem(cells, self.p).reshape(r, c * GRID * GRID)  # channel-major: (C, 2, 2)
        else:
            # GeM as roi_align's own bin average of x^p (9 samples per cell): a quarter of the
            # samples, for wide feature maps of coarse stride
            powered = features.float().clamp(min=1e-6).pow(self.p)
            cells = roi_align(powered, rois.float(), output_size=(GRID, GRID), spatial_scale=1.0 / self.stride,
                              sampling_ratio=SAMPLES, aligned=True)
            r, c = cells.shape[:2]
            pooled = cells.clamp(min=1e-12).pow(1.0 / self.p).reshape(r, c * GRID * GRID)
        pooled = F.normalize(pooled, dim=1)
        if self.projection == "learned":
            pooled = self.proj(pooled)
        elif self.projection == "random":
            pooled = pooled @ self.matrix
        return F.normalize(pooled, dim=1)


def _to_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(H, W, 3) uint8`` array or ``(3, H, W)`` float tensor in [0, 1] -> ``(3, H, W)`` float32."""
    if isinstance(image, torch.Tensor):
        t = image
        if t.ndim != 3 or t.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(t.shape)}")
        return t.float() if t.is_floating_point() else t.float() / 255.0
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {a.dtype}")
    return as_chw(a).float() / 255.0


class Embedder:
    """A trunk plus a :class:`GridHead` behind the interface the index uses.

    - ``name``, ``version`` (identifies the weights), ``dim``;
    - :meth:`embed` ``(images) -> (B, dim)`` and :meth:`embed_regions` ``(image, boxes) ->
      (R, dim)``, both L2-normalized float32 numpy arrays;
    - :meth:`embed_with_regions`: whole images and their boxes, batched, one pass per image.

    Images are ``(H, W, 3) uint8`` arrays or ``(3, H, W)`` float tensors in [0, 1], any size;
    each is resized so its shorter side is ``input_side`` (aspect kept) and normalized with
    ``mean``/``std``. Boxes are ``(x, y, w, h)`` in the image's own pixels.
    """

    def __init__(self, name: str, version: str, trunk: nn.Module, head: GridHead, input_side: int,
                 mean: Sequence[float], std: Sequence[float], device: str | torch.device = "auto",
                 batch_size: int = 32) -> None:
        self.name, self.version = name, version
        self.device = resolve_device(device)
        self.trunk = trunk.eval().to(self.device)
        self.head = head.eval().to(self.device)
        self.input_side = int(input_side)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(3, 1, 1)
        self.batch_size = batch_size

    @property
    def dim(self) -> int:
        return self.head.dim

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, version={self.version!r}, dim={self.dim}, device={self.device})"

    # -- public interface ---------------------------------------------------------------------
    def embed(self, images: Sequence[np.ndarray | torch.Tensor] | torch.Tensor) -> np.ndarray:
        """``(B, dim)`` float32, one row per image."""
        if isinstance(images, torch.Tensor) and images.ndim == 4:
            images = list(images)
        out = self.embed_with_regions(list(images), [np.zeros((0, 4))] * len(images))
        return np.stack([o[0] for o in out]) if out else np.zeros((0, self.dim), np.float32)

    def embed_regions(self, image: np.ndarray | torch.Tensor, boxes: np.ndarray) -> np.ndarray:
        """``(R, dim)`` float32: the image's feature map pooled over each ``(x, y, w, h)`` box."""
        return self.embed_with_regions([image], [boxes])[0][1:]

    @torch.inference_mode()
    def embed_with_regions(self, images: Sequence[np.ndarray | torch.Tensor], boxes: Sequence[np.ndarray],
                           side: int | None = None) -> list[np.ndarray]:
        """For each image, ``(1 + R_i, dim)``: the whole image, then its boxes. ``side``
        overrides the input's shorter side (a crop is embedded at the scale its tiles have)."""
        if len(images) != len(boxes):
            raise ValueError("one array of boxes per image")
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            out.extend(self._batch(images[start:start + self.batch_size], boxes[start:start + self.batch_size],
                                   side))
        return out

    # -- internals ------------------------------------------------------------------------------
    def prepare(self, image: np.ndarray | torch.Tensor, side: int | None = None) -> tuple[torch.Tensor, float, float]:
        """The normalized input ``(3, h, w)`` on the device and the x/y scale from the image."""
        t = _to_tensor(image).to(self.device)
        _, h, w = t.shape
        side = side or self.input_side
        k = side / min(h, w)
        # a very long, thin image is squeezed to at most MAX_ASPECT : 1 (boxes follow, per axis)
        nh, nw = min(max(1, round(h * k)), MAX_ASPECT * side), min(max(1, round(w * k)), MAX_ASPECT * side)
        t = F.interpolate(t[None], size=(nh, nw), mode="bilinear", antialias=nh < h or nw < w, align_corners=False)[0]
        return (t.clamp(0, 1) - self.mean) / self.std, nw / w, nh / h

    def _batch(self, images: Sequence, boxes: Sequence[np.ndarray], side: int | None) -> list[np.ndarray]:
        prepared = [self.prepare(im, side) for im in images]
        hmax = max(p[0].shape[1] for p in prepared)
        wmax = max(p[0].shape[2] for p in prepared)
        x = torch.zeros((len(prepared), 3, hmax, wmax), device=self.device)
        rois, counts = [], []
        for i, ((t, sx, sy), b) in enumerate(zip(prepared, boxes)):
            _, h, w = t.shape
            x[i, :, :h, :w] = t
            b = np.asarray(b, np.float64).reshape(-1, 4)
            whole = [[i, 0.0, 0.0, float(w), float(h)]]
            rows = [[i, bx * sx, by * sy, (bx + bw) * sx, (by + bh) * sy] for bx, by, bw, bh in b]
            rois.extend(whole + rows)
            counts.append(1 + len(rows))
        roi_t = torch.tensor(rois, dtype=torch.float32, device=self.device)
        with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.device.type == "cuda"):
            feats = self.trunk(x)
        emb = self.head(feats, roi_t).float().cpu().numpy()
        return np.split(emb, np.cumsum(counts)[:-1])

