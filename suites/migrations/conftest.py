from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.config import Config
from sqlalchemy import Engine, create_engine, pool

from golive.system_under_test.db.migrate import alembic_config as backend_alembic_config
from golive.system_under_test.db.urls import sync_database_url


@pytest.fixture
def alembic_config() -> Config:
    return backend_alembic_config()


@pytest.fixture
def alembic_engine(golive_empty_database: str) -> Iterator[Engine]:
    engine = create_engine(sync_database_url(golive_empty_database), poolclass=pool.NullPool)
    yield engine
    engine.dispose()
