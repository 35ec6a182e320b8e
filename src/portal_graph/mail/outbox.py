"""What may be queued as an email: the secret (a link) stored only encrypted, never in the
params, and one live link per invitation. The SQL is mail/repository.py."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from portal_graph.db import models
from portal_graph.mail import repository
from portal_graph.mail.secretbox import SecretBox
from portal_graph.scope import Scope


async def enqueue(
    session: AsyncSession,
    scope: Scope,
    *,
    template: str,
    to_address: str,
    params: dict[str, Any],
    secret: str | None,
    box: SecretBox,
    invitation_id: UUID | None = None,
) -> models.OutboxEmail:
    """Queue one email, due now; `secret` (the invite link) is stored only encrypted.

    An invitation has one live link at a time, so a still-queued email for the same invitation
    carries a dead link: it is dropped rather than sent. One being sent at this very moment is
    leased by its worker and is left alone.
    """
    if secret is not None and secret in json.dumps(params, default=str):
        raise ValueError("params must not contain the secret; pass it as `secret`")
    # The session does not autoflush, and the row may reference an invitation added just now.
    await session.flush()
    if invitation_id is not None:
        await repository.discard_queued(session, scope, invitation_id)
    return await repository.insert_queued(
        session, scope, template=template, to_address=to_address, params=params,
        secret_ciphertext=box.encrypt(secret) if secret is not None else None,
        invitation_id=invitation_id)
