"""One process's listener: a LISTEN connection of its own, fanning events out in process.

LISTEN needs a session of its own (PgBouncer's transaction pooling cannot carry it), so the hub
connects directly, with plain asyncpg, outside the request pool. When that connection is lost
(a database restart) the hub reconnects with backoff; notifications sent meanwhile are lost to
it, so every subscription is told it *missed* some (`Subscription.missed`), and its consumer
re-reads what it shows from the database instead of trusting the events it did get.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from portal_graph.events.kinds import Event
from portal_graph.events.repository import CHANNEL

log = logging.getLogger("portal_graph.events")
KEEPALIVE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 5.0
QUEUE_SIZE = 1000
APPLICATION_NAME = "portal-graph-events"


class Subscription:
    """The events of one organization (or of all, for `None`), in the order they were heard.

    Bounded: a consumer that falls more than QUEUE_SIZE events behind loses the oldest and is
    told so by `missed`, like one that was subscribed while the hub was reconnecting.
    """

    def __init__(self, hub: EventHub, organization_id: uuid.UUID | None) -> None:
        self._hub = hub
        self.organization_id = organization_id
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self.missed = False
        self.closed = False

    def deliver(self, event: Event) -> None:
        if self.organization_id is not None and event.organization_id != self.organization_id:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.missed = True
        self._queue.put_nowait(event)

    def lost_some(self) -> None:
        self.missed = True
        self._wake()

    def take_missed(self) -> bool:
        """Whether events were missed since the last call (and reset it)."""
        missed, self.missed = self.missed, False
        return missed

    async def next(self) -> Event | None:
        """The next event; None when the subscription closed or events were missed (check
        `take_missed()`). Wrap it in `asyncio.timeout` to wait a bounded time."""
        if self.closed:
            return None
        return await self._queue.get()

    def _wake(self) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub._subscriptions.discard(self)
            self._wake()


class EventHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._subscriptions: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()

    def subscribe(self, organization_id: uuid.UUID | None) -> Subscription:
        subscription = Subscription(self, organization_id)
        self._subscriptions.add(subscription)
        if not self.connected.is_set():
            subscription.missed = True  # whatever happens before we listen is not heard
        return subscription

    async def start(self) -> None:
        if self._task is None:
            self._stop.clear()
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for subscription in list(self._subscriptions):
            subscription.close()

    def _heard(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        try:
            event = Event.from_notification(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("event hub: ignored a notification it cannot read")
            return
        for subscription in list(self._subscriptions):
            subscription.deliver(event)

    async def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                connection = await asyncpg.connect(
                    self._dsn, timeout=5, server_settings={"application_name": APPLICATION_NAME})
            except (OSError, asyncpg.PostgresError, TimeoutError) as error:
                log.warning("event hub: cannot connect, will try again: %s",
                            type(error).__name__)
                await self._pause(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            lost = asyncio.Event()
            connection.add_termination_listener(_setter(lost))
            try:
                await connection.add_listener(CHANNEL, self._heard)
                self.connected.set()
                await self._keep_alive(connection, lost)
            except (OSError, asyncpg.PostgresError, TimeoutError,
                    asyncpg.InterfaceError) as error:
                log.warning("event hub: lost its connection, reconnecting: %s",
                            type(error).__name__)
            finally:
                self.connected.clear()
                for subscription in list(self._subscriptions):
                    subscription.lost_some()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)

    async def _keep_alive(self, connection: asyncpg.Connection, lost: asyncio.Event) -> None:
        """Until stopped: a closed connection is noticed at once (asyncpg tells), one that died
        silently by a round trip now and then."""
        while not self._stop.is_set():
            stopping = asyncio.ensure_future(self._stop.wait())
            closing = asyncio.ensure_future(lost.wait())
            try:
                await asyncio.wait({stopping, closing}, timeout=KEEPALIVE_SECONDS,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                closing.cancel()
            if self._stop.is_set():
                return
            if lost.is_set() or connection.is_closed():
                raise asyncpg.InterfaceError("the listening connection closed")
            await connection.execute("SELECT 1", timeout=5)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


def _setter(flag: asyncio.Event) -> Callable[[Any], None]:
    def set_flag(_: Any) -> None:
        flag.set()

    return set_flag
