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

The session also says whom its transaction acts for (db/tenancy.py): the organization whose
rows PostgreSQL's row-level security lets through, or a named system context. A change in the
middle of a request runs `exclusively`: holding the lock for the whole change, so no other
field's statement runs while the transaction acts for someone else.

Pooled connections are not pinged before use (that was a round trip per request). Instead the
session's FIRST statement, when it finds its connection dead (a database restart since the
connection was pooled), is run once more on a fresh connection: nothing had happened in the
transaction yet, so nothing is lost or done twice (the transaction's opening, which says whom
it acts for, runs again on the fresh connection). A later statement that loses its connection
fails the request, as before (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from portal_graph.db.tenancy import (
    APPLIED,
    APPLY,
    NOBODY,
    TENANCY,
    UNKNOWN,
    SystemContext,
    Tenancy,
    TenantSession,
)

T = TypeVar("T")
# The session whose lock the current task holds for an exclusive piece of work.
_holding: ContextVar[RequestSession | None] = ContextVar("portal_graph_holding", default=None)
# Loop turns for a DataLoader dispatch to reach the database: call_soon, dispatch, batch.
_DISPATCH_TURNS = 4


class RequestFinished(RuntimeError):
    """A database call after the request's transaction was settled."""


class RequestSession(AsyncSession):
    sync_session_class = TenantSession

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = asyncio.Lock()
        self._running: set[asyncio.Task[Any]] = set()
        self._finished = False
        self._connection_used = False

    async def _call(self, call: Callable[..., Awaitable[T]], *args: Any,
                    _statement: bool = False, **kwargs: Any) -> T:
        if _holding.get() is self:  # inside `exclusively`: the lock is ours already
            return await self._run(call, _statement, *args, **kwargs)
        task = asyncio.ensure_future(self._locked(call, _statement, *args, **kwargs))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return await asyncio.shield(task)

    async def _locked(self, call: Callable[..., Awaitable[T]], statement: bool, *args: Any,
                      **kwargs: Any) -> T:
        async with self._lock:
            if self._finished:
                raise RequestFinished("the request's database work is over")
            return await self._run(call, statement, *args, **kwargs)

    async def _run(self, call: Callable[..., Awaitable[T]], statement: bool, *args: Any,
                   **kwargs: Any) -> T:
        if call == self._hold:  # holding the lock for some work uses no connection by itself
            return await call(*args, **kwargs)
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

    # --- whom the transaction acts for (row-level security) -----------------------------------

    @property
    def tenancy(self) -> Tenancy:
        return self.info.get(TENANCY, NOBODY)  # type: ignore[no-any-return]

    async def set_tenancy(self, tenancy: Tenancy) -> None:
        """Act for `tenancy` from now on. Before the transaction's first statement this is only
        noted (its opening statement says it); later it costs one statement."""
        self.info[TENANCY] = tenancy
        applied = self.info.get(APPLIED)
        if applied is None or applied == tenancy:
            return
        self.info[APPLIED] = UNKNOWN
        await self.execute(APPLY, tenancy.params())
        self.info[APPLIED] = tenancy

    def entered(self, tenancy: Tenancy) -> None:
        """Record a change a statement made itself (the viewer lookup enters the viewer's
        organization in the same statement)."""
        self.info[TENANCY] = self.info[APPLIED] = tenancy

    async def exclusively(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` holding the session's lock (its statements still go through); when it
        is done the transaction acts again for whom it acted before."""
        if _holding.get() is self:
            return await self._restoring(work)
        return await self._call(self._hold, work)

    async def _hold(self, work: Callable[[], Awaitable[T]]) -> T:
        _holding.set(self)  # this task's own context: other fields' tasks never see it
        return await self._restoring(work)

    async def _restoring(self, work: Callable[[], Awaitable[T]]) -> T:
        before = self.tenancy
        try:
            result = await work()
        except BaseException:
            # The transaction or savepoint may be failed: a rollback resets the settings.
            with contextlib.suppress(Exception):
                await self.set_tenancy(before)
            raise
        await self.set_tenancy(before)
        return result

    async def as_system(self, context: SystemContext, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` in a named system context (see db/tenancy.py), then act as before."""

        async def in_context() -> T:
            await self.set_tenancy(Tenancy(self.tenancy.organization_id, context))
            return await work()

        return await self.exclusively(in_context)

    async def acting_for(self, organization_id: uuid.UUID,
                         work: Callable[[], Awaitable[T]]) -> T:
        """Run `work` for one organization (one found through a token), then act as before."""

        async def in_organization() -> T:
            await self.set_tenancy(Tenancy(organization_id))
            return await work()

        return await self.exclusively(in_organization)

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
