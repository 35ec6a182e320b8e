"""Read replicas (DATABASE_READ_URLS): which one, if any, may serve a read-only request.

A request is sent to a replica only when all of these hold (otherwise the primary serves it):

- every operation of it is a query (a mutation, or anything that could be one, goes to the
  primary; `could_write`);
- the viewer was looked up on the primary: who a bearer token stands for, its role and its
  grants are always read there, in the request's first transaction, so a revoked session or
  grant is refused at once whatever the replicas have replayed;
- the replica has replayed the viewer's own last write: after a request with a mutation
  commits, the primary's WAL position is recorded on the credential (`write_lsn`, taken after
  the commit, so at or past it) and compared with the replica's `pg_last_wal_replay_lsn()`
  (read your writes, on every instance: the position is in the database, not in a process);
- the replica is up and no more than DB_REPLICA_MAX_LAG_BYTES of WAL behind the primary.

A monitor polls every replica's replay position and the primary's current one every
DB_REPLICA_CHECK_SECONDS. Positions only grow, so a position read a moment ago is a safe lower
bound. A replica that is down or lagging is skipped: a WARNING line when it goes (and an INFO
line when it is back), `portal_graph_db_replica_skipped_total{replica,reason}` for each request
it did not serve, and its lag in `portal_graph_db_replica_lag_bytes`. A request whose replica
fails under it (the database went away) is answered by the primary instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.db.session import RequestSession
from portal_graph.observability.metrics import READS_SERVED, REPLICA_LAG, REPLICA_SKIPPED
from portal_graph.observability.pool import ObservedPool

log = logging.getLogger("portal_graph.replicas")

_PRIMARY_POSITION = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
_REPLAYED = text("SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint")
_MUTATION = re.compile(r"\bmutation\b")
UP, DOWN, LAGGING = "up", "down", "lagging"


def could_write(document: str) -> bool:
    """Whether a GraphQL document may hold a mutation: the word anywhere (in a string, a
    comment, a name) counts, which only ever sends a read to the primary."""
    return _MUTATION.search(document) is not None


@dataclass
class Replica:
    name: str  # replica0, replica1...: a metrics label that carries no address or password
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[RequestSession]
    replayed: int | None = None  # WAL position replayed, as last seen
    lag_bytes: int | None = None
    state: str = DOWN  # until the monitor has seen it

    def note(self, state: str, detail: str) -> None:
        if state == self.state:
            return
        if state == UP:
            log.info("read replica %s is back: it serves reads again", self.name)
        else:
            log.warning("read replica %s skipped: %s", self.name, detail)
        self.state = state


@dataclass
class ReadReplicas:
    settings: Settings
    primary: AsyncEngine
    replicas: list[Replica] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    _turn: int = 0

    @classmethod
    def create(cls, settings: Settings, primary: AsyncEngine) -> ReadReplicas:
        from portal_graph.db.engine import make_engine, make_sessionmaker

        replicas = []
        for number, url in enumerate(settings.read_urls):
            name = f"replica{number}"
            # Through PgBouncer or not, like the primary (DB_PGBOUNCER holds for all).
            engine = make_engine(settings, url, name=f"portal-graph-{name}",
                                 poolclass=ObservedPool)
            replicas.append(Replica(name, engine,
                                    make_sessionmaker(engine, settings.db_request_role)))
        return cls(settings, primary, replicas)

    def __bool__(self) -> bool:
        return bool(self.replicas)

    async def choose(self, write_lsn: int | None) -> Replica | None:
        """A replica that may serve a viewer whose last write is at `write_lsn`, or None. One
        that looked behind that write at the last check is asked again (one round trip): a
        write made a moment ago is often replayed already."""
        chosen = None
        for offset in range(len(self.replicas)):
            replica = self.replicas[(self._turn + offset) % len(self.replicas)]
            reason = self._unfit(replica, write_lsn)
            if reason == "behind_session":
                with contextlib.suppress(Exception):
                    seen = await self._replayed(replica)
                    replica.replayed = max(seen or 0, replica.replayed or 0)
                reason = self._unfit(replica, write_lsn)
            if reason is None:
                chosen = replica
                break
            REPLICA_SKIPPED.labels(replica.name, reason).inc()
        self._turn += 1
        READS_SERVED.labels("replica" if chosen else "primary").inc()
        return chosen

    @staticmethod
    def _unfit(replica: Replica, write_lsn: int | None) -> str | None:
        if replica.state != UP or replica.replayed is None:
            return replica.state if replica.state != UP else DOWN
        if write_lsn is not None and replica.replayed < write_lsn:
            return "behind_session"
        return None

    def failed(self, replica: Replica, error: BaseException) -> None:
        """A request's replica went away under it: skip it until the monitor sees it again."""
        replica.note(DOWN, f"down ({type(error).__name__}); the primary answers")

    # --- the monitor ---------------------------------------------------------------------

    async def start(self) -> None:
        if self.replicas and self._task is None:
            await self.check()
            self._task = asyncio.create_task(self._watch(), name="read-replicas")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop()
        for replica in self.replicas:
            await replica.engine.dispose()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.db_replica_check_seconds)
            try:
                await self.check()
            except Exception as error:  # the primary is away: keep the last view, try again
                log.debug("replica check skipped: %s", type(error).__name__)

    async def check(self) -> None:
        """Read every replica's replayed position, then the primary's (so a replica never
        looks ahead of it), and mark each up, lagging or down."""
        replayed = await asyncio.gather(*(self._replayed(r) for r in self.replicas),
                                        return_exceptions=True)
        async with self.primary.connect() as conn:
            primary = int((await conn.execute(_PRIMARY_POSITION)).scalar_one())
        bound = self.settings.db_replica_max_lag_bytes
        for replica, seen in zip(self.replicas, replayed, strict=True):
            if isinstance(seen, BaseException) or seen is None:
                replica.note(DOWN, f"down ({type(seen).__name__ if seen else 'not a standby'})")
                continue
            replica.replayed = max(seen, replica.replayed or 0)
            replica.lag_bytes = max(primary - seen, 0)
            REPLICA_LAG.labels(replica.name).set(replica.lag_bytes)
            if replica.lag_bytes > bound:
                replica.note(LAGGING, f"{replica.lag_bytes} bytes of WAL behind the primary "
                                      f"(DB_REPLICA_MAX_LAG_BYTES {bound})")
            else:
                replica.note(UP, "")

    async def _replayed(self, replica: Replica) -> Any:
        async with asyncio.timeout(min(self.settings.db_replica_check_seconds + 1.0, 2.0)):
            async with replica.engine.connect() as conn:
                value = (await conn.execute(_REPLAYED)).scalar_one()
        return None if value is None else int(value)
