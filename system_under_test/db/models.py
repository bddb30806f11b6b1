"""The schema at head, as SQLAlchemy models. Alembic revisions build exactly this (pytest-alembic checks)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- the legacy schema (revision 0001) -------------------------------------------------------


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'user')", name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), server_default="user")
    is_active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, server_default=func.now())


class Content(Base):
    __tablename__ = "content"
    __table_args__ = (CheckConstraint("status IN ('processing', 'completed', 'failed')", name="status"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(50), server_default="text")
    status: Mapped[str] = mapped_column(String(20))
    result: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)


class AgentMetric(Base):
    __tablename__ = "agent_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_name: Mapped[str] = mapped_column(String(100), unique=True)
    requests_total: Mapped[int] = mapped_column(Integer, server_default="0")
    errors_total: Mapped[int] = mapped_column(Integer, server_default="0")
    last_seen_at: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    # Added by revision 0002, as the guide's ALTER TABLE statements define them (nullable, DEFAULT 0).
    circuit_breaker_trips: Mapped[int | None] = mapped_column(Integer, server_default="0")
    rate_limit_hits: Mapped[int | None] = mapped_column(Integer, server_default="0")
    avg_response_time: Mapped[float | None] = mapped_column(Float)


class IdempotencyKey(Base):
    """Revision 0003: what a POST with an Idempotency-Key did, so a repeat returns it."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint("status IN ('in_flight', 'completed', 'failed')", name="status"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    content_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(TIMESTAMP, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(TIMESTAMP, server_default=func.now())


# --- the guide's resilience tables (revision 0002) -------------------------------------------


class CircuitBreakerState(Base):
    __tablename__ = "circuit_breaker_state"
    __table_args__ = (CheckConstraint("state IN ('CLOSED', 'OPEN', 'HALF_OPEN')", name="state"),)

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str] = mapped_column(String(50))
    failure_count: Mapped[int | None] = mapped_column(Integer, server_default="0")
    last_failure_time: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    next_attempt_time: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    created_at: Mapped[datetime | None] = mapped_column(TIMESTAMP, server_default=func.current_timestamp())
    updated_at: Mapped[datetime | None] = mapped_column(TIMESTAMP, server_default=func.current_timestamp())
    # Revision 0004: how often the breaker has opened, so a restore does not start it from 0.
    trips: Mapped[int] = mapped_column(Integer, server_default="0")


class RateLimitState(Base):
    __tablename__ = "rate_limit_state"

    identifier: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float | None] = mapped_column(Float, server_default="0")
    last_refill: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    window_start: Mapped[datetime | None] = mapped_column(TIMESTAMP)
    request_count: Mapped[int | None] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime | None] = mapped_column(TIMESTAMP, server_default=func.current_timestamp())
    updated_at: Mapped[datetime | None] = mapped_column(TIMESTAMP, server_default=func.current_timestamp())
