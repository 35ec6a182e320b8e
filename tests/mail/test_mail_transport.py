"""Transports: SMTP to a real server, or .eml files when no server is configured."""

from __future__ import annotations

import email
import email.policy
import logging
import stat
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal_graph.config import Settings
from portal_graph.mail.secretbox import SecretBox
from portal_graph.mail.templates import RenderedEmail, build_message
from portal_graph.mail.transport import (
    FileTransport,
    SmtpTransport,
    transport_from_settings,
)
from portal_graph.mail.worker import OutboxWorker
from tests.mail.mail_support import MailDatabase, SmtpServer

LINK = "http://portal.test/accept/s3cr3t-token"

WorkerFactory = Callable[..., OutboxWorker]

MESSAGE = build_message(
    RenderedEmail(subject="Hello", text=f"Open {LINK}\n", html=f'<a href="{LINK}">open</a>'),
    "portal@example.com",
    "ana@example.com",
    message_id="<0192-abc@example.com>",
)


async def test_smtp_transport_delivers_to_the_server(smtp_server: SmtpServer) -> None:
    await SmtpTransport(smtp_server.url).send(MESSAGE)

    [received] = smtp_server.messages
    assert received["Subject"] == "Hello"
    assert received["To"] == "ana@example.com"


async def test_smtp_transport_raises_when_the_server_is_down(smtp_server: SmtpServer) -> None:
    smtp_server.stop()

    with pytest.raises(OSError):  # aiosmtplib's connection errors are OSErrors
        await SmtpTransport(smtp_server.url).send(MESSAGE)


def test_smtp_transport_never_shows_its_password() -> None:
    transport = SmtpTransport("smtps://user:hunter2@mail.example.com")

    assert repr(transport) == "SmtpTransport(smtps://mail.example.com:465)"


def test_smtp_url_without_a_host_is_refused() -> None:
    with pytest.raises(ValueError, match="smtp://host:port"):
        SmtpTransport("http://mail.example.com")


async def test_file_transport_writes_a_private_eml_and_logs_recipient_and_link(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    transport = FileTransport(tmp_path / "mail")

    # when
    with caplog.at_level(logging.INFO, logger="portal_graph.mail"):
        await transport.send(MESSAGE)

    # then
    path = tmp_path / "mail" / "0192-abc.eml"
    written = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert written["Subject"] == "Hello"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    [record] = [r for r in caplog.records if r.name == "portal_graph.mail"]
    assert "ana@example.com" in record.getMessage()
    assert LINK in record.getMessage()


async def test_the_worker_with_file_transport_names_each_file_after_its_outbox_id(
    db: MailDatabase,
    organization_id: UUID,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    box: SecretBox,
    tmp_path: Path,
) -> None:
    # given
    email_id = await db.queue_invitation_email(organization_id, link=LINK)
    worker = OutboxWorker(sessionmaker, settings, box, FileTransport(tmp_path))

    # when
    await worker.run_once()

    # then
    assert file_names(tmp_path) == [f"{email_id}.eml"]
    assert LINK in (tmp_path / f"{email_id}.eml").read_text()


def test_without_smtp_url_mail_goes_to_the_mail_dir(settings: Settings) -> None:
    transport = transport_from_settings(settings.model_copy(update={"smtp_url": None}))

    assert isinstance(transport, FileTransport)
    assert transport.folder == settings.resolved_mail_dir


def test_with_smtp_url_mail_goes_to_the_server(settings: Settings) -> None:
    transport = transport_from_settings(
        settings.model_copy(update={"smtp_url": "smtp://mail.example.com:2525"})
    )

    assert repr(transport) == "SmtpTransport(smtp://mail.example.com:2525)"


def file_names(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())
