"""A NUL character anywhere in a request's input is bad input, refused before execution.

PostgreSQL text cannot hold U+0000 (asyncpg raises on it), so a NUL that reached a statement
was a masked 500 with the statement in the log. Refusing it here, once, covers every string
argument: variables (any depth), literals in the document, whatever field they are for.
"""

from __future__ import annotations

from typing import Any

from graphql import DocumentNode, GraphQLError, StringValueNode, Visitor, visit

NUL = "\x00"
MESSAGE = "Input must not contain NUL characters (U+0000)."


def value_has_nul(value: Any) -> bool:
    """Whether a decoded JSON value holds a NUL in any string or key, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


class _Literals(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *args: Any) -> Any:
        if NUL in node.value:
            self.found = True
            return self.BREAK
        return None


def document_has_nul(query: str, document: DocumentNode) -> bool:
    """Whether a string literal of the document decodes to a NUL. A raw NUL in the text is a
    syntax error already; an escaped one (backslash-u) is only seen once parsed."""
    if "\\u" not in query:
        return False
    literals = _Literals()
    visit(document, literals)
    return literals.found


def nul_error() -> GraphQLError:
    return GraphQLError(MESSAGE, extensions={"code": "BAD_USER_INPUT"})
