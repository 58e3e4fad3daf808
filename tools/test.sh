#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs the whole test suite twice: on SQLite (the default) and on
# a private PostgreSQL server this script starts on 127.0.0.1 and stops again afterwards.
# Extra arguments go to pytest (e.g. tools/test.sh -k calendar).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export QT_QPA_PLATFORM=offscreen

# The OSRM routing engine for the real-router tests (skipped with a reason if unavailable).
if [ -f tools/fetch_osrm.sh ]; then bash tools/fetch_osrm.sh || echo "note: OSRM not fetched; its tests skip"; fi

PG_PORT=${PG_PORT:-55432}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_DIR=$(mktemp -d /tmp/hjemmeprove-pg.XXXXXX)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_pg() { as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; rm -rf "$PG_DIR"; }
trap stop_pg EXIT
[ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" \
  -l "$PG_DIR/server.log" -w start >/dev/null
PG_URL="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT/postgres"

echo "== tests on SQLite =="
.venv/bin/python -m pytest "$@"
echo "== tests on PostgreSQL (127.0.0.1:$PG_PORT) =="
HJEMMEPROVE_TEST_PG="$PG_URL" .venv/bin/python -m pytest -m "not sqlite_only" --ignore=tests/ui "$@"
