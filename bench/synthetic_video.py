"""Synthetic H.264 test videos with known truth, for bench/background.py and bench/static_layer.py.

- ``moving_objects``: a static photo as background, with opaque shapes sliding across it (each
  pixel covered in well under half of the frames). Truth: the photo.
- ``overlay_pan``: a slow pan over a busy photo (sub-pixel steps), with an information layer
  drawn on top: thin text, a half-transparent panel with text, a thin line and a semi-transparent
  ring logo. Truth: the layer's mask (pixels at least half covered by a shape) and its RGBA.

Both are encoded with libx264 (yuv420p) through PyAV at the given crf and decoded back, so the
operators see real compression.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def encode(frames: np.ndarray, path: str | Path, crf: int = 23, fps: int = 24) -> None:
    import av

    t, h, w, _ = frames.shape
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"crf": str(crf), "preset": "medium"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def decode(path: str | Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def load_photo(path: Path, min_w: int, min_h: int) -> np.ndarray:
    with Image.open(path) as im:
        im = im.convert("RGB")
        scale = max(min_w / im.width, min_h / im.height, 1.0)
        if scale > 1:
            im = im.resize((round(im.width * scale) + 1, round(im.height * scale) + 1), Image.BICUBIC)
        return np.asarray(im)


def moving_objects(photo: np.ndarray, frames: int, rng: np.random.Generator, size=(360, 640),
                   objects: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """``(frames, H, W, 3)`` uint8 and the true background ``(H, W, 3)``."""
    h, w = size
    bg = photo[:h, :w].copy()
    out = np.repeat(bg[None], frames, axis=0)
    for _ in range(objects):
        oh, ow = rng.integers(h // 10, h // 4), rng.integers(w // 12, w // 5)
        color = rng.integers(0, 256, 3)
        y0, x0 = rng.uniform(0, h - oh), rng.uniform(-ow, w)
        vy, vx = rng.uniform(-2, 2), rng.choice([-1, 1]) * rng.uniform(w / frames, 2.5 * w / frames)
        stripes = (np.arange(ow) // 4 % 2)[None, :, None] * 40  # textured, not flat
        for t in range(frames):
            y, x = int(y0 + vy * t), int(x0 + vx * t)
            ys, xs = slice(max(y, 0), min(y + oh, h)), slice(max(x, 0), min(x + ow, w))
            if ys.start < ys.stop and xs.start < xs.stop:
                patch = np.clip(color[None, None] + stripes[:, xs.start - x:xs.stop - x], 0, 255)
                out[t, ys, xs] = np.broadcast_to(patch, (ys.stop - ys.start, xs.stop - xs.start, 3))
    return out, bg


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def overlay_layer(size: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An RGBA layer ``(H, W, 4)`` float in [0, 1] and its truth mask ``(H, W) bool``: the
    pixels at least half covered by a shape, whatever the shape's opacity."""
    h, w = size
    color = np.zeros((h, w, 3))
    alpha = np.zeros((h, w))
    truth = np.zeros((h, w), bool)

    def put(cover: Image.Image, rgb, a: float) -> None:
        """Draw a shape (coverage ``cover``, L mode) of color ``rgb`` and opacity ``a`` over the layer."""
        raw = np.asarray(cover, dtype=np.float64) / 255
        c = raw * a
        new_alpha = c + alpha * (1 - c)
        mix = (np.array(rgb) / 255) * c[..., None] + color * (alpha * (1 - c))[..., None]
        color[:] = np.where(new_alpha[..., None] > 0, mix / np.maximum(new_alpha, 1e-12)[..., None], 0)
        alpha[:] = new_alpha
        truth[:] |= raw >= 0.5

    def canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
        im = Image.new("L", (w, h), 0)
        return im, ImageDraw.Draw(im)

    # half-transparent panel (bottom left) with text on it
    px, py = int(rng.integers(10, w // 6)), int(rng.integers(h - h // 4, h - 50))
    pw, ph = int(rng.integers(w // 4, w // 3)), 40
    im, d = canvas()
    d.rectangle([px, py, px + pw, py + ph], fill=255)
    put(im, tuple(rng.integers(0, 60, 3)), float(rng.uniform(0.45, 0.6)))
    im, d = canvas()
    d.text((px + 8, py + 10), "HOME 2 : 1 AWAY", fill=255, font=_font(18))
    put(im, (255, 255, 255), 1.0)
    # thin text (top left), opaque
    im, d = canvas()
    d.text((int(rng.integers(10, w // 3)), int(rng.integers(8, 30))), "LIVE  camera 3  12:04", fill=255, font=_font(14))
    put(im, (255, 240, 80), 1.0)
    # a thin line
    im, d = canvas()
    y = int(rng.integers(h // 3, h // 2))
    d.line([int(w * 0.55), y, int(w * 0.95), y], fill=255, width=2)
    put(im, (80, 200, 255), 1.0)
    # a ring logo (top right), semi-transparent like a watermark
    im, d = canvas()
    cx, cy, r = int(w - rng.integers(40, 90)), int(rng.integers(40, 80)), int(rng.integers(18, 28))
    d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=255, width=5)
    put(im, (255, 255, 255), float(rng.uniform(0.55, 0.75)))
    return np.concatenate([color, alpha[..., None]], axis=2), truth


def overlay_pan(photo: np.ndarray, frames: int, rng: np.random.Generator, size=(360, 640)
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(frames, H, W, 3)`` uint8 of a slow pan with the layer on top, the truth mask
    ``(H, W) bool`` and the layer ``(H, W, 4)`` float."""
    h, w = size
    speed = rng.uniform(0.6, 2.0)
    angle = rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(angle), speed * np.sin(angle) * 0.5
    margin = int(np.ceil(2.0 * frames)) + 2
    ph, pw = photo.shape[:2]
    x0 = rng.uniform(margin, max(pw - w - margin, margin + 1))
    y0 = rng.uniform(margin / 2, max(ph - h - margin / 2, margin / 2 + 1))
    src = Image.fromarray(photo)
    layer, truth = overlay_layer(size, rng)
    out = np.empty((frames, h, w, 3), np.uint8)
    for t in range(frames):
        x, y = x0 + vx * t, y0 + vy * t
        # sub-pixel crop: an affine transform samples the photo at (x + u, y + v)
        bg = np.asarray(src.transform((w, h), Image.AFFINE, (1, 0, x, 0, 1, y), resample=Image.BILINEAR),
                        dtype=np.float64) / 255
        comp = layer[..., :3] * layer[..., 3:] + bg * (1 - layer[..., 3:])
        out[t] = np.clip(np.round(comp * 255), 0, 255).astype(np.uint8)
    return out, truth, layer


def video_bench_args(videos: int, seed: int, **extra: int) -> argparse.Namespace:
    """The options every synthetic-video benchmark takes: ``--videos``, ``--seed`` (the first
    video's), ``--photos``, plus ``extra`` integer options with their defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=videos)
    ap.add_argument("--seed", type=int, default=seed)
    for name, default in extra.items():
        ap.add_argument(f"--{name}", type=int, default=default)
    ap.add_argument("--photos", default=str(Path(__file__).resolve().parents[1] / "../shared/data/photos"))
    return ap.parse_args()


def encoded_videos(args: argparse.Namespace, make: Callable[[Path, np.random.Generator], tuple[np.ndarray, object]],
                   photo_step: int, crf: int) -> Iterator[tuple[int, Path, np.ndarray, object]]:
    """For each of ``args.videos`` seeds from ``args.seed``: the photo (the ``seed * photo_step``-th
    JPEG under ``args.photos``, cyclically), the frames ``make(photo, rng)`` returns with its
    truth, encoded with libx264 at ``crf`` and decoded back. Yields ``(seed, photo, decoded,
    truth)``; exits with a message when there are no photos."""
    photos = sorted(p for p in Path(args.photos).rglob("*.jpg"))
    if not photos:
        sys.exit(f"no photos under {args.photos}")
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.videos):
            seed = args.seed + k
            photo = photos[(seed * photo_step) % len(photos)]
            frames, truth = make(photo, np.random.default_rng(seed))
            path = Path(tmp) / f"v{seed}.mp4"
            encode(frames, path, crf=crf)
            yield seed, photo, decode(path), truth
