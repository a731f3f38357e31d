"""Claim (issue 3): `lookalike pattern` on 100,000 images of 28x28 finds the same images as
scipy.ndimage.binary_hit_or_miss over the whole stack and as a per-image OpenCV
MORPH_HITMISS loop, in at most a fifth of scipy's time as a whole process, torch import
included.

Images: 100,000 random 28x28 binary images made of a few strokes and noise (seeded), stored
as a (N, 784) uint8 .npy, as MNIST-like data usually is. Pattern: 1000/1111 (an L) with all
8 variants.

Usage: python bench/pattern.py [--n 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, table  # noqa: E402

PATTERN = "1000/1111"

SCIPY = r"""
import sys, numpy as np
from scipy import ndimage
spec = sys.argv[2]
rows = [[{'1': 1, '0': 0, '.': -1}[c] for c in r] for r in spec.split('/')]
p = np.array(rows)
x = np.load(sys.argv[1]).reshape(-1, 28, 28) > 127
found = np.zeros(len(x), bool)
seen = []
for k in range(8):
    v = np.rot90(np.fliplr(p) if k >= 4 else p, k % 4)
    if any(u.shape == v.shape and (u == v).all() for u in seen):
        continue
    seen.append(v)
    hm = ndimage.binary_hit_or_miss(x, structure1=(v == 1)[None], structure2=(v == 0)[None])
    found |= hm.reshape(len(x), -1).any(axis=1)
np.save(sys.argv[3], found)
"""

OPENCV = r"""
import sys, numpy as np, cv2
spec = sys.argv[2]
rows = [[{'1': 1, '0': -1, '.': 0}[c] for c in r] for r in spec.split('/')]
p = np.array(rows, np.int32)
x = (np.load(sys.argv[1]).reshape(-1, 28, 28) > 127).astype(np.uint8)
kernels = []
for k in range(8):
    v = np.ascontiguousarray(np.rot90(np.fliplr(p) if k >= 4 else p, k % 4))
    if not any(u.shape == v.shape and (u == v).all() for u in kernels):
        kernels.append(v)
found = np.zeros(len(x), bool)
for i, img in enumerate(x):
    for kern in kernels:
        if cv2.morphologyEx(img, cv2.MORPH_HITMISS, kern, borderType=cv2.BORDER_CONSTANT, borderValue=0).any():
            found[i] = True
            break
np.save(sys.argv[3], found)
"""


def make_stack(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28)) < 0.03
    for _ in range(4):  # strokes
        ys, xs = rng.integers(2, 26, n), rng.integers(2, 26, n)
        horiz = rng.random(n) < 0.5
        length = rng.integers(3, 10, n)
        for step in range(10):
            on = step < length
            yy = np.clip(ys + np.where(horiz, 0, step), 0, 27)
            xx = np.clip(xs + np.where(horiz, step, 0), 0, 27)
            x[np.arange(n)[on], yy[on], xx[on]] = True
    return (x.reshape(n, 784) * 255).astype(np.uint8)


def in_process(stack: np.ndarray, repeat: int) -> dict[str, float]:
    """Median seconds of the computation alone, data already in memory, imports done."""
    from scipy import ndimage

    from lookalike.models import parse_pattern, pattern_hits, pattern_variants

    x = stack.reshape(-1, 28, 28)
    xb = x > 127

    def scipy_stack() -> np.ndarray:
        found = np.zeros(len(xb), bool)
        for _, v in pattern_variants(parse_pattern(PATTERN)):
            hm = ndimage.binary_hit_or_miss(xb, structure1=(v == 1)[None], structure2=(v == 0)[None])
            found |= hm.reshape(len(xb), -1).any(axis=1)
        return found

    out = {}
    for name, fn in (("lookalike pattern_hits", lambda: pattern_hits(x, PATTERN).found()),
                     ("scipy binary_hit_or_miss", scipy_stack)):
        ts = []
        for _ in range(repeat):
            t = time.perf_counter()
            res = fn()
            ts.append(time.perf_counter() - t)
        out[name] = median(ts)
        out[name + " found"] = int(res.sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    lookalike = str(Path(sys.executable).with_name("lookalike"))
    with tempfile.TemporaryDirectory() as tmp:
        stack = f"{tmp}/stack.npy"
        np.save(stack, make_stack(args.n))
        times = {"lookalike pattern": [], "scipy binary_hit_or_miss (stack)": [], "OpenCV MORPH_HITMISS (loop)": []}
        found = {}
        for r in range(args.repeat):
            out = f"{tmp}/ours.jsonl"
            t = time.perf_counter()
            with open(out, "w") as fh:
                subprocess.run([lookalike, "pattern", stack, "--shape", "28x28", "--pattern", PATTERN, "--json"],
                               check=True, stdout=fh)
            times["lookalike pattern"].append(time.perf_counter() - t)
            with open(out) as fh:
                found["lookalike pattern"] = np.array([json.loads(l)["found"] for l in fh])
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", SCIPY, stack, PATTERN, f"{tmp}/scipy.npy"], check=True)
            times["scipy binary_hit_or_miss (stack)"].append(time.perf_counter() - t)
            found["scipy binary_hit_or_miss (stack)"] = np.load(f"{tmp}/scipy.npy")
            if r == 0:  # the OpenCV loop is slow; once is enough
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", OPENCV, stack, PATTERN, f"{tmp}/cv.npy"], check=True)
                times["OpenCV MORPH_HITMISS (loop)"].append(time.perf_counter() - t)
                found["OpenCV MORPH_HITMISS (loop)"] = np.load(f"{tmp}/cv.npy")
    inproc = in_process(make_stack(args.n), args.repeat)
    ours = found["lookalike pattern"]
    rows = []
    for name, ts in times.items():
        same = int((found[name] == ours).sum())
        rows.append([name, f"{median(ts):.2f}", str(len(ts)), f"{same}/{args.n}", str(int(found[name].sum()))])
    print(f"{args.n} images of 28x28, pattern {PATTERN}, all 8 variants")
    print(table(rows, ["whole process", "seconds (median)", "runs", "same found/not-found as lookalike", "images found"]))
    ratio = median(times["lookalike pattern"]) / median(times["scipy binary_hit_or_miss (stack)"])
    print(f"ratio lookalike/scipy: {ratio:.3f}  goal <= 0.2: {'MET' if ratio <= 0.2 else 'NOT MET'}")
    a, b = inproc["lookalike pattern_hits"], inproc["scipy binary_hit_or_miss"]
    print(f"in process (computation only, median of {args.repeat}): lookalike {a:.3f} s "
          f"({inproc['lookalike pattern_hits found']} found), scipy {b:.3f} s "
          f"({inproc['scipy binary_hit_or_miss found']} found), ratio {a / b:.3f}")


if __name__ == "__main__":
    main()
