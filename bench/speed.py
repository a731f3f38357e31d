"""Claims (issue 2):
- `lookalike index` over about 2,000 JPEGs takes at most half the time of ImageHash
  phash + colorhash over the same files, each a whole process (imports included);
- search latency (median, p99) at 10k and 100k images;
- peak memory per 1,000 images while indexing.

The JPEGs are made from ../shared/data/photos: 12 variants per photo (random 80-100% crop,
longer side 640-1600 px, quality 85-95). Larger collections for the latency figures are made
by replicating described photos with small perturbations (their vectors jittered and 3% of
their hash bits flipped) through the index's own write path (``Index.add_records``), so the index, its tiles and
the refinement step are those of a real index of that size.

Usage: python bench/speed.py [--repeat 3] [--sizes 10000,100000] [--skip-index]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, require_photos, table  # noqa: E402

PEER = r"""
import sys, imagehash
from pathlib import Path
from PIL import Image
files = sorted(p for p in Path(sys.argv[1]).rglob("*.jpg"))
out = []
for f in files:
    with Image.open(f) as im:
        out.append((str(imagehash.phash(im)), str(imagehash.colorhash(im))))
print(len(out))
"""


def make_jpegs(paths, out: Path, per_photo: int = 12) -> list[Path]:
    rng = random.Random(5)
    files = []
    for i, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        for j in range(per_photo):
            w, h = im.size
            f = rng.uniform(0.8, 1.0)
            cw, ch = int(w * f), int(h * f)
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            v = im.crop((x, y, x + cw, y + ch))
            side = rng.randint(640, 1600)
            k = side / max(cw, ch)
            v = v.resize((max(1, round(cw * k)), max(1, round(ch * k))), Image.Resampling.BICUBIC)
            dst = out / f"{i:03d}" / f"v{j:02d}.jpg"
            dst.parent.mkdir(parents=True, exist_ok=True)
            v.save(dst, quality=rng.randint(85, 95))
            files.append(dst)
    return files


def _tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                parts = fh.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(d))
            rss[int(d)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def timed_process(cmd: list[str]) -> tuple[float, int, str]:
    """Wall time, peak resident memory of the process tree, stdout."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def watch():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.05)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    out, err = proc.communicate()
    elapsed = time.perf_counter() - t
    done.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {err[-2000:]}")
    return elapsed, peak, out


def bench_index(files_dir: Path, n_files: int, repeat: int, tmp: Path) -> None:
    lookalike = str(Path(sys.executable).with_name("lookalike"))
    ours, peers, peaks = [], [], []
    for r in range(repeat):
        t, peak, out = timed_process([lookalike, "index", str(files_dir), "--index", str(tmp / f"ix{r}"), "--json"])
        assert json.loads(out)["added"] == n_files, out[:300]
        ours.append(t)
        peaks.append(peak)
        t, _, out = timed_process([sys.executable, "-c", PEER, str(files_dir)])
        assert int(out.strip()) == n_files
        peers.append(t)
    ratio = median(ours) / median(peers)
    print(table(
        [["lookalike index (2 workers)", f"{median(ours):.1f}", f"{n_files / median(ours):.0f}"],
         ["ImageHash phash+colorhash", f"{median(peers):.1f}", f"{n_files / median(peers):.0f}"]],
        ["whole process", f"seconds, median of {repeat}", "images/s"],
    ))
    print(f"ratio lookalike/peer: {ratio:.2f}  goal <= 0.5: {'MET' if ratio <= 0.5 else 'NOT MET'}")
    print(f"peak memory while indexing {n_files} images: {median(peaks) / 2**20:.0f} MiB "
          f"({median(peaks) / 2**20 / n_files * 1000:.0f} MiB per 1,000 images; the process tree, workers included)")


def synthetic_index(directory: Path, n_images: int, seeds: list) -> None:
    """An index of ``n_images`` made by replicating described photos with perturbations; each
    copy is a symbolic link to its photo, so search can refine against its pixels."""
    from lookalike.indexer import Index
    from lookalike.indexer.catalog import ImageRecord
    from lookalike.indexer.describing import describe_file
    from lookalike.indexer.gridhash import GridHash
    from lookalike.models.io.files import scan

    rng = np.random.default_rng(11)
    files, _ = scan(seeds)
    base = [describe_file(f).record for f in files]
    links = directory.parent / f"{directory.name}-links"
    links.mkdir(parents=True, exist_ok=True)
    def records():
        for i in range(n_images):
            r = base[i % len(base)]
            if i >= len(base):
                v = r.vector + rng.normal(0, 0.02, r.vector.shape).astype(np.float32)
                v /= np.linalg.norm(v)
                flips = np.packbits(rng.random((len(r.region_hashes), r.region_hashes.shape[1] * 8)) < 0.03, axis=1)
                hashes = np.bitwise_xor(r.region_hashes, flips)
                link = links / f"copy{i}{Path(r.path).suffix}"
                if not link.exists():
                    link.symlink_to(r.path)
                r = ImageRecord(path=str(link), size=r.size, mtime_ns=r.mtime_ns, width=r.width,
                                height=r.height, vector=v, hash_hex=GridHash.from_vector(v).hex(), info=r.info,
                                region_boxes=r.region_boxes, region_hashes=hashes, region_low_info=r.region_low_info)
            yield r

    with Index.open(directory, create=True) as ix:
        ix.add_records(records())  # the write path of `index`: batched transactions with their FAISS segments


def bench_latency(sizes: list[int], photos: list[Path], tmp: Path) -> None:
    from lookalike.indexer import Index

    rng = random.Random(3)
    qdir = tmp / "queries"
    qdir.mkdir(exist_ok=True)
    queries = []
    for i, p in enumerate(rng.sample(photos, 40)):
        im = Image.open(p).convert("RGB")
        w, h = im.size
        if i % 2:
            cw, ch = w // 3, h // 3
            x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
            im = im.crop((x, y, x + cw, y + ch))
        q = qdir / f"q{i}.jpg"
        im.save(q, quality=85)
        queries.append(q)
    rows = []
    for n in sizes:
        d = tmp / f"lat{n}"
        t = time.perf_counter()
        synthetic_index(d, n, photos)
        build = time.perf_counter() - t
        with Index.open(d) as ix:
            info = ix.info()
            ix.search(queries[0])  # load the FAISS files and torch once
            times = []
            for q in queries:
                t = time.perf_counter()
                ix.search(q, k=5)
                times.append(time.perf_counter() - t)
        rows.append([f"{n:,}", f"{info.searchable_regions:,}", f"{info.image_index}/{info.region_index}",
                     f"{median(times) * 1000:.0f}", f"{np.percentile(times, 99) * 1000:.0f}", f"{build:.0f}"])
        print(f"  {n} images done", flush=True)
    print(table(rows, ["images", "tiles", "index kinds", "search median ms", "p99 ms", "build s"]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--skip-index", action="store_true")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    photos = require_photos()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if not args.skip_index:
            files = make_jpegs(photos, tmp / "jpegs")
            print(f"{len(files)} JPEGs, {sum(f.stat().st_size for f in files) / 2**20:.0f} MiB")
            bench_index(tmp / "jpegs", len(files), args.repeat, tmp)
        if not args.skip_latency:
            bench_latency([int(s) for s in args.sizes.split(",") if s], photos, tmp)


if __name__ == "__main__":
    main()
