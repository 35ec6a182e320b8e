"""The pages people open in a browser: accepting an invitation, resetting a password, and
GraphiQL."""

from portal_graph.web.routes import (
    ACCEPT_PAGE_CSP,
    SECURITY_HEADERS,
    accept_page,
    graphiql_csp,
    graphiql_response,
    reset_page,
    web_routes,
)

__all__ = [
    "ACCEPT_PAGE_CSP",
    "SECURITY_HEADERS",
    "accept_page",
    "graphiql_csp",
    "graphiql_response",
    "reset_page",
    "web_routes",
]
