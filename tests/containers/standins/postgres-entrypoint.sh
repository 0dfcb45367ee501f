#!/bin/sh
# First start: a cluster whose superuser `postgres` has POSTGRES_PASSWORD and a database POSTGRES_DB, reachable
# from the network with that password (as the official image's entrypoint does); then the server in the foreground.
set -eu
chown postgres:postgres "$PGDATA"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  printf '%s\n' "$POSTGRES_PASSWORD" >/tmp/pwfile && chown postgres /tmp/pwfile
  as_pg initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pwfile --auth-host=scram-sha-256 --auth-local=trust \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f /tmp/pwfile
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  as_pg psql -q -U postgres -c "CREATE DATABASE \"${POSTGRES_DB:-postgres}\"" postgres 2>/dev/null || true
  as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" -c listen_addresses='*' \
  -c unix_socket_directories=/tmp "$@"
