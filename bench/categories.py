"""Pictures of many kinds for the per-category benchmarks (issue 15).

Real collections (when ../shared is present):
  photos      ../shared/data/photos (CBSD68, CSun_Hays80; CSet14 is held out)
  kodak       ../shared/data/mixed/kodak and unsplash (unsplash is held out)
  vectors     ../shared/data/mixed/vectors (flat vector art, one file of each piece, the 150 dpi
              one where there are two; every third piece is held out)
Generated here, seeded (the generators are written once; even seeds tune, odd seeds are held
out, and a generator never sees a picture of the other half):
  gray        photos made grayscale (R = G = B), from the photo collection (each photo-based
              kind, and the photo categories themselves, use their own quarter of the photos)
  dark        night scenes: photos darkened (x0.12-0.25, gamma 1.3-1.8) with a few lights
  stars       star fields: thousands of points of varying brightness, faint nebulae
  microscopy  cells: blurred blobs with membranes and nuclei on a pale stained background
  text        scanned pages: columns of word-like strokes, headings, paper tint, scan noise
  ui          screenshots: bars, side panels, cards, buttons, lines of text
  charts      bar and line charts with axes, grid lines and legends
  logos       flat shapes and letters on a plain background
  gradients   smooth linear and radial gradients of 2-3 colors, some with soft shapes
  halftones   photos screened into dots (one color per channel, at an angle)
  lowcontrast textures of +-3-8% around a mid tone (paper, concrete, fog)
  uniform     near-uniform pictures (a wall, a sky): the control; they must never match
Every generated picture is 360-720 px a side, RGB, and saved as PNG by the benches.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
GENERATED = ["gray", "dark", "stars", "microscopy", "text", "ui", "charts", "logos", "gradients",
             "halftones", "lowcontrast", "uniform"]
REAL = ["photos", "kodak", "vectors"]
CATEGORIES = REAL + GENERATED
#: The near-uniform control: its pictures must never match (they are out of the recall figures).
CONTROL = "uniform"
_EXTS = {".png", ".jpg", ".jpeg"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in _EXTS) if root.is_dir() else []


def real_pictures(category: str) -> list[tuple[Path, bool]]:
    """``(path, held_out)`` of a real collection."""
    if category == "photos":
        return [(p, "CSet14" in p.parts) for p in _files(SHARED / "photos")]
    if category == "kodak":
        return ([(p, False) for p in _files(SHARED / "mixed" / "kodak")]
                + [(p, True) for p in _files(SHARED / "mixed" / "unsplash")])
    if category == "vectors":  # each piece is there at 150 and 300 dpi: one of each piece
        arts = {p.stem.rsplit("_", 1)[0]: p for p in reversed(_files(SHARED / "mixed" / "vectors"))}
        return [(p, i % 3 == 2) for i, (_, p) in enumerate(sorted(arts.items()))]
    raise ValueError(category)


def _size(rng: random.Random) -> tuple[int, int]:
    a, b = rng.randint(360, 720), rng.randint(360, 720)
    return (a, b)


_DERIVED = {"gray": 1, "dark": 2, "halftones": 3}  # photo-based kinds: each has its own photos


def _photo_pool(held_out: bool, slot: int) -> list[Path]:
    """Every fourth photo of the half (photos and Kodak/Unsplash together) from ``slot``: slot 0
    is what the real photo categories show, 1-3 what each photo-based kind is made of, so no
    scene is in a run twice (a gray and a color copy of one photo would be duplicates)."""
    pics = sorted((p for p, h in real_pictures("photos") + real_pictures("kodak") if h == held_out), key=str)
    return pics[slot::4]


def _photo(category: str, index: int, held_out: bool) -> Image.Image:
    pool = _photo_pool(held_out, _DERIVED[category])
    if not pool:
        raise SystemExit(f"no photos under {SHARED}: the photo-based categories need them")
    im = Image.open(pool[index % len(pool)]).convert("RGB")
    w, h = im.size
    s = min(1.0, 720 / max(w, h))
    return im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS) if s < 1 else im


def _noise_field(rng: random.Random, w: int, h: int, blur: float, octaves: int = 3) -> np.ndarray:
    """Smooth noise in [0, 1], (h, w) float32."""
    g = np.random.default_rng(rng.getrandbits(32))
    out = np.zeros((h, w), np.float32)
    amp = 1.0
    for o in range(octaves):
        b = blur / (2 ** o)
        sw, sh = max(2, int(w / max(b, 1))), max(2, int(h / max(b, 1)))
        small = Image.fromarray((g.random((sh, sw)) * 255).astype(np.uint8))
        out += amp * np.asarray(small.resize((w, h), Image.Resampling.BICUBIC), np.float32) / 255
        amp *= 0.5
    out -= out.min()
    return out / max(out.max(), 1e-6)


def _rgb(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def _color(rng: random.Random, lo: int = 0, hi: int = 255) -> tuple[int, int, int]:
    return tuple(rng.randint(lo, hi) for _ in range(3))


def _words(d: ImageDraw.ImageDraw, rng: random.Random, x0: int, y0: int, x1: int, y1: int, line: int,
           color, heading: bool = False) -> None:
    """Lines of word-like dark strokes (glyph shapes from PIL's font, random letters)."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    y = y0
    while y + line <= y1:
        x = x0
        end = x1 if rng.random() > 0.15 else rng.randint(x0, x1)
        while x < end:
            word = "".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
            d.text((x, y), word, fill=color)
            x += 6 * len(word) + rng.randint(4, 8)
        y += line
        if heading:
            break


def _gen_gray(rng, held_out, index):
    return _photo("gray", index, held_out).convert("L").convert("RGB")


def _gen_dark(rng, held_out, index):
    a = np.asarray(_photo("dark", index, held_out), np.float32) / 255
    a = (a ** rng.uniform(1.3, 1.8)) * rng.uniform(0.12, 0.25)
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(rng.randint(2, 6)):  # street lights, windows
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, 14)
        glow = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        a = a + glow * np.array([1.0, rng.uniform(0.6, 0.95), rng.uniform(0.2, 0.6)]) * rng.uniform(0.4, 0.9)
    return _rgb(a * 255)


def _gen_stars(rng, held_out, index):
    w, h = _size(rng)
    g = np.random.default_rng(rng.getrandbits(32))
    neb = _noise_field(rng, w, h, rng.uniform(80, 200))
    tint = np.array(_color(rng, 20, 90), np.float32) / 255
    a = (neb[..., None] ** 3) * tint[None, None] * rng.uniform(0.1, 0.35) * 255
    n = rng.randint(800, 4000)
    xs, ys = g.integers(0, w, n), g.integers(0, h, n)
    mag = g.pareto(2.0, n) * 60 + 20
    for x, y, m in zip(xs, ys, mag):
        col = np.array([1.0, 1.0, 1.0]) - g.random(3) * 0.25
        a[y, x] += col * min(m, 255)
        if m > 150:  # bright stars are a few pixels wide
            a[max(0, y - 1): y + 2, max(0, x - 1): x + 2] += col * m * 0.35
    return _rgb(a)


def _gen_microscopy(rng, held_out, index):
    w, h = _size(rng)
    bg = np.array([rng.randint(200, 240), rng.randint(180, 220), rng.randint(200, 235)], np.float32)
    im = Image.new("RGB", (w, h), tuple(int(v) for v in bg))
    d = ImageDraw.Draw(im)
    stain = _color(rng, 90, 200)
    nucleus = _color(rng, 40, 120)
    for _ in range(rng.randint(15, 60)):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 40)
        e = rng.uniform(0.6, 1.0)
        d.ellipse([cx - r, cy - r * e, cx + r, cy + r * e], fill=stain, outline=tuple(max(0, c - 40) for c in stain))
        rn = r * rng.uniform(0.25, 0.45)
        ox, oy = rng.uniform(-r / 3, r / 3), rng.uniform(-r / 3, r / 3)
        d.ellipse([cx + ox - rn, cy + oy - rn, cx + ox + rn, cy + oy + rn], fill=nucleus)
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(1.0, 2.5)))
    a = np.asarray(im, np.float32)
    a = bg + (a - bg) * rng.uniform(0.3, 0.6)  # faint staining: low contrast
    a += (_noise_field(rng, w, h, 20)[..., None] - 0.5) * 10
    return _rgb(a)


def _gen_text(rng, held_out, index):
    w, h = rng.randint(420, 560), rng.randint(560, 720)
    paper = (rng.randint(225, 250),) * 2 + (rng.randint(210, 240),)
    im = Image.new("RGB", (w, h), paper)
    d = ImageDraw.Draw(im)
    ink = (rng.randint(10, 60),) * 3
    m = rng.randint(25, 60)
    cols = rng.choice([1, 1, 2])
    y = m
    if rng.random() < 0.8:  # a heading
        _words(d, rng, m, y, w - m - rng.randint(0, w // 2), y + 14, 14, ink, heading=True)
        y += rng.randint(26, 40)
    gap = 16
    cw = (w - 2 * m - (cols - 1) * gap) // cols
    for c in range(cols):
        x0 = m + c * (cw + gap)
        yy = y
        while yy < h - m - 40:
            para = rng.randint(3, 9) * rng.choice([11, 12, 13])
            if rng.random() < 0.12:  # a figure box
                fh = rng.randint(40, 120)
                d.rectangle([x0, yy, x0 + cw, yy + fh], fill=_color(rng, 120, 220), outline=ink)
                yy += fh + 12
                continue
            _words(d, rng, x0, yy, x0 + cw, min(yy + para, h - m), rng.choice([11, 12, 13]), ink)
            yy += para + rng.randint(8, 16)
    a = np.asarray(im.filter(ImageFilter.GaussianBlur(0.6)), np.float32)
    a += np.random.default_rng(rng.getrandbits(32)).normal(0, 3, a.shape)
    return _rgb(a)


def _gen_ui(rng, held_out, index):
    w, h = rng.randint(560, 720), rng.randint(380, 560)
    dark = rng.random() < 0.35
    bg = _color(rng, 20, 50) if dark else _color(rng, 235, 255)
    im = Image.new("RGB", (w, h), bg)
    d = ImageDraw.Draw(im)
    accent = _color(rng, 30, 230)
    fg = (220, 220, 220) if dark else (40, 40, 50)
    bar = rng.randint(28, 50)
    d.rectangle([0, 0, w, bar], fill=accent)
    _words(d, rng, 12, bar // 2 - 5, w // 3, bar, 12, (255, 255, 255), heading=True)
    side = rng.randint(0, 1) * rng.randint(120, 200)
    if side:
        d.rectangle([0, bar, side, h], fill=tuple(max(0, c - 12) if not dark else c + 12 for c in bg))
        for i in range(rng.randint(4, 10)):
            _words(d, rng, 14, bar + 14 + i * 26, side - 10, bar + 30 + i * 26, 16, fg, heading=True)
    x, y = side + 16, bar + 16
    while y < h - 60:
        cw, ch = rng.randint(140, 260), rng.randint(70, 160)
        if x + cw > w - 16:
            x, y = side + 16, y + ch + 16
            continue
        card = tuple(min(255, c + 18) for c in bg) if dark else (255, 255, 255)
        d.rectangle([x, y, x + cw, y + ch], fill=card, outline=tuple(max(0, c - 30) for c in bg))
        _words(d, rng, x + 10, y + 10, x + cw - 10, y + ch - 34, 14, fg)
        d.rectangle([x + 10, y + ch - 28, x + 80, y + ch - 8], fill=accent)
        x += cw + 16
    return im


def _gen_charts(rng, held_out, index):
    w, h = rng.randint(480, 720), rng.randint(360, 520)
    im = Image.new("RGB", (w, h), (255, 255, 255) if rng.random() < 0.8 else (245, 245, 240))
    d = ImageDraw.Draw(im)
    l, t, r, b = 60, 40, w - 30, h - 50
    for i in range(6):
        yy = t + (b - t) * i // 5
        d.line([l, yy, r, yy], fill=(225, 225, 225))
        d.text((10, yy - 6), str(rng.randint(0, 999)), fill=(80, 80, 80))
    d.line([l, t, l, b], fill=(0, 0, 0), width=2)
    d.line([l, b, r, b], fill=(0, 0, 0), width=2)
    series = rng.randint(1, 3)
    colors = [_color(rng, 0, 220) for _ in range(series)]
    n = rng.randint(5, 16)
    if rng.random() < 0.5:  # bars
        slot = (r - l) / n
        for i in range(n):
            for s in range(series):
                v = rng.uniform(0.1, 1.0)
                x0 = l + i * slot + slot * 0.1 + s * slot * 0.8 / series
                d.rectangle([x0, b - v * (b - t), x0 + slot * 0.8 / series - 2, b], fill=colors[s])
    else:  # lines
        for s in range(series):
            v = rng.uniform(0.2, 0.8)
            pts = []
            for i in range(n):
                v = min(1.0, max(0.0, v + rng.uniform(-0.25, 0.25)))
                pts.append((l + (r - l) * i / (n - 1), b - v * (b - t)))
            d.line(pts, fill=colors[s], width=3)
    for s in range(series):  # legend
        d.rectangle([r - 120, t + 8 + s * 16, r - 108, t + 18 + s * 16], fill=colors[s])
        _words(d, rng, r - 100, t + 6 + s * 16, r - 10, t + 20 + s * 16, 14, (60, 60, 60), heading=True)
    return im


def _gen_logos(rng, held_out, index):
    w, h = _size(rng)
    im = Image.new("RGB", (w, h), _color(rng, 200, 255) if rng.random() < 0.7 else _color(rng, 0, 255))
    d = ImageDraw.Draw(im)
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    s = min(w, h) * rng.uniform(0.2, 0.35)
    for _ in range(rng.randint(2, 4)):
        kind = rng.choice(["ellipse", "rect", "poly"])
        ox, oy = rng.uniform(-s, s) * 0.6, rng.uniform(-s, s) * 0.6
        sz = s * rng.uniform(0.4, 1.0)
        box = [cx + ox - sz, cy + oy - sz * rng.uniform(0.5, 1), cx + ox + sz * rng.uniform(0.5, 1), cy + oy + sz]
        col = _color(rng, 0, 255)
        if kind == "ellipse":
            d.ellipse(box, fill=col)
        elif kind == "rect":
            d.rectangle(box, fill=col)
        else:
            d.polygon([(cx + ox + rng.uniform(-sz, sz), cy + oy + rng.uniform(-sz, sz)) for _ in range(rng.randint(3, 5))],
                      fill=col)
    _words(d, rng, int(cx - s), int(cy + s * 1.2), int(cx + s), int(cy + s * 1.2) + 14, 14, _color(rng, 0, 120),
           heading=True)
    return im


def _gen_gradients(rng, held_out, index):
    w, h = _size(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c = [np.array(_color(rng), np.float32) for _ in range(3)]
    if rng.random() < 0.5:
        ang = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(ang) + yy * np.sin(ang))
    else:
        t = np.hypot(xx - rng.uniform(0, w), yy - rng.uniform(0, h))
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    mid = rng.uniform(0.3, 0.7)
    a = np.where(t[..., None] < mid, c[0] + (c[1] - c[0]) * (t / mid)[..., None],
                 c[1] + (c[2] - c[1]) * ((t - mid) / (1 - mid))[..., None])
    im = _rgb(a)
    if rng.random() < 0.5:  # soft shapes over it
        over = Image.new("RGB", (w, h))
        mask = Image.new("L", (w, h), 0)
        d, dm = ImageDraw.Draw(over), ImageDraw.Draw(mask)
        for _ in range(rng.randint(1, 3)):
            r = rng.uniform(0.1, 0.3) * min(w, h)
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            d.ellipse([x - r, y - r, x + r, y + r], fill=_color(rng))
            dm.ellipse([x - r, y - r, x + r, y + r], fill=rng.randint(60, 140))
        im = Image.composite(over, im, mask.filter(ImageFilter.GaussianBlur(r / 3)))
    return im


def _gen_halftones(rng, held_out, index):
    src = np.asarray(_photo("halftones", index, held_out).convert("RGB"), np.float32) / 255
    h, w = src.shape[:2]
    cell = rng.choice([4, 5, 6, 8])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.empty_like(src)
    for ch, ang in enumerate(np.radians([15, 75, 45])):
        u = (xx * np.cos(ang) + yy * np.sin(ang)) / cell
        v = (-xx * np.sin(ang) + yy * np.cos(ang)) / cell
        dist = np.hypot(u - np.round(u), v - np.round(v))  # 0 at a dot centre, up to ~0.71
        ink = 1 - src[..., ch]
        out[..., ch] = np.where(dist < np.sqrt(ink / np.pi), 0.0, 1.0)
    return _rgb(out * 255)


def _gen_lowcontrast(rng, held_out, index):
    w, h = _size(rng)
    base = np.array(_color(rng, 90, 200), np.float32)
    amp = rng.uniform(0.03, 0.08) * 255
    n = _noise_field(rng, w, h, rng.uniform(6, 40), octaves=4) - 0.5
    if rng.random() < 0.5:  # streaks (brushed metal, wood, paper fibres)
        n = np.asarray(Image.fromarray(((n + 0.5) * 255).astype(np.uint8)).filter(
            ImageFilter.BoxBlur(rng.randint(3, 8))), np.float32) / 255 - 0.5
        n = (n - n.mean()) / max(n.std(), 1e-6) * 0.2
    return _rgb(base + n[..., None] * amp * 2)


def _gen_uniform(rng, held_out, index):
    w, h = _size(rng)
    base = np.array(_color(rng, 30, 240), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    shade = 1 + rng.uniform(-0.02, 0.02) * (yy / h) + rng.uniform(-0.02, 0.02) * (xx / w)  # a faint slope
    g = np.random.default_rng(rng.getrandbits(32))
    return _rgb(base * shade[..., None] + g.normal(0, 1.2, (h, w, 3)))


_GENERATORS = {name: globals()[f"_gen_{name}"] for name in GENERATED}


def generate(category: str, count: int, held_out: bool) -> list[Image.Image]:
    """``count`` pictures of a generated category; held-out pictures come from other seeds (odd)
    and, for the photo-based kinds, from the held-out photos."""
    out = []
    for i in range(count):
        seed = 2 * i + int(held_out)
        rng = random.Random(f"{category}-{seed}")
        out.append(_GENERATORS[category](rng, held_out, i).convert("RGB"))
    return out


def pictures(category: str, count: int, held_out: bool) -> list[Image.Image | Path]:
    """Up to ``count`` pictures (paths for real collections, images for generated ones)."""
    if category in REAL:
        items = [p for p, h in real_pictures(category) if h == held_out]
        if category in ("photos", "kodak"):  # not the photos the photo-based kinds are made of
            keep = set(_photo_pool(held_out, 0))
            items = [p for p in items if p in keep]
        return items[:count] if count else items
    return generate(category, count, held_out)
