"""The frame operators on files: what the `diff`, `static-layer` and `background` commands call."""

from __future__ import annotations

__all__ = ["DiffReport", "BackgroundReport", "StaticLayerReport", "parse_color", "diff_files", "background_files",
           "static_layer_files"]

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from lookalike.models.errors import FramesError, QueryError
from lookalike.models.io.images import load_input

from .image_files import save_pixels
from lookalike.models.io.video import Path_, iter_frames


@dataclass(frozen=True)
class DiffReport:
    changed: int
    total: int
    out: str

    def to_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "total": self.total, "out": self.out}


@dataclass(frozen=True)
class BackgroundReport:
    frames: int
    method: str  # "median" (exact, the frames held) or "remedian" (streamed)
    out: str

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "method": self.method, "out": self.out}


@dataclass(frozen=True)
class StaticLayerReport:
    frames: int
    layer_pixels: int
    total: int
    motion: tuple[float, float]  # the background's largest travel (dy, dx) over the frames, in pixels
    out: str
    mask_out: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"frames": self.frames, "layer_pixels": self.layer_pixels, "total": self.total,
                "motion": list(self.motion), "out": self.out, "mask_out": self.mask_out}


def parse_color(text: str) -> tuple[int, int, int]:
    """``"255,0,0"``, ``"#ff0000"``, ``"red"`` or anything Pillow's ImageColor reads -> RGB."""
    from PIL import ImageColor

    parts = text.split(",")
    try:
        if len(parts) == 3:
            rgb = tuple(int(p) for p in parts)
            if all(0 <= v <= 255 for v in rgb):
                return rgb  # type: ignore[return-value]
            raise ValueError
        return ImageColor.getrgb(text)[:3]  # type: ignore[return-value]
    except ValueError:
        raise QueryError(f"not a color: {text!r} (use R,G,B, #rrggbb or a name such as black)") from None


def diff_files(a: Path_, b: Path_, out: Path_, tolerance: float = 0.0, fill: str | tuple[int, int, int] = "black",
               device: str | None = None) -> DiffReport:
    """Keep the pixels of ``a`` that did not change in ``b`` (see :func:`frame_diff`), write ``out``."""
    from lookalike.models.ops.frames import frame_diff

    color = parse_color(fill) if isinstance(fill, str) else fill
    if tolerance < 0:
        raise QueryError(f"--tolerance must be >= 0, got {tolerance}")
    pa, pb = load_input(a).pixels, load_input(b).pixels
    if pa.shape != pb.shape:
        raise QueryError(f"frames differ in size: {a} is {pa.shape[1]}x{pa.shape[0]}, {b} is {pb.shape[1]}x{pb.shape[0]}")
    kept, changed = frame_diff(pa, pb, tolerance, color, device=device)
    img = kept.permute(1, 2, 0).cpu().numpy().astype(np.uint8)
    return DiffReport(changed=int(changed.sum()), total=int(changed.numel()), out=save_pixels(img, out))


def background_files(inputs: Sequence[Path_], out: Path_, last: int | None = None, base: int = 64,
                     device: str | None = None) -> BackgroundReport:
    """The background of a video or of frame images. With ``last``: the exact true median of the
    last N frames (only N are held). Without: every frame, streamed through a remedian of base
    ``base`` (exact while the video has at most ``base`` frames), never holding the video."""
    import collections

    from lookalike.models.ops.frames import BackgroundStream, estimate_background

    if last is not None and last < 1:
        raise QueryError(f"--last must be at least 1, got {last}")
    frames = iter_frames(inputs)
    try:
        if last is not None:
            kept = list(collections.deque(frames, maxlen=last))
            bg = estimate_background(np.stack(kept), device=device)
            count, method = len(kept), "median"
        else:
            stream = BackgroundStream(base=base, device=device)
            for f in frames:
                stream.update(f)
            bg = stream.result()
            count, method = stream.count, "median" if stream.count <= base else "remedian"
    except ValueError as exc:
        raise FramesError(str(exc)) from None
    img = bg.round().clamp(0, 255).permute(1, 2, 0).cpu().numpy().astype(np.uint8)
    return BackgroundReport(frames=count, method=method, out=save_pixels(img, out))


def static_layer_files(inputs: Sequence[Path_], out: Path_, mask_out: Path_ | None = None, frames: int = 24,
                       device: str | None = None) -> StaticLayerReport:
    """The static layer of the first ``frames`` frames: ``out`` as an RGBA PNG, ``mask_out`` as
    an L PNG (255 where static)."""
    from lookalike.models.ops.static_overlay import static_layer
    from lookalike.models.io.video import read_frames

    if frames < 3:
        raise QueryError(f"--frames must be at least 3, got {frames}")
    stack = read_frames(inputs, first=frames)
    if len(stack) < 3:
        raise FramesError(f"the static layer needs at least 3 frames, the input has {len(stack)}")
    res = static_layer(stack, device=device)
    rgba = (res.rgba.permute(1, 2, 0).cpu().numpy() * 255).round().clip(0, 255).astype(np.uint8)
    mask = res.mask.cpu().numpy()
    travel = (res.shifts.amax(0) - res.shifts.amin(0)).tolist()
    return StaticLayerReport(
        frames=len(stack), layer_pixels=int(mask.sum()), total=int(mask.size), motion=(round(travel[0], 2), round(travel[1], 2)),
        out=save_pixels(rgba, out), mask_out=save_pixels(mask.astype(np.uint8) * 255, mask_out) if mask_out else None)
