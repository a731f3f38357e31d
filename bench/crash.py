"""Claim (issue 17): SIGKILL at random moments of `lookalike index` over 2,000 JPEGs leaves an
index that `verify` accepts after every kill, with no rebuild, and every file indexed exactly
once at the end.

Each round starts `lookalike index` and kills it (SIGKILL, the whole process group, workers
included) after a random delay up to the time the last run that ended took (at first, a whole
run over every file); then `lookalike verify` runs. When a run ends before its kill, a random fifth of the files get a new modification
time, so later runs replace pictures (tombstones, merges) while being killed. The JPEGs are
the overlapping cuts of bench/store.py.

Usage: python bench/crash.py [--kills 100] [--n 2000] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import require_photos  # noqa: E402
from store import lookalike, make_cuts  # noqa: E402


def run_index(jpegs: Path, ix: Path) -> subprocess.Popen:
    return subprocess.Popen(lookalike("index", str(jpegs), "--index", str(ix), "--json"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="crash-"))
    files = make_cuts(require_photos(), work / "jpegs", args.n, seed=3)
    ix = work / "ix"
    subprocess.run(["rm", "-rf", str(ix)], check=True)
    t = time.perf_counter()
    proc = run_index(work / "jpegs", work / "ix-full")
    proc.communicate()
    full = time.perf_counter() - t
    subprocess.run(["rm", "-rf", str(work / "ix-full")], check=True)
    print(f"{len(files)} JPEGs; a whole run takes {full:.0f} s", flush=True)
    rng = random.Random(99)
    kills = rounds = bad = completed = 0
    last = full
    problems: list[str] = []
    while kills < args.kills:
        rounds += 1
        proc = run_index(work / "jpegs", ix)
        delay = rng.uniform(0.0, last)  # within the time a run now takes (less once most is indexed)
        started = time.perf_counter()
        try:
            proc.wait(timeout=delay)
            completed += 1
            last = time.perf_counter() - started
            for f in rng.sample(files, len(files) // 5):  # more work for the next runs: replacements
                st = f.stat()
                os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        proc.communicate()
        if not (ix / "catalog.sqlite").exists():
            continue
        v = subprocess.run(lookalike("verify", "--index", str(ix), "--json"), capture_output=True, text=True)
        ok = v.returncode == 0 and json.loads(v.stdout)["ok"]
        if not ok:
            bad += 1
            problems.append((v.stdout or v.stderr).strip()[:300])
        if rounds % 10 == 0:
            print(f"  {rounds} rounds, {kills} kills, {bad} failed verifies", flush=True)
    proc = run_index(work / "jpegs", ix)
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-500:]
    info = json.loads(subprocess.run(lookalike("info", "--index", str(ix), "--json"), capture_output=True,
                                     text=True, check=True).stdout)
    v = json.loads(subprocess.run(lookalike("verify", "--index", str(ix), "--json"), capture_output=True,
                                  text=True).stdout)
    from lookalike.indexer import Index

    with Index.open(ix) as index:
        paths = list(index.catalog.iter_paths())
    once = len(paths) == len(set(paths)) == len(files)
    print(f"{kills} SIGKILLs in {rounds} runs ({completed} ran to the end first); verify failed after {bad} "
          f"of them{': ' + problems[0] if problems else ''}")
    print(f"at the end: {info['images']} pictures, {len(set(paths))} distinct paths of {len(files)} files, "
          f"verify ok: {v['ok']}, {info['segments']} segment files")
    print(f"goal (verify clean after every kill, every file exactly once): "
          f"{'MET' if bad == 0 and once and v['ok'] else 'NOT MET'}")


if __name__ == "__main__":
    main()
