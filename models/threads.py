"""Many small tensor jobs at once: one torch thread per job, the jobs side by side.

Locating a crop runs dozens of small FFTs and element-wise passes on maps of a few hundred
pixels a side. Split over torch's intra-op threads they wait on each other more than they
work (on a 2-core machine, a search ran 2x faster with one torch thread than with two, and
far worse when the machine's cores were shared); run as whole jobs side by side, one torch
thread each, every core does useful work.
"""

from __future__ import annotations

__all__ = ["job_workers", "run_jobs", "torch_threads"]

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _ThreadSetting:
    """torch's intra-op thread count is one setting for the whole process: nested and
    concurrent users share one lowered value, and the last to leave restores the first one's."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.saved = 0


_SETTING = _ThreadSetting()  # the one process-wide torch setting it mirrors; holds no data


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op threads set to ``n`` while inside (process-wide, as torch has it)."""
    import torch

    with _SETTING.lock:
        if _SETTING.users == 0:
            _SETTING.saved = torch.get_num_threads()
            torch.set_num_threads(n)
        _SETTING.users += 1
    try:
        yield
    finally:
        with _SETTING.lock:
            _SETTING.users -= 1
            if _SETTING.users == 0:
                torch.set_num_threads(_SETTING.saved)


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
