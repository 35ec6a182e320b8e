"""The browser scripts parse, and use only names the page and the API contract define."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from portal_graph.web.routes import STATIC_DIR

SCRIPTS = sorted(STATIC_DIR.glob("*.js"))
SHARED = "forms.js"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_valid_javascript(script: Path, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if re.search(r"^(?:import|export) ", script.read_text(), re.MULTILINE):
        # An ES module: a .js file node may take for a CommonJS one, whose --check then
        # passes without parsing it (node 20); as .mjs it is parsed as a module.
        script = Path(shutil.copy(script, tmp_path / f"{script.stem}.mjs"))

    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("script_name", "path", "errors"), [
    ("accept.js", "/accept/", ("password", "confirm")),
    ("reset.js", "/reset/", ("email", "password", "confirm")),
])
def test_every_element_a_page_script_looks_up_exists_in_its_page(client: TestClient,
                                                                 script_name: str, path: str,
                                                                 errors: tuple[str, ...]) -> None:
    scripts = [(STATIC_DIR / name).read_text() for name in (script_name, SHARED)]
    page = client.get(path).text

    wanted = {found for script in scripts for found in re.findall(r'\$\("([\w-]+)"\)', script)}
    wanted |= {f"{name}-error" for name in errors}
    present = set(re.findall(r'id="([\w-]+)"', page))
    assert wanted, "the pattern no longer finds the lookups"
    assert wanted <= present, wanted - present


def test_the_session_token_key_is_the_same_in_both_scripts() -> None:
    for name in ("accept.js", "graphiql.js"):
        assert 'const TOKEN_KEY = "portal_graph_token";' in (STATIC_DIR / name).read_text()
