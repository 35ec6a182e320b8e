"""A repository function written for a system context (the outbox worker's, the sweep's, sign-in's)
runs only in a session that is in that context: called with a request's session it raises
`OutsideSystemContext` before any statement (db/tenancy.py's `@runs_in`). Which functions those
are is tests/architecture/test_scope_door.py's UNSCOPED_ALLOWED; that each carries the check is
tested there, that the check bites is tested here."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from portal_graph.auth import repository as auth_repo
from portal_graph.db.session import RequestSession
from portal_graph.db.tenancy import (
    OutsideSystemContext,
    SystemContext,
    Tenancy,
    system_tenancy,
)
from portal_graph.mail import repository as mail_repo
from tests.architecture.scope_door import context_names
from tests.architecture.test_scope_door import UNSCOPED_ALLOWED

# Every function listed with a system context, but the one that enters it itself.
CHECKED = sorted(name for name, (contexts, _) in UNSCOPED_ALLOWED.items()
                 if context_names(contexts) and name != "auth/repository.py:credential_by_digest")


def _function(listed: str) -> Callable[..., Any]:
    module, name = listed.split(":")
    function: Callable[..., Any] = getattr(importlib.import_module(
        "portal_graph." + module.removesuffix(".py").replace("/", ".")), name)
    return function


@pytest.mark.parametrize("listed", CHECKED)
async def test_a_system_context_function_refuses_a_request_session(
    app_sessionmaker: async_sessionmaker[RequestSession], listed: str,
) -> None:
    # given a session acting for one organization, as a request's does
    async with app_sessionmaker() as session:
        await session.set_tenancy(Tenancy(uuid.uuid4()))

        # when the function is called with it (its other arguments do not matter: refused first)
        with pytest.raises(OutsideSystemContext) as refused:
            await _function(listed)(session)

        # then it names itself, and no statement reached the database
        assert listed.split(":")[1] in str(refused.value)
        assert "acts for organization" in str(refused.value)
        assert not session.in_transaction()


async def test_the_outbox_worker_function_refuses_another_system_context(
    app_sessionmaker: async_sessionmaker[RequestSession],
) -> None:
    # given a request in the sign-in context (its own way past the tenant wall)
    async with app_sessionmaker() as session:

        # when it reaches for the outbox worker's claim
        with pytest.raises(OutsideSystemContext) as refused:
            await session.as_system(SystemContext.SIGN_IN,
                                    lambda: mail_repo.claim_due(session, 10, 60))

        # then
        assert str(refused.value) == (
            "portal_graph.mail.repository.claim_due runs only in the system context outbox; "
            "this session acts for the system context sign_in")


async def test_a_new_session_may_be_made_only_for_the_organization_acted_for(
    app_sessionmaker: async_sessionmaker[RequestSession],
) -> None:
    # given a request acting for one organization (an accepted invitation's), not signing in
    acted_for, other = uuid.uuid4(), uuid.uuid4()
    async with app_sessionmaker() as session:

        # when it makes a session in another organization
        with pytest.raises(OutsideSystemContext) as refused:
            await session.acting_for(acted_for, lambda: auth_repo.create_session(
                session, organization_id=other, person_id=uuid.uuid4(), digest=b"x",
                ttl=timedelta(hours=1), client_address=None))

        # then
        assert str(refused.value).endswith(
            "runs only in the system context sign_in, or acting for its organization_id; "
            f"this session acts for organization {acted_for}")
        assert not session.in_transaction()


async def test_a_session_acting_for_nobody_is_refused_too(
    app_sessionmaker: async_sessionmaker[RequestSession],
) -> None:
    async with app_sessionmaker() as session:
        with pytest.raises(OutsideSystemContext, match=r"this session acts for nobody$"):
            await mail_repo.queue_depth(session)


async def test_in_its_own_context_the_function_runs(
    app_sessionmaker: async_sessionmaker[RequestSession],
) -> None:
    # given a session opened as the outbox worker opens its own
    async with app_sessionmaker(**system_tenancy(SystemContext.OUTBOX)) as session:

        # when
        claim = await mail_repo.claim_due(session, 10, 60)

        # then it ran (and is rolled back as the session closes)
        assert session.in_transaction()
        assert isinstance(claim, mail_repo.Claim)
