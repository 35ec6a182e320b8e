"""API tokens are confined (docs/RULES.md): they read and write as their owner, and call none of
the credential mutations: every one answers FORBIDDEN, whoever owns the token. The column the
authorization matrix does not have."""

from __future__ import annotations

from typing import Any

import pytest

from portal_graph.graphql.core.permissions import NotByApiToken
from tests.conftest import without_cost
from tests.factories import PASSWORD
from tests.permissions.conftest import Cast
from tests.permissions.test_authorization_matrix import (
    ACCEPT,
    CHANGE_PASSWORD,
    CREATE_API_TOKEN,
    CREATE_STAFF,
    DEACTIVATE_STAFF,
    LOGIN,
    LOGOUT,
    NEW_PASSWORD,
    REACTIVATE_STAFF,
    REQUEST_RESET,
    RESET_PASSWORD,
    REVOKE_API_TOKEN,
    SET_STAFF_ROLE,
    SWITCH,
    UPDATE_PROFILE,
    Variables,
    accept,
    given,
    login_as_user,
    none,
)

CREDENTIAL_MUTATIONS: dict[str, tuple[str, Variables]] = {
    "login": (LOGIN, login_as_user),
    "logout": (LOGOUT, none),
    "switchOrganization": (SWITCH, given(organizationId="$org")),
    "createApiToken": (CREATE_API_TOKEN, given(name="child")),
    "revokeApiToken": (REVOKE_API_TOKEN, given(apiTokenId="$api_token")),
    "changePassword": (CHANGE_PASSWORD, given(currentPassword=PASSWORD,
                                              newPassword=NEW_PASSWORD)),
    "updateProfile": (UPDATE_PROFILE, given(name="Renamed")),
    "requestPasswordReset": (REQUEST_RESET, lambda cast: {"input": {
        "email": cast.email("user")}}),
    "resetPassword": (RESET_PASSWORD, given(token="pgr_nope", password=NEW_PASSWORD)),
    "acceptInvitation": (ACCEPT, accept(None)),
    "createStaffMember": (CREATE_STAFF, given(email="new@example.com", role="ADMIN")),
    "setStaffRole": (SET_STAFF_ROLE, given(staffMemberId="$staff_user", role="ADMIN")),
    "deactivateStaffMember": (DEACTIVATE_STAFF, given(staffMemberId="$staff_user")),
    "reactivateStaffMember": (REACTIVATE_STAFF, given(staffMemberId="$staff_user")),
}
ADMIN_ONLY = {"createStaffMember", "setStaffRole", "deactivateStaffMember",
              "reactivateStaffMember"}
OWNERS = ["external", "user", "admin"]
MAKE_TOKEN = 'mutation { createApiToken(input: {name: "integration"}) { token } }'


@pytest.fixture
async def api_tokens(api: Any, cast: Cast) -> dict[str, str]:
    """A fresh API token of each owner, made by the owner's session."""
    made = {}
    for owner in OWNERS:
        result = await api(MAKE_TOKEN, token=cast.tokens[owner])
        made[owner] = result["data"]["createApiToken"]["token"]
    return made


@pytest.mark.parametrize("name", sorted(CREDENTIAL_MUTATIONS))
async def test_an_api_token_calls_no_credential_mutation(api, cast, api_tokens, name):
    document, variables = CREDENTIAL_MUTATIONS[name]

    answers = {owner: await api(document, variables(cast), token=api_tokens[owner])
               for owner in OWNERS}

    # (an admin mutation is not in an external user's schema at all: for that token it is
    # refused at validation as an unknown name, hidden means unknown)
    for owner, refused in answers.items():
        hidden = owner == "external" and name in ADMIN_ONLY
        assert refused.get("data") is None, (owner, refused)
        assert {e["extensions"]["code"] for e in refused["errors"]} == {
            "GRAPHQL_VALIDATION_FAILED" if hidden else "FORBIDDEN"}, owner


async def test_an_api_token_still_reads_as_its_owner(api, cast, api_tokens):
    for owner in OWNERS:
        result = await api("{ me { email } }", token=api_tokens[owner])

        assert without_cost(result) == {"data": {"me": {"email": cast.email(owner)}}}


def test_exactly_the_credential_mutations_refuse_api_tokens():
    from portal_graph.graphql.schema import full_schema

    mutation_type = full_schema()._schema.mutation_type
    assert mutation_type is not None
    refusing = {name for name, field_ in mutation_type.fields.items()
                if NotByApiToken in [
                    type(p) if not isinstance(p, type) else p for p in
                    getattr(field_.extensions["strawberry-definition"], "permission_classes",
                            [])]}

    assert refusing == set(CREDENTIAL_MUTATIONS)
