"""Operator commands: `python -m system_under_test.manage migrate|create-user`.

Reads DATABASE_URL from the environment like the app does; the password of a new user comes from
stdin so it never shows in a process list or shell history.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from . import accounts
from .db import migrate
from .db.session import create_sessionmaker
from .db.urls import async_database_url
from .envelope import ApiError
from .security import Role


async def create_user_at(database_url: str, username: str, password: str, role: Role) -> int:
    engine = create_async_engine(async_database_url(database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            user = await accounts.create_user(session, username, password, role)
            return user.id
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m system_under_test.manage")
    parser.add_argument("--database-url", help="defaults to $DATABASE_URL")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("migrate", help="alembic upgrade to a revision (default head)")
    upgrade.add_argument("revision", nargs="?", default="head")
    create = commands.add_parser("create-user", help="create a user; the password is read from stdin")
    create.add_argument("username")
    create.add_argument("--role", choices=[role.value for role in Role], default=Role.USER.value)
    args = parser.parse_args(argv)

    database_url = args.database_url or os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("set DATABASE_URL or pass --database-url")
    if args.command == "migrate":
        migrate.upgrade(database_url, args.revision)
        return 0
    password = sys.stdin.readline().rstrip("\n")
    if len(password) < 8:
        parser.error("the password (read from stdin) must have at least 8 characters")
    try:
        user_id = asyncio.run(create_user_at(database_url, args.username, password, Role(args.role)))
    except ApiError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(user_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
