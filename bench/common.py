"""Helpers shared by the benchmarks: timing, medians, tables."""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def require_photos():
    from protocol import PHOTOS, photo_paths

    paths = photo_paths()
    if not paths:
        sys.exit(f"no photos under {PHOTOS}: this benchmark needs ../shared/data/photos")
    return paths


@contextmanager
def timer(out: list[float]):
    t = time.perf_counter()
    yield
    out.append(time.perf_counter() - t)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def single_thread() -> None:
    """In a benchmark worker process: one thread for torch and FAISS, so that several workers
    do not oversubscribe the cores (OpenMP spinning makes that many times slower)."""
    import faiss
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
