#!/bin/sh
# As the official image: options alone are options of redis-server; without a config file the
# server accepts clients from outside the container (given first, so the caller's options win).
set -e
case "$1" in
  -*|*.conf) set -- redis-server "$@" ;;
esac
if [ "$1" = redis-server ]; then
  shift
  case " $* " in
    *.conf\ *) set -- redis-server "$@" ;;
    *) set -- redis-server --protected-mode no "$@" ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
