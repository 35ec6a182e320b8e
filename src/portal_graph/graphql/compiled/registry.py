"""What the planner knows: the reads it can run without graphql-core, and nothing else.

- **Object types backed by a row** (`ROW_TYPES`): a field without a resolver reads the column
  that the type's `from_row` copies into it, found once by handing `from_row` a probe row
  whose every column is a marker (so a `from_row` that computes a value is noticed, and that
  field is not planned);
- `id` of a `Node`: the global id of the row's `id`;
- **nested connections**: `pagination.NESTED` (parent type, field) -> its page and count
  loaders and filters, exactly what the Strawberry resolvers use;
- **references** (`REFERENCES`): a field whose resolver loads one row by a column of its
  parent through a by-id loader (`Job.customer`);
- **root fields** (`ROOTS`): the top-level lists and by-id reads, through the same functions
  as their resolvers (`customer_page`, `job_page`, `node_row`, ...).

Everything else (mutations, `me`, resolvers with rules of their own, unknown types) is not
plannable, and the operation runs on graphql-core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from portal_graph.customers.loaders import CustomerByIdLoader
from portal_graph.customers.queries import customer_page
from portal_graph.graphql.core.context import Context
from portal_graph.graphql.core.loaders import RowByIdLoader
from portal_graph.graphql.core.pagination import NESTED, Listed, NestedConnection
from portal_graph.graphql.core.relay import Node, parse_id
from portal_graph.graphql.schema import NODE_KINDS, node_row
from portal_graph.work import loaders as work_loaders
from portal_graph.work.queries import capture_page, job_page
from portal_graph.work.types import box_of, job_status

__all__ = ["NESTED", "REFERENCES", "ROOTS", "ROW_TYPES", "NestedConnection", "Reference",
           "Root", "RowType", "is_global_id"]


class _Column:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class _ProbeRow:
    """A row whose every column is a marker naming it."""

    def __getattr__(self, name: str) -> _Column:
        return _Column(name)


@dataclass(frozen=True)
class RowType:
    """A GraphQL object type built from one row by `from_row`."""

    name: str
    columns: dict[str, str]  # python attribute -> column it is copied from

    @classmethod
    def probe(cls, name: str, make: Callable[[Any], Any]) -> RowType:
        try:
            made = make(_ProbeRow())
        except Exception:  # from_row computes something: nothing of it is planned
            return cls(name, {})
        columns = {attribute: value.name for attribute, value in vars(made).items()
                   if isinstance(value, _Column)}
        return cls(name, columns)


ROW_TYPES: dict[str, RowType] = {name: RowType.probe(name, kind.make)
                                 for name, kind in NODE_KINDS.items()}

_NODE_ID = next(f for f in Node.__strawberry_definition__.fields  # type: ignore[attr-defined]
                if f.python_name == "id")


def is_global_id(definition: Any) -> bool:
    """The field is `Node.id` (its resolver, inherited unchanged)."""
    resolver = getattr(definition, "base_resolver", None)
    return resolver is not None and resolver.wrapped_func is _NODE_ID.base_resolver.wrapped_func


@dataclass(frozen=True)
class Reference:
    """A field whose resolver is `loader.load(parent.<attribute>)` made into `target`."""

    loader: type[RowByIdLoader]
    attribute: str  # the parent's attribute holding the id (a column, see RowType)
    target: str


REFERENCES: dict[tuple[str, str], Reference] = {
    ("Job", "customer"): Reference(CustomerByIdLoader, "customer_id", "Customer"),
    ("Asset", "customer"): Reference(CustomerByIdLoader, "customer_id", "Customer"),
    ("MapCapture", "customer"): Reference(CustomerByIdLoader, "customer_id", "Customer"),
    ("MapCapture", "job"): Reference(work_loaders.JobByIdLoader, "job_id", "Job"),
}


@dataclass(frozen=True)
class Root:
    """A top-level field: `list` gives a page (a connection), `one` a (type, row) or None."""

    list: Callable[[Context, dict[str, Any]], Awaitable[Listed]] | None = None
    one: Callable[[Context, dict[str, Any]], Awaitable[tuple[str, Any] | None]] | None = None


def _by_id(type_name: str, loader: type[RowByIdLoader],
           ) -> Callable[[Context, dict[str, Any]], Awaitable[tuple[str, Any] | None]]:
    async def one(context: Context, args: dict[str, Any]) -> tuple[str, Any] | None:
        id_ = parse_id(args["id"], type_name)
        if id_ is None:
            return None
        row = await context.loaders.get(loader).load(id_)
        return None if row is None else (type_name, row)

    return one


async def _node(context: Context, args: dict[str, Any]) -> tuple[str, Any] | None:
    found = await node_row(context, args["id"])
    if found is None:
        return None
    kind, row = found
    return kind.type_.__strawberry_definition__.name, row  # type: ignore[attr-defined]


def _customers(context: Context, args: dict[str, Any]) -> Awaitable[Listed]:
    return customer_page(context, args.get("first"), args.get("after"), args.get("search"))


def _jobs(context: Context, args: dict[str, Any]) -> Awaitable[Listed]:
    return job_page(context, args.get("first"), args.get("after"), args.get("customerId"),
                    job_status(args.get("status")))


def _captures(context: Context, args: dict[str, Any]) -> Awaitable[Listed]:
    return capture_page(context, args.get("first"), args.get("after"), args.get("customerId"),
                        box_of(args.get("within")))


ROOTS: dict[str, Root] = {
    "node": Root(one=_node),
    "customer": Root(one=_by_id("Customer", CustomerByIdLoader)),
    "job": Root(one=_by_id("Job", work_loaders.JobByIdLoader)),
    "customers": Root(list=_customers),
    "jobs": Root(list=_jobs),
    "mapCaptures": Root(list=_captures),
}


def filters_of(connection: NestedConnection[Any], args: dict[str, Any]) -> tuple[Hashable, ...]:
    """The nested connection's filter arguments, converted as its resolver converts them."""
    return tuple(convert(args.get(name)) for name, convert in connection.filters)
