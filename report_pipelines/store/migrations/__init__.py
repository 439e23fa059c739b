"""Alembic migrations of the report store, run from code (no alembic.ini to ship or find).

``upgrade(engine)`` brings any store to the newest revision: a new one is created, and a store
written before the store used Alembic (no version table) is adopted, because the first two
revisions only create what is missing.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

SCRIPTS = Path(__file__).parent


def config(connection: sa.Connection | None, version_table: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = version_table
    return cfg


def upgrade(engine: sa.Engine, version_table: str, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(config(connection, version_table), revision)
