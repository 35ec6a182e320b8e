"""The GraphQL documents the server's own pages send (accept.js, reset.js), as they send them.

Under TRUSTED_DOCUMENTS=external,anonymous the accept and reset pages must keep working
without an operator storing their documents: their exact texts are trusted like stored ones.
They are read from the scripts themselves (each a template literal without substitutions
assigned to a `*_QUERY` or `*_MUTATION` constant), so a page cannot send a document this set
lacks (tests/cost/test_trusted_documents.py checks that every such constant was found).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
PAGE_SCRIPTS = ("accept.js", "reset.js")
_DOCUMENT = re.compile(r"const [A-Z_]+_(?:QUERY|MUTATION) = `((?:[^`$\\]|\$(?!\{))*)`;")


@lru_cache(maxsize=1)
def page_documents() -> frozenset[str]:
    texts: set[str] = set()
    for name in PAGE_SCRIPTS:
        texts.update(_DOCUMENT.findall((STATIC_DIR / name).read_text(encoding="utf-8")))
    return frozenset(texts)
