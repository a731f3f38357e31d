"""Claims (issue 17), at a million pictures through the real write path:
- search latency p50/p99 of whole-image queries (goal 50 / 250 ms) and of crop queries (goal
  150 / 500 ms) on 2 cores, in one process, and that process's memory (goal <= 4 GiB);
- time to open the index (load its FAISS segments);
- `dupes` over the whole index (goal <= 15 min);
- adding 1,000 pictures to it (goal: seconds, not a rebuild).

The pictures: the 162 shared photos, described for real, then replicated with small
perturbations (the descriptor jittered, 3% of the tile-hash bits flipped) through
`Index.add_records`, the write path of `lookalike index` (batched transactions, each with its
FAISS segments, merged by tiers). Each copy's path is a symlink to its photo, so refinement reads
real pixels. Queries: JPEG q60 copies of photos (whole) and crops of 1/9-1/4 of their area.

Usage: python bench/million.py [--n 1000000] [--work DIR] [--queries 40]
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
from common import require_photos, table  # noqa: E402
from speed import timed_process  # noqa: E402
from store import SEARCHER, lookalike, make_queries  # noqa: E402


def build(directory: Path, n: int, photos: list[Path], start: int = 0) -> float:
    """Add ``n`` replicated pictures (numbered from ``start``) to the index at ``directory``."""
    from lookalike.indexer import Index
    from lookalike.indexer.catalog import ImageRecord
    from lookalike.indexer.describing import describe_file
    from lookalike.indexer.gridhash import GridHash
    from lookalike.models.io.files import scan

    files, _ = scan(photos)
    base = [describe_file(f).record for f in files]
    rng = np.random.default_rng(11 + start)
    links = directory.parent / f"{directory.name}-links"

    def records():
        for i in range(start, start + n):
            r = base[i % len(base)]
            v = r.vector + rng.normal(0, 0.02, r.vector.shape).astype(np.float32)
            v /= np.linalg.norm(v)
            flips = np.packbits(rng.random((len(r.region_hashes), r.region_hashes.shape[1] * 8)) < 0.03, axis=1)
            link = links / f"{i // 1000:04d}" / f"copy{i}{Path(r.path).suffix}"
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(r.path)
            yield ImageRecord(path=str(link), size=r.size, mtime_ns=r.mtime_ns, width=r.width, height=r.height,
                              vector=v, hash_hex=GridHash.from_vector(v).hex(), info=r.info,
                              region_boxes=r.region_boxes, region_hashes=np.bitwise_xor(r.region_hashes, flips),
                              region_low_info=r.region_low_info)

    t = time.perf_counter()
    with Index.open(directory, create=True) as ix:
        ix.add_records(records())
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=40)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    photos = require_photos()
    work = args.work or Path(tempfile.mkdtemp(prefix="million-"))
    work.mkdir(parents=True, exist_ok=True)
    ix = work / "ix"
    if not (work / "built.json").exists():
        secs = build(ix, args.n, photos)
        (work / "built.json").write_text(json.dumps({"seconds": secs}))
    built = json.loads((work / "built.json").read_text())
    size = sum(p.stat().st_size for p in ix.rglob("*") if p.is_file())
    print(f"{args.n:,} pictures written in {built['seconds']:.0f} s ({args.n / built['seconds']:.0f}/s), "
          f"{size / args.n / 1024:.1f} KiB a picture on disk", flush=True)

    qs = make_queries(photos, work / "queries", args.queries, seed=5, copy_quality=60)
    qfile = work / "queries.json"
    qfile.write_text(json.dumps(qs))
    res = json.loads(subprocess.run([sys.executable, "-c", SEARCHER, str(ix), str(qfile)], check=True,
                                    capture_output=True, text=True).stdout)
    times = np.array([r[0] for r in res["runs"]]) * 1000
    whole, crops = times[2::2], times[1::2]  # the first query (loads torch's kernels) apart
    print(table([[f"{res['images']:,}", f"{res['open_s']:.1f}", f"{times[0]:.0f}",
                  f"{np.median(whole):.0f} / {np.percentile(whole, 99):.0f}",
                  f"{np.median(crops):.0f} / {np.percentile(crops, 99):.0f}",
                  f"{res['peak_bytes'] / 2**30:.2f}", f"{res['after_bytes'] / res['images'] / 1024:.2f}"]],
                ["pictures", "open s", "first ms", "whole p50 / p99 ms", "crop p50 / p99 ms", "peak GiB",
                 "KiB/picture (index)"]), flush=True)

    secs, peak, out = timed_process(lookalike("dupes", "--index", str(ix), "--json"))
    groups = len(json.loads(out)["groups"])
    print(f"dupes over {args.n:,}: {secs:.0f} s, peak {peak / 2**30:.2f} GiB, {groups:,} groups "
          f"(goal <= 900 s: {'MET' if secs <= 900 else 'NOT MET'})", flush=True)

    t = build(ix, 1000, photos, start=args.n)
    print(f"adding 1,000 pictures to it: {t:.1f} s (the same write path)")


if __name__ == "__main__":
    main()
