#!/bin/bash
# First start: the role POSTGRES_USER (a superuser, password POSTGRES_PASSWORD) and the database
# POSTGRES_DB (default: the user's name), as the official image does; then the server.
set -euo pipefail
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

user=${POSTGRES_USER:-postgres}
database=${POSTGRES_DB:-$user}
if [[ -z "${POSTGRES_PASSWORD:-}" && "${POSTGRES_HOST_AUTH_METHOD:-}" != trust ]]; then
  echo "error: set POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD=trust to accept any client)" >&2
  exit 1
fi
if [[ "${POSTGRES_PASSWORD:-}" == *$'\n'* ]]; then
  echo "error: POSTGRES_PASSWORD must be one line" >&2
  exit 1
fi
if [[ "${POSTGRES_HOST_AUTH_METHOD:-}" == trust ]]; then
  sed -i 's/^host all all all scram-sha-256$/host all all all trust/' "$PGDATA/pg_hba.conf"
fi

as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
literal() { printf "'%s'" "${1//\'/\'\'}"; }
identifier() { printf '"%s"' "${1//\"/\"\"}"; }

marker="$PGDATA/.golive-initialised"
if [[ ! -e "$marker" ]]; then
  # Single-user mode, one statement per line (-j would run them as one multi-statement query,
  # which CREATE DATABASE refuses).
  {
    if [[ "$user" == postgres ]]; then
      echo "ALTER ROLE postgres PASSWORD $(literal "${POSTGRES_PASSWORD:-}")"
    else
      echo "CREATE ROLE $(identifier "$user") SUPERUSER LOGIN PASSWORD $(literal "${POSTGRES_PASSWORD:-}")"
    fi
    if [[ "$database" != postgres ]]; then
      echo "CREATE DATABASE $(identifier "$database") OWNER $(identifier "$user")"
    fi
  } | as_postgres postgres --single -D "$PGDATA" -c exit_on_error=on postgres >/dev/null
  as_postgres touch "$marker"
fi
shift
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
