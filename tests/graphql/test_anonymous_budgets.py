"""No anonymous document costs more than a few milliseconds of CPU: issue 17's 244-selection
document and every variant we could think of is refused by the anonymous budget before
graphql-core's validation, or validated within a small, counted amount of work.

Work is counted, not timed: the units graphql-core's overlapping-fields rule spends (its own
complexity meter; the rule is quadratic in repeated fields) and the Python function calls
the whole preparation makes (parse, limits, validation). The control shows the same counters
on the same document without the budget: about a million calls and 148,000 units.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from graphql import get_introspection_query
from graphql.validation.rules import overlapping_fields_can_be_merged as overlapping

from portal_graph.config import Settings
from portal_graph.graphql.budgets import audience_limits
from portal_graph.graphql.execution import Executor
from portal_graph.graphql.limits import QueryLimits
from portal_graph.scope import Audience

# What an accepted anonymous document may cost: the standard introspection query is the
# largest legitimate one (about 16,000 calls, no overlap units).
MAX_CALLS = 40_000
MAX_OVERLAP_UNITS = 1_000


def repeated(selection: str, times: int, around: str = "me") -> str:
    return "{" + around + "{" + " ".join([selection] * times) + "}}"


def aliased(selection: str, times: int) -> str:
    return "{me{" + " ".join(f"a{i}:{selection}" for i in range(times)) + "}}"


def spread(times: int) -> str:
    return ("{me{" + " ".join(f"...F{i}" for i in range(times)) + "}} "
            + " ".join(f"fragment F{i} on Viewer{{organization{{name}}}}" for i in range(times)))


HOSTILE = {
    "issue 17: 244 x organization{name}": repeated("organization{name}", 244),
    "as many as fit the token budget": repeated("organization{name}", 95),
    "196 x organization{name id}": repeated("organization{name id}", 196),
    "__typename, 390 times": "{" + " ".join(["__typename"] * 390) + "}",
    "__schema{types{name}}, 60 times": repeated("types{name}", 60, around="__schema"),
    "through fragments": spread(40),
    "through one fragment spread again and again": (
        "{me{" + " ".join(["...F"] * 60) + "}} fragment F on Viewer{organization{name}}"),
    "through inline fragments": repeated("...on Viewer{organization{name}}", 60),
    "aliased, so that no name repeats": aliased("organization{name}", 60),
    "nested repeats": repeated("organization{" + " ".join(["name"] * 5) + "}", 5),
    "wide and distinct": "{me{" + " ".join(
        f"a{i}:organization{{name}} b{i}:memberships{{organizationName}}" for i in range(20))
        + "}}",
}
LEGITIMATE = {
    "the standard introspection query": get_introspection_query(descriptions=True),
    "sign in": 'mutation Login { login(input: {email: "a@b.c", password: "x"}) { token '
               "viewer { email audience organization { name } } userErrors { code message } } }",
    "the accept page's preview": "query InvitationPreview($token: String!) { invitationPreview("
                                 "token: $token) { organizationName email customerNames } }",
    "as much overlap as the budget allows": aliased("organization{name name name}", 30),
}


@dataclass(frozen=True)
class Work:
    codes: list[str]
    calls: int
    overlap_units: int


@contextmanager
def counting() -> Iterator[list[int]]:
    """[python calls, overlapping-fields units] spent inside the block."""
    spent = [0, 0]
    spend = overlapping.spend_complexity_budget

    def spy(context: object, cost: int) -> None:
        spent[1] += cost
        spend(context, cost)  # type: ignore[arg-type]

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "call":
            spent[0] += 1

    overlapping.spend_complexity_budget = spy
    sys.setprofile(profile)
    try:
        yield spent
    finally:
        sys.setprofile(None)
        overlapping.spend_complexity_budget = spend


def work(executor: Executor, document: str, audience: Audience = Audience.ANONYMOUS) -> Work:
    unique = f"{document} #{secrets.token_hex(8)}"  # no cache helps, as in the attack
    with counting() as spent:
        prepared = executor.prepare(audience, unique, {})
    return Work([(e.extensions or {}).get("code", "") for e in prepared.errors],
                spent[0], spent[1])


@pytest.fixture(scope="module")
def executor() -> Executor:
    return Executor(audience_limits(Settings(_env_file=None)))


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_anonymous_document_is_refused_or_cheap(executor: Executor,
                                                         document: str) -> None:
    spent = work(executor, document)

    refused = bool(spent.codes)
    assert refused or spent.overlap_units <= MAX_OVERLAP_UNITS, spent
    assert spent.calls <= MAX_CALLS, spent
    assert set(spent.codes) <= {"QUERY_TOO_LARGE", "TOO_MANY_SELECTIONS",
                                "TOO_MANY_REPEATED_FIELDS", "TOO_MANY_ALIASES"}, spent


@pytest.mark.parametrize("document", LEGITIMATE.values(), ids=LEGITIMATE.keys())
def test_what_anonymous_clients_legitimately_send_still_passes(executor: Executor,
                                                              document: str) -> None:
    spent = work(executor, document)

    assert spent.codes == [] and spent.calls <= MAX_CALLS, spent


def test_the_issue_17_document_is_refused_before_it_is_even_parsed_whole(executor: Executor):
    assert work(executor, HOSTILE["issue 17: 244 x organization{name}"]).codes \
        == ["QUERY_TOO_LARGE"]
    assert work(executor, HOSTILE["as many as fit the token budget"]).codes \
        == ["TOO_MANY_REPEATED_FIELDS"]


def test_control_without_the_budget_the_same_document_costs_a_thousand_times_more() -> None:
    unbudgeted = Executor(QueryLimits(max_repeated_fields=10**9, max_selections=10**9))

    spent = work(unbudgeted, HOSTILE["issue 17: 244 x organization{name}"])

    assert spent.codes == []  # valid, and validated in full
    assert spent.overlap_units > 100 * MAX_OVERLAP_UNITS
    assert spent.calls > 10 * MAX_CALLS


def test_external_users_and_anonymous_callers_get_much_smaller_budgets_than_staff() -> None:
    limits = audience_limits(Settings(_env_file=None))
    staff, external, anonymous = (limits[a] for a in (Audience.STAFF, Audience.EXTERNAL,
                                                      Audience.ANONYMOUS))

    for name in ("max_tokens", "max_selections", "max_repeated_fields"):
        assert getattr(anonymous, name) < getattr(external, name) < getattr(staff, name), name
    assert anonymous.max_cost < staff.max_cost
    assert limits[Audience.ADMIN] == staff


def test_an_external_users_document_past_their_budget_is_refused_but_not_staffs(
        executor: Executor) -> None:
    wide = "{ jobs { nodes { " + " ".join(f"f{i}: title" for i in range(25)) + " " + " ".join(
        ["reference"] * 10) + " } } }"

    assert work(executor, wide, Audience.EXTERNAL).codes == ["TOO_MANY_REPEATED_FIELDS"]
    assert work(executor, wide, Audience.STAFF).codes == []
