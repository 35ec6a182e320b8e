"""Taking an account back by its mailbox: "forgot password" (docs/RULES.md).

A request answers the same whatever the email; when the email has an account that can act
somewhere, a single-use link living one hour goes out through the outbox, sealed like invite
links, and only its digest is kept. Using it sets a new password, proves the mailbox (the
account may then join any organization that invites it) and ends every session and API token
of the person, in every organization.
"""

from __future__ import annotations

from datetime import UTC

from portal_graph.accounts import ownership, persons
from portal_graph.accounts.self_service import record_in_every_organization
from portal_graph.actor import Actor
from portal_graph.audit.service import AuditAction
from portal_graph.auth import repository as auth_repo
from portal_graph.auth import revocation
from portal_graph.auth.email import parse_or_reject
from portal_graph.auth.tokens import RESET_PREFIX, new_token, token_digest
from portal_graph.config import Settings
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import SystemContext
from portal_graph.mail import outbox, templates
from portal_graph.mail.secretbox import SecretBox
from portal_graph.problems import Rejected, UserErrorCode
from portal_graph.scope import admin_scope

INVALID = "This reset link is not valid: it was used, replaced or has expired. Ask for a new one."
MAX_TOKEN_LENGTH = 200


async def request_reset(session: RequestSession, settings: Settings, box: SecretBox, *,
                        email: str, client_address: str | None) -> None:
    """Queue a reset email if the email has an account that belongs somewhere; else nothing.
    The caller answers the same either way."""
    address = parse_or_reject(email)
    person = await persons.by_email(session, address.key)
    if person is None:
        return

    async def queue_email() -> None:
        memberships = await auth_repo.memberships(session, person.id)
        if not memberships:
            return  # an account that acts nowhere: a new invitation's emailed link takes it back
        token = new_token(RESET_PREFIX)
        reset = await persons.add_reset(session, person.id, token_digest(token), client_address)
        # The outbox keeps every email under an organization; this one is filed under one the
        # person belongs to, and says which organizations the account opens.
        await outbox.enqueue(
            session, admin_scope(memberships[0].organization_id),
            template=templates.PASSWORD_RESET, to_address=person.email,
            params={"person_name": person.name,
                    "organization_names": [m.organization_name for m in memberships],
                    "expires_at": reset.expires_at.astimezone(UTC).isoformat()},
            secret=settings.reset_url_base + token, box=box)

    # An anonymous request acts in no organization: the person's own are the ACCOUNT context's.
    await session.as_system(SystemContext.ACCOUNT, queue_email)


async def reset_password(session: RequestSession, *, token: str, password: str,
                         client_address: str | None) -> None:
    """Spend a reset link on a new password."""
    token = token.strip()
    person_id = (await persons.use_reset(session, token_digest(token))
                 if 0 < len(token) <= MAX_TOKEN_LENGTH else None)
    if person_id is None:
        raise Rejected(UserErrorCode.INVALID_TOKEN, INVALID, "token")
    person = await persons.by_id(session, person_id)
    assert person is not None
    await persons.update(session, person_id, password_hash=await ownership.new_password(
        password, person.email_normalized), proven=True)
    sessions, api_tokens = await revocation.end_every_credential(session, person_id)
    await record_in_every_organization(
        session, person_id, person.email, Actor(person_id, client_address),
        AuditAction.PASSWORD_RESET, {"sessions_ended": sessions, "api_tokens_revoked": api_tokens})
