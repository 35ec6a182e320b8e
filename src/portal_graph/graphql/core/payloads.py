"""`userErrors` and the one way mutations run: a savepoint, a service call, a payload."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, dataclass_transform

import strawberry
from strawberry.types.field import StrawberryField

from portal_graph.graphql.core.audiences import EVERYONE, audience
from portal_graph.graphql.core.context import Info
from portal_graph.problems import Problem, Rejected, UserErrorCode

UserErrorCodeEnum = strawberry.enum(UserErrorCode, name="UserErrorCode")
P = TypeVar("P")


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
    """A mutation payload type: reachable only through its mutation, whose audience governs."""
    return audience(EVERYONE)(strawberry.type(cls))


async def run_mutation(info: Info, payload: Callable[..., P], action: Callable[[], Awaitable[P]],
                       **empty: Any) -> P:
    """Run `action` in a savepoint; a `Rejected` rolls its writes back into userErrors."""
    session = info.context.session
    savepoint = await session.begin_nested()
    try:
        result = await action()
    except Rejected as rejected:
        await savepoint.rollback()
        return payload(user_errors=[UserError.from_problem(p) for p in rejected.problems],
                       **empty)
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
