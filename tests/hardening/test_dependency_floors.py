"""The dependency floors stay past the versions with known permission bypasses."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
# Strawberry: an awaitable taken as a truthy permission (fixed in 0.326.1), has_permission
# not held to a strict bool (0.338.0); relay node type confusion, CVE-2025-22151 (0.257.0).
STRAWBERRY_FIXED = (0, 338, 0)


def _floor(requirement: str) -> tuple[int, ...]:
    found = re.search(r">=\s*([0-9.]+)", requirement)
    assert found, requirement
    return tuple(int(part) for part in found.group(1).split("."))


def test_strawberry_may_not_be_installed_below_the_fixes():
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    strawberry = next(d for d in dependencies if d.startswith("strawberry-graphql"))

    assert _floor(strawberry) > STRAWBERRY_FIXED
    assert tuple(int(p) for p in version("strawberry-graphql").split(".")[:3]) \
        >= _floor(strawberry)
