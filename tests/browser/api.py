"""Calling the served API from the tests, as a partner or an SPA would."""

from __future__ import annotations

from typing import Any

import httpx

ADMIN_EMAIL, ADMIN_PASSWORD = "office@oakfield.example", "office-admin-password"


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, query: str, variables: dict[str, Any] | None = None,
                      token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json={"query": query,
                                                            "variables": variables or {}},
                                          headers=headers)
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]  # type: ignore[no-any-return]

    async def is_refused(self, token: str) -> bool:
        """Whether a bearer token is dead: answered 401 `invalid_token` whatever it asks."""
        response = await self.client.post("/graphql", json={"query": "{ __typename }"},
                                          headers={"Authorization": f"Bearer {token}"})
        return (response.status_code == 401
                and response.headers.get("WWW-Authenticate") == 'Bearer error="invalid_token"')
