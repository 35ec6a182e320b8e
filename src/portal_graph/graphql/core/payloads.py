"""`userErrors`, payloads and the one way mutations run: a savepoint, a service call, a payload.

A mutation's resolver is written as if nothing could go wrong:

    @mutation(rule=EDIT_WORK, payload=CreateJobPayload, description="Add a job.")
    async def create_job(self, info: Info, input: CreateJobInput) -> CreateJobPayload:
        row = await service.create_job(...)
        return CreateJobPayload(job=Job.from_row(row))

and runs in a savepoint: a `Rejected` from the service rolls its writes back and becomes the
payload's `userErrors`, which `@payload` gives every payload type. A command on one object
named by its global id is `act_on`: `DeactivateStaffMemberPayload(staff_member=await act_on(
info, StaffMember, staff.deactivate, input.staff_member_id))`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar, dataclass_transform

import strawberry
from sqlalchemy.engine import Row
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from portal_graph.actor import Actor
from portal_graph.db.session import RequestSession
from portal_graph.graphql.core import audiences
from portal_graph.graphql.core.audiences import EVERYONE, audience
from portal_graph.graphql.core.context import Info
from portal_graph.graphql.core.relay import parse_id
from portal_graph.problems import Problem, Rejected, UserErrorCode
from portal_graph.scope import Scope

UserErrorCodeEnum = strawberry.enum(UserErrorCode, name="UserErrorCode")
P = TypeVar("P")
N = TypeVar("N", covariant=True)
A = ParamSpec("A")


@audience(EVERYONE)
@strawberry.type(description="An expected business failure of a mutation.")
class UserError:
    code: UserErrorCodeEnum  # type: ignore[valid-type]
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault, e.g. ['input', 'email'].")
    message: str

    @classmethod
    def from_problem(cls, problem: Problem) -> UserError:
        path = ["input", *problem.field] if problem.field else None
        return cls(code=problem.code, field=path, message=problem.message)


@dataclass_transform(order_default=False, field_specifiers=(strawberry.field, StrawberryField))
def payload(cls: type[P]) -> type[P]:
    """A mutation payload type, its fields and then `userErrors` (empty unless the mutation
    was rejected); reachable only through its mutation, whose audience governs."""
    if "user_errors" not in cls.__annotations__:
        cls.__annotations__["user_errors"] = list[UserError]
        cls.user_errors = strawberry.field(default_factory=list)  # type: ignore[attr-defined]
    return audience(EVERYONE)(strawberry.type(cls))


def mutation(*, payload: type[Any] | None = None,
             **kwargs: Any) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
    """A mutation field (`audiences.mutation`: its capability `rule=`, or `audiences=`); with
    a `payload`, its resolver runs in a savepoint and a `Rejected` rolls its writes back into
    that payload's userErrors."""

    def decorate(resolver: Callable[..., Awaitable[Any]]) -> Any:
        if payload is None:
            return audiences.mutation(resolver, **kwargs)

        @functools.wraps(resolver)
        async def in_savepoint(*args: Any, **arguments: Any) -> Any:
            info: Info = arguments["info"]
            return await run_in_savepoint(info, payload, lambda: resolver(*args, **arguments))

        return audiences.mutation(in_savepoint, **kwargs)

    return decorate


async def run_in_savepoint(info: Info, payload: Callable[..., P],
                           action: Callable[[], Awaitable[P]]) -> P:
    """Run `action` in a savepoint; a `Rejected` rolls its writes back into userErrors."""
    session = info.context.session
    savepoint = await session.begin_nested()
    try:
        result = await action()
    except Rejected as rejected:
        await savepoint.rollback()
        return payload(user_errors=[UserError.from_problem(p) for p in rejected.problems])
    except BaseException:
        await savepoint.rollback()
        raise
    await savepoint.commit()
    return result


def given(input: Any, *names: str) -> dict[str, Any]:
    """The fields of an update's input the client sent, by name: an omitted field is left as
    it is, one sent as null is cleared (`strawberry.UNSET` tells the two apart)."""
    return {name: getattr(input, name) for name in names
            if getattr(input, name) is not strawberry.UNSET}


class FromRow(Protocol[N]):
    """A GraphQL object type made from its row (`StaffMember.from_row`)."""

    def from_row(self, row: Row[Any], /) -> N: ...


async def act_on(
    info: Info, node: FromRow[N],
    command: Callable[Concatenate[RequestSession, Scope, Actor, uuid.UUID | None, A],
                      Awaitable[Row[Any]]],
    global_id: strawberry.ID, /, *args: A.args, **kwargs: A.kwargs,
) -> N:
    """Run a service command on one object, named by its global id, as the viewer (`act`):
    the object as the command leaves it. The command gets the id parsed as `node`'s type
    (None when it is not one, which it answers as not found)."""
    object_id = parse_id(global_id, get_object_definition(node, strict=True).name)
    return node.from_row(await info.context.act(command, object_id, *args, **kwargs))
