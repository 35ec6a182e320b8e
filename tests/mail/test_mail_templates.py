"""The invitation email: what it says, in plain text and escaped HTML."""

from __future__ import annotations

from typing import Any

import pytest

from portal_graph.mail.templates import (
    INVITATION,
    PASSWORD_RESET,
    RenderedEmail,
    TemplateError,
    build_message,
    expiry_in_words,
    render,
    render_invitation,
)

LINK = "http://portal.test/accept/tok3n?x=1&y=2"

PARAMS: dict[str, Any] = {
    "organization_name": "Acme Field Services",
    "customer_names": ["Northside Council", "Harbour Works"],
    "expires_at": "2026-11-23T14:05:00+00:00",
    "invitee_name": "Ana",
    "inviter_name": "Bob",
    "kind": "invite",
}

HOSTILE: dict[str, Any] = {
    "organization_name": "Acme <script>alert(1)</script>",
    "customer_names": ['"Quoted" & <b>bold</b>'],
    "expires_at": "2026-11-23T14:05:00+00:00",
    "invitee_name": "<img src=x onerror=alert(2)>",
    "inviter_name": "Bob's <i>team</i>",
    "kind": "invite",
}


def test_the_plain_text_names_the_organization_customers_expiry_and_link() -> None:
    email = render_invitation(PARAMS, LINK)

    assert email.subject == "Your invitation to the Acme Field Services customer portal"
    assert "Hello Ana," in email.text
    assert "Bob from Acme Field Services has invited you" in email.text
    assert "  - Northside Council\n  - Harbour Works" in email.text
    assert "expires on 23 November 2026 at 14:05 UTC" in email.text
    assert LINK in email.text


def test_the_html_names_the_same_things_and_links_to_the_invitation() -> None:
    email = render_invitation(PARAMS, LINK)

    assert "<li>Northside Council</li><li>Harbour Works</li>" in email.html
    assert "23 November 2026 at 14:05 UTC" in email.html
    assert '<a href="http://portal.test/accept/tok3n?x=1&amp;y=2">' in email.html


def test_the_html_escapes_every_value() -> None:
    email = render_invitation(HOSTILE, 'http://portal.test/accept/"><script>')

    for raw in ("<script>", "<b>", "<img", "<i>"):
        assert raw not in email.html
    assert 'href="http://portal.test/accept/&quot;&gt;&lt;script&gt;"' in email.html
    assert "Acme &lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "&quot;Quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in email.html
    assert "Bob&#x27;s &lt;i&gt;team&lt;/i&gt;" in email.html


def test_without_names_the_email_greets_plainly_and_speaks_for_the_organization() -> None:
    email = render_invitation({**PARAMS, "invitee_name": None, "inviter_name": None}, LINK)

    assert email.text.startswith("Hello,\n")
    assert "Acme Field Services has invited you" in email.text


def test_a_resend_says_the_new_link_replaces_the_old_one() -> None:
    email = render_invitation({**PARAMS, "kind": "resend"}, LINK)

    assert email.subject.endswith("(new link)")
    assert "replaces any earlier one" in email.text
    assert "replaces any earlier one" in email.html


def test_a_line_break_in_the_organization_name_cannot_reach_the_subject_header() -> None:
    email = render_invitation({**PARAMS, "organization_name": "Acme\r\nBcc: x@evil.test"}, LINK)

    message = build_message(email, "portal@example.com", "ana@example.com")

    assert "\n" not in email.subject
    assert message["Bcc"] is None


@pytest.mark.parametrize(
    ("iso", "words"),
    [
        ("2026-11-23T14:05:00+00:00", "23 November 2026 at 14:05 UTC"),
        ("2026-01-02T01:30:00+02:00", "1 January 2026 at 23:30 UTC"),
        ("2026-07-04T09:00:00", "4 July 2026 at 09:00 UTC"),
    ],
)
def test_the_expiry_is_given_in_words_in_utc(iso: str, words: str) -> None:
    assert expiry_in_words(iso) == words


def test_build_message_makes_a_multipart_alternative_with_text_then_html() -> None:
    rendered = RenderedEmail(subject="Hi", text="plain body", html="<p>html body</p>")

    message = build_message(
        rendered, "Portal <portal@example.com>", "ana@example.com", message_id="<1@example.com>"
    )

    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["From"] == "Portal <portal@example.com>"
    assert message["To"] == "ana@example.com"
    assert message["Message-ID"] == "<1@example.com>"
    assert message["Date"]


def test_render_needs_the_link_for_an_invitation() -> None:
    with pytest.raises(TemplateError):
        render(INVITATION, PARAMS, None)


def test_render_refuses_an_unknown_template() -> None:
    with pytest.raises(TemplateError):
        render("newsletter", PARAMS, LINK)


def test_a_staff_invitation_names_the_role_and_no_customers() -> None:
    email = render_invitation({**PARAMS, "customer_names": [], "invitation_kind": "STAFF",
                               "role": "MANAGER"}, LINK)

    assert email.subject == "Your invitation to join Acme Field Services on the customer portal"
    assert "invited you to join its team on the customer portal as a manager." in email.text
    assert "  - " not in email.text and "<ul>" not in email.html
    assert LINK in email.text


RESET_PARAMS: dict[str, Any] = {"person_name": "Ana <b>", "expires_at": "2026-11-23T14:05:00+00:00",
                                "organization_names": ["Acme", "Beta & Sons"]}


def test_the_reset_email_names_every_organization_the_account_opens() -> None:
    email = render(PASSWORD_RESET, RESET_PARAMS, "http://portal.test/reset/pgr_x")

    assert email.subject == "Reset your customer portal password"
    assert "  - Acme\n  - Beta & Sons" in email.text
    assert "http://portal.test/reset/pgr_x" in email.text
    assert "expires on 23 November 2026 at 14:05 UTC" in email.text
    assert "<li>Beta &amp; Sons</li>" in email.html and "Ana &lt;b&gt;" in email.html


def test_a_reset_email_without_its_link_is_not_rendered() -> None:
    with pytest.raises(TemplateError):
        render(PASSWORD_RESET, RESET_PARAMS, None)
