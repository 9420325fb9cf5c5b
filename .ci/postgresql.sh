# A throwaway PostgreSQL cluster for CI, sourced by .ci/run: start_postgresql installs Debian's
# PostgreSQL where no initdb is found, makes a cluster in a temporary folder owned by postgres
# (initdb refuses root), starts it on 127.0.0.1 at a free port (PG_PORT) with trust sign-in,
# and sets a trap that stops it and removes the folder when the script exits.

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$found" ] && [ -x "$found/initdb" ]; then
    echo "$found"
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_postgresql() {
  if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "${PG_ROOT:-}" ]; then
    rm -rf "$PG_ROOT"
  fi
}

start_postgresql() {
  PG_BIN=$(pg_bin)
  if [ -z "$PG_BIN" ]; then
    apt-get update
    apt-get install -y postgresql
    PG_BIN=$(pg_bin)
  fi
  if [ -z "$PG_BIN" ]; then
    echo "PostgreSQL is not installed and could not be (no initdb under /usr/lib/postgresql/*/bin)" >&2
    return 1
  fi
  PG_ROOT=$(mktemp -d /tmp/sopengine-pg.XXXXXX)
  PG_DATA="$PG_ROOT/data"
  trap stop_postgresql EXIT
  chown postgres: "$PG_ROOT"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  PG_PORT=$(free_port)
  # A cluster for tests only: nothing in it must survive a crash of the machine.
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_ROOT/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_ROOT -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    >/dev/null || { cat "$PG_ROOT/server.log" >&2; return 1; }
  export PG_PORT
}
