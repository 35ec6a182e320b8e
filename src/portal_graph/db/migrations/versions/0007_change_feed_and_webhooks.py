"""change feed and webhooks

The change feed (portal_graph/feed): customers, jobs, map captures and assets get a
`change_position` from one sequence, set by a trigger on every insert and update (so no code
path can forget it), indexed per organization. Each position is taken under a
transaction-scoped advisory lock of the row's organization, held to commit, so within an
organization positions become visible in the order they were taken: a reader that has seen
position n will never later see a position below n appear.

What a viewer could see in the past is kept as history, also by triggers:
- `feed_public_periods`: when a row was visible to the external users granted its customer
  (a job while COMPLETED, a capture while it has no job or a completed one, an asset while
  linked to a completed job, a customer while it exists), as [since, until) of positions;
- `feed_grant_periods`: when an external user held a grant of a customer;
- `feed_tombstones`: deleted rows.
A job whose status changes "touches" its captures and assets (their positions move) and a
link between a job and an asset touches the asset (once per statement), so a row's position
moves whenever its visibility to anybody can have changed. See docs/FEED.md.

Webhooks: endpoints and deliveries, deliveries leased by workers like the email outbox.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

from portal_graph.db.migrations.ddl import (
    moment,
    stamp,
    tenant_entity,
    tenant_policy,
    tenant_table,
    uuid,
)

revision, down_revision = "0007", "0010"  # after the map index (0010)

ENTITIES = {"customers": "Customer", "jobs": "Job", "map_captures": "MapCapture",
            "assets": "Asset"}
LOCK_CLASS = 727053  # pg_advisory_xact_lock(LOCK_CLASS, hashtext(organization_id::text))

FUNCTIONS = f"""
CREATE FUNCTION feed_lock(org uuid) RETURNS void LANGUAGE sql AS
$$ SELECT pg_advisory_xact_lock({LOCK_CLASS}, hashtext(org::text)) $$;

CREATE FUNCTION feed_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM feed_lock(NEW.organization_id);
  NEW.change_position := nextval('change_positions');
  RETURN NEW;
END $$;

CREATE FUNCTION feed_publicity(kind text, org uuid, target uuid, customer uuid,
                               shown boolean, pos bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF shown THEN
    INSERT INTO feed_public_periods (organization_id, entity, row_id, customer_id,
                                     since_position)
    SELECT org, kind, target, customer, pos
    WHERE NOT EXISTS (SELECT 1 FROM feed_public_periods p
                      WHERE p.organization_id = org AND p.entity = kind AND p.row_id = target
                        AND p.until_position IS NULL);
  ELSE
    UPDATE feed_public_periods SET until_position = pos
    WHERE organization_id = org AND entity = kind AND row_id = target
      AND until_position IS NULL;
  END IF;
END $$;

CREATE FUNCTION feed_customer_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM feed_publicity('Customer', NEW.organization_id, NEW.id, NEW.id, true,
                         NEW.change_position);
  -- An archived customer leaves its external users' view as a revoked grant would
  -- (scope.current_grants_sql): its grant periods end, and start again if it comes back.
  IF TG_OP = 'UPDATE' AND NEW.archived_at IS NOT NULL AND OLD.archived_at IS NULL THEN
    UPDATE feed_grant_periods SET until_position = NEW.change_position
    WHERE organization_id = NEW.organization_id AND customer_id = NEW.id
      AND until_position IS NULL;
  ELSIF TG_OP = 'UPDATE' AND NEW.archived_at IS NULL AND OLD.archived_at IS NOT NULL THEN
    INSERT INTO feed_grant_periods (organization_id, external_user_id, customer_id,
                                    since_position)
    SELECT organization_id, external_user_id, customer_id, NEW.change_position
    FROM customer_grants WHERE organization_id = NEW.organization_id AND customer_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION feed_job_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM feed_publicity('Job', NEW.organization_id, NEW.id, NEW.customer_id,
                         NEW.status = 'COMPLETED', NEW.change_position);
  IF TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status THEN
    UPDATE map_captures SET change_position = 0
    WHERE organization_id = NEW.organization_id AND job_id = NEW.id;
    UPDATE assets SET change_position = 0
    WHERE organization_id = NEW.organization_id AND id IN (
      SELECT asset_id FROM job_assets
      WHERE organization_id = NEW.organization_id AND job_id = NEW.id);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION feed_capture_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM feed_publicity('MapCapture', NEW.organization_id, NEW.id, NEW.customer_id,
    NEW.job_id IS NULL OR EXISTS (
      SELECT 1 FROM jobs j WHERE j.organization_id = NEW.organization_id
        AND j.id = NEW.job_id AND j.status = 'COMPLETED'),
    NEW.change_position);
  RETURN NULL;
END $$;

CREATE FUNCTION feed_asset_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM feed_publicity('Asset', NEW.organization_id, NEW.id, NEW.customer_id,
    EXISTS (SELECT 1 FROM job_assets l JOIN jobs j
              ON j.organization_id = l.organization_id AND j.id = l.job_id
            WHERE l.organization_id = NEW.organization_id AND l.asset_id = NEW.id
              AND j.status = 'COMPLETED'),
    NEW.change_position);
  RETURN NULL;
END $$;

CREATE FUNCTION feed_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE pos bigint; customer uuid;
BEGIN
  PERFORM feed_lock(OLD.organization_id);
  pos := nextval('change_positions');
  IF TG_ARGV[0] = 'Customer' THEN customer := OLD.id;
  ELSE customer := (to_jsonb(OLD) ->> 'customer_id')::uuid; END IF;
  INSERT INTO feed_tombstones (organization_id, position, entity, row_id, customer_id)
  VALUES (OLD.organization_id, pos, TG_ARGV[0], OLD.id, customer);
  PERFORM feed_publicity(TG_ARGV[0], OLD.organization_id, OLD.id, customer, false, pos);
  RETURN NULL;
END $$;

CREATE FUNCTION feed_grant_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE pos bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF EXISTS (SELECT 1 FROM customers c WHERE c.organization_id = NEW.organization_id
               AND c.id = NEW.customer_id AND c.archived_at IS NOT NULL) THEN
      RETURN NULL;  -- shows nothing while archived (its period starts when it comes back)
    END IF;
    PERFORM feed_lock(NEW.organization_id);
    INSERT INTO feed_grant_periods (organization_id, external_user_id, customer_id,
                                    since_position)
    VALUES (NEW.organization_id, NEW.external_user_id, NEW.customer_id,
            nextval('change_positions'));
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM feed_lock(OLD.organization_id);
    pos := nextval('change_positions');
    UPDATE feed_grant_periods SET until_position = pos
    WHERE organization_id = OLD.organization_id AND external_user_id = OLD.external_user_id
      AND customer_id = OLD.customer_id AND until_position IS NULL;
  END IF;
  RETURN NULL;
END $$;
"""

TRIGGERS = """
CREATE TRIGGER feed_stamp BEFORE INSERT OR UPDATE ON {table}
  FOR EACH ROW EXECUTE FUNCTION feed_stamp();
CREATE TRIGGER feed_changed AFTER INSERT OR UPDATE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {changed}();
CREATE TRIGGER feed_deleted AFTER DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION feed_deleted('{entity}');
"""
# A link between a job and an asset, added or removed, moves the asset. Per statement: a bulk
# insert of links moves each asset once, not once per link.
LINKS_CHANGED = """
CREATE FUNCTION feed_links_{change}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE assets SET change_position = 0
  WHERE (organization_id, id) IN (SELECT DISTINCT organization_id, asset_id FROM {change});
  RETURN NULL;
END $$;
CREATE TRIGGER feed_links_{change} AFTER {event} ON job_assets
  REFERENCING {rows} TABLE AS {change}
  FOR EACH STATEMENT EXECUTE FUNCTION feed_links_{change}();
"""
CHANGED = {"customers": "feed_customer_changed", "jobs": "feed_job_changed",
           "map_captures": "feed_capture_changed", "assets": "feed_asset_changed"}


def _period() -> tuple[sa.Column, sa.Column]:
    """[since, until) of change positions; `until` is null while the period lasts."""
    return (sa.Column("since_position", sa.BigInteger(), nullable=False),
            sa.Column("until_position", sa.BigInteger(), nullable=True))


def _each(statements: str) -> None:
    """One statement at a time (asyncpg prepares each, and a prepared statement is one)."""
    for statement in re.split(r";\s*\n(?=CREATE )", statements.strip()):
        op.execute(statement)


def upgrade() -> None:
    op.execute("CREATE SEQUENCE change_positions AS bigint")
    for table in ENTITIES:
        # A volatile default gives every existing row a position of its own.
        op.add_column(table, sa.Column("change_position", sa.BigInteger(), nullable=False,
                                       server_default=sa.text("nextval('change_positions')")))
        op.create_index(f"ix_{table}_org_change_position", table,
                        ["organization_id", "change_position"])
    tenant_table(
        "feed_tombstones",
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        uuid("row_id"),
        uuid("customer_id"),
        stamp("deleted_at"),
        key=("position",))
    tenant_policy("feed_tombstones")
    tenant_table(
        "feed_public_periods",
        sa.Column("entity", sa.Text(), nullable=False),
        uuid("row_id"),
        *_period(),
        uuid("customer_id"),
        key=("entity", "row_id", "since_position"))
    tenant_policy("feed_public_periods")
    # "Could this viewer ever see it": from the viewer's grant periods to their customers' rows.
    op.create_index("ix_feed_public_periods_org_customer", "feed_public_periods",
                    ["organization_id", "customer_id", "entity", "row_id"])
    tenant_table(
        "feed_grant_periods",
        uuid("external_user_id"),
        uuid("customer_id"),
        *_period(),
        key=("external_user_id", "customer_id", "since_position"))
    tenant_policy("feed_grant_periods")
    # History of what exists now.
    op.execute("""INSERT INTO feed_grant_periods (organization_id, external_user_id,
                  customer_id, since_position)
                  SELECT g.organization_id, g.external_user_id, g.customer_id,
                         nextval('change_positions') FROM customer_grants g
                  JOIN customers c ON c.organization_id = g.organization_id
                                  AND c.id = g.customer_id
                  WHERE c.archived_at IS NULL""")
    op.execute("""INSERT INTO feed_public_periods (organization_id, entity, row_id, customer_id,
                  since_position)
                  SELECT organization_id, 'Customer', id, id, change_position FROM customers
                  UNION ALL
                  SELECT organization_id, 'Job', id, customer_id, change_position FROM jobs
                  WHERE status = 'COMPLETED'
                  UNION ALL
                  SELECT c.organization_id, 'MapCapture', c.id, c.customer_id,
                         c.change_position FROM map_captures c
                  WHERE c.job_id IS NULL OR EXISTS (
                    SELECT 1 FROM jobs j WHERE j.organization_id = c.organization_id
                      AND j.id = c.job_id AND j.status = 'COMPLETED')
                  UNION ALL
                  SELECT a.organization_id, 'Asset', a.id, a.customer_id, a.change_position
                  FROM assets a WHERE EXISTS (
                    SELECT 1 FROM job_assets l JOIN jobs j
                      ON j.organization_id = l.organization_id AND j.id = l.job_id
                    WHERE l.organization_id = a.organization_id AND l.asset_id = a.id
                      AND j.status = 'COMPLETED')""")
    _each(FUNCTIONS)
    for table, entity in ENTITIES.items():
        _each(TRIGGERS.format(table=table, entity=entity, changed=CHANGED[table]))
    for change, event, rows in (("added", "INSERT", "NEW"), ("removed", "DELETE", "OLD")):
        _each(LINKS_CHANGED.format(change=change, event=event, rows=rows))
    op.execute("""CREATE TRIGGER feed_grant_changed AFTER INSERT OR DELETE ON customer_grants
                  FOR EACH ROW EXECUTE FUNCTION feed_grant_changed()""")
    _webhooks()


def _webhooks() -> None:
    tenant_entity(
        "webhook_endpoints",
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        uuid("owner_external_user_id", nullable=True),
        sa.Column("event_kinds", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        moment("failing_since"),
        stamp("created_at"),
        sa.ForeignKeyConstraint(
            ["organization_id", "owner_external_user_id"],
            ["external_users.organization_id", "external_users.id"], ondelete="CASCADE",
            name="fk_webhook_endpoints_organization_id_external_users"))
    tenant_policy("webhook_endpoints")
    op.create_index("ix_webhook_endpoints_org_owner", "webhook_endpoints",
                    ["organization_id", "owner_external_user_id"])
    tenant_entity(
        "webhook_deliveries",
        uuid("endpoint_id"),
        sa.Column("event_position", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        uuid("subject_id"),
        uuid("customer_id", nullable=True),
        moment("occurred_at", nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="QUEUED"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        stamp("next_attempt_at"),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        moment("delivered_at"),
        uuid("lease_token", nullable=True),
        moment("lease_expires_at"),
        stamp("created_at"),
        sa.ForeignKeyConstraint(
            ["organization_id", "endpoint_id"],
            ["webhook_endpoints.organization_id", "webhook_endpoints.id"],
            ondelete="CASCADE", name="fk_webhook_deliveries_organization_id_webhook_endpoints"),
        sa.CheckConstraint("status IN ('QUEUED', 'DELIVERED', 'FAILED', 'SKIPPED')",
                           name="ck_webhook_deliveries_status"),
        sa.CheckConstraint("(lease_token IS NULL) = (lease_expires_at IS NULL) "
                           "AND (lease_token IS NULL OR status = 'QUEUED')",
                           name="ck_webhook_deliveries_lease"))
    tenant_policy("webhook_deliveries")
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'QUEUED'"))
    op.create_index("ix_webhook_deliveries_org_endpoint", "webhook_deliveries",
                    ["organization_id", "endpoint_id", sa.text("id DESC")])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
    op.execute("DROP TRIGGER feed_grant_changed ON customer_grants")
    op.execute("DROP TRIGGER feed_links_added ON job_assets")
    op.execute("DROP TRIGGER feed_links_removed ON job_assets")
    for table in ENTITIES:
        for trigger in ("feed_stamp", "feed_changed", "feed_deleted"):
            op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.drop_index(f"ix_{table}_org_change_position", table)
        op.drop_column(table, "change_position")
    for function in ("feed_grant_changed()", "feed_deleted()",
                     "feed_asset_changed()", "feed_capture_changed()", "feed_job_changed()",
                     "feed_links_added()", "feed_links_removed()",
                     "feed_customer_changed()",
                     "feed_publicity(text, uuid, uuid, uuid, boolean, bigint)",
                     "feed_stamp()", "feed_lock(uuid)"):
        op.execute(f"DROP FUNCTION {function}")
    for table in ("feed_grant_periods", "feed_public_periods", "feed_tombstones"):
        op.drop_table(table)
    op.execute("DROP SEQUENCE change_positions")
