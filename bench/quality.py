"""Claim (issues 2 and 15): at the default threshold, the color grid alone (the default index)
finds mild edits of a picture (source first, as a match) with recall >= 0.99 and matches
rotated, mirrored, warped or channel-swapped copies at a rate <= 0.01, in every category of
content, beside ImageHash phash/dhash/colorhash at customary thresholds and MSE on 8x8
thumbnails.

Protocol. Pictures of every category (bench/categories.py: photos, Kodak/Unsplash, vector art
and eleven generated kinds, plus near-uniform pictures as a control) are indexed together in
one index, so every category is a distractor for the others. For each picture, 7 positive
edits and 7 negative transforms (protocol.py, seeded) are saved as PNG and searched (k=5).
A positive succeeds when its source is the first hit and is a `match`; a negative is a false
match when any hit is a `match`. A negative transform that leaves the picture the same (a
symmetric picture's mirror, a gray picture's channel swap: mean absolute difference of 64x64
thumbnails below 2 levels) is left out and counted. Near-uniform control pictures must never
match: for them every query, positive or negative, counts as a false match when any hit is a
`match`, and they are out of the recall figures.
Peers: nearest original by Hamming distance (phash <= 10, dhash <= 10, colorhash <= 4) or by
MSE of 8x8 RGB thumbnails (<= 100, i.e. RMSE 10).

Held out: CSet14, the Unsplash photos, every third vector file, and the odd seeds of the
generated categories (bench/categories.py); `--split held-out` reports on them only.

Usage: python bench/quality.py [--per 12] [--categories photos,stars,...] [--split tune|held-out|all]
                               [--workers 2]
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
from categories import CATEGORIES, CONTROL, pictures  # noqa: E402
from common import table  # noqa: E402
from protocol import negatives, positives  # noqa: E402

NEGATIVE_NAMES = {"rot90", "rot180", "rot270", "mirror", "transpose", "perspective", "channels"}
PEERS = {"phash": 10, "dhash": 10, "colorhash": 4, "mse8": 100.0}
SAME_LEVELS = 2.0


def peer_signatures(im: Image.Image) -> dict:
    import imagehash

    thumb = np.asarray(im.convert("RGB").resize((8, 8), Image.Resampling.BOX), np.float64)
    return {"phash": imagehash.phash(im), "dhash": imagehash.dhash(im), "colorhash": imagehash.colorhash(im),
            "mse8": thumb}


def peer_distance(name, a, b):
    if name == "mse8":
        return float(np.mean((a - b) ** 2))
    return a - b


def same_picture(a: Image.Image, b: Image.Image) -> bool:
    """Whether a transform left the picture as it was (64x64 thumbnails within 2 levels)."""
    ta = np.asarray(a.convert("RGB").resize((64, 64), Image.Resampling.BOX), np.float32)
    tb = np.asarray(b.convert("RGB").resize((64, 64), Image.Resampling.BOX), np.float32)
    return float(np.abs(ta - tb).mean()) < SAME_LEVELS


def collect(categories: list[str], per: int, split: str) -> list[tuple[str, Image.Image, bool]]:
    """``(category, picture, held_out)`` for every picture of the run."""
    out = []
    halves = {"tune": [False], "held-out": [True], "all": [False, True]}[split]
    for cat in categories:
        for held in halves:
            for p in pictures(cat, per, held):
                im = Image.open(p).convert("RGB") if isinstance(p, Path) else p
                out.append((cat, im, held))
    return out


def save_pictures(items: list[tuple[str, Image.Image, bool]], folder: Path) -> list[Path]:
    """Save the pictures of :func:`collect` as PNG in a new ``folder``, named by category."""
    folder.mkdir()
    paths = [folder / f"{i:04d}_{cat}.png" for i, (cat, _, _) in enumerate(items)]
    for p, (_, im, _) in zip(paths, items):
        im.save(p)
    return paths


def categories_arg(text: str) -> list[str]:
    """The categories of a comma list (``--categories``); exits with a one-line message on an
    unknown one."""
    cats = [c for c in text.split(",") if c]
    unknown = set(cats) - set(CATEGORIES)
    if unknown:
        sys.exit(f"unknown categories: {', '.join(sorted(unknown))} (known: {', '.join(CATEGORIES)})")
    return cats


def index_pictures(items: list[tuple[str, Image.Image, bool]], folder: Path) -> list[Path]:
    """Save the pictures of :func:`collect` in ``folder / "src"`` and index them, all together,
    in ``folder / "ix"``. Returns the saved pictures' paths."""
    from lookalike.indexer import Index

    srcs = save_pictures(items, folder / "src")
    with Index.open(folder / "ix", create=True) as ix:
        ix.add([folder / "src"])
    return srcs


def _make_queries(args):
    i, src, qdir = args
    im = Image.open(src).convert("RGB")
    rng = random.Random(1234 + i)
    out, left_out = [], []
    for kind, edits in (("pos", positives(im, rng)), ("neg", negatives(im, rng))):
        for name, q in edits.items():
            if kind == "neg" and q.size == im.size and same_picture(q, im):
                left_out.append(name)
                continue
            path = Path(qdir) / f"{i:04d}_{kind}_{name}.png"
            q.save(path)
            out.append((str(path), i, kind, name))
    return out, left_out


def _search_chunk(args):
    index_dir, items = args
    from common import single_thread
    from lookalike.indexer import Index

    single_thread()
    out = []
    with Index.open(index_dir) as ix:
        for path, *_ in items:
            hits = ix.search(path, k=5)
            out.append((path, [(h.path, h.match, h.score, h.kind) for h in hits]))
    return out


def _peer_chunk(args):
    items, originals = args
    out = {}
    for path, src, kind, name in items:
        sig = peer_signatures(Image.open(path))
        res = {}
        for peer, thr in PEERS.items():
            d = np.array([peer_distance(peer, sig[peer], o[peer]) for o in originals])
            first = int(d.argmin()) == src and d[src] <= thr and (d == d[src]).sum() == 1
            res[peer] = (bool(first), bool((d <= thr).any()))  # (source first and near, anything near)
        out[path] = res
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per", type=int, default=12, help="pictures per category and half (0: every real one)")
    ap.add_argument("--categories", default=",".join(CATEGORIES))
    ap.add_argument("--split", choices=["tune", "held-out", "all"], default="all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peers", action="store_true", help="lookalike only (faster)")
    args = ap.parse_args()
    cats = categories_arg(args.categories)
    items = collect(cats, args.per, args.split)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        srcs = index_pictures(items, tmp)
        qdir = tmp / "q"
        qdir.mkdir()
        queries, left_out = [], {}
        with ProcessPoolExecutor(args.workers) as pool:
            for i, (qs, lo) in enumerate(pool.map(_make_queries, [(i, str(p), str(qdir)) for i, p in enumerate(srcs)])):
                queries += qs
                for name in lo:
                    left_out.setdefault((items[i][0], name), 0)
                    left_out[(items[i][0], name)] += 1
            print(f"{len(srcs)} pictures, {len(queries)} queries", flush=True)
            chunks = [queries[i::args.workers * 8] for i in range(args.workers * 8)]
            results = {}
            for part in pool.map(_search_chunk, [(str(tmp / "ix"), c) for c in chunks]):
                results.update(dict(part))
                print(f"  searched {len(results)}/{len(queries)}", flush=True)
            peer = {}
            if not args.no_peers:
                originals = [peer_signatures(Image.open(p)) for p in srcs]
                for part in pool.map(_peer_chunk, [(c, originals) for c in chunks]):
                    peer.update(part)
        src_paths = [str(p.resolve()) for p in srcs]
        methods = ["lookalike"] + ([] if args.no_peers else list(PEERS))
        stats: dict[tuple, list[int]] = {}  # (method, category, held, kind, name) -> outcomes
        scores = []  # (category, kind, name, top score, ok, why) for the record
        gaps: dict[str, tuple[list[float], list[float]]] = {}  # category -> (source scores, best other scores)
        for path, src, kind, name in queries:
            cat, _, held = items[src]
            hits = results[path]
            if cat == CONTROL:
                ok = any(h[1] for h in hits)
                stats.setdefault(("lookalike", cat, held, "neg", name), []).append(int(ok))
                for m in methods[1:]:
                    stats.setdefault((m, cat, held, "neg", name), []).append(int(peer[path][m][1]))
                continue
            if kind == "pos":
                ok = bool(hits) and hits[0][0] == src_paths[src] and hits[0][1]
                own = [h[2] for h in hits if h[0] == src_paths[src]]
                others = [h[2] for h in hits if h[0] != src_paths[src]]
                g = gaps.setdefault(cat, ([], []))
                g[0].append(own[0] if own else 0.0)
                g[1].append(others[0] if others else 0.0)
            else:
                ok = any(h[1] for h in hits)
            # what went wrong: the first hit's picture (the source or another one) and its kind
            first = next((h for h in hits if h[1]), hits[0] if hits else None) if kind == "neg" else (hits[0] if hits else None)
            why = "-" if first is None else f"{'self' if first[0] == src_paths[src] else 'other'}/{first[3]}"
            scores.append((cat, kind, name, first[2] if first else 0.0, ok, why))
            stats.setdefault(("lookalike", cat, held, kind, name), []).append(int(ok))
            for m in methods[1:]:
                stats.setdefault((m, cat, held, kind, name), []).append(int(peer[path][m][0 if kind == "pos" else 1]))

    def rate(method, cat=None, held=None, kind=None, name=None):
        v = [x for (m, c, h, k, n), xs in stats.items() for x in xs
             if m == method and (cat is None or c == cat) and (held is None or h == held)
             and (kind is None or k == kind) and (name is None or n == name)]
        return (float(np.mean(v)) if v else float("nan")), len(v)

    def cell(method, **kw):
        r, n = rate(method, **kw)
        return "-" if n == 0 else f"{r:.3f}"

    print(f"\nquality by category ({args.split}; {len(items)} pictures, {len(queries)} queries)")
    header = ["category", "pictures"] + [f"{m} recall / false" for m in methods]
    rows = []
    for cat in cats:
        n = sum(1 for c, _, _ in items if c == cat)
        rows.append([cat, str(n)] + [f"{cell(m, cat=cat, kind='pos')} / {cell(m, cat=cat, kind='neg')}" for m in methods])
    rows.append(["all", str(len(items))] + [f"{cell(m, kind='pos')} / {cell(m, kind='neg')}" for m in methods])
    if args.split == "all":
        rows.append(["held out only", str(sum(1 for *_, h in items if h))]
                    + [f"{cell(m, held=True, kind='pos')} / {cell(m, held=True, kind='neg')}" for m in methods])
    print(table(rows, header))

    print("\nlookalike by edit (recall) and transform (false-match rate), per category")
    names = sorted({(k, n) for (_, c, _, k, n) in stats if k == "pos"}) + sorted(
        {(k, n) for (_, c, _, k, n) in stats if k == "neg" and c != CONTROL and n in NEGATIVE_NAMES})
    rows = [[cat] + [cell("lookalike", cat=cat, kind=k, name=n) for k, n in names] for cat in cats if cat != CONTROL]
    print(table(rows, ["category"] + [n for _, n in names]))
    if left_out:
        print("\nnegatives left out (the transform gave the same picture): "
              + ", ".join(f"{c}/{n} {k}" for (c, n), k in sorted(left_out.items())))

    print("\none threshold (the default 0.90): the source's score for positive edits against the best "
          "other picture's, per category")
    rows = [[c, f"{np.percentile(g[0], 5):.3f}", f"{np.median(g[0]):.3f}", f"{np.percentile(g[1], 99):.3f}",
             f"{max(g[1]):.3f}"] for c, g in gaps.items()]
    print(table(rows, ["category", "source p5", "source median", "best other p99", "best other max"]))

    fails = [c for c in cats if c != CONTROL and (rate("lookalike", cat=c, kind="pos")[0] < 0.99)]
    falses = [c for c in cats if rate("lookalike", cat=c, kind="neg")[0] > 0.01]
    print(f"\ngoal recall >= 0.99 in every category: {'MET' if not fails else 'NOT MET (' + ', '.join(fails) + ')'}")
    print(f"goal false-match <= 0.01 in every category: {'MET' if not falses else 'NOT MET (' + ', '.join(falses) + ')'}")
    missed = [s for s in scores if s[1] == "pos" and not s[4]]
    if missed:
        print("\nmissed positives (category, edit, first hit: score, source or other, kind): "
              + "; ".join(f"{c} {n} {t:.3f} {w}" for c, _, n, t, _, w in missed[:40]))
    wrong = [s for s in scores if s[1] == "neg" and s[4]]
    if wrong:
        print("false matches (category, transform, matching hit: score, source or other, kind): "
              + "; ".join(f"{c} {n} {t:.3f} {w}" for c, _, n, t, _, w in wrong[:40]))


if __name__ == "__main__":
    main()
