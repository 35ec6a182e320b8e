"""The package's imports form no circle but one: the domains' GraphQL types that reference each
other (a Customer has Jobs, a Job its Customer, ...), as a schema's types do. The layers
themselves are import-linter contracts (pyproject.toml, run by scripts/test); this checks what
they leave open, the circles inside one layer."""

from __future__ import annotations

import grimp

ALLOWED = {
    frozenset({"portal_graph.customers.types", "portal_graph.external_users.types",
               "portal_graph.invitations.types", "portal_graph.work.types"}),
}


def circles(graph: grimp.ImportGraph) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imported = work[-1]
            step = next(imported, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph.find_modules_directly_imported_by(step)))))
                elif step in on_stack:
                    low[module] = min(low[module], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def test_the_only_import_circle_is_the_domain_types():
    graph = grimp.build_graph("portal_graph", cache_dir=None)

    assert set(circles(graph)) <= ALLOWED


def test_a_planted_circle_is_found():
    graph = grimp.build_graph("portal_graph", cache_dir=None)
    graph.add_import(importer="portal_graph.scope", imported="portal_graph.graphql.core.context")

    assert any("portal_graph.scope" in circle for circle in circles(graph))
