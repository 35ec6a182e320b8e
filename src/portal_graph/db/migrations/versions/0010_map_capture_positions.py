"""map capture positions

An index on (organization_id, latitude, longitude): `mapCaptures(within:)` reads a latitude
range of one organization from it and checks longitudes in the index, without PostGIS (the
embedded server has no extensions).
"""

from __future__ import annotations

from alembic import op

revision, down_revision = "0010", "0014"


def upgrade() -> None:
    op.create_index("ix_map_captures_org_position", "map_captures",
                    ["organization_id", "latitude", "longitude"])


def downgrade() -> None:
    op.drop_index("ix_map_captures_org_position", table_name="map_captures")
