"""SecretBox: seals invite links for the outbox with a configured or generated key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from portal_graph.config import Settings, load_settings
from portal_graph.mail.secretbox import SecretBox, SecretBoxError

LINK = "http://portal.test/accept/s3cr3t-token"


def settings_in(folder: Path, secret_key: str | None = None) -> Settings:
    return load_settings(data_dir=folder, secret_key=secret_key)


def test_a_sealed_link_opens_to_the_same_text_and_does_not_show_it() -> None:
    box = SecretBox("configured key")

    ciphertext = box.encrypt(LINK)

    assert LINK.encode() not in ciphertext
    assert box.decrypt(ciphertext) == LINK


def test_the_same_configured_key_opens_what_another_process_sealed() -> None:
    ciphertext = SecretBox("shared key").encrypt(LINK)

    assert SecretBox("shared key").decrypt(ciphertext) == LINK


def test_a_different_key_cannot_open_a_sealed_link() -> None:
    ciphertext = SecretBox("one key").encrypt(LINK)

    with pytest.raises(SecretBoxError):
        SecretBox("another key").decrypt(ciphertext)


def test_without_a_configured_key_one_is_generated_into_the_data_dir_readable_only_by_us(
    tmp_path: Path,
) -> None:
    # when
    SecretBox.from_settings(settings_in(tmp_path / "data"))

    # then
    key_file = tmp_path / "data" / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 43  # 32 random bytes, base64


def test_a_generated_key_is_reused_by_the_next_start(tmp_path: Path) -> None:
    # given
    sealed = SecretBox.from_settings(settings_in(tmp_path)).encrypt(LINK)
    key_before = (tmp_path / "secret_key").read_text()

    # when
    reopened = SecretBox.from_settings(settings_in(tmp_path))

    # then
    assert reopened.decrypt(sealed) == LINK
    assert (tmp_path / "secret_key").read_text() == key_before
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no temporary files left


def test_a_configured_key_writes_no_key_file(tmp_path: Path) -> None:
    box = SecretBox.from_settings(settings_in(tmp_path, secret_key="configured"))

    assert box.decrypt(SecretBox("configured").encrypt(LINK)) == LINK
    assert not (tmp_path / "secret_key").exists()
