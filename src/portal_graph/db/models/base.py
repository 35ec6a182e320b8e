"""What every model is made of: the declarative base, ids, and the columns tenant rows share."""

from __future__ import annotations

import enum
import os
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Enum,
    FetchedValue,
    ForeignKey,
    ForeignKeyConstraint,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The primary's current WAL position, in bytes from 0/0 (replicas.py compares them).
WAL_POSITION = "(pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A UUIDv7: random enough to be unguessable, time-ordered so ids sort by creation."""
    millis = time.time_ns() // 1_000_000
    raw = bytearray(millis.to_bytes(6, "big") + os.urandom(10))
    raw[6] = (raw[6] & 0x0F) | 0x70
    raw[8] = (raw[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(raw))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    # Every string is `text` and every moment a `timestamptz`: a column names its type only
    # where it is another one.
    type_annotation_map = {uuid.UUID: UUID(as_uuid=True), dict[str, Any]: JSONB, str: Text,
                           datetime: DateTime(timezone=True)}


def pg_enum(cls: type[enum.Enum], name: str) -> Enum:
    """A PostgreSQL enum type holding the members' values."""
    return Enum(cls, name=name, values_callable=lambda members: [m.value for m in members])


def stamped() -> Any:
    """A moment always known: the database's clock unless given."""
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def tenant_reference(columns: list[str], table: str, remote: list[str],
                     **kw: Any) -> ForeignKeyConstraint:
    """A foreign key to a row of `table` in the same organization: `organization_id` leads both
    sides, so no row can point into another organization."""
    return ForeignKeyConstraint(
        ["organization_id", *columns],
        [f"{table}.organization_id", *(f"{table}.{c}" for c in remote)],
        **kw,
    )


def links(**referred: str) -> tuple[ForeignKeyConstraint, ...]:
    """The foreign keys of a link table, column=table: each names a row of that table in the
    same organization, and the link goes with either row."""
    return tuple(tenant_reference([column], table, ["id"], ondelete="CASCADE")
                 for column, table in referred.items())


# The column mixins below come first in their tables (sort_order), as the migrations made them.


class OwnedByOrganization:
    """A tenant row that its organization owns: `organization_id` leads the primary key and the
    row goes when the organization does."""

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True, sort_order=-2)


class InOrganization:
    """A tenant row under a parent row: `organization_id` leads the primary key, and the foreign
    keys to its parents (which include it) tie it to the organization."""

    organization_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, sort_order=-2)


class Identified:
    """Known by a UUIDv7 `id` (within its organization, for a tenant row)."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id, sort_order=-1)


class OnChangeFeed:
    """A row the change feed tells of (portal_graph/feed): its `change_position` is set by a
    trigger on every insert and update (migration 0007), and comes last in its table."""

    change_position: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                                 server_onupdate=FetchedValue())


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, typed as a Table (SQLAlchemy types it as a FromClause)."""
    return model.__table__  # type: ignore[return-value]
