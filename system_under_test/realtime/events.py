"""The events the backend publishes, and the channels they go to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

CONTENT_CHANNEL = "content-generation"  # the guide's: every dashboard watches it
CONTENT_PROGRESS = "content_progress"
CONTENT_COMPLETED = "content_completed"
USER_CHANNEL_PREFIX = "private-user-"


def user_channel(user_id: int) -> str:
    """A user's own channel: only they (and administrators) are authorized to subscribe."""
    return f"{USER_CHANNEL_PREFIX}{user_id}"


@dataclass(frozen=True)
class Event:
    channel: str
    name: str
    data: dict[str, Any]


def content_event(job_id: uuid.UUID, user_id: int, name: str, **data: Any) -> list[Event]:
    """One content event for the public channel and for the owner's private channel. The payload
    names the job, never its prompt or result: the public channel is public."""
    payload = {"job_id": str(job_id), **data}
    return [Event(CONTENT_CHANNEL, name, payload), Event(user_channel(user_id), name, payload)]
