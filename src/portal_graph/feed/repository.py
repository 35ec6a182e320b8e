"""SQL of the change feed: what became visible, changed or left the view of one viewer.

Every customer, job, map capture and asset carries a `change_position` that its triggers move
on each insert and update, and on each change of anything its visibility depends on (a job's
status moves its captures and assets, a job-asset link moves the asset). Deletions leave a
tombstone, grants leave periods, and rows leave periods of being visible to whoever holds a
grant of their customer (migration 0007). From those, for a viewer:

- its **key** is (position, entity, id). Staff: the row's own position. External users: the
  later of the row's position and the last change of the viewer's grant of its customer, so
  a grant given (or taken) brings every row of that customer after the cursors stored before;
- a row past the cursor that is visible now is a change (`removed` false);
- a row past the cursor that is not visible now, or was deleted, is a tombstone (`removed`
  true) only when the viewer **could see it at some time** (a public period of the row
  overlapping a grant period of the viewer; staff could see every row of their
  organization). Never visible means never told of: a tombstone reveals nothing new. From the
  start (no cursor) there are no tombstones at all: the client holds nothing yet.

Visibility now is `scope.visible`, the same filter every read uses.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    String,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.engine import Row

from portal_graph.db.session import RequestSession
from portal_graph.db.tables import assets, customers, jobs, map_captures
from portal_graph.db.tables import feed_grant_periods as grant_periods
from portal_graph.db.tables import feed_public_periods as public_periods
from portal_graph.db.tables import feed_tombstones as tombstones
from portal_graph.scope import Scope, visible

# (GraphQL type name, table, the column naming the row's customer)
ENTITIES = (("Customer", customers, customers.c.id),
            ("Job", jobs, jobs.c.customer_id),
            ("MapCapture", map_captures, map_captures.c.customer_id),
            ("Asset", assets, assets.c.customer_id))
OPEN = 2**62  # an open period's end


@dataclass(frozen=True, slots=True)
class FeedCursor:
    position: int
    entity: str
    row_id: uuid.UUID


START = FeedCursor(0, "", uuid.UUID(int=0))


class BadFeedCursor(ValueError):
    pass


def encode(position: int, entity: str, row_id: uuid.UUID) -> str:
    raw = orjson.dumps(["c1", str(position), entity, str(row_id)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> FeedCursor:
    if not cursor:
        return START
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        version, position, entity, row_id = raw
        if version != "c1" or entity not in {name for name, _, _ in ENTITIES}:
            raise BadFeedCursor(cursor)
        return FeedCursor(int(position), entity, uuid.UUID(row_id))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as error:
        raise BadFeedCursor(cursor) from error


def _past(cursor: FeedCursor, position: ColumnElement[Any], entity: ColumnElement[Any],
          row_id: ColumnElement[Any]) -> ColumnElement[bool]:
    return tuple_(position, entity, row_id) > tuple_(
        literal(cursor.position), literal(cursor.entity, String), literal(cursor.row_id))


def _ever_visible(scope: Scope, entity: ColumnElement[Any],
                  row_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether this external viewer could see the row at some position: one of its public
    periods overlaps one of the viewer's grant periods of its customer."""
    shown, granted = public_periods.alias("shown"), grant_periods.alias("granted")
    return exists(
        select(1).select_from(shown.join(granted, and_(
            granted.c.organization_id == shown.c.organization_id,
            granted.c.customer_id == shown.c.customer_id)))
        .where(shown.c.organization_id == scope.organization_id, shown.c.entity == entity,
               shown.c.row_id == row_id, granted.c.external_user_id == scope.external_user_id,
               shown.c.since_position < func.coalesce(granted.c.until_position, OPEN),
               granted.c.since_position < func.coalesce(shown.c.until_position, OPEN)))


def _staff_changes(scope: Scope, cursor: FeedCursor, limit: int) -> list[Select[Any]]:
    branches = []
    for name, table, _ in ENTITIES:
        position, entity = table.c.change_position, literal(name, String)
        branches.append(
            select(entity.label("entity"), table.c.id.label("row_id"),
                   position.label("position"), literal(True, Boolean).label("present"))
            # The bare range lets (organization_id, change_position) serve the scan.
            .where(visible(scope, table), position >= cursor.position,
                   _past(cursor, position, entity, table.c.id))
            .order_by(position, table.c.id).limit(limit))
    branches.append(
        select(tombstones.c.entity, tombstones.c.row_id, tombstones.c.position,
               literal(False, Boolean).label("present"))
        .where(tombstones.c.organization_id == scope.organization_id,
               tombstones.c.position >= cursor.position,
               _past(cursor, tombstones.c.position, tombstones.c.entity, tombstones.c.row_id))
        .order_by(tombstones.c.position).limit(limit))
    return branches


def _external_changes(scope: Scope, cursor: FeedCursor, limit: int) -> list[Select[Any]]:
    # Every customer the viewer was ever granted, with its grant's last change.
    grants = (select(grant_periods.c.customer_id,
                     func.max(func.greatest(grant_periods.c.since_position,
                                            func.coalesce(grant_periods.c.until_position, 0)))
                     .label("changed_at"))
              .where(grant_periods.c.organization_id == scope.organization_id,
                     grant_periods.c.external_user_id == scope.external_user_id)
              .group_by(grant_periods.c.customer_id)
              .cte("grant_changes"))
    branches = []
    for name, table, customer in ENTITIES:
        entity = literal(name, String)
        position = func.greatest(table.c.change_position, grants.c.changed_at)
        now_visible = visible(scope, table)
        branches.append(
            select(entity.label("entity"), table.c.id.label("row_id"),
                   position.label("position"), now_visible.label("present"))
            .select_from(table.join(grants, grants.c.customer_id == customer))
            .where(table.c.organization_id == scope.organization_id,
                   _past(cursor, position, entity, table.c.id),
                   or_(now_visible, _ever_visible(scope, entity, table.c.id)))
            .order_by(position, table.c.id).limit(limit))
    branches.append(
        select(tombstones.c.entity, tombstones.c.row_id, tombstones.c.position,
               literal(False, Boolean).label("present"))
        .select_from(tombstones.join(grants, grants.c.customer_id == tombstones.c.customer_id))
        .where(tombstones.c.organization_id == scope.organization_id,
               _past(cursor, tombstones.c.position, tombstones.c.entity, tombstones.c.row_id),
               _ever_visible(scope, tombstones.c.entity, tombstones.c.row_id))
        .order_by(tombstones.c.position).limit(limit))
    return branches


def changes_statement(scope: Scope, cursor: FeedCursor, limit: int) -> Select[Any]:
    """The next `limit` changes after `cursor` for this scope, in key order."""
    branches = (_external_changes if scope.external else _staff_changes)(scope, cursor, limit)
    if cursor == START:  # a client starting out holds nothing: no tombstones to give it
        branches = [branch.where(branch.selected_columns.present) for branch in branches[:-1]]
    merged = union_all(*branches).subquery("changes")
    return (select(merged).order_by(merged.c.position, merged.c.entity, merged.c.row_id)
            .limit(limit))


async def changes_after(session: RequestSession, scope: Scope, cursor: FeedCursor,
                        limit: int) -> list[Row[Any]]:
    if scope.external and scope.external_user_id is None:
        return []
    return list((await session.execute(changes_statement(scope, cursor, limit))).all())


__all__ = ["BadFeedCursor", "FeedCursor", "changes_after", "decode", "encode"]
