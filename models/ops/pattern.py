"""pattern: binary hit-or-miss in any of the 8 rotations/mirrors, as one batched convolution.

A pattern has cells ``1`` (must be foreground), ``0`` (must be background) and ``.`` (don't
care), rows separated by ``/``: ``"1000/1111"``. Its variants are ``rot0..rot270`` =
``np.rot90(P, k)`` and ``flip_rot0..flip_rot270`` = ``np.rot90(np.fliplr(P), k)``; a variant
identical to an earlier one (in that order) is reported once, under the earlier name.

Matching uses one kernel per variant, ``+1`` on foreground cells and ``-1`` on background
cells: the correlation with a 0/1 image equals the number of foreground cells exactly when
every foreground cell sees 1 and every background cell sees 0. All variants run in a single
``conv2d`` over the whole batch.
"""

from __future__ import annotations

__all__ = ["PatternMatch", "PatternHits", "parse_pattern", "pattern_variants", "find_pattern", "pattern_hits",
           "match_maps", "FindPattern", "VARIANT_NAMES"]

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..orientation import DIHEDRAL_NAMES as VARIANT_NAMES
from ..orientation import dihedral
_SETS = {"all": VARIANT_NAMES, "rotations": VARIANT_NAMES[:4], "none": VARIANT_NAMES[:1]}


@dataclass(frozen=True)
class PatternMatch:
    """The variant ``variant`` placed with its top-left cell at column ``x``, row ``y``."""

    x: int
    y: int
    variant: str


@dataclass(frozen=True)
class PatternHits:
    """Every match in a stack of ``count`` images as parallel ``(M,) int64`` arrays, sorted by
    image, then row ``y``, column ``x`` and variant. ``variant`` indexes ``names``. This is the
    form to use for large stacks: no Python object per match."""

    names: tuple[str, ...]
    count: int
    image: np.ndarray
    y: np.ndarray
    x: np.ndarray
    variant: np.ndarray

    def offsets(self) -> np.ndarray:
        """``(count + 1,) int64``: the matches of image ``i`` are ``offsets[i]:offsets[i + 1]``."""
        return np.searchsorted(self.image, np.arange(self.count + 1))

    def found(self) -> np.ndarray:
        """``(count,) bool``: whether each image has at least one match."""
        out = np.zeros(self.count, dtype=bool)
        out[self.image] = True
        return out

    def per_image(self) -> list[list[PatternMatch]]:
        """The matches as :class:`PatternMatch` lists, one per image."""
        out: list[list[PatternMatch]] = [[] for _ in range(self.count)]
        for n, y, x, v in zip(self.image.tolist(), self.y.tolist(), self.x.tolist(), self.variant.tolist()):
            out[n].append(PatternMatch(x=x, y=y, variant=self.names[v]))
        return out


def parse_pattern(spec: str) -> np.ndarray:
    """``"10./111"`` -> ``(h, w) int8`` with 1 (foreground), 0 (background), -1 (don't care)."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("empty pattern")
    rows = spec.strip().split("/")
    if len({len(r) for r in rows}) != 1 or not rows[0]:
        raise ValueError(f"pattern rows must be non-empty and of equal length: {spec!r}")
    table = {"1": 1, "0": 0, ".": -1}
    try:
        p = np.array([[table[c] for c in r] for r in rows], dtype=np.int8)
    except KeyError as exc:
        raise ValueError(f"pattern cells are 1, 0 or '.', got {exc.args[0]!r} in {spec!r}") from None
    if np.all(p == -1):
        raise ValueError("a pattern of only don't-care cells matches everywhere; give at least one 0 or 1")
    return p


def pattern_variants(pattern: np.ndarray | str, which: str = "all") -> list[tuple[str, np.ndarray]]:
    """Distinct variants in canonical order, each named by its first occurrence."""
    p = parse_pattern(pattern) if isinstance(pattern, str) else np.asarray(pattern, np.int8)
    if which not in _SETS:
        raise ValueError(f"variants must be one of {', '.join(_SETS)}, got {which!r}")
    out: list[tuple[str, np.ndarray]] = []
    for name in _SETS[which]:
        v = dihedral(p, name)
        if not any(u.shape == v.shape and np.array_equal(u, v) for _, u in out):
            out.append((name, np.ascontiguousarray(v)))
    return out


def _as_binary(images, threshold: float | None, device) -> torch.Tensor:
    """``(N, H, W)`` or ``(H, W)`` numpy/tensor -> ``(N, 1, H, W) bool`` (foreground: above
    ``threshold``, default half of the maximum). Numbers are compared in their own dtype's
    promotion with the threshold, never copied to float first."""
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W) or (H, W), got {tuple(x.shape)}")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError("images are empty")
    if x.is_complex():
        raise ValueError("images must be real numbers or booleans")
    x = x.to(device) if device is not None else x
    if x.dtype == torch.bool:
        return x[:, None]
    t = float(threshold) if threshold is not None else float(x.max()) / 2 if x.numel() else 0.0
    return (x > t)[:, None]


def _conv_maps(x: torch.Tensor, vs: list[tuple[str, np.ndarray]]) -> torch.Tensor:
    """Match maps ``(N, V, H, W) bool`` of 0/1 images ``(N, 1, H, W)`` by one conv2d."""
    size = max(max(v.shape) for _, v in vs)
    kernel = torch.zeros((len(vs), 1, size, size), dtype=torch.float32, device=x.device)
    need = torch.zeros(len(vs), dtype=torch.float32, device=x.device)
    for i, (_, v) in enumerate(vs):
        t = torch.from_numpy(v.astype(np.float32)).to(x.device)
        kernel[i, 0, : v.shape[0], : v.shape[1]] = torch.where(t == 1, 1.0, torch.where(t == 0, -1.0, 0.0))
        need[i] = float((v == 1).sum())
    _, _, H, W = x.shape
    xb = F.pad(x.to(torch.float32), (0, size - 1, 0, size - 1))  # x: bool  # padding is only reached by invalid positions
    return (F.conv2d(xb, kernel) == need[None, :, None, None]) & _valid(vs, H, W, x.device)[None]


def _valid(vs: list[tuple[str, np.ndarray]], H: int, W: int, device) -> torch.Tensor:
    """``(V, H, W) bool``: top-left positions where each variant fits inside the image."""
    valid = torch.zeros((len(vs), H, W), dtype=torch.bool, device=device)
    for i, (_, v) in enumerate(vs):
        if v.shape[0] <= H and v.shape[1] <= W:
            valid[i, : H - v.shape[0] + 1, : W - v.shape[1] + 1] = True
    return valid


#: Images at most this wide are matched bit-parallel: each row is one machine word (int32 up to 31 pixels, else int64).
BIT_WIDTH = 62


def _bit_masks(x: torch.Tensor, vs: list[tuple[str, np.ndarray]]) -> torch.Tensor:
    """Match masks ``(N, V, H) int32 or int64`` (bit ``x`` of entry ``y``: a match at ``x, y``) by
    bit-parallel logic: each image row is packed into
    a word whose bit ``x`` is pixel ``x``; for a pattern row, AND-ing the row shifted by each
    pattern column (inverted for background cells) leaves bit ``x`` set exactly where that
    pattern row fits at column ``x``; AND-ing pattern rows over ``y`` finishes the 2-D test."""
    n, _, H, W = x.shape
    word = torch.int32 if W <= 31 else torch.int64  # half the memory traffic for narrow images
    weights = (torch.ones(W, dtype=word, device=x.device) << torch.arange(W, dtype=word, device=x.device))
    rows = (x[:, 0].to(word) * weights).sum(-1, dtype=word)  # (N, H)
    inv = ~rows
    out = torch.zeros((n, len(vs), H), dtype=word, device=x.device)
    for k, (_, v) in enumerate(vs):
        h, w = v.shape
        if h > H or w > W:
            continue
        acc = torch.full((n, H - h + 1), -1, dtype=word, device=x.device)
        for i in range(h):
            line = torch.full((n, H), -1, dtype=word, device=x.device)
            for j in range(w):
                if v[i, j] == 1:
                    line &= rows >> j
                elif v[i, j] == 0:
                    line &= inv >> j
            acc &= line[:, i: i + H - h + 1]
        out[:, k, : H - h + 1] = acc & ((1 << (W - w + 1)) - 1)
    return out


def _bit_maps(x: torch.Tensor, vs: list[tuple[str, np.ndarray]]) -> torch.Tensor:
    bits = torch.arange(x.shape[3], device=x.device)
    return ((_bit_masks(x, vs)[..., None] >> bits) & 1).to(torch.bool)


def match_maps(
    images: np.ndarray | torch.Tensor, pattern: np.ndarray | str, variants: str = "all",
    threshold: float | None = None, device: torch.device | str | None = None, batch: int = 8192,
    method: str = "auto",
) -> tuple[list[str], torch.Tensor]:
    """Where each variant matches: names and a ``(N, V, H, W) bool`` map indexed by top-left
    position. ``images``: ``(N, H, W)`` (bool, or numbers binarized at ``threshold``, default
    half of the maximum). ``method``: ``"bits"`` (images up to 62 pixels wide), ``"conv"``, or
    ``"auto"`` (bits when it applies); both give identical maps."""
    x = _as_binary(images, threshold, device)
    vs = pattern_variants(pattern, variants)
    n, _, H, W = x.shape
    if method not in ("auto", "bits", "conv"):
        raise ValueError(f"method must be auto, bits or conv, got {method!r}")
    use_bits = method == "bits" or (method == "auto" and W <= BIT_WIDTH)
    if use_bits and W > BIT_WIDTH:
        raise ValueError(f"the bit-parallel method takes images up to {BIT_WIDTH} pixels wide")
    out = torch.empty((n, len(vs), H, W), dtype=torch.bool, device=x.device)
    for s in range(0, n, batch):
        out[s:s + batch] = _bit_maps(x[s:s + batch], vs) if use_bits else _conv_maps(x[s:s + batch], vs)
    return [name for name, _ in vs], out


def pattern_hits(
    images: np.ndarray | torch.Tensor, pattern: np.ndarray | str, variants: str = "all",
    threshold: float | None = None, device: torch.device | str | None = None, batch: int = 8192,
) -> PatternHits:
    """Every match in every image, as arrays (:class:`PatternHits`). See :func:`match_maps` for
    the inputs; the stack is processed ``batch`` images at a time, so memory stays bounded."""
    arr = images if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"expected images of shape (N, H, W) or (H, W), got {tuple(arr.shape)}")
    if threshold is None and arr.dtype not in (bool, np.bool_, torch.bool):
        # "half of the maximum" is taken over the whole stack, not batch by batch
        threshold = float(arr.max()) / 2 if arr.shape[0] * arr.shape[1] * arr.shape[2] else 0.0
    vs = pattern_variants(pattern, variants)
    parts = [np.zeros((0, 4), dtype=np.int64)]
    for start in range(0, arr.shape[0], batch):
        x = _as_binary(arr[start:start + batch], threshold, device)
        if x.shape[3] <= BIT_WIDTH:
            masks = _bit_masks(x, vs)  # (n, V, H): decode only the rows that match somewhere
            nz = torch.nonzero(masks)
            vals = masks[nz[:, 0], nz[:, 1], nz[:, 2]]
            hit = torch.nonzero((vals[:, None] >> torch.arange(x.shape[3], device=x.device)) & 1)
            idx = torch.cat([nz[hit[:, 0]], hit[:, 1:2]], dim=1).cpu().numpy()  # image, variant, y, x
        else:
            idx = torch.nonzero(_conv_maps(x, vs)).cpu().numpy()
        idx = idx[np.lexsort((idx[:, 1], idx[:, 3], idx[:, 2], idx[:, 0]))]
        idx[:, 0] += start
        parts.append(idx)
    idx = np.concatenate(parts).astype(np.int64)
    return PatternHits(names=tuple(name for name, _ in vs), count=int(arr.shape[0]), image=idx[:, 0],
                       y=idx[:, 2], x=idx[:, 3], variant=idx[:, 1])


def find_pattern(
    images: np.ndarray | torch.Tensor, pattern: np.ndarray | str, variants: str = "all",
    threshold: float | None = None, device: torch.device | str | None = None, batch: int = 8192,
) -> list[list[PatternMatch]]:
    """Every match in every image: a list per image of :class:`PatternMatch`, in raster order
    of (y, x) then variant order. Same inputs as :func:`pattern_hits`, which returns the
    matches as arrays and is the faster choice for large stacks."""
    return pattern_hits(images, pattern, variants, threshold, device, batch).per_image()


class FindPattern(torch.nn.Module):
    """Module form: ``forward(images) -> (N, V, H, W) bool`` match maps for a fixed pattern."""

    def __init__(self, pattern: str, variants: str = "all", threshold: float | None = None) -> None:
        super().__init__()
        self.pattern = pattern
        self.variants = variants
        self.threshold = threshold
        self.names = [n for n, _ in pattern_variants(pattern, variants)]

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return match_maps(images, self.pattern, self.variants, self.threshold, images.device)[1]
