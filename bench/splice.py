"""Claims (issue 16): `dupes --regions --within` finds pictures that share a region, at any
scale, on the generated splice collection of bench/splice_data.py (300 hosts with a patch of
another picture pasted in, 100 copy-move pictures, 300 untouched distractors, 40 rotated or
mirrored pastes that must not be reported). Goals: recall >= 0.9, precision >= 0.95 (a reported
pair is right when it names the two pictures and both boxes have IoU >= 0.5), no rotated or
mirrored pair.

The same with `search --regions`, each host as the query. Figures: recall of pasted pairs
per held-out/tuned part, per paste scale and area, and apart for the patches that do not pin down
one place (near uniform, a gradient, one straight edge: splice_data.place_strength); copy-move
recall; precision (strict: pictures and boxes right; pictures: the two pictures right, boxes
aside); rotated/mirrored pairs reported; indexing and `dupes` time. Reported apart as held
out: pictures cut from CSet14, Kodak and Unsplash (see the README on how clean that split is).

Usage: python bench/splice.py [--work DIR] (the collection and its index are kept there)
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from splice_data import PLACE_MIN, make, place_strength  # noqa: E402

from lookalike.indexer.keymatch import box_iou  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="where the collection and its index go (default: a temporary folder)")
    args = ap.parse_args()
    from lookalike.indexer import Index

    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        pics, ix_dir = work / "pictures", work / "ix"
        truth = json.loads((pics / "truth.json").read_text()) if (pics / "truth.json").exists() else make(pics)
        pins_down = {}  # whether each pasted patch pins down one place (splice_data.place_strength)
        for p in truth["pairs"]:
            x, y, w, h = p["source_box"]
            with Image.open(pics / p["source"]) as im:
                pins_down[p["host"]] = place_strength(im.convert("RGB").crop((x, y, x + w, y + h))) >= PLACE_MIN
        if not ix_dir.exists():
            t = time.perf_counter()
            with Index.open(ix_dir, create=True) as ix:
                ix.add([pics], keypoints=True)
            print(f"indexed {len(truth['pictures'])} pictures (with keypoints) in {time.perf_counter() - t:.0f} s")
        t = time.perf_counter()
        with Index.open(ix_dir) as ix:
            rep = ix.duplicates(regions=True, within=True)
            dupes_s = time.perf_counter() - t
            # search --regions: each host as the query, its source should come back with both boxes
            found_by_search, search_s = 0, []
            for p in truth["pairs"]:
                t = time.perf_counter()
                hits = ix.search_regions(pics / p["host"], k=5)
                search_s.append(time.perf_counter() - t)
                found_by_search += any(os.path.basename(h.path) == p["source"]
                                       and box_iou(h.query_box, p["host_box"]) >= 0.5
                                       and box_iou(h.box, p["source_box"]) >= 0.5 for h in hits)

    expected = {}
    for p in truth["pairs"]:
        expected[frozenset([p["host"], p["source"]])] = (p["host"], p["host_box"], p["source"], p["source_box"])
    for c in truth["copy_moves"]:
        expected[frozenset([c["picture"]])] = (c["picture"], c["target_box"], c["picture"], c["source_box"])
    negatives = {frozenset([n["host"], n["source"]]) for n in truth["negatives"]}
    right = set()
    strict = loose = neg = one_photo = 0
    for r in rep.regions:
        a, b = os.path.basename(r.a.path), os.path.basename(r.b.path)
        key = frozenset([a, b])
        neg += key in negatives
        if key not in expected and truth["pictures"][a]["from"] == truth["pictures"][b]["from"]:
            one_photo += 1  # two pieces of one photo, or a piece with itself: repeated structure the truth omits
        want = expected.get(key)
        if want is None:
            continue
        loose += 1
        n1, b1, n2, b2 = want
        if any(pa == n1 and pb == n2 and box_iou(ba, b1) >= 0.5 and box_iou(bb, b2) >= 0.5
               for pa, ba, pb, bb in ((a, r.a.box, b, r.b.box), (b, r.b.box, a, r.a.box))):
            strict += 1
            right.add(key)
    pictures = truth["pictures"]
    rows = collections.defaultdict(lambda: [0, 0])
    for p in truth["pairs"]:
        got = frozenset([p["host"], p["source"]]) in right
        place, held = pins_down[p["host"]], pictures[p["host"]]["heldout"]
        for k in ("all pasted pairs", "held-out hosts" if held else "tuned hosts",
                  "patch pins down one place" if place else "patch does not pin down a place (uniform, one edge)",
                  *(("held-out hosts, patch pins down one place",) if held and place else ()),
                  "scale 0.5-0.8" if p["scale"] < 0.8 else "scale 1.25-2" if p["scale"] > 1.25 else "scale 0.8-1.25",
                  "area 5-10%" if p["area"] < 0.1 else "area 10-25%",
                  "brightness changed" if p["brightness"] != 1.0 else "brightness kept"):
            rows[k][0] += got
            rows[k][1] += 1
    cm = sum(frozenset([c["picture"]]) in right for c in truth["copy_moves"])
    n = len(rep.regions)
    print("| measure | figure |\n| --- | --- |")
    for k, (a, total) in rows.items():
        print(f"| recall, {k} | {a}/{total} = {a / total:.2f} |")
    print(f"| recall, copy-move (--within) | {cm}/{len(truth['copy_moves'])} = {cm / len(truth['copy_moves']):.2f} |")
    print(f"| precision, pictures and both boxes right | {strict}/{n} = {strict / max(n, 1):.3f} |")
    print(f"| precision, the two pictures right | {loose}/{n} = {loose / max(n, 1):.3f} |")
    print(f"| unlisted pairs within one source photo (pieces of it, or a piece with itself) | {one_photo} |")
    print(f"| precision, strict, leaving those out | {strict}/{n - one_photo} = {strict / max(n - one_photo, 1):.3f} |")
    print(f"| rotated or mirrored pastes reported | {neg} of {len(negatives)} |")
    print(f"| whole-image groups (expected 0) | {len(rep.groups)} |")
    print(f"| `dupes --regions --within` time, {len(pictures)} pictures | {dupes_s:.0f} s |")
    print(f"| `search --regions`, hosts as queries: source found, both boxes IoU >= 0.5 | "
          f"{found_by_search}/{len(truth['pairs'])} = {found_by_search / len(truth['pairs']):.2f} |")
    print(f"| `search --regions` time per query, median | {statistics.median(search_s) * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
