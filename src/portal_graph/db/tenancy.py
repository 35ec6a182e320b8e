"""Row-level security: PostgreSQL's own wall under `Scope` (policies made by migration 0005).

Every tenant table (each table with `organization_id`, and `organizations` itself) has row-level
security enabled and forced, with one policy: a row is visible and writable only when its
organization is the transaction's `app.organization_id`, or when the transaction runs in one of
the named system contexts below (`app.system_context`). Both are transaction-local settings,
written with `set_config(..., true)`: they end with the transaction, so nothing is left behind
on a pooled connection (and PgBouncer's transaction mode can pool them). Nothing here, or
anywhere, sets them at session level.

A transaction acts for nobody until told otherwise: it sees no tenant row. A request's first
statement looks its bearer token up in the VIEWER_LOOKUP context and, in the same statement,
enters the credential's organization (auth/repository.py); from then on a repository function
that forgets its Scope filter still gets only that organization's rows.

Work that must cross organizations names its context here, and `tests/tenancy/` lists the
modules allowed to use each one. A repository function written for such work says so with
`@runs_in(context)`: called from a session whose transaction is not in that context (a request's,
say), it raises `OutsideSystemContext` before any statement, so a worker's function is not
reachable from a request by mistake. Requests never run as a role that bypasses the policies:
where DATABASE_URL's role is a superuser or has BYPASSRLS (the embedded server's is), every
transaction first switches to the request role with `set_config('role', ..., true)`.
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

DEFAULT_REQUEST_ROLE = "portal_graph_request"
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class SystemContext(enum.StrEnum):
    """The named ways past the tenant wall, each for one kind of work (and nothing else)."""

    VIEWER_LOOKUP = "viewer_lookup"  # a bearer token's digest -> credential, person, grants
    SIGN_IN = "sign_in"  # login and switchOrganization: memberships, the new session
    MEMBERSHIPS = "memberships"  # `me.memberships`: the organizations of the signed-in person
    INVITATION_TOKEN = "invitation_token"  # an invitation found by its token's digest
    # Ending a person's credentials and what descends from them (sign-out, revocations,
    # password reset and change): sessions minted by sessions cross organizations.
    CREDENTIALS = "credentials"
    # A person's own account across the organizations they belong to: the reset email filed
    # under one of them, the audit entry a reset or password change leaves in each.
    ACCOUNT = "account"
    OUTBOX = "outbox"  # the email worker: due emails of every organization
    WEBHOOKS = "webhooks"  # the webhook worker: due deliveries of every organization
    HOUSEKEEPING = "housekeeping"  # the maintenance sweep of dead credentials
    METRICS = "metrics"  # the outbox depth on /metrics, counted over every organization
    CLI = "cli"  # create-organization, seed-demo, seed-scale
    MIGRATION = "migration"  # data changes inside migrations


@dataclass(frozen=True, slots=True)
class Tenancy:
    """Whom a transaction acts for: an organization, a system context, or (both None) nobody."""

    organization_id: uuid.UUID | None = None
    system: SystemContext | None = None

    def params(self) -> dict[str, str]:
        return {"organization": str(self.organization_id or ""),
                "system": self.system.value if self.system else ""}

    def describe(self) -> str:
        if self.system is not None:
            return f"the system context {self.system.value}"
        return f"organization {self.organization_id}" if self.organization_id else "nobody"


NOBODY = Tenancy()
TENANCY = "portal_graph.tenancy"  # session.info: what the session's transaction acts for
APPLIED = "portal_graph.tenancy.applied"  # session.info: what the database was last told
REQUEST_ROLE = "portal_graph.request_role"  # session.info (from the sessionmaker)
_BYPASSES = "portal_graph.bypasses_rls"  # connection.info: does its login role bypass RLS?
# connection.info: settings each transaction sets itself (through PgBouncer, db/engine.py)
TRANSACTION_SETTINGS = "portal_graph.transaction_settings"
UNKNOWN = object()  # APPLIED after a failed change: the next change is sent whatever it is

APPLY = text("SELECT set_config('app.organization_id', :organization, true), "
             "set_config('app.system_context', :system, true)")
APPLY_AS_REQUEST_ROLE = text(
    "SELECT set_config('role', :role, true), set_config('app.organization_id', :organization, "
    "true), set_config('app.system_context', :system, true)")
_LOGIN_ROLE_BYPASSES_SQL = (
    "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = session_user")


def system_tenancy(context: SystemContext) -> dict[str, Any]:
    """Session keyword arguments for a session whose transactions run in `context`:
    `sessionmaker(**system_tenancy(SystemContext.OUTBOX))`."""
    return {"info": {TENANCY: Tenancy(system=context)}}


class OutsideSystemContext(RuntimeError):
    """A function made for a system context was called from a session not in it: a bug (a
    request reaching for a worker's function, say), never a user error."""


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def runs_in(*contexts: SystemContext, or_acting_for: str | None = None) -> Callable[[F], F]:
    """Mark a repository function `async def f(session, ...)` as work for one of `contexts`:
    each call first checks that the session's transaction acts in one of them (it does when the
    session was opened with `system_tenancy(context)`, or inside `session.as_system(context)`)
    and raises `OutsideSystemContext` otherwise. With `or_acting_for`, the name of an argument
    holding an organization id, a transaction acting for that very organization (and in no
    system context) passes too. tests/architecture/ checks that each function listed with a
    system context carries this decorator, with that context."""
    allowed = frozenset(contexts)

    def decorate(function: F) -> F:
        name = f"{function.__module__}.{function.__qualname__}"
        signature = inspect.signature(function)

        def acts_for_its_organization(tenancy: Tenancy, *args: Any, **kwargs: Any) -> bool:
            if or_acting_for is None or tenancy.system or tenancy.organization_id is None:
                return False
            arguments = signature.bind_partial(*args, **kwargs).arguments
            return arguments.get(or_acting_for) == tenancy.organization_id

        @functools.wraps(function)
        async def checked(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            tenancy: Tenancy = session.info.get(TENANCY, NOBODY)
            if tenancy.system not in allowed and not acts_for_its_organization(
                    tenancy, session, *args, **kwargs):
                also = f", or acting for its {or_acting_for}" if or_acting_for else ""
                raise OutsideSystemContext(
                    f"{name} runs only in the system context {' or '.join(sorted(allowed))}"
                    f"{also}; this session acts for {tenancy.describe()}")
            return await function(session, *args, **kwargs)

        return cast(F, checked)

    return decorate


class TenantSession(Session):
    """The synchronous half of `RequestSession`: every transaction begins by saying whom it
    acts for (and, where the login role bypasses row-level security, as which role)."""


def watch_login_role(engine: AsyncEngine) -> None:
    """Note, on each new connection, whether its login role bypasses row-level security (a
    superuser, or BYPASSRLS): its transactions then switch to the request role."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(dbapi_connection: Any, record: Any) -> None:
        value = dbapi_connection.run_async(lambda raw: raw.fetchval(_LOGIN_ROLE_BYPASSES_SQL))
        record.info[_BYPASSES] = bool(value)


def _role_to_assume(session: Session, connection: Connection) -> str | None:
    bypasses = connection.info.get(_BYPASSES)
    if bypasses is None:  # an engine that is not watched: ask now, once per connection
        bypasses = bool(connection.execute(text(_LOGIN_ROLE_BYPASSES_SQL)).scalar())
        connection.info[_BYPASSES] = bypasses
    if not bypasses:
        return None
    role = session.info.get(REQUEST_ROLE) or DEFAULT_REQUEST_ROLE
    return str(role)


@event.listens_for(TenantSession, "after_begin")
def _enter(session: Session, transaction: SessionTransaction, connection: Connection) -> None:
    tenancy: Tenancy = session.info.get(TENANCY, NOBODY)
    role = _role_to_assume(session, connection)
    settings: dict[str, str] | None = connection.info.get(TRANSACTION_SETTINGS)
    if settings:
        statement, params = _opening_with_settings(role, tenancy, settings)
        connection.execute(statement, params)
    elif role is not None:
        connection.execute(APPLY_AS_REQUEST_ROLE, {"role": role, **tenancy.params()})
    elif tenancy != NOBODY:
        connection.execute(APPLY, tenancy.params())
    # With nothing to say the statement is skipped: transaction-local settings start empty.
    session.info[APPLIED] = tenancy


_OPENINGS: dict[tuple[bool, tuple[str, ...]], Any] = {}


def _opening_with_settings(role: str | None, tenancy: Tenancy, settings: dict[str, str],
                           ) -> tuple[Any, dict[str, str]]:
    """The opening statement of a transaction that also sets the connection's settings (the
    timeouts), transaction-locally: through PgBouncer's transaction pooling a connection
    setting would stay on whichever server connection ran it. One statement, as without."""
    names = tuple(sorted(settings))
    key = (role is not None, names)
    statement = _OPENINGS.get(key)
    if statement is None:
        calls = [f"set_config('{name}', :setting_{i}, true)" for i, name in enumerate(names)]
        if role is not None:
            calls.insert(0, "set_config('role', :role, true)")
        calls += ["set_config('app.organization_id', :organization, true)",
                  "set_config('app.system_context', :system, true)"]
        statement = _OPENINGS[key] = text("SELECT " + ", ".join(calls))
    params = {f"setting_{i}": settings[name] for i, name in enumerate(names)}
    if role is not None:
        params["role"] = role
    return statement, {**params, **tenancy.params()}


@event.listens_for(TenantSession, "after_transaction_end")
def _leave(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(APPLIED, None)


def checked_role_name(name: str) -> str:
    if not ROLE_NAME.fullmatch(name):
        raise ValueError("must be a lower-case PostgreSQL role name (a-z, 0-9, _)")
    return name
