"""Domain events: what happened to which row, told after the transaction commits.

A service that changes something other parts of the system (live subscriptions, webhooks)
care about calls `publish` inside its transaction. The event is a row of `domain_events` and a
`pg_notify` on one channel: PostgreSQL delivers a notification only when (and if) its
transaction commits, so nobody hears of a change that was rolled back, and every process and
instance listening on the database hears of every committed one. Events carry ids only; whoever
acts on one reads the rows again through its own scope.

`EventHub` is one process's listener: a connection of its own (LISTEN needs a session, so not
through PgBouncer's transaction pooling), fanning events out to in-process subscribers.
"""

from portal_graph.events.hub import EventHub, Subscription
from portal_graph.events.kinds import Event, EventKind
from portal_graph.events.publishing import on_publish, publish

__all__ = ["Event", "EventHub", "EventKind", "Subscription", "on_publish", "publish"]
