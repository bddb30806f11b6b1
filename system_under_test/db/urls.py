"""DATABASE_URL in the guide's form (postgresql://...) mapped to the SQLAlchemy dialect each caller uses."""

from __future__ import annotations


def _with_driver(url: str, driver: str) -> str:
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError("DATABASE_URL must start with postgresql://")
    return f"postgresql+{driver}://{rest}"


def async_database_url(url: str) -> str:
    return _with_driver(url, "asyncpg")


def sync_database_url(url: str) -> str:
    return _with_driver(url, "psycopg")
