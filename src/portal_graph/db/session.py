"""The request's AsyncSession. GraphQL resolves sibling fields concurrently and one session has
one connection, so database calls of a request are serialised here (they would be anyway on a
single connection; the lock turns "another operation is in progress" into waiting).

Each call also runs in a task of its own, shielded from the caller's cancellation. graphql-core
cancels the sibling fields of a field that fails; cancelling one of them mid-statement would
make asyncpg cancel the statement on the server, which aborts the request's transaction (its
writes would silently roll back at commit) and leaves the connection busy. Shielded, the
statement finishes and the transaction stays whole. `settled()` brackets the request: at its
end it waits for calls still running (a DataLoader batch can outlive the response), then
refuses new ones, so nothing touches the connection once it is committed and returned to the
pool; on an error or a deadline it cancels them instead.

Pooled connections are not pinged before use (that was a round trip per request). Instead the
session's FIRST statement, when it finds its connection dead (a database restart since the
connection was pooled), is run once more on a fresh connection: nothing had happened in the
transaction yet, so nothing is lost or done twice. A later statement that loses its connection
fails the request, as before (503).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

T = TypeVar("T")
# Loop turns for a DataLoader dispatch to reach the database: call_soon, dispatch, batch.
_DISPATCH_TURNS = 4


class RequestFinished(RuntimeError):
    """A database call after the request's transaction was settled."""


class RequestSession(AsyncSession):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task[Any]] = set()
        self._finished = False
        self._connection_used = False

    async def _call(self, call: Callable[..., Awaitable[T]], *args: Any,
                    _statement: bool = False, **kwargs: Any) -> T:
        task = asyncio.ensure_future(self._locked(call, _statement, *args, **kwargs))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _locked(self, call: Callable[..., Awaitable[T]], statement: bool, *args: Any,
                      **kwargs: Any) -> T:
        async with self._lock:
            if self._finished:
                raise RequestFinished("the request's database work is over")
            first, self._connection_used = not self._connection_used, True
            if first and statement:
                return await self._retried_once(call, *args, **kwargs)
            return await call(*args, **kwargs)

    # `scalars` and `stream_scalars` go through `execute`, so they are not wrapped again.
    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(super().execute, *args, _statement=True, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(super().scalar, *args, _statement=True, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._call(super().get, *args, _statement=True, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._call(super().flush, *args, **kwargs)

    async def refresh(self, *args: Any, **kwargs: Any) -> None:
        await self._call(super().refresh, *args, **kwargs)

    async def _retried_once(self, call: Callable[..., Awaitable[T]], *args: Any,
                            **kwargs: Any) -> T:
        """The session's first statement: once more on a fresh connection if the pooled one
        was found dead (nothing had run on it in this transaction)."""
        try:
            return await call(*args, **kwargs)
        except DBAPIError as error:
            if not error.connection_invalidated or not await self.run_sync(_drop_dead_connection):
                raise
        return await call(*args, **kwargs)

    async def finish(self) -> None:
        """Wait for the calls still running or about to start, then refuse any more."""
        while True:
            for _ in range(_DISPATCH_TURNS):
                await asyncio.sleep(0)
            if not self._running:
                break
            await asyncio.gather(*self._running, return_exceptions=True)
        self._finished = True

    async def abort(self) -> None:
        """Cancel the calls still running (the request failed or ran out of time)."""
        self._finished = True
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def settled(self) -> AsyncIterator[None]:
        """Inside the transaction: on leaving, no database call is left running."""
        try:
            yield
        except BaseException:
            await self.abort()
            raise
        await self.finish()


def _drop_dead_connection(session: Session) -> bool:
    """Detach the invalidated connection from the session's (root) transaction, so that its
    next statement checks a fresh one out of the pool and begins the transaction on it (the
    `after_begin` hooks run again). False when there is nothing that can be done safely: a
    savepoint is open, or no connection of the transaction was invalidated."""
    transaction = session.get_transaction()
    if transaction is None or session.in_nested_transaction():
        return False
    # SQLAlchemy keeps (connection, transaction, should_commit, autoclose) per bind, under the
    # connection and its engine; there is no public way to swap a dead one out.
    held = transaction._connections
    dead = {entry for entry in held.values() if entry[0].invalidated}
    if not dead:
        return False
    for key in [key for key, entry in held.items() if entry in dead]:
        del held[key]
    for connection, *_ in dead:
        connection.close()  # invalidated: no round trip, nothing goes back to the pool
    return True
