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

from golive.fixtures.description import Credentials


@dataclass(frozen=True)
class Accounts:
    users: list[Credentials]
    admins: list[Credentials]

    def write(self, path: Path) -> Path:
        """The locustfile's GOLIVE_LOAD_ACCOUNTS file (mode 0600: it holds passwords)."""
        document = {
            "users": [[user.username, user.password] for user in self.users],
            "admins": [[admin.username, admin.password] for admin in self.admins],
        }
        path.touch(mode=0o600)
        os.chmod(path, 0o600)
        path.write_text(json.dumps(document))
        return path


def create_accounts(dsn: str, count: int, prefix: str) -> Accounts:
    """`count` users and `count` administrators (`<prefix>-user-<n>`, `<prefix>-admin-<n>`), active,
    with one shared random password: any simulated user can have an account of its own."""
    password = secrets.token_urlsafe(16)
    hashed = PasswordHasher().hash(password)
    created: dict[str, list[Credentials]] = {}
    with psycopg.connect(dsn) as connection:
        for role in ("user", "admin"):
            rows = connection.execute(
                "INSERT INTO users (username, hashed_password, role, is_active)"
                " SELECT %s || '-' || n, %s, %s, true FROM generate_series(1, %s) AS n RETURNING username",
                (f"{prefix}-{role}", hashed, role, count),
            ).fetchall()
            created[role] = [Credentials(username=row[0], password=password) for row in rows]
    return Accounts(users=created["user"], admins=created["admin"])


def accounts_from_environment(environ: Mapping[str, str]) -> Accounts:
    def credentials(role: str) -> Credentials | None:
        username = environ.get(f"GOLIVE_{role}_USERNAME")
        password = environ.get(f"GOLIVE_{role}_PASSWORD")
        return Credentials(username=username, password=password) if username and password else None

    user, admin = credentials("USER"), credentials("ADMIN")
    return Accounts(users=[user] if user else [], admins=[admin] if admin else [])
