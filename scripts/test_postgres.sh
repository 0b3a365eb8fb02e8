#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for the test suite: installed from Debian's packages when missing,
# initialised once in a throwaway folder, started when not already running. Prints the store URI.
set -euo pipefail
PORT="${ACCORD_TEST_PG_PORT:-55432}"
DATA="${ACCORD_TEST_PG_DATA:-/tmp/accord-test-pg-$PORT}"
URI="postgresql+psycopg://accord@127.0.0.1:$PORT/postgres"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(bindir)" ]; then
  bash "$(dirname "$0")/debian_install.sh" PostgreSQL postgresql
fi
BIN="$(bindir)"

# PostgreSQL refuses to run as root: as root, the server runs as the packaged `postgres` user.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  echo "$URI"
  exit 0
fi
if [ ! -f "$DATA/PG_VERSION" ]; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" -eq 0 ] && chown postgres "$DATA"
  as_owner "$BIN/initdb" -D "$DATA" -U accord --auth=trust -E UTF8 >/dev/null
fi
as_owner "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
  -o "-p $PORT -k $DATA -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
echo "$URI"
