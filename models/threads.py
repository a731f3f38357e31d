"""Many small tensor jobs at once: one torch thread per job, the jobs side by side.

Locating a crop runs dozens of small FFTs and element-wise passes on maps of a few hundred
pixels a side. Split over torch's intra-op threads they wait on each other more than they
work (on a 2-core machine, a search ran 2x faster with one torch thread than with two, and
far worse when the machine's cores were shared); run as whole jobs side by side, one torch
thread each, every core does useful work.
"""

from __future__ import annotations

__all__ = ["ThreadSetting", "job_workers", "run_jobs", "torch_threads"]

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class ThreadSetting:
    """A process-wide thread count (torch's intra-op threads, FAISS's OpenMP threads) lowered
    while inside :meth:`lowered`: nested and concurrent users share one lowered value, and the
    last to leave restores the value the first one found."""

    def __init__(self, get: Callable[[], int], set_: Callable[[int], None]) -> None:
        self._get, self._set = get, set_
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0

    @contextmanager
    def lowered(self, n: int) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = self._get()
                self._set(n)
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._set(self._saved)


def _torch_get() -> int:
    import torch

    return torch.get_num_threads()


def _torch_set(n: int) -> None:
    import torch

    torch.set_num_threads(n)


#: torch's setting is one for the whole process, so is this mirror of it (a lock and a count)
_TORCH = ThreadSetting(_torch_get, _torch_set)


def torch_threads(n: int):
    """A context manager: torch's intra-op threads set to ``n`` while inside (process-wide, as
    torch has it)."""
    return _TORCH.lowered(n)


def job_workers(n_jobs: int, limit: int | None = None) -> int:
    """Threads worth starting for ``n_jobs`` jobs: the cores this process may use, at most
    ``limit`` (default: no limit) and at most the jobs."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(n_jobs, cores, limit if limit is not None else cores))


def run_jobs(fn: Callable[[T], R], items: Sequence[T], workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in that order, the calls side by side on ``workers`` threads
    (default :func:`job_workers`) with one torch thread each. An exception in a call is raised
    here, after the calls running have ended."""
    items = list(items)
    workers = job_workers(len(items)) if workers is None else max(1, min(workers, len(items)))
    with torch_threads(1):
        if workers <= 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lookalike-job") as pool:
            return list(pool.map(fn, items))
