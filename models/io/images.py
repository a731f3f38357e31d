"""Decode any supported image file into deterministic RGB pixels.

One bad file must never stop a batch: every failure becomes an :class:`ImageLoadError`
with a stable :class:`SkipReason` code.
"""

from __future__ import annotations

__all__ = ["LoadedImage", "ImageSource", "load_image", "load_input", "as_image", "luma", "SUPPORTED_EXTENSIONS",
           "DEFAULT_MAX_PIXELS", "to_rgb", "resize_pixels", "shrink_to_side"]

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageLoadError, QueryError, SkipReason

log = logging.getLogger(__name__)

#: Formats Pillow may open (the allow-list): nothing else is even tried.
ALLOWED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "TGA")
SUPPORTED_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm",
     ".pbm", ".pnm", ".tga"}
)
#: Refuse images with more pixels than this (decompression bombs). 100 megapixels.
DEFAULT_MAX_PIXELS = 100_000_000
#: Transparent pixels are composited over this color, so results never depend on hidden RGB.
BACKGROUND = (255, 255, 255)

_SWAPS_AXES = {5, 6, 7, 8}  # EXIF orientations that transpose the image


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels plus the geometry of the original file.

    ``pixels`` is ``(h, w, 3) uint8`` RGB, possibly smaller than the original when the decoder
    could reduce (JPEG draft mode). ``width``/``height`` are the original size after EXIF
    orientation; boxes are always expressed in those coordinates.
    """

    pixels: np.ndarray
    width: int
    height: int

    @property
    def scale(self) -> float:
        """Decoded pixels per original pixel (<= 1)."""
        return self.pixels.shape[1] / self.width

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Decoded pixels per original pixel along x and along y (they differ by rounding)."""
        return self.pixels.shape[1] / self.width, self.pixels.shape[0] / self.height

    def boxes_to_pixels(self, boxes: np.ndarray) -> np.ndarray:
        """``(N, 4)`` boxes ``x, y, w, h`` in original pixels -> float64 boxes in decoded pixels."""
        sx, sy = self.scale_xy
        return np.asarray(boxes, np.float64).reshape(-1, 4) * np.array([sx, sy, sx, sy])

    def box_to_original(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """A box in decoded pixels -> the same box in original pixels, clipped to the image."""
        inv = self.width / self.pixels.shape[1]
        x, y, w, h = box
        ox, oy = int(round(x * inv)), int(round(y * inv))
        ow, oh = max(1, int(round(w * inv))), max(1, int(round(h * inv)))
        return (ox, oy, min(ow, self.width - ox), min(oh, self.height - oy))


def _alpha_over_background(im: Image.Image) -> Image.Image:
    rgba = im.convert("RGBA")
    base = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
    return Image.alpha_composite(base, rgba).convert("RGB")


def _wide_to_rgb(im: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float images: scaled into 0..255, never clipped."""
    arr = np.asarray(im, dtype=np.float64)
    if im.mode.startswith("I;16"):
        scaled = arr / 257.0
    elif im.mode == "I":
        hi = float(arr.max()) if arr.size else 0.0
        lo = float(arr.min()) if arr.size else 0.0
        if lo >= 0 and hi <= 255:
            scaled = arr
        elif lo >= 0 and hi <= 65535:
            scaled = arr / 257.0
        else:
            scaled = (arr - lo) / max(hi - lo, 1e-12) * 255.0
    else:  # "F"
        hi = float(np.nanmax(arr)) if arr.size else 0.0
        lo = float(np.nanmin(arr)) if arr.size else 0.0
        arr = np.nan_to_num(arr, nan=lo)
        scaled = arr * 255.0 if lo >= 0 and hi <= 1 else (arr - lo) / max(hi - lo, 1e-12) * 255.0
    gray = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return Image.fromarray(gray, "L").convert("RGB")


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB deterministically (alpha over a white background)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        return _alpha_over_background(im)
    if mode.startswith("I") or mode == "F":
        return _wide_to_rgb(im)
    return im.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV


def load_image(
    path: str | os.PathLike[str],
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode ``path`` to RGB with EXIF orientation applied.

    ``min_side``: the decoded image's shorter side only needs to be this large; JPEGs then decode
    in draft mode at 1/2, 1/4 or 1/8 scale, several times faster. ``None`` decodes at full size.
    Raises :class:`ImageLoadError` with a :class:`SkipReason` for every failure.
    """
    p = Path(path)
    try:
        if p.stat().st_size == 0:
            raise ImageLoadError(str(p), SkipReason.EMPTY, "file is empty")
    except FileNotFoundError:
        raise ImageLoadError(str(p), SkipReason.MISSING, "no such file") from None
    except OSError as exc:
        raise ImageLoadError(str(p), SkipReason.UNREADABLE, exc.strerror or str(exc)) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p, formats=ALLOWED_FORMATS) as im:
                return _decode(im, str(p), min_side, max_pixels)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(str(p), SkipReason.TOO_LARGE, str(exc)) from None
    except UnidentifiedImageError:
        raise ImageLoadError(str(p), SkipReason.UNSUPPORTED, "not an image of a supported format") from None
    except Exception as exc:  # any decoder failure is this file's problem, never the batch's
        text = str(exc)
        reason = SkipReason.TRUNCATED if "truncat" in text.lower() or isinstance(exc, EOFError) else SkipReason.UNREADABLE
        raise ImageLoadError(str(p), reason, text or type(exc).__name__) from None


def _decode(im: Image.Image, path: str, min_side: int | None, max_pixels: int) -> LoadedImage:
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageLoadError(path, SkipReason.EMPTY, "image has no pixels")
    if w * h > max_pixels:
        raise ImageLoadError(path, SkipReason.TOO_LARGE, f"{w}x{h} exceeds {max_pixels} pixels")
    orientation = 1
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not lose the picture
        log.debug("ignoring unreadable EXIF in %s", path)
    ow, oh = (h, w) if orientation in _SWAPS_AXES else (w, h)
    if min_side and im.format == "JPEG":
        k = min_side / min(w, h)
        if k < 1:
            im.draft("RGB", (math.ceil(w * k), math.ceil(h * k)))
    im.load()  # an animation opens on its first frame, which is the one indexed
    rgb = to_rgb(im)
    rgb = _transpose(rgb, orientation)
    pixels = np.asarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ImageLoadError(path, SkipReason.UNREADABLE, f"unexpected pixel layout {pixels.shape}")
    return LoadedImage(pixels=np.ascontiguousarray(pixels), width=ow, height=oh)


_TRANSPOSE_FOR = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _transpose(im: Image.Image, orientation: int) -> Image.Image:
    method = _TRANSPOSE_FOR.get(orientation)
    return im.transpose(method) if method is not None else im


#: What the library accepts as a picture: a file path, a PIL image or ``(H, W, 3) uint8`` pixels.
ImageSource = Union[str, "os.PathLike[str]", Image.Image, np.ndarray]


def as_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """A picture given as a path (decoded by :func:`load_image`), a PIL image (turned into RGB
    the same way, EXIF orientation applied) or an ``(H, W, 3) uint8`` array (taken as is).
    A file that cannot be read raises :class:`ImageLoadError`; anything else that is not a
    picture raises :class:`QueryError`."""
    if isinstance(source, (str, os.PathLike)):
        return load_image(source, max_pixels=max_pixels)
    if isinstance(source, Image.Image):
        return _decode(source, "<image>", None, max_pixels)
    if isinstance(source, np.ndarray):
        if source.ndim != 3 or source.shape[2] != 3 or source.dtype != np.uint8:
            raise QueryError(f"expected (H, W, 3) uint8 pixels, got {source.dtype} {source.shape}", code="bad-image")
        h, w = source.shape[:2]
        if h == 0 or w == 0:
            raise QueryError("the image has no pixels", code="bad-image")
        if h * w > max_pixels:
            raise QueryError(f"{w}x{h} exceeds {max_pixels} pixels", code="bad-image")
        return LoadedImage(np.ascontiguousarray(source), w, h)
    raise QueryError(f"expected an image file, a PIL image or an (H, W, 3) uint8 array, got {type(source).__name__}",
                     code="bad-image")


def load_input(path: str | os.PathLike[str], what: str = "") -> LoadedImage:
    """:func:`load_image` for a file the user named as input: a bad file is a
    :class:`QueryError` ("cannot read crop a.png: truncated (...)"), not a skip."""
    try:
        return load_image(path)
    except ImageLoadError as exc:
        detail = f" ({exc.detail})" if exc.detail else ""
        raise QueryError(f"cannot read {what + ' ' if what else ''}{path}: {exc.reason.value}{detail}") from None


def luma(pixels: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` RGB -> ``(H, W) float32`` gray (ITU-R BT.601 weights)."""
    return pixels.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def resize_pixels(pixels: np.ndarray, w: int, h: int, smooth: bool = False) -> np.ndarray:
    """``(H, W, 3) uint8`` resized to ``w x h``: area averaging down (``smooth``: a triangle
    filter as wide as the reduction, the antialiased bilinear that an embedder's own resize,
    ``F.interpolate(mode="bilinear", antialias=True)``, computes), bilinear up."""
    if (w, h) == (pixels.shape[1], pixels.shape[0]):
        return pixels
    im = Image.fromarray(pixels)
    down = Image.Resampling.BILINEAR if smooth else Image.Resampling.BOX
    return np.asarray(im.resize((w, h), down if w < im.width else Image.Resampling.BILINEAR))


def shrink_to_side(pixels: np.ndarray, side: int, smooth: bool = False) -> np.ndarray:
    """``pixels`` scaled down so the shorter side is ``side`` (unchanged if already smaller).
    ``smooth``: as an embedder resizes (see :func:`resize_pixels`), for pixels handed to one:
    a fine pattern (a halftone print) averaged over boxes comes out another picture to it."""
    h, w = pixels.shape[:2]
    k = side / min(h, w)
    if k >= 1:
        return pixels
    return resize_pixels(pixels, max(1, round(w * k)), max(1, round(h * k)), smooth)
