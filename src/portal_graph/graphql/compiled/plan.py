"""The plan of one validated query: its selection set walked once, mapped onto the registry.

A plan is a tree. Per object type at a position (`ObjectPlan`): the response keys in
graphql-core's order, each a column with its scalar serializer, `__typename`, a global id, a
reference (one row by id, `Job.customer`) or a nested connection (`ConnectionPlan`: edges,
nodes, pageInfo, totalCount) whose node type has its own `ObjectPlan`. Field arguments stay
field nodes, read per request (`first`, `after`, filters, ids come from variables);
`@include`/`@skip` are applied while planning, so their variables are part of the plan's key
(see `directive_variables`).

Anything the planner does not know raises `NotPlannable`, and the whole operation runs on
graphql-core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    visit,
)
from graphql.execution.values import VariableValues, get_directive_values
from graphql.language import Visitor
from strawberry.permission import PermissionExtension

from portal_graph.graphql.compiled import registry
from portal_graph.graphql.compiled.scalars import Serializer, is_textual, serializer_for
from portal_graph.graphql.core.pagination import NestedConnection


class NotPlannable(Exception):
    """The operation needs graphql-core (the reason is for logs and tests)."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    column: str
    serialize: Serializer
    non_null: bool
    textual: bool  # a `str` is its own serialization (String, ID)


@dataclass(frozen=True, slots=True)
class Constant:
    key: str
    value: str  # __typename


@dataclass(frozen=True, slots=True)
class GlobalId:
    key: str
    type_name: str
    column: str


@dataclass(slots=True)
class Reference:
    key: str
    reference: registry.Reference
    non_null: bool
    plan: ObjectPlan


@dataclass(slots=True)
class Nested:
    key: str
    connection: NestedConnection[Any]
    definition: GraphQLField
    node: FieldNode  # its arguments, read per request
    plan: ConnectionPlan


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    entries: list[Column | Constant | GlobalId | Reference | Nested]
    # The permission classes of the planned fields, decided once per request from the viewer.
    permissions: list[tuple[type[Any], ...]] = field(default_factory=list)
    builders: dict[tuple[str, ...], Callable[[list[Any]], list[dict[str, Any]]]] = field(
        default_factory=dict)  # per row layout (build.py)


@dataclass(slots=True)
class ConnectionPlan:
    # (key, what): what is "edges" | "nodes" | "pageInfo" | "totalCount" | "__typename"
    entries: list[tuple[str, str, Any]]
    counted: bool = False

    def node_plans(self) -> list[ObjectPlan]:
        """The object plans of its nodes: one per `edges { node }` and per `nodes`."""
        found = []
        for _, name, payload in self.entries:
            if name == "nodes":
                found.append(payload)
            elif name == "edges":
                found.extend(sub for _, edge_name, sub in payload if edge_name == "node")
        return found


@dataclass(slots=True)
class RootEntry:
    key: str
    root: registry.Root | None  # None: `__typename` of Query
    definition: GraphQLField | None
    node: FieldNode | None
    listed: ConnectionPlan | None = None
    objects: dict[str, ObjectPlan] = field(default_factory=dict)  # by concrete type
    non_null: bool = False


@dataclass(slots=True)
class Plan:
    operation: OperationDefinitionNode
    roots: list[RootEntry]
    query_name: str = "Query"


def directive_variables(document: DocumentNode) -> frozenset[str]:
    """The variables `@include`/`@skip` read: their values decide the plan's shape."""
    names: set[str] = set()

    class Directives(Visitor):
        def enter_directive(self, node: Any, *_: Any) -> None:
            if node.name.value in ("include", "skip"):
                names.update(arg.value.name.value for arg in node.arguments
                             if isinstance(arg.value, VariableNode))

    visit(document, Directives())
    return frozenset(names)


class Planner:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode,
                 operation: OperationDefinitionNode, variables: VariableValues) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)}
        self.operation = operation

    def plan(self) -> Plan:
        if self.operation.operation is not OperationType.QUERY:
            raise NotPlannable("not a query")
        query = self.schema.query_type
        assert query is not None
        roots = []
        for key, nodes in self._collect(query, [self.operation.selection_set]).items():
            name = nodes[0].name.value
            if name == "__typename":
                roots.append(RootEntry(key, None, None, None))
                continue
            root = registry.ROOTS.get(name)
            if root is None or name not in query.fields:
                raise NotPlannable(f"root field {name}")
            definition = query.fields[name]
            entry = RootEntry(key, root, definition, nodes[0],
                              non_null=isinstance(definition.type, GraphQLNonNull))
            returned = get_named_type(definition.type)
            if root.list is not None:
                entry.listed = self._connection(returned, nodes)
            elif isinstance(returned, GraphQLObjectType):
                entry.objects[returned.name] = self._object(returned, nodes)
            else:
                # An interface (`node`): each type it may turn out to be, as far as they are
                # plannable; a row of another type sends the operation to graphql-core.
                for type_name in self._possible(returned):
                    try:
                        entry.objects[type_name] = self._object(self._type(type_name), nodes)
                    except NotPlannable:
                        continue
            roots.append(entry)
        return Plan(self.operation, roots, query.name)

    def _type(self, name: str) -> GraphQLObjectType:
        found = self.schema.type_map.get(name)
        assert isinstance(found, GraphQLObjectType)
        return found

    def _possible(self, returned: Any) -> list[str]:
        if isinstance(returned, GraphQLInterfaceType):
            return [t.name for t in self.schema.get_possible_types(returned)
                    if t.name in registry.ROW_TYPES]
        raise NotPlannable(f"return type {returned}")

    # --- objects and connections --------------------------------------------------------

    def _object(self, type_: GraphQLObjectType, nodes: list[FieldNode]) -> ObjectPlan:
        row_type = registry.ROW_TYPES.get(type_.name)
        if row_type is None:
            raise NotPlannable(f"type {type_.name}")
        plan = ObjectPlan(type_.name, [])
        for key, fields in self._collect(type_, _sets(nodes)).items():
            name = fields[0].name.value
            if name == "__typename":
                plan.entries.append(Constant(key, type_.name))
                continue
            definition = type_.fields[name]
            strawberry = (definition.extensions or {}).get("strawberry-definition")
            if strawberry is None:
                raise NotPlannable(f"{type_.name}.{name}")
            plan.permissions.extend(_permissions(strawberry, type_.name, name))
            non_null = isinstance(definition.type, GraphQLNonNull)
            nested = registry.NESTED.get((type_.name, name))
            reference = registry.REFERENCES.get((type_.name, name))
            if nested is not None:
                plan.entries.append(Nested(key, nested, definition, fields[0],
                                           self._connection(get_named_type(definition.type),
                                                            fields)))
            elif reference is not None:
                if reference.attribute not in row_type.columns.values():
                    raise NotPlannable(f"{type_.name}.{name}: no column {reference.attribute}")
                plan.entries.append(Reference(key, reference, non_null,
                                              self._object(self._type(reference.target),
                                                           fields)))
            elif registry.is_global_id(strawberry) and "db_id" in row_type.columns:
                plan.entries.append(GlobalId(key, type_.name, row_type.columns["db_id"]))
            elif strawberry.base_resolver is None and strawberry.python_name in row_type.columns:
                leaf = get_named_type(definition.type)
                if not is_leaf_type(leaf):
                    raise NotPlannable(f"{type_.name}.{name} is not a leaf")
                assert isinstance(leaf, GraphQLLeafType)
                plan.entries.append(Column(key, row_type.columns[strawberry.python_name],
                                           serializer_for(leaf), non_null, is_textual(leaf)))
            else:
                raise NotPlannable(f"{type_.name}.{name}")
        return plan

    def _connection(self, type_: Any, nodes: list[FieldNode]) -> ConnectionPlan:
        if not isinstance(type_, GraphQLObjectType) or "edges" not in type_.fields:
            raise NotPlannable(f"connection {type_}")
        edge_type = get_named_type(type_.fields["edges"].type)
        node_type = get_named_type(type_.fields["nodes"].type)
        assert isinstance(edge_type, GraphQLObjectType)
        assert isinstance(node_type, GraphQLObjectType)
        plan = ConnectionPlan([])
        for key, fields in self._collect(type_, _sets(nodes)).items():
            name = fields[0].name.value
            if name == "__typename":
                plan.entries.append((key, name, type_.name))
            elif name == "edges":
                edge: list[tuple[str, str, Any]] = []
                for edge_key, edge_fields in self._collect(edge_type, _sets(fields)).items():
                    edge_name = edge_fields[0].name.value
                    if edge_name == "node":
                        edge.append((edge_key, edge_name, self._object(node_type, edge_fields)))
                    elif edge_name in ("cursor", "__typename"):
                        edge.append((edge_key, edge_name, edge_type.name))
                    else:
                        raise NotPlannable(f"{edge_type.name}.{edge_name}")
                plan.entries.append((key, name, edge))
            elif name == "nodes":
                plan.entries.append((key, name, self._object(node_type, fields)))
            elif name == "pageInfo":
                info_type = get_named_type(type_.fields[name].type)
                assert isinstance(info_type, GraphQLObjectType)
                plan.entries.append((key, name, [(k, f[0].name.value, info_type.name)
                                                 for k, f in self._collect(
                                                     info_type, _sets(fields)).items()]))
            elif name == "totalCount":
                plan.counted = True
                plan.entries.append((key, name, None))
            else:
                raise NotPlannable(f"{type_.name}.{name}")
        return plan

    # --- fields, as graphql-core collects them -------------------------------------------

    def _collect(self, type_: GraphQLObjectType,
                 selection_sets: Iterable[SelectionSetNode]) -> dict[str, list[FieldNode]]:
        """Response key -> its field nodes, in graphql-core's order (CollectFields)."""
        fields: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self._collect_into(type_, selection_set, fields, visited)
        return fields

    def _collect_into(self, type_: GraphQLObjectType, selection_set: SelectionSetNode,
                      fields: dict[str, list[FieldNode]], visited: set[str]) -> None:
        for selection in selection_set.selections:
            if selection.directives and not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, type_):
                    self._collect_into(type_, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is not None and self._applies(fragment.type_condition, type_):
                    self._collect_into(type_, fragment.selection_set, fields, visited)

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _applies(self, condition: Any, type_: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = self.schema.get_type(condition.name.value)
        if named is type_:
            return True
        if isinstance(named, GraphQLInterfaceType):
            return self.schema.is_sub_type(named, type_)
        return False  # unions: none in the planned types


def _sets(nodes: Iterable[FieldNode]) -> Iterator[SelectionSetNode]:
    return (n.selection_set for n in nodes if n.selection_set is not None)


def _permissions(definition: Any, type_name: str, name: str) -> list[tuple[type[Any], ...]]:
    """The field's permission classes; any other extension is not plannable."""
    for extension in definition.extensions:
        if not isinstance(extension, PermissionExtension):
            raise NotPlannable(f"{type_name}.{name}: extension {type(extension).__name__}")
    classes = tuple(definition.permission_classes or ())
    return [classes] if classes else []
