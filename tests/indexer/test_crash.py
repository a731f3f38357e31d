"""A run killed with SIGKILL at any moment leaves an index that opens; the next run resumes
with nothing duplicated or lost. Uses real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

from lookalike.indexer import Index
from lookalike.indexer.regions import tile_boxes


def _collection(d, make_scene, n):
    d.mkdir()
    for i in range(n):
        make_scene(3000 + i, (480, 360)).save(d / f"p{i:03d}.jpg", quality=85)


def _run_index(photos, index_dir):
    code = (
        "import sys; from lookalike.indexer import Index\n"
        f"ix = Index.open({str(index_dir)!r}, create=True)\n"
        f"ix.add([{str(photos)!r}], workers=1)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


N = 60


def test_sigkill_at_random_moments_then_resume(tmp_path, make_scene):
    photos = tmp_path / "photos"
    _collection(photos, make_scene, N)
    # how long one whole run takes here, so kills land anywhere in it
    t0 = time.perf_counter()
    assert _run_index(photos, tmp_path / "scratch").wait(timeout=300) == 0
    full = time.perf_counter() - t0
    index_dir = tmp_path / "ix"
    rng = np.random.default_rng(7)
    kills = 0
    for _ in range(8):
        proc = _run_index(photos, index_dir)
        time.sleep(float(rng.uniform(0.05, 1.0)) * full)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # whatever state the kill left, the index opens and is consistent with itself
        if (index_dir / "catalog.sqlite").exists():
            with Index.open(index_dir) as ix:
                n = ix.info().images
                assert n <= N
                assert ix.verify().ok  # the FAISS segments advance with the catalog: nothing to rebuild
                if n:
                    assert ix.search(photos / "p000.jpg", k=1) is not None
    assert kills >= 1
    proc = _run_index(photos, index_dir)
    assert proc.wait(timeout=300) == 0
    with Index.open(index_dir) as ix:
        info = ix.info()
        assert info.images == N
        assert ix.verify().ok
        per_image = len(tile_boxes(480, 360))
        assert info.regions == N * per_image  # no duplicated or orphaned tiles
        paths = list(ix.catalog.iter_paths())
        assert len(paths) == len(set(paths)) == N
        top = ix.search(photos / "p017.jpg", k=1)[0]
        assert top.path.endswith("p017.jpg") and top.match
