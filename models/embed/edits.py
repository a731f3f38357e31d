"""Image edits that keep an image's identity (positives) and transforms that do not (negatives).

The contrastive training of ``lookalike-s`` and the benchmarks draw from the same lists, so
what the model is taught and what it is measured on are named in one place.

Hard positives (``HARD_EDITS``): JPEG quality 15, 25% trimmed, a text overlay, a caption band
(a white band of text over the lower part, about 7% of the area), a sticker (a flat badge with
a letter, 3-6% of the area), Gaussian noise of sigma 10, gamma 0.7, a quarter of the size (half
of each side). Explicit negatives: the 7
other rotations/mirrors and the 5 other channel orders (``lookalike.models.orientation``), and
keystone warps.
All take and return RGB ``PIL.Image`` objects and draw randomness from a ``random.Random``.
"""

from __future__ import annotations

__all__ = [
    "HARD_EDITS", "MILD_EDITS", "jpeg", "trim", "text_overlay", "caption_band", "sticker", "noise", "gamma", "quarter_size", "perspective",
    "dihedral", "channel_order",
]

import io
import random
import string
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

from .. import orientation


def jpeg(im: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def trim(im: Image.Image, frac: float, rng: random.Random) -> Image.Image:
    """Cut ``frac`` of the width and of the height away, split at random between the sides."""
    w, h = im.size
    cw, ch = round(w * frac), round(h * frac)
    left, top = rng.randint(0, cw), rng.randint(0, ch)
    return im.crop((left, top, w - (cw - left), h - (ch - top)))


def text_overlay(im: Image.Image, rng: random.Random) -> Image.Image:
    """A line of text (a caption or a watermark), white or black with a contrasting outline,
    about 1/12 of the height tall, somewhere on the image."""
    out = im.convert("RGB").copy()
    w, h = out.size
    size = max(8, h // 12)
    font = _font(size)
    words = " ".join("".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(3, 8)))
                     for _ in range(rng.randint(2, 4)))
    draw = ImageDraw.Draw(out)
    x0, y0, x1, y1 = draw.textbbox((0, 0), words, font=font)
    x = rng.randint(0, max(0, w - (x1 - x0)))
    y = rng.randint(0, max(0, h - (y1 - y0)))
    fill, stroke = ((255, 255, 255), (0, 0, 0)) if rng.random() < 0.5 else ((0, 0, 0), (255, 255, 255))
    draw.text((x - x0, y - y0), words, font=font, fill=fill, stroke_width=max(1, size // 12), stroke_fill=stroke)
    return out


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def caption_band(im: Image.Image, rng: random.Random) -> Image.Image:
    """A caption box over the lower part: a white (or black) band the width of the picture,
    5-9% of its height (about 7% of the area), with a line of dark (or light) text in it."""
    out = im.convert("RGB").copy()
    w, h = out.size
    bh = max(4, round(h * rng.uniform(0.05, 0.09)))
    y0 = h - bh - round(h * rng.uniform(0.0, 0.08))
    light = rng.random() < 0.75
    band = Image.new("RGB", (w, bh), (255, 255, 255) if light else (0, 0, 0))
    draw = ImageDraw.Draw(band)  # text drawn on the band alone, so it never spills out of it
    font = _font(max(6, round(bh * 0.7)))
    words = " ".join("".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(3, 9)))
                     for _ in range(rng.randint(2, 6)))
    x0, ty0, _, ty1 = draw.textbbox((0, 0), words, font=font)
    draw.text((round(w * 0.03) - x0, (bh - (ty1 - ty0)) // 2 - ty0), words, font=font,
              fill=(20, 20, 20) if light else (235, 235, 235))
    out.paste(band, (0, y0))
    return out


def sticker(im: Image.Image, rng: random.Random) -> Image.Image:
    """A sticker or logo: a flat disc or rounded square of one color with a letter in a
    contrasting one, 3-6% of the area, near a corner (where logos and watermarks sit)."""
    out = im.convert("RGB").copy()
    w, h = out.size
    side = max(4, round((w * h * rng.uniform(0.03, 0.06)) ** 0.5))
    side = min(side, w, h)
    mx, my = round(w * rng.uniform(0.01, 0.06)), round(h * rng.uniform(0.01, 0.06))
    x = mx if rng.random() < 0.5 else w - side - mx
    y = my if rng.random() < 0.5 else h - side - my
    x, y = max(0, x), max(0, y)
    fill = tuple(rng.randint(0, 255) for _ in range(3))
    ink = (255, 255, 255) if sum(fill) < 384 else (0, 0, 0)
    draw = ImageDraw.Draw(out)
    box = (x, y, x + side - 1, y + side - 1)
    if rng.random() < 0.5:
        draw.ellipse(box, fill=fill)
    else:
        draw.rounded_rectangle(box, radius=max(1, side // 6), fill=fill)
    font = _font(max(6, round(side * 0.6)))
    letter = rng.choice(string.ascii_uppercase)
    lx0, ly0, lx1, ly1 = draw.textbbox((0, 0), letter, font=font)
    draw.text((x + (side - (lx1 - lx0)) // 2 - lx0, y + (side - (ly1 - ly0)) // 2 - ly0), letter, font=font, fill=ink)
    return out


def noise(im: Image.Image, sigma: float, rng: random.Random) -> Image.Image:
    a = np.asarray(im.convert("RGB"), np.float32)
    g = np.random.default_rng(rng.getrandbits(32)).normal(0.0, sigma, a.shape).astype(np.float32)
    return Image.fromarray(np.clip(a + g + 0.5, 0, 255).astype(np.uint8))


def gamma(im: Image.Image, g: float) -> Image.Image:
    lut = [min(255, round(255 * (i / 255) ** g)) for i in range(256)]
    return im.convert("RGB").point(lut * 3)


def quarter_size(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS)


def perspective(im: Image.Image, rng: random.Random) -> Image.Image:
    """A keystone: two adjacent corners pulled inward by 18-25% of the side (a negative)."""
    w, h = im.size
    side = rng.randrange(4)
    k = rng.uniform(0.18, 0.25)
    quad = [(0, 0), (w, 0), (w, h), (0, h)]
    if side == 0:
        quad[0], quad[1] = (k * w, 0), ((1 - k) * w, 0)
    elif side == 1:
        quad[1], quad[2] = (w, k * h), (w, (1 - k) * h)
    elif side == 2:
        quad[2], quad[3] = ((1 - k) * w, h), (k * w, h)
    else:
        quad[3], quad[0] = (0, (1 - k) * h), (0, k * h)
    coeffs = _perspective_coeffs(quad, [(0, 0), (w, 0), (w, h), (0, h)])
    return im.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))


def _perspective_coeffs(dst, src) -> list[float]:
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return np.linalg.solve(np.array(rows, float), np.array(rhs, float)).tolist()


def dihedral(im: Image.Image, k: int | str) -> Image.Image:
    """The dihedral variant ``k`` (index or name of ``orientation.DIHEDRAL_NAMES``; 0 is the image)."""
    return Image.fromarray(np.ascontiguousarray(orientation.dihedral(np.asarray(im.convert("RGB")), k)))


def channel_order(im: Image.Image, k: int) -> Image.Image:
    """The ``k``-th of ``orientation.CHANNEL_ORDERS`` (0 is the image itself)."""
    return Image.fromarray(np.ascontiguousarray(orientation.channel_order(np.asarray(im.convert("RGB")), k)))


Edit = Callable[[Image.Image, random.Random], Image.Image]

#: The hard edits of issue 5 (the training positives and the benchmark's hard protocol).
HARD_EDITS: dict[str, Edit] = {
    "jpeg15": lambda im, rng: jpeg(im, 15),
    "trim25": lambda im, rng: trim(im, 0.25, rng),
    "text": text_overlay,
    "caption": caption_band,
    "sticker": sticker,
    "noise10": lambda im, rng: noise(im, 10.0, rng),
    "gamma07": lambda im, rng: gamma(im, 0.7),
    "quarter": lambda im, rng: quarter_size(im),
}
#: The everyday edits the color grid already handles (also training positives).
MILD_EDITS: dict[str, Edit] = {
    "jpeg35": lambda im, rng: jpeg(im, 35),
    "blur": lambda im, rng: im.filter(ImageFilter.GaussianBlur(1.5)),
    "bright10": lambda im, rng: ImageEnhance.Brightness(im).enhance(1.1),
    "sat20": lambda im, rng: ImageEnhance.Color(im).enhance(1.2),
    "trim4": lambda im, rng: trim(im, 0.04, rng),
}

