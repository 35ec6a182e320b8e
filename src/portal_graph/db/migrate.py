"""Migrations are the only way the schema is made; `serve` runs them first."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from portal_graph.db.engine import asyncpg_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", asyncpg_url(url).replace("%", "%%"))
    return config


def upgrade(url: str) -> tuple[str | None, str | None]:
    """Bring the database to the newest revision; returns (before, after) of this run."""
    config = alembic_config(url)
    command.upgrade(config, "head")
    before, after = config.attributes["revisions"]
    return before, after
