"""Claim: at the default threshold, recall of positive edits >= 0.99 with the source ranked
first, and false-match rate on negative transforms <= 0.01 (issue 2), beside ImageHash
phash/dhash/colorhash at customary thresholds and MSE on 8x8 thumbnails.

Protocol (see protocol.py): the 162 photos of ../shared/data/photos are indexed; for each
photo, 7 positive edits and 7 negative transforms (seeded) are saved as PNG and searched.
A positive succeeds when its source is the first hit and is a `match`; a negative is a false
match when any hit is a `match`. Channel swaps of photos that are gray (mean |R-B| < 1) are
left out: swapping their channels changes no pixel.
Peers: nearest original by Hamming distance (phash <= 10, dhash <= 10, colorhash <= 4; the
thresholds their users commonly pick) or by MSE of 8x8 RGB thumbnails (<= 100, i.e. RMSE 10).

Usage: python bench/quality.py [--limit N] [--workers 2]
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
from common import require_photos, table  # noqa: E402
from protocol import negatives, positives  # noqa: E402

PEERS = {"phash": 10, "dhash": 10, "colorhash": 4, "mse8": 100.0}


def peer_signatures(im: Image.Image) -> dict:
    import imagehash

    thumb = np.asarray(im.convert("RGB").resize((8, 8), Image.Resampling.BOX), np.float64)
    return {"phash": imagehash.phash(im), "dhash": imagehash.dhash(im), "colorhash": imagehash.colorhash(im),
            "mse8": thumb}


def peer_distance(name, a, b):
    if name == "mse8":
        return float(np.mean((a - b) ** 2))
    return a - b


def make_queries(paths, qdir: Path):
    rng = random.Random(1234)
    queries = []  # (path, source index, kind, name)
    for i, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        a = np.asarray(im, np.int16)
        gray = np.abs(a[..., 0] - a[..., 2]).mean() < 1
        for kind, edits in (("pos", positives(im, rng)), ("neg", negatives(im, rng))):
            for name, q in edits.items():
                if name == "channels" and gray:
                    continue
                out = qdir / f"{i:03d}_{kind}_{name}.png"
                q.save(out)
                queries.append((str(out), i, kind, name))
    return queries


def _search_chunk(args):
    index_dir, items = args
    from common import single_thread
    from lookalike.indexer import Index

    single_thread()
    out = []
    with Index.open(index_dir) as ix:
        for path, src, kind, name in items:
            hits = ix.search(path, k=5)
            out.append((path, [(h.path, h.match, h.score) for h in hits]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="use the first N photos only")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    from lookalike.indexer import Index

    paths = require_photos()
    if args.limit:
        paths = paths[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with Index.open(tmp / "ix", create=True) as ix:
            ix.add(paths)
        qdir = tmp / "q"
        qdir.mkdir()
        queries = make_queries(paths, qdir)
        chunks = [queries[i::args.workers * 4] for i in range(args.workers * 4)]
        results = {}
        with ProcessPoolExecutor(args.workers) as pool:
            for part in pool.map(_search_chunk, [(str(tmp / "ix"), c) for c in chunks]):
                results.update(dict(part))
                print(f"  searched {len(results)}/{len(queries)}", flush=True)
        originals = [peer_signatures(Image.open(p)) for p in paths]
        src_paths = [str(Path(p).resolve()) for p in paths]
        stats: dict[tuple[str, str, str], list[int]] = {}
        for path, src, kind, name in queries:
            hits = results[path]
            if kind == "pos":
                ok = bool(hits) and hits[0][0] == src_paths[src] and hits[0][1]
            else:
                ok = any(m for _, m, _ in hits)
            stats.setdefault(("lookalike", kind, name), []).append(int(ok))
            sig = peer_signatures(Image.open(path))
            for peer, thr in PEERS.items():
                d = np.array([peer_distance(peer, sig[peer], o[peer]) for o in originals])
                if kind == "pos":
                    ok = int(d.argmin()) == src and d[src] <= thr and (d == d[src]).sum() == 1
                else:
                    ok = bool((d <= thr).any())
                stats.setdefault((peer, kind, name), []).append(int(ok))
    methods = ["lookalike"] + list(PEERS)
    names = sorted({(k, n) for _, k, n in stats}, key=lambda t: (t[0] != "pos", t[1]))
    rows = []
    for kind, name in names:
        label = ("recall " if kind == "pos" else "false-match ") + name
        rows.append([label] + [f"{np.mean(stats[(m, kind, name)]):.3f}" for m in methods])
    for kind, label in (("pos", "recall, all positives"), ("neg", "false-match rate, all negatives")):
        vals = []
        for m in methods:
            v = [x for (mm, k, _), xs in stats.items() if mm == m and k == kind for x in xs]
            vals.append(f"{np.mean(v):.4f} (n={len(v)})")
        rows.append([label] + vals)
    print(f"quality protocol on {len(paths)} photos, {len(queries)} queries")
    print(table(rows, ["measure"] + methods))
    pos = [x for (m, k, _), xs in stats.items() if m == "lookalike" and k == "pos" for x in xs]
    neg = [x for (m, k, _), xs in stats.items() if m == "lookalike" and k == "neg" for x in xs]
    print(f"goal recall >= 0.99: {np.mean(pos):.4f} {'MET' if np.mean(pos) >= 0.99 else 'NOT MET'}")
    print(f"goal false-match <= 0.01: {np.mean(neg):.4f} {'MET' if np.mean(neg) <= 0.01 else 'NOT MET'}")


if __name__ == "__main__":
    main()
