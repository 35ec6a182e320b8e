"""Fixtures for the invitation tests: an organization with an admin, a real SMTP server and an
outbox worker that delivers to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from portal_graph.mail.transport import SmtpTransport
from portal_graph.mail.worker import OutboxWorker
from tests.invitations.support import Org, organization
from tests.mail.mail_support import SmtpServer


@pytest.fixture
async def org(make: Any) -> Org:
    return await organization(make)


@pytest.fixture
def make_worker(sessionmaker: Any, settings: Any, runtime: Any,
                smtp_server: SmtpServer) -> Callable[..., OutboxWorker]:
    """A worker sending with the app's key to the test SMTP server."""

    def make(**setting_overrides: Any) -> OutboxWorker:
        worker_settings = settings.model_copy(update=setting_overrides)
        return OutboxWorker(sessionmaker, worker_settings, runtime.box,
                            SmtpTransport(smtp_server.url))

    return make
