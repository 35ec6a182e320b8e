"""The one email parser (docs/RULES.md): one plain address, no display name, no list, no
control or invisible character, an ASCII local part; compared by an NFKC, case-folded key."""

from __future__ import annotations

import pytest

from portal_graph.auth.email import Email, InvalidEmail, email_key, parse_email


@pytest.mark.parametrize(("raw", "address", "key"), [
    ("ana@example.com", "ana@example.com", "ana@example.com"),
    ("  Ana.Lee@Example.COM ", "Ana.Lee@example.com", "ana.lee@example.com"),
    ("a+tag@client.example", "a+tag@client.example", "a+tag@client.example"),
    ("lead@\uff41cme.test", "lead@acme.test", "lead@acme.test"),  # full-width domain letter
    ("ana@acme\u3002test", "ana@acme.test", "ana@acme.test"),  # ideographic full stop
    ("ana@b\u00fccher.example", "ana@b\u00fccher.example", "ana@xn--bcher-kva.example"),
])
def test_an_address_is_kept_as_written_and_keyed_for_comparison(raw, address, key):
    assert parse_email(raw) == Email(address=address, key=key)


@pytest.mark.parametrize("raw", [
    "", "   ", "not-an-email", "ana@", "@example.com", "ana@localhost", "ana@example",
    "a,b@evil.test", "x@evil.test>,<y@evil.test", "<script>x@evil.test",
    "Ana <ana@example.com>", '"ana lee"@example.com', "ana@[192.0.2.1]",
    "ana lee@example.com", "ana@example.com\nBcc: x@evil.test", "ana\x00@example.com",
    "ana\t@example.com",
    "adm\u0131n@acme.test", "ad\u200bmin@acme.test", "\uff41dmin@acme.test",
    "admin@acme.test\u202e", "ad\u00admin@acme.test", "ana@x.local", "ana@x.invalid",
    "a" * 65 + "@example.com", "a@" + "b" * 250 + ".com",
])
def test_anything_but_one_plain_address_is_refused(raw):
    with pytest.raises(InvalidEmail):
        parse_email(raw)
    assert email_key(raw) is None
