"""Trusted documents: GraphQL operations stored ahead of time and sent by their SHA-256.

`portal-graph documents add` stores a file's text under `sha256:<hex of its UTF-8 bytes>`;
a client then sends `{"documentId": "sha256:…", "variables": …}` (the GraphQL-over-HTTP
persisted documents convention). Audiences named in TRUSTED_DOCUMENTS may send nothing else.

The id is the hash of the text, so a body once read can never be stale: each process keeps
the bodies it has read (a bounded cache), and only an id it has not seen costs a query.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models

DOCUMENT_ID = re.compile(r"sha256:[0-9a-f]{64}")
CACHE_SIZE = 1024


def document_id(body: str) -> str:
    """The id of a document: the SHA-256 of its exact text, UTF-8 encoded."""
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()


def is_document_id(value: str) -> bool:
    return DOCUMENT_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class StoredDocument:
    id: str
    operation_names: tuple[str, ...]
    created_at: datetime


class TrustedDocuments:
    """Per process: the bodies read so far, by id."""

    def __init__(self, cache_size: int = CACHE_SIZE) -> None:
        self._bodies: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size

    def cached(self, id_: str) -> str | None:
        """The text of `id_` if this process has read it, without asking the database."""
        return self._bodies.get(id_)

    async def body(self, session: AsyncSession, id_: str) -> str | None:
        """The stored text of `id_`, or None when no such document is stored."""
        cached = self._bodies.get(id_)
        if cached is not None:
            self._bodies.move_to_end(id_)
            return cached
        if not is_document_id(id_):
            return None
        body = (await session.execute(
            select(models.TrustedDocument.body).where(models.TrustedDocument.id == id_)
        )).scalar_one_or_none()
        if body is not None:
            self._bodies[id_] = body
            if len(self._bodies) > self._cache_size:
                self._bodies.popitem(last=False)
        return body


async def store(session: AsyncSession, body: str,
                operation_names: Sequence[str]) -> tuple[str, bool]:
    """Store a document (already checked against the schema); its id, and whether it is new."""
    id_ = document_id(body)
    inserted = (await session.execute(
        insert(models.TrustedDocument)
        .values(id=id_, body=body, operation_names=list(operation_names))
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(models.TrustedDocument.id)
    )).scalar_one_or_none()
    return id_, inserted is not None


async def stored(session: AsyncSession) -> list[StoredDocument]:
    rows = (await session.execute(
        select(models.TrustedDocument.id, models.TrustedDocument.operation_names,
               models.TrustedDocument.created_at)
        .order_by(models.TrustedDocument.created_at, models.TrustedDocument.id)
    )).all()
    return [StoredDocument(row.id, tuple(row.operation_names), row.created_at) for row in rows]
