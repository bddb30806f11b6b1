#!/usr/bin/env bash
# Sets up everything golive needs on a Debian machine with Python 3.11:
#   - the system packages postgresql and redis-server (installed when run as root, named otherwise)
#   - .venv/ in the repository root, with golive and its pinned dependencies (.venv/bin/golive)
# Safe to run again: when nothing changed it takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "bootstrap: $*" >&2; exit 1; }

missing=()
pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if ! { [[ -n "$pg_bindir" && -x "$pg_bindir/initdb" ]] || command -v initdb >/dev/null; }; then
  missing+=(postgresql)
fi
command -v redis-server >/dev/null || [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
if (( ${#missing[@]} )); then
  if [[ $(id -u) -ne 0 ]]; then
    fail "missing system packages: ${missing[*]} (install them: sudo apt-get install -y ${missing[*]})"
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Postgres refuses to run as root; golive runs it as this user when it is root itself.
if [[ $(id -u) -eq 0 ]] && ! id "${GOLIVE_PG_USER:-postgres}" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "${GOLIVE_PG_USER:-postgres}"
fi

# The interpreter: $PYTHON if set; else the distribution's CPython when it is 3.11 or newer and can
# make a virtualenv (Debian: python3-venv); else python3 from PATH. Distributions build CPython with
# profile-guided and link-time optimisation; with a build without them (pyenv's default, say) a
# quick validation took 15% more CPU on the same machine (bench/interpreter.py).
python=${PYTHON:-}
if [[ -z $python ]]; then
  python=python3
  if /usr/bin/python3 -c 'import sys, ensurepip, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    python=/usr/bin/python3
  fi
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "$python is older than Python 3.11"
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

stamp=.venv/.golive-installed
wanted=$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp || $(cat "$stamp") != "$wanted" ]]; then
  echo "bootstrap: installing Python packages into .venv (log: .venv/bootstrap.log)" >&2
  {
    .venv/bin/python -m pip install --upgrade pip &&
    # Editable: golive/ (and the folders linked into it) is imported from the checkout; only the
    # golive namespace is importable, as from the wheel.
    .venv/bin/python -m pip install -e '.[dev]'
  } >.venv/bootstrap.log 2>&1 || { tail -n 30 .venv/bootstrap.log >&2; fail "pip install failed"; }
  echo "$wanted" >"$stamp"
fi

# The official Node client of Toxiproxy, for the proxy's conformance tests (skipped without Node).
node_tests=tests/toxiproxy/node
if command -v npm >/dev/null && [[ ! -d $node_tests/node_modules/toxiproxy-node-client ]]; then
  (cd "$node_tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in $node_tests failed"
fi

# pusher-js, the official browser client of Pusher Channels, for suites/realtime (skipped without Node).
realtime_node=suites/realtime/node
if command -v npm >/dev/null && [[ ! -d $realtime_node/node_modules/pusher-js ]]; then
  (cd "$realtime_node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in $realtime_node failed"
fi
