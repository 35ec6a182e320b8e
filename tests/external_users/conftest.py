"""Fixtures for the external-user tests: an organization with an admin and three customers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.invitations.support import Org, organization


@pytest.fixture
async def org(make: Any) -> Org:
    return await organization(make)
