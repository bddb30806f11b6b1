from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from sqlalchemy import Engine, create_engine, pool

from golive.fixtures.backend import Backend


@pytest.fixture
def alembic_config() -> Config:
    config: Config = Backend.current().attribute("db.migrate", "alembic_config")()
    return config


@pytest.fixture
def alembic_engine(golive_empty_database: str) -> Iterator[Engine]:
    sync_database_url = Backend.current().attribute("db.urls", "sync_database_url")
    engine = create_engine(sync_database_url(golive_empty_database), poolclass=pool.NullPool)
    yield engine
    engine.dispose()
