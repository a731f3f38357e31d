"""Issue 16's peer: what a user would write today, OpenCV SIFT + RANSAC over every pair of
pictures, beside `dupes --regions --within`, on a 100-picture subset of bench/splice.py's
collection (30 pasted pairs, 10 copy-move pictures, 10 rotated/mirrored pastes with their
sources, 10 distractors), same scoring: a reported pair is right when it names the two pictures
and both boxes have IoU >= 0.5 with the truth.

The peer: SIFT keypoints (OpenCV defaults), Lowe's ratio test (0.75) on 2 nearest neighbours,
a partial affine transform (rotation, scale, shift) by RANSAC (3 px), a pair when at least 10
inliers agree, each box the inliers' bounding box. Copy-move: a picture against itself, the
nearest neighbour that is not the keypoint itself, at least 10 px away.

Usage: python bench/splice_peer.py --work DIR (bench/splice.py's folder; made when missing)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lookalike.indexer.keymatch import box_iou

sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parent.parent
MIN_INLIERS = 10


def subset(truth: dict, seed: int = 16) -> tuple[list[str], dict]:
    rng = random.Random(seed)
    pairs = rng.sample(truth["pairs"], 30)
    cms = rng.sample(truth["copy_moves"], 10)
    negs = rng.sample(truth["negatives"], 10)
    distractors = rng.sample([k for k, v in truth["pictures"].items() if v["kind"] == "distractor"], 10)
    names = ([p["host"] for p in pairs] + [p["source"] for p in pairs] + [c["picture"] for c in cms]
             + [n["host"] for n in negs] + [n["source"] for n in negs] + distractors)
    return names, {"pairs": pairs, "copy_moves": cms, "negatives": negs}


def score(found: list[tuple[str, list, str, list]], truth: dict) -> dict:
    expected = {frozenset([p["host"], p["source"]]): (p["host"], p["host_box"], p["source"], p["source_box"])
                for p in truth["pairs"]}
    expected.update({frozenset([c["picture"]]): (c["picture"], c["target_box"], c["picture"], c["source_box"])
                     for c in truth["copy_moves"]})
    negatives = {frozenset([n["host"], n["source"]]) for n in truth["negatives"]}
    right, neg = set(), 0
    for a, ba, b, bb in found:
        key = frozenset([a, b])
        neg += key in negatives
        want = expected.get(key)
        if want and any(pa == want[0] and pb == want[2] and box_iou(x, want[1]) >= 0.5
                        and box_iou(y, want[3]) >= 0.5
                        for pa, x, pb, y in ((a, ba, b, bb), (b, bb, a, ba))):
            right.add(key)
    strict = sum(1 for a, _, b, _ in found if frozenset([a, b]) in right)
    return {"pairs": sum(frozenset([p["host"], p["source"]]) in right for p in truth["pairs"]),
            "copy_moves": sum(frozenset([c["picture"]]) in right for c in truth["copy_moves"]),
            "reported": len(found), "right": strict, "negatives": neg}


def sift_peer(folder: Path, names: list[str]) -> list[tuple[str, list, str, list]]:
    import cv2

    sift = cv2.SIFT_create()
    feats = {}
    for n in names:
        gray = cv2.imread(str(folder / n), cv2.IMREAD_GRAYSCALE)
        kps, desc = sift.detectAndCompute(gray, None)
        feats[n] = (np.float32([k.pt for k in kps]), desc)
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    out = []
    for x, a in enumerate(names):
        pa, da = feats[a]
        for b in names[x:]:
            pb, db = feats[b]
            if da is None or db is None or len(da) < 2 or len(db) < 3:
                continue
            good = []
            if a == b:
                for m in matcher.knnMatch(da, db, k=3):
                    rest = [r for r in m if r.trainIdx != r.queryIdx]
                    if len(rest) >= 2 and rest[0].distance < 0.75 * rest[1].distance and \
                            np.hypot(*(pa[rest[0].queryIdx] - pb[rest[0].trainIdx])) > 10:
                        good.append(rest[0])
            else:
                for m in matcher.knnMatch(da, db, k=2):
                    if len(m) == 2 and m[0].distance < 0.75 * m[1].distance:
                        good.append(m[0])
            if len(good) < MIN_INLIERS:
                continue
            src = np.float32([pa[m.queryIdx] for m in good])
            dst = np.float32([pb[m.trainIdx] for m in good])
            model, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
            if model is None or inl is None or inl.sum() < MIN_INLIERS:
                continue
            s, d = src[inl.ravel() == 1], dst[inl.ravel() == 1]

            def box(p):
                x0, y0 = p.min(0)
                x1, y1 = p.max(0)
                return [int(x0), int(y0), int(x1 - x0) + 1, int(y1 - y0) + 1]

            out.append((a, box(s), b, box(d)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args()
    pics = args.work / "pictures"
    if not (pics / "truth.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "splice.py"), "--work", str(args.work)], check=True)
    truth = json.loads((pics / "truth.json").read_text())
    names, sub = subset(truth)
    from lookalike.indexer import Index

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "subset"
        folder.mkdir()
        for n in names:
            shutil.copy(pics / n, folder / n)
        t = time.perf_counter()
        with Index.open(Path(tmp) / "ix", create=True) as ix:
            ix.add([folder], keypoints=True)
            t_index = time.perf_counter() - t
            rep = ix.duplicates(regions=True, within=True)
        t_ours = time.perf_counter() - t
        ours = [(os.path.basename(r.a.path), list(r.a.box), os.path.basename(r.b.path), list(r.b.box))
                for r in rep.regions]
        rows.append(("lookalike `index --regions` + `dupes --regions --within`", score(ours, sub), t_ours,
                     f" (index {t_index:.0f} s)"))
        t = time.perf_counter()
        peer = sift_peer(folder, names)
        rows.append(("OpenCV SIFT + ratio test + RANSAC, all pairs", score(peer, sub), time.perf_counter() - t, ""))
    print(f"{len(names)} pictures: {len(sub['pairs'])} pasted pairs, {len(sub['copy_moves'])} copy-move, "
          f"{len(sub['negatives'])} rotated/mirrored pastes")
    print("| method | pasted pairs found | copy-move found | precision | rotated/mirrored reported | time |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, s, sec, extra in rows:
        print(f"| {name} | {s['pairs']}/{len(sub['pairs'])} | {s['copy_moves']}/{len(sub['copy_moves'])} | "
              f"{s['right']}/{s['reported']} | {s['negatives']}/{len(sub['negatives'])} | {sec:.0f} s{extra} |")


if __name__ == "__main__":
    main()
