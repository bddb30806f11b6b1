"""Alembic, driven from Python: used by the management command and by anyone provisioning a database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

from .urls import sync_database_url

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def alembic_config() -> Config:
    config = Config(str(ALEMBIC_INI))
    # The caller owns logging; alembic's fileConfig would replace every handler of the process.
    config.attributes["configure_logger"] = False
    config.attributes["package"] = __package__.rpartition(".")[0]
    return config


def _run(database_url: str, action: str, revision: str) -> None:
    engine = create_engine(sync_database_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> None:
    _run(database_url, "upgrade", revision)


def downgrade(database_url: str, revision: str) -> None:
    _run(database_url, "downgrade", revision)
