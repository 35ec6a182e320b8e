"""The limits' own defaults are the configured defaults: one set of numbers, not two."""

from __future__ import annotations

from portal_graph.config import Settings
from portal_graph.graphql.limits import QueryLimits


def test_query_limit_defaults_match_the_settings_defaults():
    assert QueryLimits(**Settings(_env_file=None).query_limits()) == QueryLimits()


def test_rate_limit_defaults_match_the_settings_defaults():
    from portal_graph.ratelimit import RateLimits, rate_limits_from

    assert rate_limits_from(Settings(_env_file=None)) == RateLimits()
