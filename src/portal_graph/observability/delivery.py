"""Counting what the outbox worker hands to the mail transport."""

from __future__ import annotations

from email.message import EmailMessage

from portal_graph.mail.transport import Transport
from portal_graph.observability.metrics import OUTBOX_DELIVERIES


class CountedTransport:
    """A transport that counts sends and failed sends, then behaves exactly like `inner`."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    async def send(self, message: EmailMessage) -> None:
        try:
            await self.inner.send(message)
        except BaseException:
            OUTBOX_DELIVERIES.labels("error").inc()
            raise
        OUTBOX_DELIVERIES.labels("sent").inc()

    def __repr__(self) -> str:  # the worker logs it; the inner one never shows a password
        return repr(self.inner)
