#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server on loopback for the end-to-end tests.
#   eval "$(bash scripts/pg.sh start)"   -> exports TAP_EXEC_TEST_PG_URL and TAP_EXEC_TEST_PG_DIR
#   bash scripts/pg.sh stop "$TAP_EXEC_TEST_PG_DIR"
set -euo pipefail
bindir=$(dirname "$(readlink -f "$(command -v pg_ctl || echo /usr/lib/postgresql/15/bin/pg_ctl)")")
as_owner() {  # PostgreSQL refuses to run as root: use the postgres account then
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
  start)
    dir=$(mktemp -d /tmp/tap-exec-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale > "$dir/initdb.log" 2>&1
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off" start > /dev/null
    echo "export TAP_EXEC_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/postgres TAP_EXEC_TEST_PG_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: pg.sh stop DIR}
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop > /dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: pg.sh start | stop DIR" >&2; exit 2 ;;
esac
