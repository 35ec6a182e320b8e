"""The loads of one level of a plan: each loader's keys in one call of its batch function.

What a DataLoader does for graphql-core (one statement per loader and level, a key loaded
once per request), without its future per key, which for the 1,000 connections of a 500-job
portal cost more than building their rows. The loaders are the request's own
(`context.loaders`), so the statements and their scope filters are exactly graphql-core's;
what a plan loaded is not in their DataLoader caches, so an operation handed to graphql-core
half way loads it again (only on that path: errors and what plans do not know).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any

from portal_graph.graphql.core.loaders import ScopedLoader


class Batches:
    def __init__(self) -> None:
        self._loaded: dict[int, dict[Hashable, Any]] = {}  # per loader: key -> value
        self._wanted: dict[int, tuple[ScopedLoader, dict[Hashable, None]]] = {}

    def want(self, loader: ScopedLoader, keys: list[Hashable]) -> Callable[[], list[Any]]:
        """Queue the keys not loaded yet; the returned function reads all of them after
        `load()`."""
        known = self._loaded.setdefault(id(loader), {})
        pending = self._wanted.setdefault(id(loader), (loader, {}))[1]
        for key in keys:
            if key not in known:
                pending[key] = None
        return lambda: [known[key] for key in keys]

    async def load(self) -> None:
        """Every queued batch, each one statement; all finish before a failure is raised."""
        calls = [(loader, list(keys)) for loader, keys in self._wanted.values() if keys]
        self._wanted = {}
        results = await asyncio.gather(*(loader.batch_load_fn(keys) for loader, keys in calls),
                                       return_exceptions=True)
        failure: BaseException | None = None
        for (loader, keys), result in zip(calls, results, strict=True):
            if isinstance(result, BaseException):
                failure = failure or result
                continue
            self._loaded[id(loader)].update(zip(keys, result, strict=True))
        if failure is not None:
            raise failure
