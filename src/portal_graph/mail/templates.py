"""The emails the portal sends, as plain text and HTML.

Every value comes from an admin or an invitee (organization, customer and person names), so the
HTML part escapes all of them, and header values are flattened to one line.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
WEBHOOK_DISABLED = "webhook_disabled"


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class TemplateError(Exception):
    """An outbox row whose template or parameters cannot be rendered."""


def render(template: str, params: dict[str, Any], secret: str | None) -> RenderedEmail:
    """Render an outbox row; `secret` is its decrypted link, if it has one."""
    if template == INVITATION:
        if not secret:
            raise TemplateError("invitation email without its link")
        return render_invitation(params, secret)
    if template == PASSWORD_RESET:
        if not secret:
            raise TemplateError("password reset email without its link")
        return render_password_reset(params, secret)
    if template == WEBHOOK_DISABLED:
        return render_webhook_disabled(params)
    raise TemplateError(f"unknown template {template!r}")


def render_invitation(params: dict[str, Any], invite_url: str) -> RenderedEmail:
    organization = _one_line(str(params["organization_name"]))
    customers = [str(name) for name in params.get("customer_names") or []]
    expires = expiry_in_words(str(params["expires_at"]))
    invitee = params.get("invitee_name")
    inviter = params.get("inviter_name")
    resend = params.get("kind") == "resend"
    staff = params.get("invitation_kind") == "STAFF"

    subject = (f"Your invitation to join {organization} on the customer portal" if staff
               else f"Your invitation to the {organization} customer portal")
    if resend:
        subject += " (new link)"
    greeting = f"Hello {invitee}," if invitee else "Hello,"
    who = f"{inviter} from {organization}" if inviter else organization
    if staff:
        role = ROLE_WORDS.get(str(params.get("role")), "a member")
        intro = f"{who} has invited you to join its team on the customer portal as {role}."
    else:
        intro = (f"{who} has invited you to its customer portal, where you can follow the "
                 "work done for:")
    resent = "This new link replaces any earlier one, which no longer works." if resend else ""
    closing = f"The link works once and expires on {expires}."
    ignore = "If you were not expecting this invitation, you can ignore this email."

    text_lines = [greeting, "", intro, ""]
    if customers:
        text_lines += [f"  - {name}" for name in customers] + [""]
    text_lines += [ACCEPT_HERE, invite_url, ""]
    if resent:
        text_lines += [resent, ""]
    text_lines += [closing, "", ignore, ""]

    html_body = _page(subject, _paragraphs(greeting, intro),
                      _bullets(customers) if customers else "",
                      _link(invite_url, "Accept the invitation"),
                      _paragraphs(resent, closing, ignore))
    return RenderedEmail(subject=subject, text="\n".join(text_lines), html=html_body)


def render_password_reset(params: dict[str, Any], reset_url: str) -> RenderedEmail:
    """The "forgot password" email: to the mailbox owner, so it may name every organization
    the account opens (how the owner learns of one they never joined)."""
    person = params.get("person_name")
    organizations = [_one_line(str(name)) for name in params.get("organization_names") or []]
    expires = expiry_in_words(str(params["expires_at"]))
    subject = "Reset your customer portal password"
    greeting = f"Hello {person}," if person else "Hello,"
    intro = ("Someone asked to reset the password of the customer portal account with this "
             "email address. It signs in to:")
    action = "Choose a new password here:"
    closing = (f"The link works once and expires on {expires}. Resetting signs the account "
               "out everywhere, API tokens included.")
    ignore = ("If you did not ask for this, you can ignore this email: your password stays "
              "as it is.")
    text = "\n".join([greeting, "", intro, "", *(f"  - {name}" for name in organizations), "",
                      action, reset_url, "", closing, "", ignore, ""])
    html_body = _page(subject, _paragraphs(greeting, intro), _bullets(organizations),
                      _link(reset_url, "Choose a new password"), _paragraphs(closing, ignore))
    return RenderedEmail(subject=subject, text=text, html=html_body)


def render_webhook_disabled(params: dict[str, Any]) -> RenderedEmail:
    """To an organization's admins: an endpoint failed for a day and was disabled."""
    url = _one_line(str(params["url"]))
    subject = "A webhook endpoint was disabled after a day of failures"
    lines = ["Hello,", "",
             f"Deliveries to the webhook endpoint {url} have failed for a day, so it was "
             "disabled. Events are no longer queued for it.",
             f"Last error: {_one_line(str(params.get('last_error') or 'unknown'))}", "",
             "Fix the receiver, then enable the endpoint again (updateWebhookEndpoint) and "
             "redeliver what it missed (redeliverWebhook).", ""]
    return RenderedEmail(subject=subject, text="\n".join(lines),
                         html=_page(subject, _paragraphs(*lines)))


# An email's HTML part is built from these alone, and they escape every text they are given.
def _page(subject: str, *body: str) -> str:
    return ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head><body>{''.join(body)}</body></html>")


def _paragraphs(*texts: str) -> str:
    """A paragraph per text; empty ones are left out."""
    return "".join(f"<p>{html.escape(text)}</p>" for text in texts if text)


def _bullets(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"


def _link(url: str, label: str) -> str:
    """The link to follow, and spelled out for a client that does not show links."""
    return (f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>'
            f"<p>Or copy this link into your browser: {html.escape(url)}</p>")


def expiry_in_words(iso_timestamp: str) -> str:
    """'2026-11-23T14:05:00+00:00' -> '23 November 2026 at 14:05 UTC' (naive means UTC)."""
    moment = datetime.fromisoformat(iso_timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    # Month names are spelled out rather than taken from the locale, so every server agrees.
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year} at {moment:%H:%M} UTC"


def build_message(
    rendered: RenderedEmail, from_addr: str, to_addr: str, *, message_id: str | None = None
) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML preferred by capable clients."""
    message = EmailMessage()
    message["Subject"] = _one_line(rendered.subject)
    message["From"] = from_addr
    message["To"] = to_addr
    message["Date"] = formatdate(usegmt=True)
    if message_id:
        message["Message-ID"] = message_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _one_line(value: str) -> str:
    return " ".join(value.split())


ACCEPT_HERE = ("Accept the invitation here (you choose your password, or use the one you "
               "already have):")
ROLE_WORDS = {"ADMIN": "an administrator", "MANAGER": "a manager", "USER": "a member"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
