"""The request's AsyncSession. GraphQL resolves sibling fields concurrently and one session has
one connection, so database calls of a request are serialised here (they would be anyway on a
single connection; the lock turns "another operation is in progress" into waiting)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


class RequestSession(AsyncSession):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()

    # `scalars` and `stream_scalars` go through `execute`, so they are not wrapped again.
    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await super().execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await super().scalar(*args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        async with self._lock:
            return await super().get(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        async with self._lock:
            await super().flush(*args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        async with self._lock:
            await super().refresh(*args, **kwargs)
