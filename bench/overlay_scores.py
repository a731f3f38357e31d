"""Issue 15: how far an overlay (a caption band, a sticker,
a line of text) pulls a copy's whole-image grid score down, and how much of that an
occlusion-tolerant comparison gives back.

The color grid takes its 8 x 8 cells relative to the picture's mean color and normalizes
them together, so a bright band over 7% of a dark or faint picture outweighs everything else:
its copy scores 0.1-0.8 against its source. The tolerant comparison
(``lookalike.indexer.descriptor.tolerant_similarity``, the grid's part of the fused score when
the index has an embedder) leaves out, in turn, each place an overlay usually covers
(``overlay_masks``: a one-row band at any height, the top or bottom two rows, a 2 x 2 or 3 x 3
block in a corner), centres and normalizes what is left on each side, and takes the best
cosine of those and the plain one.

Per category (bench/categories.py, ``--per`` pictures of the half): min / median score of each
edit against its source (``--plain``: the plain cosine instead), the best score of every
edited copy against any other picture of the run ("other"), which says what the tolerant
score costs in false matches, and the best score of 4 keystone warps and of the 7 turned or
mirrored copies of each picture against it (those that are the picture itself left out, as in
bench/quality.py).

Usage: python bench/overlay_scores.py [--split tune|held-out] [--plain] [--per 4]
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
from quality import collect, same_picture  # noqa: E402


def describe(im) -> np.ndarray:
    from lookalike.indexer.descriptor import describe_boxes

    a = np.asarray(im.convert("RGB"))
    return describe_boxes(a, a.shape[1], a.shape[0], np.array([[0, 0, a.shape[1], a.shape[0]]])).vectors[0]


def scores(u: np.ndarray, vs: np.ndarray, plain: bool) -> np.ndarray:
    """``u`` (D,) against each row of ``vs`` (N, D)."""
    from lookalike.indexer.descriptor import tolerant_similarity

    return vs @ u if plain else tolerant_similarity(u[None], vs)[0]


def score(u: np.ndarray, v: np.ndarray, plain: bool) -> float:
    return float(scores(u, v[None], plain)[0])


def main() -> None:
    from lookalike.models.embed import edits

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["tune", "held-out"], default="tune")
    ap.add_argument("--plain", action="store_true", help="the plain cosine, for comparison")
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
    sources = np.stack([describe(im) for _, im, _ in items])
    got: dict[str, dict[str, list[float]]] = {}
    other: dict[str, list[float]] = {}
    turned: dict[str, list[float]] = {}
    warped: dict[str, list[float]] = {}
    for i, (cat, im, _) in enumerate(items):
        for name, edit in named.items():
            q = describe(edit(im, rng))
            against = scores(q, sources, args.plain)  # every picture of the run at once
            got.setdefault(cat, {}).setdefault(name, []).append(float(against[i]))
            other.setdefault(cat, []).append(float(np.delete(against, i).max()))
        turns = [t for t in (edits.dihedral(im, k) for k in range(1, 8)) if t.size != im.size or not same_picture(t, im)]
        turned.setdefault(cat, []).extend(score(describe(t), sources[i], args.plain) for t in turns)
        warped.setdefault(cat, []).extend(score(describe(edits.perspective(im, rng)), sources[i], args.plain) for _ in range(4))
    rows = [[cat, str(len(warped[cat]) // 4)]
            + [f"{min(got[cat][n]):.2f} / {np.median(got[cat][n]):.2f}" for n in named]
            + [f"{max(other[cat]):.3f}", f"{max(warped[cat]):.3f}", f"{max(turned[cat]):.3f}"] for cat in got]
    print(f"split {args.split}, {'plain cosine' if args.plain else 'tolerant of overlays'}; edits: min / median against the source")
    print(table(rows, ["category", "pictures"] + list(named) + ["other max", "keystone max", "turned max"]))


if __name__ == "__main__":
    main()
