#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite, from the machine's packages (initdb, pg_ctl).
#   .ci/postgres.sh start   -> prints BOT_TEST_POSTGRES=<admin URL> (eval it, or export it)
#   .ci/postgres.sh stop DIR
# initdb refuses to run as root: as root, the server runs as the `postgres` user. It lives in
# a fresh temp dir, on a free port of 127.0.0.1 and a unix socket in that dir (other runs on
# the machine are not disturbed), with fsync off: a test server loses nothing that matters.
# PG_DURABLE=1 keeps PostgreSQL's default durability instead (benchmarks: what it costs).
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$found" ] || { echo "PostgreSQL's $name is not installed (apt-get install postgresql)" >&2; exit 1; }
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi
}

case "${1:-}" in
  start)
    INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl)
    DIR=$(mktemp -d /tmp/bot-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Passwords over TCP, as a deployment has them (so a wrong one is really refused); trust on
    # the unix socket in $DIR, which only this user can reach.
    echo postgres >"$DIR/pw"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR/pw"
    as_owner "'$INITDB' -D '$DIR/data' --auth-host=scram-sha-256 --auth-local=trust --pwfile='$DIR/pw' -U postgres >'$DIR/initdb.log' 2>&1"
    FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    [ "${PG_DURABLE:-0}" = 1 ] && FAST=""
    as_owner "'$PG_CTL' -D '$DIR/data' -w -t 60 -l '$DIR/log' -o \"-p $PORT -k $DIR -c listen_addresses=127.0.0.1 $FAST -c max_connections=200\" start >/dev/null"
    echo "BOT_TEST_POSTGRES=postgresql://postgres:postgres@127.0.0.1:$PORT/postgres"
    echo "BOT_TEST_POSTGRES_DIR=$DIR"
    ;;
  stop)
    DIR=${2:?usage: $0 stop DIR}
    PG_CTL=$(find_bin pg_ctl)
    as_owner "'$PG_CTL' -D '$DIR/data' -m immediate stop >/dev/null" || true
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
