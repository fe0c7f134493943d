#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the tests (see .ci/run):
#
#   scripts/pg-test-server.sh start DIR   create (once) and start a cluster in
#                                         DIR; prints its URL,
#                                         postgresql://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-test-server.sh stop DIR    stop it (DIR stays; remove it after)
#   scripts/pg-test-server.sh restart DIR [DOWN_SECS]
#                                         stop it, stay down DOWN_SECS
#                                         (default 0), start it on its port
#
# The cluster listens on 127.0.0.1 only, on the first free port from 55432,
# with trust authentication and fsync off: fast, and for tests only. Run as
# root, the server runs as the `postgres` user, which then owns DIR. Both
# commands are idempotent: start on a running cluster prints its URL again.
# Needs the Debian package postgresql-15 (scripts/deps.sh installs it);
# PGBIN overrides /usr/lib/postgresql/15/bin.
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
FIRST_PORT=55432
TRIES=50

usage() {
  echo "usage: $0 start|stop DIR | restart DIR [DOWN_SECS]" >&2
  exit 2
}
[[ $# -eq 2 || ($# -eq 3 && $1 == restart) ]] || usage
cmd=$1
dir=$2
[[ -x "$PGBIN/pg_ctl" ]] || {
  echo "$0: no $PGBIN/pg_ctl; install postgresql-15 (scripts/deps.sh)" >&2
  exit 1
}

# Runs a command as the server's owner: postgres when we are root (initdb
# and postgres refuse to run as root), else ourselves.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() {
  [[ -f "$dir/data/postmaster.pid" ]] &&
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

url() {
  echo "postgresql://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
}

# True if nothing accepts connections on 127.0.0.1:$1.
port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if running; then
    url
    return
  fi
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$dir"
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "$0: user postgres cannot reach $dir; pick a directory under" \
        "one it can traverse (e.g. /tmp)" >&2
      exit 1
    fi
  fi
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    rm -rf "$dir/data"
    as_owner "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
      --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
      cat "$dir/initdb.log" >&2
      exit 1
    }
    # Only TCP on loopback (no socket file to place); durability off, as
    # nothing here outlives the test run.
    cat >>"$dir/data/postgresql.conf" <<'EOF'

# scripts/pg-test-server.sh: a throwaway test cluster.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  fi
  local port=$FIRST_PORT
  for ((i = 0; i < TRIES; i++, port++)); do
    port_free "$port" || continue
    if as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port" start >/dev/null 2>&1; then
      echo "$port" | as_owner tee "$dir/port" >/dev/null
      url
      return
    fi
    # Someone took the port between the check and the start: try the next.
    # Anything else will not get better on another port.
    port_free "$port" || continue
    break
  done
  echo "$0: could not start PostgreSQL in $dir (port $port); log:" >&2
  tail -n 20 "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  if running; then
    as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
  fi
}

# The same cluster on the same port, after `down` seconds without it.
restart() {
  local down=${1:-0}
  stop
  sleep "$down"
  as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $(cat "$dir/port")" start >/dev/null
  url
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  restart) restart "${3:-0}" ;;
  *) usage ;;
esac
