"""Issue 15: how far an overlay (a caption band, a sticker,
a line of text) pulls a copy's whole-image grid score down, and how much of that an
occlusion-tolerant comparison gives back.

The color grid takes its 8 x 8 cells relative to the picture's mean color and normalizes
them together, so a bright band over 7% of a dark or faint picture outweighs everything else:
its copy scores 0.3-0.8 against its source. The tolerant comparison (``lookalike.indexer.descriptor.tolerant_similarity``; not used by
the search: it let keystone warps of dark pictures through, see the README) leaves out the ``--drop``
color cells (of 64) where two pictures disagree most (and the gradient cells under them),
centres and normalizes what is left on each side, and takes the cosine of that; the better of
it and the plain cosine is the score (on flat pictures, a logo on a plain ground, the few cells
left after the cut can agree worse than the whole: 0.56 for a brightened logo on its own).

Per category (bench/categories.py, ``--per`` pictures of the half): min / median score of each
edit against its source, and the best score of every edited copy against any other picture
of the run ("other"), which says what the tolerant score costs in false matches; and the
best score of a picture turned by 180 degrees against its source ("rot180").

Usage: python bench/overlay_scores.py [--split tune|held-out] [--drop 10] [--per 4]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np
from PIL import ImageEnhance, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from categories import CATEGORIES, CONTROL  # noqa: E402
from common import table  # noqa: E402
from quality import collect  # noqa: E402


def describe(im) -> np.ndarray:
    from lookalike.indexer.descriptor import describe_boxes

    a = np.asarray(im.convert("RGB"))
    return describe_boxes(a, a.shape[1], a.shape[0], np.array([[0, 0, a.shape[1], a.shape[0]]])).vectors[0]


def tolerant(u: np.ndarray, v: np.ndarray, drop: int) -> float:
    from lookalike.indexer.descriptor import tolerant_similarity

    return float(tolerant_similarity(u[None], v[None], drop)[0, 0])


def main() -> None:
    from lookalike.models.embed import edits

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["tune", "held-out"], default="tune")
    ap.add_argument("--drop", type=int, default=10)
    ap.add_argument("--per", type=int, default=4)
    args = ap.parse_args()
    named = {
        "caption": edits.caption_band, "sticker": edits.sticker, "text": edits.text_overlay,
        "jpeg35": lambda im, r: edits.jpeg(im, 35),
        "bright10": lambda im, r: ImageEnhance.Brightness(im).enhance(1.1),
        "trim4": lambda im, r: edits.trim(im, 0.04, r),
        "blur": lambda im, r: im.filter(ImageFilter.GaussianBlur(1.5)),
    }
    items = collect([c for c in CATEGORIES if c != CONTROL], args.per, args.split)
    rng = random.Random(7)
    sources = [describe(im) for _, im, _ in items]
    got: dict[str, dict[str, list[float]]] = {}
    other: dict[str, list[float]] = {}
    turned: dict[str, list[float]] = {}
    for i, (cat, im, _) in enumerate(items):
        for name, edit in named.items():
            q = describe(edit(im, rng))
            got.setdefault(cat, {}).setdefault(name, []).append(tolerant(q, sources[i], args.drop))
            other.setdefault(cat, []).append(max(tolerant(q, s, args.drop) for j, s in enumerate(sources) if j != i))
        turned.setdefault(cat, []).append(tolerant(describe(im.rotate(180)), sources[i], args.drop))
    rows = [[cat, str(len(turned[cat]))]
            + [f"{min(got[cat][n]):.2f} / {np.median(got[cat][n]):.2f}" for n in named]
            + [f"{max(other[cat]):.3f}", f"{max(turned[cat]):.3f}"] for cat in got]
    print(f"split {args.split}, {args.drop} of 64 color cells left out; edits: min / median against the source")
    print(table(rows, ["category", "pictures"] + list(named) + ["other max", "rot180 max"]))


if __name__ == "__main__":
    main()
