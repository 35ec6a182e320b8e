"""Fixtures for the mail tests: a real SMTP server, a key box, an organization, workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.transport import SmtpTransport
from portal_graph.mail.worker import OutboxWorker
from tests.mail.mail_support import MailDatabase, SmtpServer


@pytest.fixture
def box(settings: Settings) -> SecretBox:
    return SecretBox.from_settings(settings)


@pytest.fixture
def make_worker(
    app_sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
    smtp_server: SmtpServer,
) -> Callable[..., OutboxWorker]:
    """A worker as the server runs it: the app's connection, bound by row-level security."""

    def make(**setting_overrides: Any) -> OutboxWorker:
        worker_settings = settings.model_copy(update=setting_overrides)
        return OutboxWorker(app_sessionmaker, worker_settings, box, SmtpTransport(smtp_server.url))

    return make


@pytest.fixture
def db(sessionmaker: async_sessionmaker[AsyncSession], box: SecretBox) -> MailDatabase:
    return MailDatabase(sessionmaker, box)


@pytest.fixture
async def organization_id(db: MailDatabase) -> UUID:
    return await db.add_organization()
