"""The quality protocol shared by the benchmarks: positive edits, negative transforms, crops.

Positives (must match their source, source ranked first):
  jpeg35      JPEG re-encode at quality 35
  half        resized to 0.5x (Lanczos)
  double      resized to 2x (bicubic)
  blur        Gaussian blur, radius 1.5 px
  bright10    brightness +10% (PIL ImageEnhance.Brightness 1.1)
  sat20       saturation +20% (PIL ImageEnhance.Color 1.2)
  trim4       4% of the width and 4% of the height cut away, split at random between the sides
Negatives (must not match anything):
  rot90, rot180, rot270, mirror (left-right), transpose,
  perspective (a keystone: two adjacent corners pulled inward by 18-25% of the side),
  channels (RGB -> BGR)
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageEnhance, ImageFilter

from lookalike.models.embed.edits import jpeg, perspective, trim  # noqa: F401 (re-exported to the benches)

PHOTOS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "photos"


def photo_paths(root: Path = PHOTOS) -> list[Path]:
    exts = {".png", ".jpg", ".jpeg"}
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in exts)


def positives(im: Image.Image, rng: random.Random) -> dict[str, Image.Image]:
    w, h = im.size
    return {
        "jpeg35": jpeg(im, 35),
        "half": im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS),
        "double": im.resize((w * 2, h * 2), Image.Resampling.BICUBIC),
        "blur": im.filter(ImageFilter.GaussianBlur(1.5)),
        "bright10": ImageEnhance.Brightness(im).enhance(1.1),
        "sat20": ImageEnhance.Color(im).enhance(1.2),
        "trim4": trim(im, 0.04, rng),
    }


def negatives(im: Image.Image, rng: random.Random) -> dict[str, Image.Image]:
    r, g, b = im.split()
    return {
        "rot90": im.transpose(Image.Transpose.ROTATE_90),
        "rot180": im.transpose(Image.Transpose.ROTATE_180),
        "rot270": im.transpose(Image.Transpose.ROTATE_270),
        "mirror": im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "transpose": im.transpose(Image.Transpose.TRANSPOSE),
        "perspective": perspective(im, rng),
        "channels": Image.merge("RGB", (b, g, r)),
    }


def random_crop(im: Image.Image, rng: random.Random, rescale: bool) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """A crop of 1/16 to 1/4 of the area (each side 1/4 to 1/2), JPEG q80, optionally rescaled
    by 0.75-1.3. Returns the query and its true box (x, y, w, h) in the source."""
    w, h = im.size
    cw, ch = round(w * rng.uniform(0.25, 0.5)), round(h * rng.uniform(0.25, 0.5))
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    crop = im.crop((x, y, x + cw, y + ch))
    if rescale:
        s = rng.uniform(0.75, 1.3)
        crop = crop.resize((max(8, round(cw * s)), max(8, round(ch * s))), Image.Resampling.BICUBIC)
    return jpeg(crop, 80), (x, y, cw, ch)
