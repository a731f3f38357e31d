"""find-crop on files: locate a crop in one image, then cut every other image at that box."""

from __future__ import annotations

__all__ = ["AppliedCrop", "CropReport", "find_crop_files", "locate_crop", "apply_box", "scale_range"]

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from lookalike.models.errors import ImageLoadError, QueryError
from lookalike.models.io.images import load_image, load_input

from lookalike.models.ops.crop import CropMatch, find_crop


@dataclass(frozen=True)
class AppliedCrop:
    """``out`` is the written file, or None with ``error`` saying why this file was skipped."""

    path: str
    out: str | None
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "out": self.out, **({"error": self.error} if self.error else {})}


@dataclass(frozen=True)
class CropReport:
    """Where the crop sits in the image, best first, and the other images cut at the best box
    (``applied`` is ``None`` when none were asked for)."""

    image: str
    crop: str
    matches: list[CropMatch]
    applied: list[AppliedCrop] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"image": self.image, "crop": self.crop, "matches": [m.to_dict() for m in self.matches]}
        if self.applied is not None:
            out["applied"] = [a.to_dict() for a in self.applied]
        return out


def find_crop_files(image: str | os.PathLike[str], crop: str | os.PathLike[str], top_k: int = 1,
                    scales: Sequence[float] | None = None, apply: Sequence[str | os.PathLike[str]] = (),
                    out_dir: str | os.PathLike[str] | None = None, device: str | None = None) -> CropReport:
    """:func:`locate_crop`, then, given ``apply``, :func:`apply_box` at the best box into ``out_dir``."""
    if apply and out_dir is None:
        raise QueryError("--apply needs --out-dir")
    matches = locate_crop(image, crop, top_k=top_k, scales=scales, device=device)
    applied = apply_box(apply, matches[0].box, out_dir) if apply else None  # type: ignore[arg-type]
    return CropReport(str(Path(image).resolve()), str(Path(crop).resolve()), matches, applied)


def scale_range(low: float, high: float, step: float = 1.04) -> list[float]:
    """Scales from ``low`` to ``high`` in geometric steps (1.0 included when in range)."""
    if not (0 < low <= high):
        raise QueryError(f"scales must satisfy 0 < A <= B, got {low}:{high}")
    n = max(1, math.ceil(math.log(high / low) / math.log(step)))
    scales = {round(low * (high / low) ** (i / n), 4) for i in range(n + 1)}
    if low <= 1.0 <= high:
        scales.add(1.0)
    return sorted(scales)


def locate_crop(image: str | os.PathLike[str], crop: str | os.PathLike[str], top_k: int = 1,
                scales: Sequence[float] | None = None, device: str | None = None) -> list[CropMatch]:
    """Where ``crop`` (a file) occurs in ``image`` (a file), best first."""
    img, tpl = load_input(image, "image"), load_input(crop, "crop")
    try:
        return find_crop(img.pixels, tpl.pixels, top_k=top_k, scales=scales, device=device)
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def apply_box(paths: Sequence[str | os.PathLike[str]], box: tuple[int, int, int, int], out_dir: str | os.PathLike[str]) -> list[AppliedCrop]:
    """Cut ``box`` (x, y, w, h) out of every file in ``paths`` into ``out_dir`` (same file
    names, same format). A file that cannot be read or is too small is reported, not fatal."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, y, w, h = box
    results = []
    for p in paths:
        try:
            img = load_image(p)
        except ImageLoadError as exc:
            results.append(AppliedCrop(str(p), None, exc.reason.value))
            continue
        if x + w > img.width or y + h > img.height:
            results.append(AppliedCrop(str(p), None, f"image is {img.width}x{img.height}, box does not fit"))
            continue
        dst = out / Path(p).name
        part = Image.fromarray(img.pixels[y:y + h, x:x + w])
        if dst.suffix.lower() in (".jpg", ".jpeg"):
            part.save(dst, quality=95, subsampling=0)  # re-encoding a JPEG: keep it close
        else:
            part.save(dst)
        results.append(AppliedCrop(str(p), str(dst)))
    return results
