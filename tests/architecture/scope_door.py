"""The checker behind test_scope_door.py: `Scope` is the only door to tenant rows.

Read from the source (AST, nothing imported), four things would open another door:
- a public repository function taking a raw `organization_id` (not a `Scope`),
- a public repository function taking a session but no `scope`: it must run in a named system
  context (db/tenancy.py), or touch no tenant row, and say which,
- a `Scope(...)` built anywhere but scope.py, whose `scope_for` and `admin_scope` are the
  constructors,
- SQL written (`select`/`text`/`insert`/`update`/`delete` from sqlalchemy) outside the
  repositories, `db/` and the scope layer.
Each exception is named in an allow-list with its reason (test_scope_door.py). Modelled on
Polar's `lint_org_scope`: a check on the syntax that fails in review, not at run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

SQL_BUILDERS = frozenset({"select", "text", "insert", "update", "delete"})


@dataclass(frozen=True, order=True)
class Violation:
    module: str  # relative to the package root, e.g. "accounts/repository.py"
    line: int
    rule: str  # "organization_id", "unscoped", "Scope(", "sql"
    name: str  # the function (organization_id) or the builder (sql); "Scope" otherwise

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.rule} {self.name}"


def is_repository(module: str) -> bool:
    return Path(module).name == "repository.py"


def sql_may_be_written_in(module: str) -> bool:
    """Repositories, `db/` and the scope layer (scope.py, scoped_sql/) write SQL."""
    return (is_repository(module) or module.startswith(("db/", "scoped_sql/"))
            or module == "scope.py")


def _sqlalchemy_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """The builder names imported from sqlalchemy (`from sqlalchemy import select as s` -> s),
    and the names sqlalchemy modules are bound to (`import sqlalchemy as sa` -> sa)."""
    builders: set[str] = set()
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            builders.update(alias.asname or alias.name for alias in node.names
                            if alias.name in SQL_BUILDERS)
        elif isinstance(node, ast.Import):
            modules.update(alias.asname or alias.name for alias in node.names
                           if alias.name.startswith("sqlalchemy"))
    return builders, modules


def _sql_calls(tree: ast.Module) -> Iterator[tuple[int, str]]:
    builders, modules = _sqlalchemy_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        if isinstance(function, ast.Name) and function.id in builders:
            yield node.lineno, function.id
        elif (isinstance(function, ast.Attribute) and function.attr in SQL_BUILDERS
              and isinstance(function.value, ast.Name) and function.value.id in modules):
            yield node.lineno, function.attr


def _scope_constructions(tree: ast.Module) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            name = function.id if isinstance(function, ast.Name) else (
                function.attr if isinstance(function, ast.Attribute) else None)
            if name == "Scope":
                yield node.lineno


def _public_functions(tree: ast.Module) -> Iterator[tuple[int, str, list[str]]]:
    """Module-level functions other modules call, with their parameters' names."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
                node.name.startswith("_")):
            arguments = node.args
            yield node.lineno, node.name, [a.arg for a in (
                *arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]


def check_module(module: str, source: str) -> list[Violation]:
    tree = ast.parse(source, filename=module)
    found: list[Violation] = []
    if is_repository(module):
        for line, name, parameters in _public_functions(tree):
            if "organization_id" in parameters:
                found.append(Violation(module, line, "organization_id", name))
            if "session" in parameters and "scope" not in parameters:
                found.append(Violation(module, line, "unscoped", name))
    if module != "scope.py":
        found += [Violation(module, line, "Scope(", "Scope")
                  for line in _scope_constructions(tree)]
    if not sql_may_be_written_in(module):
        found += [Violation(module, line, "sql", name) for line, name in _sql_calls(tree)]
    return found


def check_tree(root: Path) -> list[Violation]:
    """Every violation in the package at `root` (migrations are SQL by nature: left out)."""
    found: list[Violation] = []
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if module.startswith("db/migrations/"):
            continue
        found += check_module(module, path.read_text())
    return sorted(found)


def unexplained(found: list[Violation], organization_id: Mapping[str, object],
                sql: Mapping[str, object],
                unscoped: Mapping[str, object] | None = None) -> list[Violation]:
    """The violations no allow-list entry explains: `organization_id` and `unscoped` keyed by
    "module:function", `sql` by module; nothing explains a `Scope(`."""
    by_function = {"organization_id": organization_id, "unscoped": unscoped or {}}
    return [v for v in found
            if not (v.rule in by_function and f"{v.module}:{v.name}" in by_function[v.rule])
            and not (v.rule == "sql" and v.module in sql)]
