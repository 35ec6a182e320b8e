"""The typed GraphQL context: one per request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import strawberry

from portal_graph.actor import Actor
from portal_graph.config import Settings
from portal_graph.db.session import RequestSession
from portal_graph.graphql.core.loaders import Loaders
from portal_graph.scope import Scope, Viewer, scope_for

if TYPE_CHECKING:
    from portal_graph.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Context:
    session: RequestSession
    viewer: Viewer
    settings: Settings
    runtime: Runtime
    client_address: str | None = None
    request_id: str = ""
    request: Any = None
    loaders: Loaders = field(init=False)
    scope_or_none: Scope | None = field(init=False)

    def __post_init__(self) -> None:
        self.scope_or_none = scope_for(self.viewer)
        self.loaders = Loaders(self.session, self.scope_or_none)

    @property
    def max_first(self) -> int:
        """The most a connection's `first` may ask for: the limit validation checked
        (QUERY_MAX_FIRST), read here by the resolvers, so the two cannot disagree."""
        return self.settings.query_max_first

    @property
    def scope(self) -> Scope:
        """The viewer's scope; only signed-in fields (guarded by audience) ask for it."""
        if self.scope_or_none is None:
            raise PermissionError("tenant data needs a signed-in viewer")
        return self.scope_or_none

    @property
    def actor(self) -> Actor:
        """Who makes this request's changes, for the audit log and the events they publish."""
        return Actor.of(self.viewer, self.client_address)

    def act(self, command: Callable[Concatenate[RequestSession, Scope, Actor, P], Awaitable[R]],
            /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        """Run a service command as this request's viewer: the command's first three arguments
        are always the session, the viewer's scope and the actor, so a mutation names only the
        rest: `await info.context.act(service.archive_customer, customer_id=...)`."""
        return command(self.session, self.scope, self.actor, *args, **kwargs)


Info = strawberry.Info[Context, None]
