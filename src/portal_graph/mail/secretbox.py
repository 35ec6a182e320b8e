"""Encryption of the invite links that wait in the outbox.

A link is a bearer credential: a database dump or a backup must not contain one in clear text,
so the outbox keeps it sealed with a key that lives outside the database.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from portal_graph.config import Settings

KEY_FILE_NAME = "secret_key"


class SecretBoxError(Exception):
    """A ciphertext that this key cannot open (wrong key, or tampered with)."""


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        # Fernet wants 32 url-safe base64 bytes; hashing lets any configured string be a key.
        digest = hashlib.sha256(secret_key.encode("utf-8")).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        return cls(server_key(settings))

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode("utf-8"))

    def decrypt(self, ciphertext: bytes) -> str:
        try:
            return self._fernet.decrypt(ciphertext).decode("utf-8")
        except InvalidToken:
            raise SecretBoxError("ciphertext does not open with this key") from None


def server_key(settings: Settings) -> str:
    """SECRET_KEY, or the key generated into DATA_DIR when it is unset."""
    return settings.secret_key or load_or_create_key(settings.data_dir)


def load_or_create_key(data_dir: Path) -> str:
    """The key in `data_dir/secret_key`, generated on first use.

    Several processes may start at once on one data folder: the key is written to a private
    temporary file and hard-linked into place, so exactly one key wins and nobody ever reads a
    half-written file.
    """
    path = data_dir / KEY_FILE_NAME
    if path.exists():
        return _read_key(path)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process won the race: use its key
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if not key:
        raise SecretBoxError(f"{path} is empty; delete it or set SECRET_KEY")
    return key
