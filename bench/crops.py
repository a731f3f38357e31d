"""Claim: crops of 1/16 to 1/4 of an image's area, JPEG-recompressed, a third of them rescaled
by 0.75-1.3, find their source first, as a match, with box IoU >= 0.5, for >= 0.9 of the
unscaled and of the rescaled crops (issue 2). ImageHash's crop_resistant_hash beside it
(retrieval only: it gives no box).

Protocol (protocol.random_crop): for each of the 162 photos, three crops with sides of 1/4 to
1/2 of the image's (so 1/16 to 1/4 of the area) at random places; the third is rescaled by a
random factor in [0.75, 1.3]; every crop is saved as JPEG quality 80 and searched against the
index of all photos.

With ``--categories`` (issue 15) the pictures are those of bench/categories.py instead (``--per``
of each category and half), all in one index, and the figures are given per category. A crop
whose true box is near uniform (its detail, the descriptor's ``info``, below
LOW_INFO_THRESHOLD: a patch of sky, a blank margin, an empty corner of a star field) is left
out and counted: nothing can tell where such a patch came from, and it is never a match.

Usage: python bench/crops.py [--limit N] [--workers 2] [--no-peer] [--misses]
       python bench/crops.py --categories all|photos,stars,... [--per 8] [--split tune|held-out|all]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, require_photos, table  # noqa: E402
from protocol import random_crop  # noqa: E402


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _search_chunk(args):
    import time

    index_dir, items = args
    from common import single_thread
    from lookalike.indexer import Index

    single_thread()
    out = []
    with Index.open(index_dir) as ix:
        for path, *_ in items:
            t = time.perf_counter()
            hits = ix.search(path, k=5)
            out.append((path, [(h.path, h.match, h.score, h.box) for h in hits], time.perf_counter() - t))
    return out


def _peer_hash(path):
    import imagehash

    return imagehash.crop_resistant_hash(Image.open(path))


def _peer(pool, paths, queries):
    """crop_resistant_hash: the best-matching original must be the source and a match."""
    originals = list(pool.map(_peer_hash, [str(p) for p in paths], chunksize=8))
    hashes = list(pool.map(_peer_hash, [q[0] for q in queries], chunksize=8))
    out = {}
    for (path, src, *_), h in zip(queries, hashes):
        best, best_key = None, None
        for i, o in enumerate(originals):
            matches, dist = h.hash_diff(o)
            key = (-matches, dist)
            if best_key is None or key < best_key:
                best, best_key = i, key
        out[path] = best == src and h.matches(originals[best])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--categories", default="", help="'all' or a comma list (bench/categories.py)")
    ap.add_argument("--per", type=int, default=8)
    ap.add_argument("--split", choices=["tune", "held-out", "all"], default="all")
    ap.add_argument("--misses", action="store_true", help="list every crop that failed, with its top hit")
    args = ap.parse_args()
    from lookalike.indexer import Index
    from lookalike.indexer.descriptor import describe_boxes

    rng = random.Random(99)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.categories:
            from categories import CATEGORIES, CONTROL
            from quality import collect, save_pictures

            cats = CATEGORIES if args.categories == "all" else args.categories.split(",")
            items = [it for it in collect(cats, args.per, args.split) if it[0] != CONTROL]
            paths = save_pictures(items, tmp / "src")
            category = [c for c, _, _ in items]
        else:
            paths = require_photos()
            if args.limit:
                paths = paths[: args.limit]
            category = ["photos"] * len(paths)
        with Index.open(tmp / "ix", create=True) as ix:
            ix.add(paths)
        queries, uniform = [], {}
        for i, p in enumerate(paths):
            im = Image.open(p).convert("RGB")
            for j, rescale in enumerate((False, False, True)):
                q, box = random_crop(im, rng, rescale)
                if describe_boxes(np.asarray(im), im.width, im.height, np.array([box])).low_info[0]:
                    uniform[category[i]] = uniform.get(category[i], 0) + 1
                    continue
                out = tmp / f"{i:04d}_{j}.jpg"
                q.save(out, quality=95)
                queries.append((str(out), i, box, rescale))
        chunks = [queries[i::args.workers * 4] for i in range(args.workers * 4)]
        results, times = {}, []
        with ProcessPoolExecutor(args.workers) as pool:
            for part in pool.map(_search_chunk, [(str(tmp / "ix"), c) for c in chunks]):
                for path, hits, t in part:
                    results[path] = hits
                    times.append(t)
            print(f"searched {len(results)} crops", flush=True)
            peer = {} if args.no_peer else _peer(pool, paths, queries)
    src_paths = [str(Path(p).resolve()) for p in paths]
    rows = []
    verdict = []
    groups = [(label, rescaled, None) for label, rescaled in (("unscaled", False), ("rescaled", True))]
    if args.categories:
        groups = [(f"{c} {label}", rescaled, c) for c in dict.fromkeys(category) for label, rescaled in
                  (("unscaled", False), ("rescaled", True))] + groups
    for label, rescaled, cat in groups:
        sel = [q for q in queries if q[3] == rescaled and (cat is None or category[q[1]] == cat)]
        if not sel:
            continue
        ok, first, ious = 0, 0, []
        for path, src, box, _ in sel:
            hits = results[path]
            if hits and hits[0][0] == src_paths[src]:
                first += 1
                ious.append(iou(hits[0][3], box))
                if hits[0][1] and ious[-1] >= 0.5:
                    ok += 1
        rate = ok / len(sel)
        verdict.append((label, rate))
        peer_rate = f"{np.mean([peer[q[0]] for q in sel]):.3f}" if peer else "-"
        rows.append([label, str(len(sel)), f"{rate:.3f}", f"{first / len(sel):.3f}",
                     f"{median(ious):.3f}" if ious else "-", peer_rate])
    if args.misses:
        for path, src, box, rescale in queries:
            hits = results[path]
            top = hits[0] if hits else None
            if top and top[0] == src_paths[src] and top[1] and iou(top[3], box) >= 0.5:
                continue
            print(f"miss {category[src]} {'rescaled' if rescale else 'unscaled'} true {tuple(box)}: "
                  + (f"{'source' if top[0] == src_paths[src] else 'other'} box {tuple(top[3])} score {top[2]:.3f} "
                     f"match {top[1]}" if top else "no hit"))
    print(f"crop protocol on {len(paths)} pictures, {len(queries)} crops")
    if uniform:
        print("near-uniform crops left out: " + ", ".join(f"{c} {n}" for c, n in uniform.items()))
    print(table(rows, ["crops", "n", "lookalike: first+match+IoU>=0.5", "lookalike: source first",
                       "median IoU", "crop_resistant_hash: source best+match"]))
    print(f"search time per crop query: median {median(times) * 1000:.0f} ms")
    goal = 0.95 if args.categories else 0.9
    for label, rate in verdict:
        print(f"goal {label} >= {goal}: {rate:.3f} {'MET' if rate >= goal else 'NOT MET'}")


if __name__ == "__main__":
    main()
