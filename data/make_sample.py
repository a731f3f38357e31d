"""Generate the sample collection in data/sample (deterministic; run from anywhere).

Procedural scenes (sky, sun, hills, shapes, texture) plus the cases lookalike is for:
near-duplicates (recompressed, resized, brightened), a mirrored copy (not a duplicate), a
collage that reuses a region of another scene, query crops, and two broken files.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

OUT = Path(__file__).resolve().parent / "sample"


def scene(seed: int, size: tuple[int, int]) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(40, 255, 3), rng.integers(40, 255, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    sky = (top * (1 - t) + bottom * t) * np.ones((1, w, 1))
    im = Image.fromarray(sky.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(im)
    for _ in range(3):
        base = int(h * rng.uniform(0.45, 0.8))
        xs = np.linspace(0, w, 9)
        ys = base + rng.normal(0, h * 0.08, 9)
        d.polygon([(0, h)] + list(zip(xs.tolist(), ys.tolist())) + [(w, h)], fill=tuple(int(v) for v in rng.integers(0, 200, 3)))
    r = int(min(w, h) * rng.uniform(0.05, 0.12))
    cx, cy = int(rng.uniform(0.1, 0.9) * w), int(rng.uniform(0.08, 0.4) * h)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=tuple(int(v) for v in rng.integers(150, 256, 3)))
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = int(rng.uniform(0, w * 0.9)), int(rng.uniform(0, h * 0.9))
        x1, y1 = x0 + int(rng.uniform(0.05, 0.25) * w), y0 + int(rng.uniform(0.05, 0.3) * h)
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        (d.rectangle if rng.random() < 0.5 else d.ellipse)([x0, y0, x1, y1], fill=color)
    noise = rng.normal(0, 9, (h, w, 3))
    arr = np.clip(np.asarray(im, np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr).filter(ImageFilter.GaussianBlur(0.6))


def save_jpeg(im: Image.Image, path: Path, quality: int = 88) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.convert("RGB").save(path, "JPEG", quality=quality)


def main() -> None:
    sizes = [(640, 427), (427, 640), (600, 600), (800, 450)]
    photos = OUT / "photos"
    scenes = {}
    for i in range(24):
        im = scene(1000 + i, sizes[i % len(sizes)])
        scenes[i] = im
        save_jpeg(im, photos / f"scene{i:02d}.jpg")
    copies = OUT / "photos" / "copies"
    s3 = scenes[3]
    save_jpeg(s3.resize((s3.width // 2, s3.height // 2), Image.Resampling.LANCZOS), copies / "scene03_small.jpg", 40)
    save_jpeg(ImageEnhance.Brightness(scenes[7]).enhance(1.1), copies / "scene07_brighter.jpg")
    save_jpeg(scenes[9].transpose(Image.Transpose.FLIP_LEFT_RIGHT), copies / "scene09_mirrored.jpg")
    collage = scenes[11].copy()
    part = scenes[5].crop((100, 60, 400, 300))
    collage.paste(part, (300, 150))
    save_jpeg(collage, copies / "scene11_collage.jpg")
    queries = OUT / "queries"
    save_jpeg(scenes[14].crop((120, 80, 420, 300)), queries / "crop_of_scene14.jpg", 92)
    c = scenes[2].crop((200, 150, 520, 420))
    save_jpeg(c.resize((int(c.width * 0.8), int(c.height * 0.8)), Image.Resampling.BICUBIC), queries / "scaled_crop_of_scene02.jpg")
    save_jpeg(ImageEnhance.Color(scenes[20]).enhance(1.2), queries / "scene20_saturated.jpg")
    save_jpeg(scenes[20].transpose(Image.Transpose.ROTATE_90), queries / "scene20_rotated.jpg")
    broken = OUT / "photos" / "broken"
    broken.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    scenes[0].save(buf, "JPEG", quality=90)
    (broken / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    (broken / "not_an_image.png").write_text("this is not a picture\n")


if __name__ == "__main__":
    main()
