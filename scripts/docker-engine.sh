#!/usr/bin/env bash
# A Docker engine for the docker provider, `golive images build` and the tests marked `docker`.
#   ./scripts/docker-engine.sh start   installs docker.io and debootstrap when missing (as root),
#                                      starts dockerd when no engine answers (log: $LOG)
#   ./scripts/docker-engine.sh stop    stops the dockerd that `start` started, if any
# Safe to run again: with an engine already answering, `start` only checks the packages.
set -euo pipefail

PIDFILE=${GOLIVE_DOCKERD_PIDFILE:-/run/golive-dockerd.pid}
LOG=${GOLIVE_DOCKERD_LOG:-/var/log/golive-dockerd.log}

fail() { echo "docker-engine: $*" >&2; exit 1; }

start() {
  local missing=()
  command -v dockerd >/dev/null || [[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
  command -v debootstrap >/dev/null || [[ -x /usr/sbin/debootstrap ]] || missing+=(debootstrap)
  if (( ${#missing[@]} )); then
    [[ $(id -u) -eq 0 ]] || fail "missing packages: ${missing[*]} (sudo apt-get install -y ${missing[*]})"
    echo "docker-engine: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if docker_answers; then
    echo "docker-engine: an engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}" >&2
    return
  fi
  [[ $(id -u) -eq 0 ]] || fail "no engine answers, and starting dockerd needs root"
  echo "docker-engine: starting dockerd (log: $LOG)" >&2
  PATH=/usr/sbin:/sbin:$PATH nohup dockerd >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 300); do
    docker_answers && return
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { tail -n 20 "$LOG" >&2; fail "dockerd exited"; }
    sleep 0.1
  done
  tail -n 20 "$LOG" >&2
  fail "dockerd did not answer within 30 s"
}

stop() {
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid=$(cat "$PIDFILE")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE"
}

# The engine's API, as golive reaches it (the docker CLI is not needed).
docker_answers() {
  local socket=${DOCKER_HOST:-unix:///var/run/docker.sock}
  [[ $socket == unix://* ]] || { .venv/bin/python -c 'import docker; docker.from_env().ping()' 2>/dev/null; return; }
  python3 - "${socket#unix://}" <<'PY' 2>/dev/null
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
sys.exit(0 if b" 200 " in s.recv(1024) else 1)
PY
}

cd "$(dirname "$0")/.."
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) fail "usage: $0 start|stop" ;;
esac
