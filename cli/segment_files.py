"""`segment` on a file: contiguous like-colored regions (or a Chan-Vese split), with label and
overlay outputs."""

from __future__ import annotations

__all__ = ["Region", "SegmentReport", "segment_file", "METHODS"]

from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike.models.errors import QueryError

from .frame_files import parse_color
from .image_files import save_pixels
from lookalike.models.io.video import Path_

METHODS = ("components", "chan-vese")


@dataclass(frozen=True)
class Region:
    label: int
    area: int
    box: tuple[int, int, int, int]  # x, y, w, h
    color: tuple[float, float, float]  # mean RGB
    centroid: tuple[float, float]  # x, y

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "area": self.area, "box": list(self.box), "color": list(self.color),
                "centroid": list(self.centroid)}


@dataclass(frozen=True)
class SegmentReport:
    count: int
    regions: list[Region]
    labels_out: str | None
    overlay_out: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"count": self.count, "regions": [r.to_dict() for r in self.regions]}


def _overlay(pixels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each region in a color of its own (fixed per label), half over the image; label 0 gray."""
    rng = np.random.default_rng(12345)
    palette = rng.integers(40, 256, (int(labels.max()) + 1, 3)).astype(np.float32)
    palette[0] = 128
    mixed = 0.5 * pixels.astype(np.float32) + 0.5 * palette[labels]
    return mixed.round().clip(0, 255).astype(np.uint8)


def segment_file(
    image: Path_, tolerance: float = 0.0, connectivity: int = 4, min_size: int = 0, method: str = "components",
    labels_out: Path_ | None = None, overlay_out: Path_ | None = None, device: str | None = None,
    background: str | tuple[int, int, int] | None = None,
) -> SegmentReport:
    """Regions of ``image``: ``components`` joins neighbours within ``tolerance`` (Euclidean RGB,
    0-255); ``chan-vese`` splits a smooth grayscale image in two phases first, then labels the
    connected parts of each phase. Writes ``labels_out`` (.npy, int32 (H, W)) and
    ``overlay_out`` (PNG) when given. ``background``: a color (``"white"``, ``"255,255,255"``,
    ``#ffffff`` or an RGB tuple) whose pixels belong to no region (label 0); components only."""
    from lookalike.models.io.images import load_input, luma

    from lookalike.models.ops.chan_vese import chan_vese
    from lookalike.models.ops.components import label_regions, region_stats

    if method not in METHODS:
        raise QueryError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    if connectivity not in (4, 8):
        raise QueryError(f"--connectivity must be 4 or 8, got {connectivity}")
    if tolerance < 0 or min_size < 0:
        raise QueryError("--tolerance and --min-size must be >= 0")
    if background is not None and method != "components":
        raise QueryError("--background applies to --method components only")
    bg = parse_color(background) if isinstance(background, str) else background
    pixels = load_input(image).pixels
    if method == "components":
        seg = label_regions(pixels, tolerance, connectivity, min_size, device=device, background=bg)
        labels, stats = seg.labels, seg.stats
    else:
        phase = chan_vese(luma(pixels), device=device)
        seg = label_regions(phase[None], 0, connectivity, min_size, stats=False)
        labels = seg.labels
        stats = region_stats(pixels, labels, seg.count)
    regions = [Region(label=i + 1, area=int(stats.area[i]), box=tuple(int(v) for v in stats.box[i]),  # type: ignore[arg-type]
                      color=tuple(round(float(v), 2) for v in stats.color[i]),  # type: ignore[arg-type]
                      centroid=(round(float(stats.centroid[i, 0]), 2), round(float(stats.centroid[i, 1]), 2)))
               for i in range(seg.count)]
    lab = labels.cpu().numpy().astype(np.int32)
    written_labels = None
    if labels_out is not None:
        try:
            np.save(labels_out, lab)
        except (OSError, ValueError) as exc:
            raise QueryError(f"cannot write {labels_out}: {exc}") from None
        written_labels = str(labels_out) + ("" if str(labels_out).endswith(".npy") else ".npy")  # numpy adds it
    written_overlay = save_pixels(_overlay(pixels, lab), overlay_out) if overlay_out is not None else None
    return SegmentReport(count=seg.count, regions=regions, labels_out=written_labels, overlay_out=written_overlay)
