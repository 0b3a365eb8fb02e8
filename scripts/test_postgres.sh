#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for the test suite: installed from Debian's packages when missing,
# initialised once in a throwaway folder, started when not already running. Prints the store URI.
set -euo pipefail
PORT="${ACCORD_TEST_PG_PORT:-55432}"

bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

if [ -z "$(bindir)" ]; then
  bash "$(dirname "$0")/debian_install.sh" PostgreSQL postgresql
fi
BIN="$(bindir)"

# PostgreSQL refuses to run as root: as root, the server runs as the packaged `postgres` user.
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The usual port may be held by another program (a Ray worker picks ports at random): then the next ones.
for TRY in 0 1 2 3 4 5; do
  P=$((PORT + TRY))
  D="${ACCORD_TEST_PG_DATA:-/tmp/accord-test-pg-$P}"
  URI="postgresql+psycopg://accord@127.0.0.1:$P/postgres"
  if "$BIN/pg_isready" -q -h 127.0.0.1 -p "$P"; then
    echo "$URI"
    exit 0
  fi
  if [ ! -f "$D/PG_VERSION" ]; then
    rm -rf "$D"
    mkdir -p "$D"
    [ "$(id -u)" -eq 0 ] && chown postgres "$D"
    as_owner "$BIN/initdb" -D "$D" -U accord --auth=trust -E UTF8 >/dev/null
  fi
  if as_owner "$BIN/pg_ctl" -D "$D" -l "$D/server.log" -w -t 60 \
    -o "-p $P -k $D -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null 2>&1; then
    echo "$URI"
    exit 0
  fi
done
echo "could not start PostgreSQL on ports $PORT-$((PORT + 5)); see /tmp/accord-test-pg-*/server.log" >&2
exit 1
