"""Where sent email goes: an SMTP server, or (with no SMTP configured) a folder of .eml files."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from portal_graph.config import Settings

logger = logging.getLogger("portal_graph.mail")

# Saying goodbye after the message was accepted: brief, and its failure changes nothing.
SMTP_QUIT_SECONDS = 5.0


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Deliver or raise; raising means 'try again later'."""
        ...


@dataclass(frozen=True)
class SmtpDeadlines:
    connect: float  # up to and including the server's greeting
    command: float  # each command's reply
    message: float  # the whole message, from connecting to accepted

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpDeadlines:
        return cls(connect=settings.smtp_connect_timeout_seconds,
                   command=settings.smtp_command_timeout_seconds,
                   message=settings.smtp_message_timeout_seconds)

    @classmethod
    def defaults(cls) -> SmtpDeadlines:
        """The settings' defaults, whatever the environment says."""
        fields = Settings.model_fields
        return cls(connect=fields["smtp_connect_timeout_seconds"].default,
                   command=fields["smtp_command_timeout_seconds"].default,
                   message=fields["smtp_message_timeout_seconds"].default)


class SmtpTransport:
    """smtp://[user:password@]host[:port] (STARTTLS when offered), or smtps:// (TLS throughout).

    Every step has a deadline, and so has the whole message: a server that accepts the
    connection and then never answers costs one failed attempt, not a stuck worker.
    """

    def __init__(self, url: str, deadlines: SmtpDeadlines | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP URL must look like smtp://host:port")
        self._use_tls = parts.scheme == "smtps"
        self._hostname = parts.hostname
        self._port = parts.port or (465 if self._use_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.deadlines = deadlines or SmtpDeadlines.defaults()

    async def send(self, message: EmailMessage) -> None:
        # One connection per message: volume is low, and nothing is left half-open between polls.
        client = aiosmtplib.SMTP(hostname=self._hostname, port=self._port,
                                 use_tls=self._use_tls, username=self._username,
                                 password=self._password, timeout=self.deadlines.command)
        deadline = asyncio.timeout(self.deadlines.message)
        try:
            async with deadline:
                await client.connect(timeout=self.deadlines.connect)
                await client.send_message(message)
        except BaseException as error:
            client.close()
            if isinstance(error, TimeoutError) and deadline.expired():
                raise aiosmtplib.SMTPTimeoutError(
                    f"no answer within the {self.deadlines.message:g} s message deadline"
                ) from None
            raise
        # Accepted: the message is out, whatever QUIT does.
        with contextlib.suppress(Exception):
            await client.quit(timeout=SMTP_QUIT_SECONDS)
        client.close()

    def __repr__(self) -> str:  # never shows the password
        scheme = "smtps" if self._use_tls else "smtp"
        return f"SmtpTransport({scheme}://{self._hostname}:{self._port})"


class FileTransport:
    """Development delivery: each message becomes `<outbox id>.eml` in a private folder.

    It also logs the recipient and the link, because with no mail server that log line is how a
    developer follows an invitation. The same link is in the .eml file anyway; production sets
    SMTP_URL and never takes this path.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        path = self.folder / f"{_file_stem(message)}.eml"
        await asyncio.to_thread(_write_private, path, message.as_bytes())
        links = _links(message)
        logger.info(
            "email to %s written to %s; link: %s",
            message["To"],
            path,
            links[0] if links else "(none)",
        )


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url, SmtpDeadlines.from_settings(settings))
    return FileTransport(settings.resolved_mail_dir)


def _file_stem(message: EmailMessage) -> str:
    """The local part of the Message-ID, which the worker makes from the outbox id."""
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", message_id.partition("@")[0])
    return stem.lstrip(".") or secrets.token_hex(8)


def _write_private(path: Path, content: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
    # A retry of the same message replaces its file instead of leaving a half-written one.
    os.replace(temporary, path)


_URL = re.compile(r"https?://[^\s<>\"]+")


def _links(message: EmailMessage) -> list[str]:
    part = message.get_body(preferencelist=("plain",))
    return _URL.findall(part.get_content()) if part is not None else []
