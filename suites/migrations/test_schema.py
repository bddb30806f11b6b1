"""The guide's schema, checked in the database itself after each revision."""

from __future__ import annotations

import psycopg
import pytest
from pytest_alembic import MigrationContext
from sqlalchemy import Engine, inspect, text


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def columns(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def test_revision_0001_is_the_legacy_schema(alembic_runner: MigrationContext, alembic_engine: Engine) -> None:
    alembic_runner.migrate_up_to("0001")
    assert tables(alembic_engine) == {"users", "content", "agent_metrics"}
    assert "circuit_breaker_trips" not in columns(alembic_engine, "agent_metrics")


def test_revision_0002_adds_the_guides_resilience_schema(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0002")
    assert tables(alembic_engine) == {
        "users",
        "content",
        "agent_metrics",
        "circuit_breaker_state",
        "rate_limit_state",
    }
    assert {"circuit_breaker_trips", "rate_limit_hits", "avg_response_time"} <= columns(
        alembic_engine, "agent_metrics"
    )
    assert columns(alembic_engine, "circuit_breaker_state") == {
        "name", "state", "failure_count", "last_failure_time", "next_attempt_time",
        "created_at", "updated_at",
    }  # fmt: skip
    assert columns(alembic_engine, "rate_limit_state") == {
        "identifier", "tokens", "last_refill", "window_start", "request_count", "created_at", "updated_at",
    }  # fmt: skip


def test_revision_0003_adds_idempotency_keys(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0003")
    assert "idempotency_keys" in tables(alembic_engine)


def test_revision_0004_persists_breaker_trips_and_its_downgrade_keeps_the_rest(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0003")
    with alembic_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO circuit_breaker_state (name, state, failure_count) "
                "VALUES ('ai-service', 'OPEN', 5)"
            )
        )
    alembic_runner.migrate_up_to("0004")
    assert "trips" in columns(alembic_engine, "circuit_breaker_state")
    with alembic_engine.begin() as connection:
        assert connection.execute(text("SELECT trips FROM circuit_breaker_state")).scalar_one() == 0
        connection.execute(text("UPDATE circuit_breaker_state SET trips = 3"))
        connection.execute(text("INSERT INTO circuit_breaker_state (name, state) VALUES ('redis', 'CLOSED')"))
        assert (
            connection.execute(
                text("SELECT trips FROM circuit_breaker_state WHERE name = 'redis'")
            ).scalar_one()
            == 0
        )
    alembic_runner.migrate_down_to("0003")
    assert "trips" not in columns(alembic_engine, "circuit_breaker_state")
    with alembic_engine.begin() as connection:
        rows = connection.execute(
            text("SELECT name, state, failure_count FROM circuit_breaker_state ORDER BY name")
        )
        assert [tuple(row) for row in rows] == [("ai-service", "OPEN", 5), ("redis", "CLOSED", 0)]


@pytest.mark.parametrize("state", ["CLOSED", "OPEN", "HALF_OPEN"])
def test_circuit_breaker_state_accepts_the_three_states(
    alembic_runner: MigrationContext, alembic_engine: Engine, state: str
) -> None:
    alembic_runner.migrate_up_to("head")
    with alembic_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO circuit_breaker_state (name, state) VALUES ('x', :s)"), {"s": state}
        )
        row = connection.execute(text("SELECT failure_count, created_at FROM circuit_breaker_state")).one()
    assert row.failure_count == 0
    assert row.created_at is not None


@pytest.mark.parametrize("state", ["closed", "BROKEN", ""])
def test_circuit_breaker_state_check_constraint_refuses_others(
    alembic_runner: MigrationContext, golive_empty_database: str, state: str
) -> None:
    alembic_runner.migrate_up_to("head")
    with psycopg.connect(golive_empty_database) as connection, pytest.raises(psycopg.errors.CheckViolation):
        connection.execute("INSERT INTO circuit_breaker_state (name, state) VALUES ('x', %s)", (state,))


def test_legacy_rows_survive_upgrade_and_downgrade(
    alembic_runner: MigrationContext, alembic_engine: Engine
) -> None:
    alembic_runner.migrate_up_to("0001")
    with alembic_engine.begin() as connection:
        connection.execute(
            text("INSERT INTO agent_metrics (agent_name, requests_total, errors_total) VALUES ('a', 7, 1)")
        )
    alembic_runner.migrate_up_to("0002")
    with alembic_engine.begin() as connection:
        row = connection.execute(text("SELECT * FROM agent_metrics")).mappings().one()
        assert (
            row["requests_total"],
            row["errors_total"],
            row["circuit_breaker_trips"],
            row["rate_limit_hits"],
        ) == (7, 1, 0, 0)
        connection.execute(text("UPDATE agent_metrics SET avg_response_time = 0.5"))
    alembic_runner.migrate_down_to("0001")
    with alembic_engine.begin() as connection:
        row = connection.execute(text("SELECT * FROM agent_metrics")).mappings().one()
    assert dict(row) == {
        "id": row["id"],
        "agent_name": "a",
        "requests_total": 7,
        "errors_total": 1,
        "last_seen_at": None,
    }
    assert tables(alembic_engine) == {"users", "content", "agent_metrics"}


def test_downgrade_base_leaves_nothing(alembic_runner: MigrationContext, alembic_engine: Engine) -> None:
    alembic_runner.migrate_up_to("head")
    alembic_runner.migrate_down_to("base")
    assert tables(alembic_engine) == set()
