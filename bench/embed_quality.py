"""Claim (issue 5): with `--embedder lookalike-s`, fused search finds >= 0.95 of hard edits
(source first, as a match) with the false-match rate on the negatives of issue 2 still
<= 0.01, and >= 0.95 of rescaled crops of 1/16 to 1/4 of the area (source first, as a match,
box IoU >= 0.5). Beside it, the same index scored by the color grid alone and by the embedder
alone.

Protocol. The 162 photos of ../shared/data/photos are indexed with lookalike-s. Per photo:
  hard edits (lookalike.models.embed.edits.HARD_EDITS, seeded): jpeg15 (JPEG quality 15), trim25
    (25% of width and height cut away, split at random between the sides), text (a line of
    random words, 1/12 of the height, outlined), noise10 (Gaussian, sigma 10), gamma07
    (gamma 0.7), quarter (half of each side);
  negatives (bench/protocol.negatives, issue 2): rot90, rot180, rot270, mirror, transpose,
    perspective (keystone), channels (RGB->BGR; skipped for gray photos);
  two region queries (bench/protocol.random_crop, rescaled by 0.75-1.3, JPEG q80).
Every query is searched (k=5) three times, the scoring signal set by
lookalike.indexer.fusion.GRID_WEIGHT: 1.0 (color grid alone), 0.0 (embedder alone) and the
shipped fusion. Candidates come from both indexes in every mode; only the score changes.
The threshold is the default 0.90 in every mode. A positive counts when its source is the first
hit and is a match (regions: and box IoU >= 0.5); a negative is a false match when any hit
is a match. Figures are given for the photos the checkpoint never saw (``--held-out-folder``:
CSun_Hays80 for the shipped checkpoint, trained on CBSD68 + CSet14; CSet14 for one trained on
bench/train_data.py's folder) and for all.

With ``--categories`` (issue 15) the pictures are those of bench/categories.py (``--per`` of each
category and half; held out: CSet14, Unsplash, every third vector piece, odd seeds), all in one
index, and a table per category follows. Negatives that leave the picture the same (a gray
picture's channel swap, a symmetric picture's mirror) are left out, as in bench/quality.py, and
near-uniform control pictures count a false match for any query of theirs that matches.

Usage: python bench/embed_quality.py [--limit N] [--workers 2] [--weights FILE] [--modes grid,embedding,fused]
       [--split all|held-out|trained] [--only trim25,crop] [--misses]
       python bench/embed_quality.py --categories all|photos,text,... [--per 4] [--cat-split all|tune|held-out]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_photos, table  # noqa: E402
from crops import iou  # noqa: E402
from protocol import negatives, random_crop  # noqa: E402
from quality import same_picture  # noqa: E402

MODES = {"grid": 1.0, "embedding": 0.0, "fused": None}


def make_queries(paths, qdir: Path):
    from lookalike.models.embed.edits import HARD_EDITS

    rng = random.Random(2024)
    queries = []  # (path, source index, kind, name, true box or None)
    for i, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        for name, edit in HARD_EDITS.items():
            out = qdir / f"{i:03d}_pos_{name}.png"
            edit(im, rng).save(out)
            queries.append((str(out), i, "pos", name, None))
        for name, q in negatives(im, rng).items():
            if q.size == im.size and same_picture(q, im):
                continue  # the transform left the picture as it was
            out = qdir / f"{i:03d}_neg_{name}.png"
            q.save(out)
            queries.append((str(out), i, "neg", name, None))
        for j in range(2):
            crop, box = random_crop(im, rng, rescale=True)
            out = qdir / f"{i:03d}_crop{j}.jpg"
            crop.save(out, quality=95)
            queries.append((str(out), i, "region", "crop", box))
    return queries


def _search_chunk(args):
    index_dir, weights, mode, items = args
    from common import single_thread
    from lookalike.indexer import Index, fusion

    single_thread()
    if MODES[mode] is not None:
        fusion.GRID_WEIGHT = MODES[mode]
    out = []
    with Index.open(index_dir, weights=weights, device="cpu") as ix:
        for path, *_ in items:
            t = time.perf_counter()
            hits = ix.search(path, k=5)
            out.append((path, [(h.path, h.match, h.score, h.box) for h in hits], time.perf_counter() - t))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="use every n-th photo so that N remain")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--weights", default=None, help="lookalike-s checkpoint (default: the shipped one)")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--split", default="all", choices=["all", "held-out", "trained"],
                    help="search only queries made from these photos (the index always holds all)")
    ap.add_argument("--held-out-folder", default="CSun_Hays80",
                    help="photos under a folder of this name are the held-out split (see the docstring)")
    ap.add_argument("--only", default="", help="comma-separated query names (e.g. trim25,crop) to run alone")
    ap.add_argument("--categories", default="", help="'all' or a comma list (bench/categories.py)")
    ap.add_argument("--per", type=int, default=4)
    ap.add_argument("--cat-split", choices=["tune", "held-out", "all"], default="all")
    ap.add_argument("--misses", action="store_true",
                    help="list every missed edit or crop with its top hit and the source's score")
    args = ap.parse_args()
    from lookalike.indexer import Index

    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.categories:
            from categories import CATEGORIES, CONTROL
            from quality import collect, save_pictures

            items = collect(CATEGORIES if args.categories == "all" else args.categories.split(","), args.per,
                            args.cat_split)
            paths = save_pictures(items, tmp / "src")
            category = [c for c, _, _ in items]
            held = [h for _, _, h in items]
        else:
            CONTROL = None
            paths = require_photos()
            if args.limit:
                paths = paths[:: max(1, len(paths) // args.limit)][: args.limit]
            category = ["photos"] * len(paths)
            held = [args.held_out_folder in Path(p).parts for p in paths]
        t = time.perf_counter()
        with Index.open(tmp / "ix", create=True, embedder="lookalike-s", weights=args.weights, device="cpu") as ix:
            ix.add(paths)
        print(f"indexed {len(paths)} pictures with lookalike-s in {time.perf_counter() - t:.1f} s", flush=True)
        qdir = tmp / "q"
        qdir.mkdir()
        queries = make_queries(paths, qdir)
        if args.only:
            queries = [q for q in queries if q[3] in args.only.split(",")]
        if args.split != "all":
            queries = [q for q in queries if held[q[1]] == (args.split == "held-out")]
        src_paths = [str(Path(p).resolve()) for p in paths]
        stats: dict[tuple, list[int]] = {}
        by_cat: dict[tuple, list[int]] = {}  # (mode, category, kind) -> outcomes
        times: dict[str, list[float]] = {}
        misses: list[list[str]] = []
        for mode in modes:
            chunks = [queries[i::args.workers * 4] for i in range(args.workers * 4)]
            results = {}
            with ProcessPoolExecutor(args.workers) as pool:
                jobs = [(str(tmp / "ix"), args.weights, mode, c) for c in chunks]
                for part in pool.map(_search_chunk, jobs):
                    for path, hits, dt in part:
                        results[path] = hits
                        times.setdefault(mode, []).append(dt)
            for path, src, kind, name, box in queries:
                hits = results[path]
                if category[src] == CONTROL:
                    by_cat.setdefault((mode, CONTROL, "neg"), []).append(int(any(m for _, m, _, _ in hits)))
                    continue
                if kind == "neg":
                    ok = any(m for _, m, _, _ in hits)
                else:
                    # another picture reported as a match for a copy or crop of this one
                    wrong = int(any(m and p != src_paths[src] for p, m, _, _ in hits))
                    by_cat.setdefault((mode, category[src], "wrong"), []).append(wrong)
                    ok = bool(hits) and hits[0][0] == src_paths[src] and hits[0][1]
                    if kind == "region":
                        ok = ok and iou(hits[0][3], box) >= 0.5
                    if not ok and args.misses:
                        own = [f"{sc:.3f}" + (" match" if m else "") for p, m, sc, _ in hits if p == src_paths[src]]
                        top = (f"{Path(hits[0][0]).name} {hits[0][2]:.3f}" + (" match" if hits[0][1] else "")
                               if hits else "none")
                        misses.append([mode, category[src], Path(paths[src]).name, name, top, own[0] if own else "-"])
                for split in ("all", "held-out" if held[src] else "trained"):
                    stats.setdefault((mode, split, kind, name), []).append(int(ok))
                by_cat.setdefault((mode, category[src], kind), []).append(int(ok))
            print(f"  {mode}: searched {len(results)} queries, median {np.median(times[mode]) * 1000:.0f} ms",
                  flush=True)
    if misses:
        print("\nmissed edits and crops:")
        print(table(misses, ["mode", "category", "picture", "query", "top hit", "source"]))
    names = sorted({(k, n) for _, _, k, n in stats}, key=lambda t: ({"pos": 0, "region": 1, "neg": 2}[t[0]], t[1]))
    for split in ("held-out", "trained", "all"):
        if not any(sp == split for _, sp, _, _ in stats):
            continue
        rows = []
        for kind, name in names:
            label = {"pos": "recall ", "region": "recall ", "neg": "false-match "}[kind] + name
            rows.append([label] + [f"{np.mean(stats.get((m, split, kind, name), [np.nan])):.3f}" for m in modes])
        for kind, label in (("pos", "recall, hard edits"), ("region", "recall, regions"),
                            ("neg", "false-match rate")):
            vals = []
            for m in modes:
                v = [x for (mm, sp, k, _), xs in stats.items() if mm == m and sp == split and k == kind for x in xs]
                vals.append(f"{np.mean(v):.4f} (n={len(v)})")
            rows.append([label] + vals)
        n_split = {"held-out": sum(held), "trained": len(paths) - sum(held), "all": len(paths)}[split]
        print(f"\n{split} photos ({n_split} in the index; queries made from those searched):")
        print(table(rows, ["measure"] + modes))
    if args.categories:
        cell = lambda m, c, k: (f"{np.mean(by_cat[(m, c, k)]):.3f}" if by_cat.get((m, c, k)) else "-")
        rows = [[c, str(category.count(c))] + [f"{cell(m, c, 'pos')} / {cell(m, c, 'region')} / {cell(m, c, 'neg')}"
                                               f" / {cell(m, c, 'wrong')}" for m in modes] for c in dict.fromkeys(category)]
        pooled = lambda m, k: np.mean([x for (mm, c, kk), xs in by_cat.items() if mm == m and kk == k and c != CONTROL
                                        for x in xs] or [np.nan])
        rows.append(["all", str(len(category))] + [f"{pooled(m, 'pos'):.3f} / {pooled(m, 'region'):.3f} / "
                                                   f"{pooled(m, 'neg'):.3f} / {pooled(m, 'wrong'):.3f}" for m in modes])
        print(f"\nby category ({args.cat_split}): hard-edit recall / crop recall / false-match rate / "
              "wrong-match rate (another picture a match for an edit or crop)")
        print(table(rows, ["category", "pictures"] + modes))
        if "fused" in modes:
            bad = [c for c in dict.fromkeys(category) if c != CONTROL and (
                np.mean(by_cat.get(("fused", c, "pos"), [1])) < 0.95 or np.mean(by_cat.get(("fused", c, "neg"), [0])) > 0.01)]
            print(f"goal fused hard-edit recall >= 0.95 and false-match <= 0.01 in every category: "
                  f"{'MET' if not bad else 'NOT MET (' + ', '.join(bad) + ')'}")
    if "fused" in modes:
        for split in sorted({sp for _, sp, _, _ in stats}):
            get = lambda kind: np.mean([x for (m, sp, k, _), xs in stats.items()
                                        if m == "fused" and sp == split and k == kind for x in xs])
            pos, reg, neg = get("pos"), get("region"), get("neg")
            print(f"goal ({split}) fused hard-edit recall >= 0.95 with false-match <= 0.01: {pos:.4f} / {neg:.4f} "
                  f"{'MET' if pos >= 0.95 and neg <= 0.01 else 'NOT MET'}")
            print(f"goal ({split}) fused region recall >= 0.95: {reg:.4f} {'MET' if reg >= 0.95 else 'NOT MET'}")


if __name__ == "__main__":
    main()
