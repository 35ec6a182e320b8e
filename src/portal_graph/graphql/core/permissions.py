"""Permission classes: tiny, and only on fields whose audience is narrower than their type's."""

from __future__ import annotations

from typing import Any

import strawberry

from portal_graph.scope import Audience


def _viewer_audience(info: strawberry.Info) -> Audience:
    return info.context.viewer.audience  # type: ignore[no-any-return]


class _AudienceIn(strawberry.BasePermission):
    """Lets `audiences` through; refuses a caller who is not signed in as UNAUTHENTICATED and
    one who is, but outside them, as FORBIDDEN."""

    audiences: frozenset[Audience]

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        audience = _viewer_audience(info)
        self.error_extensions = {
            "code": "UNAUTHENTICATED" if audience is Audience.ANONYMOUS else "FORBIDDEN"}
        return audience in self.audiences


class IsAuthenticated(_AudienceIn):
    message = "Sign in to use this field."
    audiences = frozenset(Audience) - {Audience.ANONYMOUS}


class IsStaff(_AudienceIn):
    message = "Only staff members may use this field."
    audiences = frozenset({Audience.STAFF, Audience.ADMIN})


class IsAdmin(_AudienceIn):
    message = "Only administrators may use this field."
    audiences = frozenset({Audience.ADMIN})


class NotByApiToken(strawberry.BasePermission):
    """API tokens are confined (docs/RULES.md): they read and write as their owner but cannot
    sign in, switch organization, mint tokens or sessions, change credentials or manage logins.
    Anonymous callers and sessions pass; whatever else the field needs is checked as usual."""

    message = ("API tokens cannot sign in, switch organization, create tokens or change "
               "credentials or logins: use a signed-in session.")
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return info.context.viewer.api_token_id is None  # type: ignore[no-any-return]
