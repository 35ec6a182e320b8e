"""The connection pool, observed: how many connections are in use, beyond the pool size, and
waited for. A full pool is a busy server, not a dead one: /readyz ignores it (it connects on its
own) and /metrics shows it here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from portal_graph.observability.metrics import (
    DB_POOL_CHECKED_OUT,
    DB_POOL_OVERFLOW,
    DB_POOL_SIZE,
    DB_POOL_WAITING,
)


class ObservedPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's pool for asyncio, reporting to the `portal_graph_db_pool_*` gauges under its
    logging name (the engine's `pool_logging_name`, which make_engine sets to the connection's
    application_name)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._label = self.logging_name or "default"
        self._reported_checked_out = 0
        self._reported_overflow = 0
        DB_POOL_SIZE.labels(self._label).set(self.size())

    def _do_get(self) -> ConnectionPoolEntry:
        waiting = DB_POOL_WAITING.labels(self._label)
        waiting.inc()
        try:
            return super()._do_get()
        finally:
            waiting.dec()
            self._report()

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._report()

    def dispose(self) -> None:
        super().dispose()
        self._report()

    def _report(self) -> None:
        """Move the gauges by this pool's change, so that pools sharing a name add up."""
        checked_out, overflow = self.checkedout(), max(self.overflow(), 0)
        DB_POOL_CHECKED_OUT.labels(self._label).inc(checked_out - self._reported_checked_out)
        DB_POOL_OVERFLOW.labels(self._label).inc(overflow - self._reported_overflow)
        self._reported_checked_out, self._reported_overflow = checked_out, overflow
