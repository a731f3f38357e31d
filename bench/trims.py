"""Claim (issue 15, beside the mild edits): a copy with a part of each side cut away (a border
removed, a screenshot cropped a little) is still found, as a match, with its source first, in
every category of content, well past the 4% trim of the mild edits.

Protocol. The pictures of bench/categories.py (both halves unless ``--split`` says otherwise)
are indexed together, as in bench/quality.py. For each picture and each trim fraction f,
``--per-picture`` queries cut f of the width and f of the height away, split at random between
the two sides (protocol.trim, seeded), saved as PNG. Success: the source is the first hit and a
`match`. Near-uniform control pictures are left out.

Usage: python bench/trims.py [--per 6] [--fractions 0.04,0.10,0.15] [--split all|tune|held-out]
                             [--categories photos,text,...] [--misses]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from categories import CATEGORIES, CONTROL  # noqa: E402
from common import table  # noqa: E402
from protocol import trim  # noqa: E402
from quality import _search_chunk, categories_arg, collect, index_pictures  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=6, help="pictures per category and half")
    ap.add_argument("--per-picture", type=int, default=2, help="queries per picture and fraction")
    ap.add_argument("--fractions", default="0.04,0.10,0.15")
    ap.add_argument("--categories", default=",".join(c for c in CATEGORIES if c != CONTROL))
    ap.add_argument("--split", choices=["tune", "held-out", "all"], default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--misses", action="store_true", help="list every miss with its first hit")
    args = ap.parse_args()
    from PIL import Image

    fractions = [float(f) for f in args.fractions.split(",")]
    cats = [c for c in categories_arg(args.categories) if c != CONTROL]
    items = collect(cats, args.per, args.split)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srcs = index_pictures(items, tmp)
        (tmp / "q").mkdir()
        queries = []  # (path, source index, fraction)
        for i, src in enumerate(srcs):
            im = Image.open(src).convert("RGB")
            for f in fractions:
                for j in range(args.per_picture):
                    path = tmp / "q" / f"{i:04d}_{f:.2f}_{j}.png"
                    trim(im, f, random.Random(f"{i}-{f}-{j}")).save(path)
                    queries.append((str(path), i, f))
        print(f"{len(srcs)} pictures, {len(queries)} queries", flush=True)
        chunks = [queries[i::args.workers * 4] for i in range(args.workers * 4)]
        results = {}
        with ProcessPoolExecutor(args.workers) as pool:
            for part in pool.map(_search_chunk, [(str(tmp / "ix"), c) for c in chunks]):
                results.update(dict(part))
        src_paths = [str(p.resolve()) for p in srcs]
        outcome: dict[tuple[str, bool, float], list[int]] = {}
        misses = []
        for path, i, f in queries:
            cat, _, held = items[i]
            hits = results[path]
            ok = bool(hits) and hits[0][0] == src_paths[i] and hits[0][1]
            outcome.setdefault((cat, held, f), []).append(int(ok))
            if not ok:
                first = hits[0] if hits else None
                misses.append(f"{cat} {f:.2f} " + ("-" if first is None else
                              f"{'self' if first[0] == src_paths[i] else 'other'}/{first[3]} {first[2]:.3f}"))

    def rate(cat=None, held=None, f=None):
        v = [x for (c, h, ff), xs in outcome.items() for x in xs
             if (cat is None or c == cat) and (held is None or h == held) and (f is None or ff == f)]
        return "-" if not v else f"{np.mean(v):.3f}"

    rows = [[c] + [rate(cat=c, f=f) for f in fractions] for c in cats]
    rows.append(["all"] + [rate(f=f) for f in fractions])
    if args.split == "all":
        rows.append(["held out only"] + [rate(held=True, f=f) for f in fractions])
    print(f"\nsource first and a match, by trim ({args.split}; {len(items)} pictures, {len(queries)} queries)")
    print(table(rows, ["category"] + [f"trim {f:.0%}" for f in fractions]))
    if args.misses and misses:
        print("\nmisses (category, trim, first hit): " + "; ".join(misses))


if __name__ == "__main__":
    main()
