"""What a document may ask of the server, per audience: the query limits and their codes.

Anonymous callers and external users get much smaller budgets than staff: fewer tokens, fewer
fields per selection set and fewer repeats of one response name there (the input of
graphql-core's overlapping-fields rule, quadratic in repeated fields), so that no document of
theirs costs more than a few milliseconds of validation. All of it is checked before
graphql-core's own rules (limits.py); tests/graphql/test_anonymous_budgets.py counts the work
the costliest documents we could build still cause.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from graphql import GraphQLError

from portal_graph.config import Settings
from portal_graph.scope import Audience


class LimitCode(StrEnum):
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    FIRST_OUT_OF_RANGE = "FIRST_OUT_OF_RANGE"
    TOO_MANY_SELECTIONS = "TOO_MANY_SELECTIONS"
    TOO_MANY_REPEATED_FIELDS = "TOO_MANY_REPEATED_FIELDS"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"


def _configured(name: str) -> int:
    """A staff limit's default, as the settings declare it (QUERY_MAX_*): the one source."""
    default = Settings.declared(f"query_{name}")
    assert isinstance(default, int)
    return default


@dataclass(frozen=True)
class QueryLimits:
    """One audience's limits; without arguments, staff's defaults from the settings, which is
    where the app takes them from (`audience_limits`); anonymous callers and external users
    get smaller ones."""

    max_depth: int = _configured("max_depth")  # the standard introspection query needs 15
    max_aliases: int = _configured("max_aliases")
    max_tokens: int = _configured("max_tokens")
    max_cost: int = _configured("max_cost")
    max_first: int = _configured("max_first")
    max_directives: int = _configured("max_directives")
    # Fields in one selection set (fragments merged in), and how often one response name may
    # appear there: the input of graphql-core's overlapping-fields rule, which compares every
    # pair of fields sharing a name (244 x `organization { name }`: 180 ms of validation).
    max_selections: int = _configured("max_selections")
    max_repeated_fields: int = _configured("max_repeated_fields")


def limit_error(code: LimitCode, message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": code.value})


def audience_limits(settings: Settings) -> dict[Audience, QueryLimits]:
    """Each audience's limits from the settings (QUERY_MAX_*, *_EXTERNAL, *_ANONYMOUS)."""
    staff = QueryLimits(**settings.query_limits("staff"))
    return {Audience.ANONYMOUS: QueryLimits(**settings.query_limits("anonymous")),
            Audience.EXTERNAL: QueryLimits(**settings.query_limits("external")),
            Audience.STAFF: staff, Audience.ADMIN: staff}
