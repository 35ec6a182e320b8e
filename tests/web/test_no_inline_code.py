"""Neither page has inline script or style, so their policies never need 'unsafe-inline'."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

PAGES = ["/accept/s3cr3t", "/accept/", "/graphql"]


@pytest.mark.parametrize("path", PAGES)
def test_every_script_tag_has_a_src_and_no_body(
    client: TestClient, parse: Callable, path: str
) -> None:
    page = parse(client.get(path).text)

    assert page.scripts
    assert all(script.get("src") for script in page.scripts)
    assert all(body.strip() == "" for body in page.script_bodies)


@pytest.mark.parametrize("path", PAGES)
def test_no_style_elements_style_attributes_or_event_handlers(
    client: TestClient, parse: Callable, path: str
) -> None:
    page = parse(client.get(path).text)

    assert page.style_elements == 0
    assert page.inline_attributes == []
