"""Alembic environment: online against DATABASE_URL (or a connection handed in), or offline as SQL."""

from __future__ import annotations

import importlib
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, pool

config = context.config
# The backend's import name: handed in by db/migrate.py (the package may be installed under another
# name, e.g. golive.system_under_test); the alembic command line puts its parent on sys.path.
_package = config.attributes.get("package", "system_under_test")
target_metadata = importlib.import_module(f"{_package}.db.models").Base.metadata
sync_database_url = importlib.import_module(f"{_package}.db.urls").sync_database_url

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("alembic: set DATABASE_URL (or sqlalchemy.url) to the database to migrate")
    return str(sync_database_url(url))


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    handed_in = config.attributes.get("connection")
    if isinstance(handed_in, Connection):
        _run(handed_in)
        return
    # An engine handed in (pytest-alembic does) or none: connect, and own the commit.
    engine = handed_in if isinstance(handed_in, Engine) else create_engine(_url(), poolclass=pool.NullPool)
    with engine.begin() as connection:
        _run(connection)
    if handed_in is None:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
