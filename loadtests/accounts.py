"""Accounts for the simulated clients. The rate limit is per account, so each simulated user of a
local run gets one of its own, as real users have; they share one password (and so one argon2
hash, computed once: hashing thousands would take minutes). Against a deployment, the operator's
accounts from $GOLIVE_USER_* / $GOLIVE_ADMIN_* are used as they are."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from argon2 import PasswordHasher

from fixtures.description import Credentials


@dataclass(frozen=True)
class Accounts:
    users: list[Credentials]
    admin: Credentials | None

    def write(self, path: Path) -> Path:
        """The locustfile's GOLIVE_LOAD_ACCOUNTS file (mode 0600: it holds passwords)."""
        document = {
            "users": [[user.username, user.password] for user in self.users],
            "admin": [self.admin.username, self.admin.password] if self.admin else None,
        }
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
        path.write_text(json.dumps(document))
        return path


def create_accounts(dsn: str, count: int, prefix: str) -> list[Credentials]:
    """`count` active users named `<prefix>-<n>` with one shared random password."""
    password = secrets.token_urlsafe(16)
    hashed = PasswordHasher().hash(password)
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "INSERT INTO users (username, hashed_password, role, is_active)"
            " SELECT %s || '-' || n, %s, 'user', true FROM generate_series(1, %s) AS n RETURNING username",
            (prefix, hashed, count),
        ).fetchall()
    return [Credentials(username=row[0], password=password) for row in rows]


def accounts_from_environment(environ: Mapping[str, str]) -> Accounts:
    def credentials(role: str) -> Credentials | None:
        username = environ.get(f"GOLIVE_{role}_USERNAME")
        password = environ.get(f"GOLIVE_{role}_PASSWORD")
        return Credentials(username=username, password=password) if username and password else None

    user = credentials("USER")
    return Accounts(users=[user] if user else [], admin=credentials("ADMIN"))
