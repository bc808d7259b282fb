#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests: initdb into a new folder
# under /tmp as the unprivileged `postgres` user (the server refuses root),
# on a free loopback port with its socket in that folder, password
# authentication over TCP, the password only in a PGPASSFILE.
#
#   postgres_server.sh start ENV_FILE   starts one, writes ENV_FILE:
#       COUNSEL_PG_URI=postgresql://counsel@127.0.0.1:PORT/counsel
#       PGPASSFILE=…  COUNSEL_PG_DIR=…  COUNSEL_PG_PORT=…
#   postgres_server.sh stop ENV_FILE    stops it and removes its folder
#   postgres_server.sh restart ENV_FILE stops and starts it on the same port
#   postgres_server.sh halt ENV_FILE    stops it, keeping its files
#   postgres_server.sh resume ENV_FILE  starts a halted one on the same port
#
# A server an interrupted run left behind (named by ENV_FILE) is stopped
# first. Idempotent stop.
set -euo pipefail
cmd=${1:?start|stop|restart}
env_file=${2:?env file}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$BIN/initdb" ] || { echo "postgresql server binaries not found (package postgresql-15)" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

stop() {
  [ -f "$env_file" ] || return 0
  # shellcheck disable=SC1090
  . "$env_file"
  if [ -n "${COUNSEL_PG_DIR:-}" ] && [ -d "$COUNSEL_PG_DIR/data" ]; then
    as_pg "$BIN/pg_ctl" -D "$COUNSEL_PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ "${1:-}" != keep ] && [ -n "${COUNSEL_PG_DIR:-}" ]; then
    rm -rf "$COUNSEL_PG_DIR"
    rm -f "$env_file"
  fi
}

run() {
  local dir=$1 port=$2
  as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB" \
    start >/dev/null
}

case "$cmd" in
  stop) stop ;;
  restart|halt|resume)
    . "$env_file"
    if [ "$cmd" != resume ]; then
      as_pg "$BIN/pg_ctl" -D "$COUNSEL_PG_DIR/data" -m fast -w stop >/dev/null
    fi
    if [ "$cmd" != halt ]; then run "$COUNSEL_PG_DIR" "$COUNSEL_PG_PORT"; fi
    ;;
  start)
    stop
    dir=$(mktemp -d /tmp/counsel-pg.XXXXXX)
    chmod 755 "$dir"
    password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    printf '%s\n' "$password" > "$dir/pw"
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    as_pg "$BIN/initdb" -D "$dir/data" -U counsel --pwfile="$dir/pw" \
      --auth-local=trust --auth-host=scram-sha-256 --no-sync -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$dir/pw"
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run "$dir" "$port"
    as_pg "$BIN/psql" -h "$dir" -p "$port" -U counsel -d postgres -qc "CREATE DATABASE counsel" >/dev/null
    printf '127.0.0.1:%s:*:counsel:%s\n' "$port" "$password" > "$dir/pgpass"
    chmod 600 "$dir/pgpass"
    [ "$(id -u)" = 0 ] && chown root "$dir/pgpass"
    cat > "$env_file" <<EOF
COUNSEL_PG_URI=postgresql://counsel@127.0.0.1:$port/counsel
PGPASSFILE=$dir/pgpass
COUNSEL_PG_DIR=$dir
COUNSEL_PG_PORT=$port
EOF
    ;;
  *) echo "usage: $0 start|stop|restart|halt|resume ENV_FILE" >&2; exit 2 ;;
esac
