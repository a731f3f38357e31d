"""Fit the shipped tile code (indexer/tilecode-v1.npz) and compare it with others.

Training data: the tiles (the index's own tile scheme, near-uniform tiles left out) of the tune
half of bench/categories.py only: the tune photos (CBSD68, CSun_Hays80; CSet14 is held out), the
Kodak photos (Unsplash is held out), two of every three vector pieces, and ``--per`` generated
pictures of each generated kind from the even (tune) seeds. The held-out half is never read
here. The metadata records the command, the counts and a digest of the training vectors.

``--compare``: crops of 1/16-1/4 of the area (bench/protocol.random_crop, half of them rescaled)
of the pictures of both halves, their windows matched against every tile as search does (k=256
nearest by Hamming distance, each picture's best tile), and the source's rank reported for each
code: the rate at which it comes first, and within the 6 pictures search refines. Figures are
given for the tune and the held-out half apart. ``--variants`` adds the trade-offs that would
shrink the store further: a 64-bit code (fitted here on the tune half's tiles) and tiles at a
stride of half a tile instead of a third.

Usage: python bench/tilecode.py [--per 8] [--write]      fit; --write replaces the shipped file
       python bench/tilecode.py --compare [--per 6] [--variants]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import categories as C  # noqa: E402
from common import table  # noqa: E402
from protocol import random_crop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAX_SIDE = 1600
SAMPLE = 60_000


def _half(held_out: bool, per: int) -> list[tuple[str, Image.Image]]:
    out = []
    for cat in C.CATEGORIES:
        if cat == C.CONTROL:
            continue
        if cat in C.REAL:
            pics = [p for p, h in C.real_pictures(cat) if h == held_out]
        else:
            pics = C.generate(cat, per, held_out)
        for p in pics:
            im = Image.open(p).convert("RGB") if isinstance(p, Path) else p
            if max(im.size) > MAX_SIDE:
                s = MAX_SIDE / max(im.size)
                im = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.LANCZOS)
            out.append((cat, im))
    return out


def _tiles(im: Image.Image, stride: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The picture's tile descriptors and near-uniform mask (at another tile stride, given one)."""
    import lookalike.indexer.regions as regions
    from lookalike.indexer.descriptor import describe_boxes
    from lookalike.models.io.images import as_image

    img = as_image(im)
    kept = regions.TILE_STRIDE
    regions.TILE_STRIDE = stride or kept
    try:
        boxes = regions.tile_boxes(img.width, img.height)
    finally:
        regions.TILE_STRIDE = kept
    d = describe_boxes(img.pixels, img.width, img.height, boxes)
    return d.vectors, d.low_info


def fit_code(per: int, write: bool) -> None:
    from lookalike.indexer.tilecode import TILE_CODE, TILE_CODE_BITS, fit

    t = time.perf_counter()
    pics = _half(False, per)
    vectors, counts = [], {}
    for cat, im in pics:
        v, low = _tiles(im)
        vectors.append(v[~low])
        counts[cat] = counts.get(cat, 0) + 1
    x = np.concatenate(vectors)
    x = x[np.random.default_rng(0).choice(len(x), min(len(x), SAMPLE), replace=False)]
    mean, matrix = fit(x, TILE_CODE_BITS, seed=0)
    meta = {
        "name": TILE_CODE, "bits": TILE_CODE_BITS, "method": "mean, top principal directions, random rotation (seed 0)",
        "command": f"python bench/tilecode.py --per {per} --write",
        "training": {"pictures": counts, "tiles": int(len(x)),
                     "digest": hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()},
        "held_out": "CSet14 photos, Unsplash photos, every third vector piece, odd seeds of generated kinds",
    }
    print(json.dumps(meta, indent=1))
    print(f"{len(x)} tiles of {len(pics)} pictures, {time.perf_counter() - t:.0f} s")
    if write:
        out = ROOT / "indexer" / "tilecode-v1.npz"
        np.savez_compressed(out, mean=mean, matrix=matrix, meta=np.array(json.dumps(meta, sort_keys=True)))
        print(f"wrote {out}")


def compare(per: int, variants: bool) -> None:
    import faiss

    from lookalike.indexer.descriptor import describe_boxes
    from lookalike.indexer.gridhash import hash_vectors
    from lookalike.indexer.regions import search_windows
    from lookalike.indexer.tilecode import TileCode, fit, tile_code
    from lookalike.models.io.images import as_image

    rng = random.Random(7)
    vecs, owners, queries, tune = [], [], [], []
    half_vecs, half_owners = [], []  # the tiles at a stride of half a tile
    for held in (False, True):
        for cat, im in _half(held, per):
            i = len(vecs)
            v, low = _tiles(im)
            vecs.append(v[~low])
            owners.append(np.full(int((~low).sum()), i))
            tune += [not held] * int((~low).sum())
            if variants:
                v, low = _tiles(im, 1 / 2)
                half_vecs.append(v[~low])
                half_owners.append(np.full(int((~low).sum()), i))
            src = as_image(im)
            for rescale in (False, True):
                crop, box = random_crop(im, rng, rescale)
                q = as_image(crop)
                if describe_boxes(src.pixels, src.width, src.height, np.array([box])).low_info[0]:
                    continue  # near uniform: nothing can tell where it came from
                w = search_windows(q.width, q.height)
                queries.append((i, held, describe_boxes(q.pixels, q.width, q.height, w).vectors))
    tiles = np.concatenate(vecs)
    code = tile_code()
    coders = {
        "SimHash 256 (before)": (lambda x: hash_vectors(x, 256), None, None),
        "SimHash 128": (lambda x: hash_vectors(x, 128), None, None),
        f"{code.meta['name']} {code.bits}, Hamming": (code.encode, None, None),
        f"{code.meta['name']} {code.bits}, asymmetric (search)": (code.encode, code, None),
    }
    if variants:
        train = tiles[np.array(tune)]
        train = train[np.random.default_rng(0).choice(len(train), min(len(train), SAMPLE), replace=False)]
        c64 = TileCode(*fit(train, 64), {})
        coders["64 bits fitted on these tune tiles, asymmetric"] = (c64.encode, c64, None)
        coders[f"{code.meta['name']} {code.bits}, asymmetric, tiles at a stride of 1/2"] = (
            code.encode, code, (np.concatenate(half_vecs), np.concatenate(half_owners)))
    rows = []
    for name, (enc, asym, other_tiles) in coders.items():
        tiles_here, owner = (tiles, np.concatenate(owners)) if other_tiles is None else other_tiles
        codes = enc(tiles_here)
        ix = faiss.IndexBinaryFlat(codes.shape[1] * 8)
        ix.add(codes)
        ranks = {False: [], True: []}
        for src, held, wv in queries:
            d, r = ix.search(enc(wv), 256)
            s = asym.asymmetric_scores(asym.project(wv), codes[r]) if asym else -d.astype(np.float32)
            flat = r.ravel()
            order = np.lexsort((np.arange(len(flat)), -s.ravel()))
            _, first = np.unique(owner[flat[order]], return_index=True)
            ranked = owner[flat[order[np.sort(first)]]]
            pos = np.flatnonzero(ranked == src)
            ranks[held].append(pos[0] if len(pos) else 10 ** 6)
        row = [name, f"{codes.shape[1]} B", f"{len(codes) / len(vecs):.0f}"]
        for held in (False, True):
            a = np.array(ranks[held])
            row += [f"{np.mean(a == 0):.3f}", f"{np.mean(a < 6):.3f}"]
        rows.append(row)
    print(f"{len(tiles)} tiles, {len(queries)} crops")
    print(table(rows, ["code", "a tile", "tiles a picture", "tune first", "tune in 6", "held-out first", "held-out in 6"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=8)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--variants", action="store_true",
                    help="with --compare: also 64-bit codes and tiles at a stride of half a tile (the trade-offs not taken)")
    args = ap.parse_args()
    C.SHARED.is_dir() or sys.exit(f"needs {C.SHARED}")
    compare(args.per, args.variants) if args.compare else fit_code(args.per, args.write)


if __name__ == "__main__":
    main()
