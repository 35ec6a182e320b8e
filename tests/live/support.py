"""A graphql-transport-ws client for the live tests (the `websockets` library)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

PROTOCOL = "graphql-transport-ws"
_ids = itertools.count(1)


class LiveClient:
    """One WebSocket to /graphql: init, subscribe, read messages, see how it closed."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    @classmethod
    async def open(cls, base_url: str, token: str | None, *, ack: bool = True) -> LiveClient:
        url = base_url.replace("http://", "ws://") + "/graphql"
        client = cls(await connect(url, subprotocols=[PROTOCOL]))  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await client.send({"type": "connection_init", "payload": payload})
        if ack:
            message = await client.receive()
            assert message == {"type": "connection_ack"}, message
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(orjson.dumps(message).decode())

    async def receive(self, wait: float = 5) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            return orjson.loads(await self.socket.recv())  # type: ignore[no-any-return]

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        id_ = str(next(_ids))
        await self.send({"type": "subscribe", "id": id_,
                         "payload": {"query": query, "variables": variables or {}}})
        return id_

    async def until_quiet(self, quiet: float = 0.5, wait: float = 5) -> list[dict[str, Any]]:
        """Every message until none comes for `quiet` seconds (at least one)."""
        messages = [await self.receive(wait)]
        while True:
            try:
                messages.append(await self.receive(quiet))
            except TimeoutError:
                return messages

    async def nothing_within(self, seconds: float) -> bool:
        try:
            message = await self.receive(seconds)
        except TimeoutError:
            return True
        raise AssertionError(f"expected nothing, got {message}")

    async def closed_with(self, wait: float = 5) -> tuple[int | None, str]:
        """Read until the server closes; its close code and reason."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    await self.socket.recv()
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame else (None, "")

    async def close(self) -> None:
        await self.socket.close()


JOB_UPDATED = """subscription($customerId: ID) {
  jobUpdated(customerId: $customerId) { id reference status customer { name } }
}"""
INVITATION_UPDATED = "subscription { invitationUpdated { id status emailStatus } }"
EXTERNAL_USER_UPDATED = "subscription { externalUserUpdated { id status } }"
SET_STATUS = """mutation($id: ID!, $status: JobStatus!) {
  setJobStatus(input: {jobId: $id, status: $status}) { job { status } userErrors { code } }
}"""
