"""label_regions: contiguous pixels of like color, exactly, with torch ops that run on CPU or CUDA.

Two neighbouring pixels are *joined* when the Euclidean distance of their colors is at most
``tolerance`` (0 joins identical colors only); regions are the connected components of that
relation, so chains of small steps are allowed, as in a flood fill. 4- or 8-connectivity.

The algorithm has no recursion and no iteration cap:

1. Horizontal joins cut every row into *runs* (a cumulative sum numbers them in raster order).
2. Vertical (and, for 8-connectivity, diagonal) joins become edges between runs of adjacent
   rows; of the joined pixels that link the same two runs side by side only the first is kept.
3. Union-find by hooking and pointer jumping over the run graph: every round each root hooks
   onto the smallest root it is joined to, then pointers jump until every run points at its
   root. Rounds repeat until no edge links two roots, so the result is exact whatever the
   shape (long snakes and spirals included). Roots end as the smallest run of their region,
   which is the region's first pixel in raster order, so labels come out numbered in that order.
"""

from __future__ import annotations

__all__ = ["RegionStats", "Segmentation", "label_regions", "LabelRegions", "region_joins", "region_stats"]

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..tensors import as_chw


@dataclass(frozen=True)
class RegionStats:
    """Per-region figures as arrays, row ``i`` for label ``i + 1``: ``area (N,) int64``,
    ``box (N, 4) int64`` as ``x, y, w, h``, ``color (N, C) float64`` mean color,
    ``centroid (N, 2) float64`` as ``x, y``."""

    area: np.ndarray
    box: np.ndarray
    color: np.ndarray
    centroid: np.ndarray

    def __len__(self) -> int:
        return len(self.area)


@dataclass(frozen=True)
class Segmentation:
    """``labels``: ``(H, W) int32`` tensor, 0 for pixels of removed (too small) regions, else
    ``1..count`` in raster order of each region's first pixel. ``stats``: see :class:`RegionStats`
    (``None`` when not asked for)."""

    labels: torch.Tensor
    count: int
    stats: RegionStats | None


def _as_image(image: np.ndarray | torch.Tensor, device) -> torch.Tensor:
    """``(H, W)``, ``(H, W, C)`` numpy or ``(C, H, W)``/``(H, W)`` tensor -> ``(C, H, W)`` tensor."""
    arr = image if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected a non-empty image (H, W), (H, W, C) array or (C, H, W) tensor, got {tuple(arr.shape)}")
    x = as_chw(arr)
    if x.ndim != 3 or x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(f"expected a non-empty image (H, W), (H, W, C) array or (C, H, W) tensor, got {tuple(x.shape)}")
    if x.is_complex():
        raise ValueError("image values must be real numbers")
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    return x.to(device) if device is not None else x


def region_joins(image: torch.Tensor, tolerance: float, connectivity: int) -> list[torch.Tensor]:
    """Joined neighbour pairs of a ``(C, H, W)`` image: ``[horizontal (H, W-1), vertical (H-1, W)]``
    plus, for 8-connectivity, ``[down-right (H-1, W-1), down-left (H-1, W-1)]`` (``down-left``
    at ``y, x`` joins ``(y, x+1)`` and ``(y+1, x)``); each ``bool``."""
    limit = float(tolerance) ** 2
    # equality is exact in the image's own dtype; distances need a wider one
    x = image if limit == 0 else image.to(torch.float64 if image.dtype.is_floating_point else torch.int64)

    def near(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if limit == 0:
            return (a == b).all(dim=0) if a.shape[0] > 1 else (a[0] == b[0])
        d = a - b
        return (d * d).sum(dim=0) <= limit

    out = [near(x[:, :, 1:], x[:, :, :-1]), near(x[:, 1:, :], x[:, :-1, :])]
    if connectivity == 8:
        out += [near(x[:, 1:, 1:], x[:, :-1, :-1]), near(x[:, 1:, :-1], x[:, :-1, 1:])]
    return out


def _tiling_lengths(run_start: torch.Tensor, size: int) -> torch.Tensor:
    """Lengths of runs that tile ``size`` pixels, from their sorted first raster indices."""
    return torch.diff(run_start, append=torch.tensor([size], device=run_start.device))


def _flat_nonzero(mask: torch.Tensor) -> torch.Tensor:
    """The raster indices (int64) of the true entries of a bool tensor; on CPU through numpy,
    whose ``flatnonzero`` is several times faster than ``torch.nonzero`` there."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.reshape(-1).nonzero().squeeze(1)


def _run_edges(run: torch.Tensor, joins: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges ``(u, v)`` between runs of adjacent rows, one per side-by-side stretch of joins."""
    hj, vj = joins[0], joins[1]
    H, W = run.shape
    flat = run.reshape(-1)
    us, vs = [], []

    def add(keep: torch.Tensor, du: int, dv: int) -> None:
        # keep: (H-1, W or W-1) over top-left positions; the pair is (y, x+du) ~ (y+1, x+dv)
        if keep.shape[1] != W:  # pad to full rows: the flat index is then the pixel's own
            keep = torch.nn.functional.pad(keep, (0, 1))
        top = _flat_nonzero(keep)
        us.append(flat.index_select(0, top + du if du else top))
        vs.append(flat.index_select(0, top + (W + dv)))

    # vertical: (y, x) ~ (y+1, x); the same run pair as at x-1 when both rows continue their runs
    prev = torch.zeros_like(vj)
    prev[:, 1:] = vj[:, :-1] & hj[:-1] & hj[1:]
    add(vj & ~prev, 0, 0)
    if len(joins) == 4:
        dr, dl = joins[2], joins[3]
        # a diagonal join is only needed when neither two-step path around it joins: then its two
        # pixels are connected anyway (on noise this drops most diagonals; at tolerance 0 it also
        # leaves no two side by side that link the same pair of runs)
        above_left, above_right = vj[:, :-1], vj[:, 1:]  # vertical joins at x and x+1
        top, bottom = hj[:-1], hj[1:]  # horizontal joins (y, x)-(y, x+1) and (y+1, x)-(y+1, x+1)
        # down-right at x: (y, x) ~ (y+1, x+1), around by (y+1, x) or by (y, x+1)
        add(dr & ~((above_left & bottom) | (top & above_right)), 0, 1)
        # down-left at x: (y, x+1) ~ (y+1, x), around by (y+1, x+1) or by (y, x)
        add(dl & ~((above_right & bottom) | (top & above_left)), 1, 0)
    return (us[0], vs[0]) if len(us) == 1 else (torch.cat(us), torch.cat(vs))


def _roots(n: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``(n,)``: each node's root, the smallest node of its connected component (``u``, ``v``:
    the edges, int32 or int64, ``u < v`` in every edge)."""
    # first round: every node is a root, so every edge hooks; u < v (u is on the row above)
    parent = _jump(torch.arange(n, dtype=u.dtype, device=u.device).index_put_((v,), u))
    hooked = []
    while True:
        # every edge's ends as roots: they are roots of this round (the first round jumped every
        # node, later rounds every root they hooked)
        u, v = parent.index_select(0, u), parent.index_select(0, v)
        cross = _flat_nonzero(u != v)
        if not cross.numel():
            break
        # edges inside one component stay inside: drop them
        u, v = u.index_select(0, cross), v.index_select(0, cross)
        # hook the larger root onto a smaller one (any of them: which write wins does not
        # matter, the smallest root wins in the end), then jump the hooked ones to roots
        high = torch.maximum(u, v)
        parent.index_put_((high,), torch.minimum(u, v))
        _jump_nodes(parent, high)
        hooked.append(high)
    if hooked:
        # a root hooked in one round may have been hooked on in a later one: jump them all once
        # more; every other node points at a first-round root, so one more step puts it on its root
        _jump_nodes(parent, torch.cat(hooked))
        parent = parent.index_select(0, parent)
    return parent


def _jump(parent: torch.Tensor) -> torch.Tensor:
    """Pointer jumping until every node points at a root."""
    while True:
        jumped = parent.index_select(0, parent)
        if torch.equal(jumped, parent):
            return parent
        parent = jumped


def _jump_nodes(parent: torch.Tensor, nodes: torch.Tensor) -> None:
    """Pointer jumping over ``nodes`` only, in place, until each points at a root: enough when
    every node on their paths to a root is one of them."""
    while True:
        up = parent.index_select(0, nodes)
        jumped = parent.index_select(0, up)
        if torch.equal(jumped, up):
            return
        parent.index_put_((nodes,), jumped)


def _stats(image: torch.Tensor, labels: torch.Tensor, run_label: torch.Tensor, run_start: torch.Tensor,
           run_length: torch.Tensor, count: int, tolerance: float, first: torch.Tensor | None = None) -> RegionStats:
    """Area, box and centroid from the runs (a run is one row segment: its first pixel's raster
    index and its length); the mean color from the pixels, or at tolerance 0 (one color per
    region) from each region's first pixel. ``first``: ``(count,)`` each label's first pixel
    (raster index) when the caller knows it."""
    C, H, W = image.shape
    n = count + 1
    f64, i64 = torch.float64, torch.int64
    dev = image.device
    small = torch.int32 if H * W < 2**31 else i64  # coordinates and indices; sums in int64, exact
    lab = run_label.to(i64)
    start = run_start.to(small)
    y = torch.div(start, W, rounding_mode="floor")
    x0 = start - y * W
    x1 = x0 + run_length.to(small) - 1
    length = run_length.to(i64)

    def total(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(n, dtype=i64, device=dev).index_add_(0, lab, values)

    area = total(length)
    sum_x2 = total(length * (x0 + x1))  # twice the sum of x
    sum_y = total(length * y)

    def reduce(values: torch.Tensor, fill: int, how: str) -> torch.Tensor:
        return torch.full((n,), fill, dtype=small, device=dev).scatter_reduce_(
            0, lab, values, how)[1:].to(i64)

    left, right, bottom = reduce(x0, W, "amin"), reduce(x1, -1, "amax"), reduce(y, -1, "amax")
    if first is None:
        first = reduce(start, H * W, "amin")
    first = first.to(i64).clamp(max=H * W - 1)
    top = first // W  # runs are in raster order: the first one is on the top row
    a = area[1:].clamp(min=1).to(f64)
    pixels = image.reshape(C, -1)
    if tolerance == 0:
        colors = pixels.index_select(1, first).T.to(f64)
    else:
        colors = torch.zeros((n, C), dtype=f64, device=dev).index_add_(
            0, labels.reshape(-1).to(i64), pixels.T.to(f64))[1:] / a[:, None]
    box = torch.stack([left, top, right - left + 1, bottom - top + 1], 1)
    centroid = torch.stack([sum_x2[1:].to(f64) / (2 * a), sum_y[1:].to(f64) / a], 1)
    return RegionStats(area=area[1:].cpu().numpy(), box=box.cpu().numpy(), color=colors.cpu().numpy(),
                       centroid=centroid.cpu().numpy())


def label_regions(
    image: np.ndarray | torch.Tensor, tolerance: float = 0.0, connectivity: int = 4, min_size: int = 0,
    device: torch.device | str | None = None, stats: bool = True,
    background: float | Sequence[float] | None = None,
) -> Segmentation:
    """Contiguous regions of like color.

    ``image``: ``(H, W, C)`` or ``(H, W)`` numpy array, or ``(C, H, W)``/``(H, W)`` tensor, any
    real dtype, compared on its own scale (0-255 for uint8 RGB). ``tolerance``: the largest
    Euclidean color distance between joined neighbours. ``connectivity``: 4 or 8.
    ``min_size``: regions with fewer pixels get label 0 and are not counted; the others are
    numbered ``1..N`` in raster order of their first pixel. ``background``: a color (one value
    per channel, or one for all) whose pixels belong to no region and get label 0, like
    skimage's ``background`` or the zeros of a mask for OpenCV; ``None``: every pixel is in a
    region. Returns a :class:`Segmentation` (``labels (H, W) int32`` on the image's device;
    ``stats=False`` skips the statistics)."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if min_size < 0:
        raise ValueError(f"min_size must be >= 0, got {min_size}")
    x = _as_image(image, device)
    _, H, W = x.shape
    dev = x.device
    idx = torch.int32 if H * W < 2**31 else torch.int64
    joins = region_joins(x, tolerance, connectivity)
    fg = _foreground(x, background)
    if fg is not None:  # no joins into or out of the background
        joins = _drop_background(joins, fg, both_sides=tolerance > 0)
    starts = torch.ones((H, W), dtype=torch.bool, device=dev) if fg is None else fg.clone()
    starts[:, 1:] &= ~joins[0]
    # runs numbered 1..n in raster order (0: a node no edge touches, left before the first run)
    run = torch.cumsum(starts.reshape(-1), 0, dtype=idx).reshape(H, W)
    n_runs = int(run[-1, -1])
    if fg is not None:
        run = run * fg  # background pixels: node 0, label 0
    u, v = _run_edges(run, joins)
    root = _roots(n_runs + 1, u, v)
    is_root = root == torch.arange(n_runs + 1, dtype=idx, device=dev)
    is_root[0] = False
    run_start = _flat_nonzero(starts)
    if fg is None:
        run_length = _tiling_lengths(run_start, H * W)
    else:
        ends = fg.clone()
        ends[:, :-1] &= ~joins[0]
        run_length = _flat_nonzero(ends) - run_start + 1
    if min_size > 1:
        area = torch.zeros(n_runs + 1, dtype=torch.int64, device=dev).index_add_(
            0, root[1:].to(torch.int64), run_length)
        is_root &= area >= min_size
    number = torch.cumsum(is_root, 0, dtype=torch.int32) * is_root  # label of each kept root, 0 elsewhere
    run_label = number.index_select(0, root)
    labels = run_label.index_select(0, run.reshape(-1)).reshape(H, W)
    count = int(is_root.sum())
    # a root is its region's first run
    first = run_start.index_select(0, _flat_nonzero(is_root) - 1) if stats else None
    return Segmentation(labels=labels, count=count, stats=_stats(
        x, labels, run_label[1:], run_start, run_length, count, tolerance, first) if stats else None)


def _drop_background(joins: list[torch.Tensor], fg: torch.Tensor, both_sides: bool) -> list[torch.Tensor]:
    """``joins`` (see :func:`region_joins`) left only between two foreground pixels. At
    tolerance 0 joined pixels share one color, so testing one side is enough."""
    ends = [(fg[:, 1:], fg[:, :-1]), (fg[1:], fg[:-1]), (fg[1:, 1:], fg[:-1, :-1]), (fg[1:, :-1], fg[:-1, 1:])]
    return [j & a & b if both_sides else j & a for j, (a, b) in zip(joins, ends)]


def _foreground(x: torch.Tensor, background: float | Sequence[float] | None) -> torch.Tensor | None:
    """``(H, W) bool``: the pixels of ``x (C, H, W)`` whose color is not ``background``."""
    if background is None:
        return None
    values = np.atleast_1d(np.asarray(background, dtype=np.float64))
    if values.ndim != 1 or len(values) not in (1, x.shape[0]):
        raise ValueError(f"background must be one value or one per channel ({x.shape[0]}), got {background!r}")
    if not np.isfinite(values).all():
        raise ValueError(f"background must be finite, got {background!r}")
    if len(values) == 1:
        values = np.repeat(values, x.shape[0])
    wanted = torch.tensor(values, dtype=torch.float64)
    bg = wanted.to(x.dtype)
    if not torch.equal(bg.to(torch.float64), wanted):
        raise ValueError(f"background {background!r} is not a value of this image's dtype ({x.dtype})")
    bg = bg.to(x.device)
    if x.shape[0] == 1:
        return x[0] != bg[0]
    return (x != bg[:, None, None]).any(dim=0)


def region_stats(image: np.ndarray | torch.Tensor, labels: torch.Tensor, count: int) -> RegionStats:
    """Statistics of any labeling: ``labels (H, W)`` with values ``0..count`` (0: none) over
    ``image`` (same layouts as :func:`label_regions`). Per pixel, so slower than the run-based
    statistics :func:`label_regions` computes itself."""
    x = _as_image(image, labels.device)
    C, H, W = x.shape
    if tuple(labels.shape) != (H, W):
        raise ValueError(f"labels {tuple(labels.shape)} do not match the image {(H, W)}")
    flat = labels.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) > count):
        raise ValueError(f"labels must lie in 0..{count}")
    starts = torch.ones((H, W), dtype=torch.bool, device=x.device)
    starts[:, 1:] = labels[:, 1:] != labels[:, :-1]
    run_start = _flat_nonzero(starts)
    run_label = flat.index_select(0, run_start)
    run_length = _tiling_lengths(run_start, H * W)
    return _stats(x, labels, run_label, run_start, run_length, count, tolerance=1.0)  # tolerance > 0: per-pixel mean colors


class LabelRegions(torch.nn.Module):
    """Module form: ``forward(image (C, H, W)) -> labels (H, W) int32``."""

    def __init__(self, tolerance: float = 0.0, connectivity: int = 4, min_size: int = 0) -> None:
        super().__init__()
        self.tolerance, self.connectivity, self.min_size = tolerance, connectivity, min_size

    def forward(self, image: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return label_regions(image, self.tolerance, self.connectivity, self.min_size, stats=False).labels
