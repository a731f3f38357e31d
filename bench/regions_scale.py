"""Claim (issue 16): `dupes --regions` grows no faster than n log n, and 10,000 pictures take at
most 10 minutes on 2 cores.

The collections are made through the store's synthetic path: the pictures of bench/splice.py's
collection (real keypoints, real pixels) are written again as replicas until the index holds n
pictures. A replica keeps its original's keypoint places and scales, and its hashes are XORed
with a mask of its own, so within a replica the distances between hashes are the real ones
(the same textures collide in the same way) while two replicas share nothing; its whole-image
vector is random (no whole-image groups). Each replica is a symbolic link to its original file.
The real pictures are in every collection, so the pairs to verify on pixels are there too.

Usage: python bench/regions_scale.py [--sizes 1000,2000,5000,10000] [--work DIR]
(--work: where bench/splice.py keeps its collection; made there when missing)
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def synthetic(base_dir: Path, out: Path, n: int) -> None:
    from lookalike.indexer import Index
    from lookalike.indexer.catalog import ImageRecord
    from lookalike.indexer.descriptor import DESCRIPTOR_DIM
    from lookalike.indexer.gridhash import GridHash
    from lookalike.indexer.keymatch import pack_keypoints, unpack_keypoints

    rng = np.random.default_rng(16)
    links = out.parent / f"{out.name}-links"
    links.mkdir(parents=True, exist_ok=True)
    with Index.open(base_dir) as base:
        rows = base.catalog.conn.execute(
            "SELECT i.path, i.size, i.mtime_ns, i.width, i.height, i.info, k.data FROM images i "
            "JOIN keypoints k ON k.image_id = i.id ORDER BY i.id").fetchall()
    def records():
        for k in range(n):
            path, size, mtime, w, h, info, blob = rows[k % len(rows)]
            path = os.fsdecode(path)
            if k >= len(rows):
                xy, sc, hashes = unpack_keypoints(blob)
                mask = rng.integers(0, 256, hashes.shape[1], dtype=np.uint8)
                blob = pack_keypoints(xy, sc, hashes ^ mask)
                link = links / f"r{k}{Path(path).suffix}"
                if not link.exists():
                    link.symlink_to(path)
                path = str(link)
            v = rng.standard_normal(DESCRIPTOR_DIM).astype(np.float32)
            v /= np.linalg.norm(v)
            yield ImageRecord(
                path=path, size=size, mtime_ns=mtime, width=w, height=h, vector=v,
                hash_hex=GridHash.from_vector(v).hex(), info=info, region_boxes=np.zeros((0, 4), np.int64),
                region_hashes=np.zeros((0, 8), np.uint8), region_low_info=np.zeros(0, bool), keypoints=blob)

    with Index.open(out, create=True) as ix:
        ix.catalog.ensure_keypoint_table()
        with ix.catalog.transaction():
            ix.catalog.set_meta("keypoints", "1")
        ix.add_records(records())


TIMED = """
import sys, time, resource
from lookalike.indexer import Index
t = time.perf_counter()
with Index.open(sys.argv[1]) as ix:
    rep = ix.duplicates(regions=True, within=True)
print(time.perf_counter() - t, len(rep.regions), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,2000,5000,10000")
    ap.add_argument("--work", type=Path, required=True, help="bench/splice.py's --work folder")
    args = ap.parse_args()
    base = args.work / "ix"
    if not base.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "splice.py"), "--work", str(args.work)], check=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| pictures | keypoints | `dupes --regions --within` | per picture | pairs found | peak memory |")
    print("| --- | --- | --- | --- | --- | --- |")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            d = Path(tmp) / f"ix{n}"
            synthetic(base, d, n)
            from lookalike.indexer import Index

            with Index.open(d) as ix:
                keypoints = sum(len(b) // 38 for _, b in ix.catalog.keypoint_blobs())
            out = subprocess.run([sys.executable, "-c", TIMED, str(d)], capture_output=True, text=True, check=True)
            seconds, pairs, rss = out.stdout.split()
            seconds = float(seconds)
            results.append((n, seconds))
            print(f"| {n} | {keypoints} | {seconds:.0f} s | {seconds / n * 1000:.0f} ms | {pairs} | "
                  f"{float(rss) / 1024:.1f} GiB |", flush=True)
    if len(results) >= 2:
        (n0, t0), (n1, t1) = results[0], results[-1]
        print(f"\ngrowth from {n0} to {n1} pictures: time x{t1 / t0:.1f} for n x{n1 / n0:.0f} "
              f"(n log n: x{n1 * math.log(n1) / (n0 * math.log(n0)):.1f})")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"bench ran {time.perf_counter() - start:.0f} s", file=sys.stderr)
