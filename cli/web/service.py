"""The index behind the review page: one thread owns the open :class:`Index` (SQLite
connections stay on the thread that made them), so requests queue for it instead of sharing."""

from __future__ import annotations

__all__ = ["IndexService"]

import asyncio
import concurrent.futures
from pathlib import Path
from typing import Any, Callable, TypeVar

from lookalike.models.errors import LookalikeError

T = TypeVar("T")


class IndexService:
    """Runs calls on the index in its own thread; opens the index on first use and again after
    a failure (a missing index that is made later is picked up without a restart)."""

    CACHE_ENTRIES = 8

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="lookalike-index")
        self._index: Any = None
        self._cache: dict[tuple, tuple[int, Any]] = {}

    def _open(self) -> Any:
        if self._index is None:
            from lookalike.indexer.index import Index

            self._index = Index.open(self.directory)
        return self._index

    async def run(self, fn: Callable[[Any], T]) -> T:
        """``fn(index)`` on the index thread, awaited."""
        return await asyncio.wrap_future(self._pool.submit(lambda: fn(self._open())))

    async def cached(self, key: tuple, fn: Callable[[Any], T]) -> T:
        """``fn(index)``, remembered until the catalog's generation moves (an add, a removal)."""
        def run() -> T:
            ix = self._open()
            gen = ix.catalog.generation
            hit = self._cache.get(key)
            if hit is not None and hit[0] == gen:
                return hit[1]
            value = fn(ix)
            self._cache.pop(key, None)
            self._cache[key] = (gen, value)
            while len(self._cache) > self.CACHE_ENTRIES:  # a score slider asks for many thresholds
                self._cache.pop(next(iter(self._cache)))
            return value
        return await asyncio.wrap_future(self._pool.submit(run))

    async def problem(self) -> LookalikeError | None:
        """Why the index cannot be used now (missing, unreadable), or None."""
        try:
            await self.run(lambda ix: None)
        except LookalikeError as exc:
            return exc
        return None

    def close(self) -> None:
        def shut() -> None:
            if self._index is not None:
                self._index.close()
                self._index = None
        try:
            self._pool.submit(shut).result(timeout=10)
        finally:
            self._pool.shutdown(wait=False)
