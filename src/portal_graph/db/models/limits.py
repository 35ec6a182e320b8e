"""What every server process shares about clients, in no organization: rate-limit windows, cost
buckets, trusted documents."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Double, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from portal_graph.db.models.base import Base, stamped


class RateLimitCounter(Base):
    """Fixed-window counters shared by every server process."""

    __tablename__ = "rate_limit_counters"
    key: Mapped[str] = mapped_column(primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    __table_args__ = (Index("ix_rate_limit_counters_window", "window_start"),)


class CostBucket(Base):
    """A leaky bucket of query cost per API token, session or anonymous address, shared by
    every server process (portal_graph/cost_buckets.py). `used` is the level at
    `updated_at`; it drains at the audience's restore rate from then on."""

    __tablename__ = "cost_buckets"
    key: Mapped[str] = mapped_column(primary_key=True)
    used: Mapped[float] = mapped_column(Double)
    admitted: Mapped[bool]  # whether the last charge was let through
    updated_at: Mapped[datetime] = stamped()
    __table_args__ = (Index("ix_cost_buckets_updated_at", "updated_at"),)


class TrustedDocument(Base):
    """A GraphQL document stored by `portal-graph documents add`, known by its SHA-256.

    Not a tenant table: documents are the API's clients' code, the same for every
    organization (like the schema), and hold no data.
    """

    __tablename__ = "trusted_documents"
    id: Mapped[str] = mapped_column(primary_key=True)  # "sha256:<64 hex digits>"
    body: Mapped[str]
    operation_names: Mapped[list[str]] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = stamped()
    __table_args__ = (CheckConstraint("id ~ '^sha256:[0-9a-f]{64}$'", name="id_format"),)
