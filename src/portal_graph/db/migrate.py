"""Migrations are the only way the schema is made; `serve` runs them first."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from portal_graph.db.engine import asyncpg_url
from portal_graph.db.tenancy import DEFAULT_REQUEST_ROLE

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", asyncpg_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, request_role: str = DEFAULT_REQUEST_ROLE) -> tuple[str | None, str | None]:
    """Bring the database to the newest revision, and the request role up to date where the
    URL's role bypasses row-level security; returns (before, after) of this run."""
    config = alembic_config(url)
    config.attributes["request_role"] = request_role
    command.upgrade(config, "head")
    before, after = config.attributes["revisions"]
    return before, after
