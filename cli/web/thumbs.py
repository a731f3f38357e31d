"""Thumbnails of indexed pictures: made on demand with the safe loader, cached in the index folder."""

from __future__ import annotations

__all__ = ["thumbnail", "THUMB_SIDES"]

import io
import os
from pathlib import Path

from PIL import Image

from lookalike.models.io.images import DEFAULT_MAX_PIXELS, load_image, resize_pixels

#: The sizes served (longer side, pixels): grid thumbnails and the side-by-side viewer.
THUMB_SIDES = (320, 1600)
CACHE_FOLDER = "thumbs"


def thumbnail(cache_dir: Path | None, image_id: int, path: str, mtime_ns: int, side: int) -> bytes:
    """JPEG bytes of the picture at ``path`` with its longer side at most ``side``. Cached under
    ``cache_dir`` by id, file time and side (a changed file gets a new one); a folder that cannot
    be written is no cache. Raises :class:`~lookalike.models.errors.ImageLoadError`."""
    name = f"{image_id}-{mtime_ns}-{side}.jpg"
    if cache_dir is not None:
        try:
            return (cache_dir / name).read_bytes()
        except OSError:
            pass
    pixels = load_image(path, min_side=side, max_pixels=DEFAULT_MAX_PIXELS).pixels  # JPEGs decode in draft mode
    h, w = pixels.shape[:2]
    k = side / max(w, h)
    if k < 1:
        pixels = resize_pixels(pixels, max(1, round(w * k)), max(1, round(h * k)))
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=85)
    data = buf.getvalue()
    if cache_dir is not None:
        try:
            cache_dir.mkdir(exist_ok=True)
            tmp = cache_dir / f".{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, cache_dir / name)
        except OSError:
            pass
    return data
