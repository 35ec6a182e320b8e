"""The checker behind test_scope_door.py: `Scope` is the only door to tenant rows.

Read from the source (AST, nothing imported), these would open another door:
- a public repository function taking a raw `organization_id` (not a `Scope`),
- a public repository function taking a session but no `scope`: it must run in a named system
  context (db/tenancy.py), or touch no tenant row, and say which,
- such a function listed with a system context but not checking it when called: it must carry
  `@runs_in(that context)` (db/tenancy.py), or enter the context itself,
- a `Scope(...)` built anywhere but scope.py, whose `scope_for` and `admin_scope` are the
  constructors,
- SQL written (`select`/`text`/`insert`/`update`/`delete` from sqlalchemy) outside the
  repositories, `db/` and the scope layer, or sent there as a string (`conn.fetch("SELECT ...")`
  on an asyncpg connection, `exec_driver_sql(...)`), or rows moved by COPY (`copy_*`).
Each exception is named in an allow-list with its reason (test_scope_door.py). Modelled on
Polar's `lint_org_scope`: a check on the syntax that fails in review; `@runs_in` is the one
check that runs at run time too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQL_BUILDERS = frozenset({"select", "text", "insert", "update", "delete"})
# Methods that send a statement given as a string (asyncpg's connection and pool, SQLAlchemy's
# driver-level escape hatch): a violation when that string is in the source.
SQL_SENDERS = frozenset({"execute", "executemany", "fetch", "fetchrow", "fetchval",
                         "exec_driver_sql"})
# asyncpg's COPY methods: rows in or out of a table named by a string, no statement to review.
COPY_METHODS = frozenset({"copy_records_to_table", "copy_to_table", "copy_from_table",
                          "copy_from_query"})


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


def _is_string(node: ast.expr, strings: set[str]) -> bool:
    """A string the source spells out: a literal, an f-string, one joined or formatted from
    them, or a name bound to one."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_string(node.left, strings) or _is_string(node.right, strings)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and _is_string(node.func.value, strings)
    return isinstance(node, ast.Name) and node.id in strings


def _string_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # in source order: a name bound to another string name counts
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None and (
                _is_string(node.value, names)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _sql_sent(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """`x.fetchval("SELECT ...")` and the like, and every `x.copy_records_to_table(...)`."""
    strings = _string_names(tree)
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method = node.func.attr
        if method in COPY_METHODS or (method in SQL_SENDERS and node.args
                                      and _is_string(node.args[0], strings)):
            yield node.lineno, method


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
        found += [Violation(module, line, "sql", name)
                  for line, name in (*_sql_calls(tree), *_sql_sent(tree))]
    return found


def _modules(root: Path) -> Iterator[tuple[str, str]]:
    """(module, source) of the package at `root` (migrations are SQL by nature: left out)."""
    for path in sorted(root.rglob("*.py")):
        module = path.relative_to(root).as_posix()
        if not module.startswith("db/migrations/"):
            yield module, path.read_text()


def check_tree(root: Path) -> list[Violation]:
    """Every violation in the package at `root`."""
    found: list[Violation] = []
    for module, source in _modules(root):
        found += check_module(module, source)
    return sorted(found)


def _context_names(node: ast.AST) -> frozenset[str]:
    """The `SystemContext.X` named anywhere under `node`: {"X", ...}."""
    return frozenset(n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
                     and isinstance(n.value, ast.Name) and n.value.id == "SystemContext")


def _required_contexts(function: ast.FunctionDef | ast.AsyncFunctionDef) -> frozenset[str]:
    """The contexts of its `@runs_in(SystemContext.X, ...)` decorator (none without one)."""
    required: frozenset[str] = frozenset()
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and (
                getattr(decorator.func, "id", None) == "runs_in"
                or getattr(decorator.func, "attr", None) == "runs_in"):
            required |= _context_names(decorator)
    return required


def context_names(listed: Any) -> frozenset[str]:
    """An allow-list's context (a SystemContext, several, or None) as names: {"OUTBOX"}."""
    if listed is None:
        return frozenset()
    contexts: Iterable[Any] = listed if isinstance(listed, tuple | frozenset | set) else [listed]
    return frozenset(context.name for context in contexts)


def unchecked_contexts(root: Path, unscoped: Mapping[str, tuple[Any, str]]) -> list[Violation]:
    """The unscoped repository functions whose system context (as `unscoped` lists it, keyed
    "module:function") is not checked when they are called: each must carry `@runs_in` with
    exactly those contexts, or enter them itself; one listed with none carries no `@runs_in`."""
    found: list[Violation] = []
    for module, source in _modules(root):
        if not is_repository(module):
            continue
        for node in ast.parse(source, filename=module).body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or (
                    node.name.startswith("_")):
                continue
            listed = unscoped.get(f"{module}:{node.name}")
            expected = context_names(listed[0] if listed else None)
            required = _required_contexts(node)
            entered = frozenset().union(*map(_context_names, node.body))
            if required != expected and not (not required and entered == expected):
                found.append(Violation(module, node.lineno, "runs_in", node.name))
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
