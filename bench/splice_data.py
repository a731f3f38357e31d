"""The generated splice collection of issue 16 (used by bench/splice.py), deterministic from a seed.

Pictures are *pieces*: the natural photos of ../shared/data/photos and the Kodak and Unsplash
photos of ../shared/data/mixed are cut into non-overlapping cells of at least 256 px a side, so
no two pieces share a pixel. The vector art of ../shared/data/mixed/vectors gives
one cell of each artwork (many are patterns, whose cells repeat each other), near-uniform ones
dropped; they serve only as pasted material (logos, stickers).

Every pasted or moved patch has detail (:func:`has_detail`: the mean absolute difference of its
luma, shrunk to 64 x 64, from its 5 x 5 neighbourhood's mean is at least 1.5 of 255); a
near-uniform patch (sky, a flat wall, a dark corner) is drawn again elsewhere, up to 50 times:
near-uniform patches never make a pair (issue 16), so they are no test of finding one. The
rule was chosen by looking at the 300 patches of the first version of this collection sorted
by that figure (below 1.5: skies, gradients, flat colors, near-black corners).

- 300 hosts: a photo piece with a patch of another piece (its source) pasted in: 5-25% of the
  host's area, scaled 0.5-2x (log-uniform), a third of them +-10% brightness, saved as JPEG
  q75-92. Every source is in the collection, used once, as itself (JPEG q95).
- 100 copy-move pictures: a patch (4-12% of the area, scaled 0.8-1.25) of a piece moved to a
  place of the same piece it does not overlap, JPEG q75-92.
- 300 distractors: untouched photo pieces (JPEG q90).
- 40 negatives: hosts whose pasted patch was rotated by 90 or 180 degrees, or mirrored, with
  their sources in the collection: such a pair must not be reported.

Named held out: every picture cut from CSet14, Kodak and Unsplash (``heldout`` in the truth
file); the figures are reported for the two parts separately.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
PHOTO_SETS = {"CBSD68": "photos/CBSD68", "CSun_Hays80": "photos/CSun_Hays80", "CSet14": "photos/CSet14",
              "kodak": "mixed/kodak", "unsplash": "mixed/unsplash"}
HELDOUT = {"CSet14", "kodak", "unsplash"}
CELL = 256
HOSTS, COPY_MOVES, DISTRACTORS, NEGATIVES = 300, 100, 300, 40


@dataclass(frozen=True)
class Piece:
    set: str
    file: Path
    box: tuple[int, int, int, int]

    def load(self) -> Image.Image:
        x, y, w, h = self.box
        with Image.open(self.file) as im:
            return im.convert("RGB").crop((x, y, x + w, y + h))


def cut(set_name: str, folder: Path) -> list[Piece]:
    out = []
    for f in sorted(folder.iterdir()):
        with Image.open(f) as im:
            w, h = im.size
        nx, ny = w // CELL, h // CELL
        if nx == 0 or ny == 0:
            continue
        cw, ch = w // nx, h // ny
        out += [Piece(set_name, f, (i * cw, j * ch, cw, ch)) for j in range(ny) for i in range(nx)]
    return out


def _jpeg(im: Image.Image, path: Path, q: int) -> None:
    im.save(path, "JPEG", quality=q)


#: A patch needs this much detail (see :func:`has_detail`).
MIN_DETAIL = 1.5
DETAIL_TRIES = 50


def has_detail(patch: Image.Image) -> bool:
    """Whether ``patch`` is not near uniform: the mean absolute difference of its luma (shrunk
    to 64 x 64) from its 5 x 5 neighbourhood's mean is at least :data:`MIN_DETAIL` (0-255)."""
    a = np.asarray(patch.convert("L").resize((64, 64), Image.Resampling.BILINEAR), np.float32)
    p = np.pad(a, 2, mode="reflect")
    mean = np.lib.stride_tricks.sliding_window_view(p, (5, 5)).mean((-1, -2))
    return float(np.abs(a - mean).mean()) >= MIN_DETAIL


#: A patch pins down one place when its weakest gradient direction has at least this much (see
#: :func:`place_strength`); the figures are split by it (bench/splice.py), the collection is not.
PLACE_MIN = 3.0


def place_strength(patch: Image.Image) -> float:
    """How well ``patch`` pins down one place, in luma levels (0-255): the root mean square of its
    gradient along its weakest direction (the smaller eigenvalue of the structure tensor, Shi and
    Tomasi) on its luma shrunk to 32 x 32 by averaging (noise and grain averaged away). Near
    uniform patches, gradients and a single straight edge (which slides along itself) score low."""
    a = np.asarray(patch.convert("L").resize((32, 32), Image.Resampling.BOX), np.float64)
    gy, gx = np.gradient(a)
    tensor = np.array([[(gx * gx).sum(), (gx * gy).sum()], [(gx * gy).sum(), (gy * gy).sum()]])
    return float(np.sqrt(max(np.linalg.eigvalsh(tensor)[0], 0.0) / a.size))


def _patch_box(rng: random.Random, w: int, h: int, area: float, aspect: float) -> tuple[int, int, int, int]:
    pw = min(w - 2, max(16, int(round(math.sqrt(area * w * h * aspect)))))
    ph = min(h - 2, max(16, int(round(area * w * h / pw))))
    return rng.randint(0, w - pw), rng.randint(0, h - ph), pw, ph


def make(out: Path, seed: int = 16) -> dict:
    """Write the collection under ``out`` and return the truth (also written as ``truth.json``)."""
    rng = random.Random(seed)
    photos = [p for name, sub in PHOTO_SETS.items() for p in cut(name, SHARED / sub)]
    vectors = []
    # the vector folder holds some artworks twice (150 and 300 dpi): cut one of each
    arts = {}
    for f in sorted((SHARED / "mixed" / "vectors").iterdir()):
        arts.setdefault(f.stem.rsplit("_", 1)[0], f)
    for f in arts.values():  # one piece of each artwork: many are patterns, whose pieces repeat each other
        pieces = [q for q in cut("vectors", f.parent) if q.file == f]
        p = pieces[len(pieces) // 2] if pieces else None
        if p is None:
            continue
        a = np.asarray(p.load().resize((64, 64)), np.float32)
        if a.std(axis=(0, 1)).mean() > 20:  # a near-uniform cell is no logo
            vectors.append(p)
    rng.shuffle(photos)
    rng.shuffle(vectors)
    need = HOSTS + COPY_MOVES + DISTRACTORS
    if len(photos) < need:
        raise SystemExit(f"only {len(photos)} photo pieces; {need} needed")
    hosts = photos[:HOSTS]
    copy_moves = photos[HOSTS:HOSTS + COPY_MOVES]
    distractors = photos[HOSTS + COPY_MOVES:need]
    sources = photos[need:] + vectors
    if len(sources) < HOSTS + NEGATIVES * 2:
        raise SystemExit(f"only {len(sources)} source pieces")
    rng.shuffle(sources)
    out.mkdir(parents=True, exist_ok=True)
    truth: dict = {"pairs": [], "copy_moves": [], "negatives": [], "pictures": {}}

    def save_piece(kind: str, i: int, piece: Piece, im: Image.Image, q: int) -> str:
        name = f"{kind}{i:04d}.jpg"
        _jpeg(im, out / name, q)
        truth["pictures"][name] = {"kind": kind, "set": piece.set, "heldout": piece.set in HELDOUT,
                                   "from": f"{piece.file.parent.name}/{piece.file.name}", "box": list(piece.box)}
        return name

    def paste(host: Image.Image, src: Image.Image, transform: str | None) -> tuple[Image.Image, list, list, dict]:
        hw, hh = host.size
        sw, sh = src.size
        area = rng.uniform(0.05, 0.25)
        scale = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
        aspect = math.exp(rng.uniform(-0.4, 0.4))
        hx, hy, pw, ph = _patch_box(rng, hw, hh, area, aspect)
        rw, rh = int(round(pw / scale)), int(round(ph / scale))
        if rw > sw - 2 or rh > sh - 2:  # the source is too small for that scale: take what fits
            k = min((sw - 2) / rw, (sh - 2) / rh)
            rw, rh = int(rw * k), int(rh * k)
            scale = pw / rw
        for _ in range(DETAIL_TRIES):
            sx, sy = rng.randint(0, sw - rw), rng.randint(0, sh - rh)
            patch = src.crop((sx, sy, sx + rw, sy + rh))
            if has_detail(patch):
                break
        if transform == "rot90":
            patch = patch.transpose(Image.Transpose.ROTATE_90)
        elif transform == "rot180":
            patch = patch.transpose(Image.Transpose.ROTATE_180)
        elif transform == "mirror":
            patch = patch.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if transform == "rot90":
            pw, ph = ph, pw
            pw, ph = min(pw, hw - hx), min(ph, hh - hy)
        patch = patch.resize((pw, ph), Image.Resampling.BICUBIC)
        bright = 1.0
        if rng.random() < 1 / 3:
            bright = rng.choice([0.9, 1.1])
            patch = ImageEnhance.Brightness(patch).enhance(bright)
        host = host.copy()
        host.paste(patch, (hx, hy))
        return host, [hx, hy, pw, ph], [sx, sy, rw, rh], {"scale": round(scale, 3), "area": round(area, 3),
                                                           "brightness": bright}

    for i, piece in enumerate(hosts):
        src_piece = sources[i]
        src = src_piece.load()
        host, hbox, sbox, info = paste(piece.load(), src, None)
        q = rng.randint(75, 92)
        sname = save_piece("source", i, src_piece, src, 95)
        hname = save_piece("host", i, piece, host, q)
        truth["pairs"].append({"host": hname, "source": sname, "host_box": hbox, "source_box": sbox,
                               "quality": q, **info})
    for i in range(NEGATIVES):
        piece, src_piece = sources[HOSTS + 2 * i], sources[HOSTS + 2 * i + 1]
        transform = ["rot90", "rot180", "mirror"][i % 3]
        src = src_piece.load()
        host, hbox, sbox, info = paste(piece.load(), src, transform)
        sname = save_piece("negsource", i, src_piece, src, 95)
        hname = save_piece("neghost", i, piece, host, 90)
        truth["negatives"].append({"host": hname, "source": sname, "transform": transform})
    for i, piece in enumerate(copy_moves):
        im = piece.load()
        w, h = im.size
        for attempt in range(100):
            area = rng.uniform(0.04, 0.12)
            scale = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
            sx, sy, rw, rh = _patch_box(rng, w, h, area / scale ** 2, math.exp(rng.uniform(-0.3, 0.3)))
            pw, ph = int(round(rw * scale)), int(round(rh * scale))
            if pw >= w or ph >= h:
                continue
            if attempt < DETAIL_TRIES and not has_detail(im.crop((sx, sy, sx + rw, sy + rh))):
                continue
            dx, dy = rng.randint(0, w - pw), rng.randint(0, h - ph)
            if dx >= sx + rw or sx >= dx + pw or dy >= sy + rh or sy >= dy + ph:
                break
        patch = im.crop((sx, sy, sx + rw, sy + rh)).resize((pw, ph), Image.Resampling.BICUBIC)
        im = im.copy()
        im.paste(patch, (dx, dy))
        q = rng.randint(75, 92)
        name = save_piece("copymove", i, piece, im, q)
        truth["copy_moves"].append({"picture": name, "source_box": [sx, sy, rw, rh], "target_box": [dx, dy, pw, ph],
                                    "scale": round(scale, 3), "quality": q})
    for i, piece in enumerate(distractors):
        save_piece("distractor", i, piece, piece.load(), 90)
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


if __name__ == "__main__":
    import sys

    t = make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/splice"))
    print(len(t["pictures"]), "pictures")
