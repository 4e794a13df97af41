#!/usr/bin/env bash
# Starts (or reuses) a private PostgreSQL cluster for the gateway and prints `export INFERY_DB=...`.
#   eval "$(scripts/local-postgres.sh)"
# INFERY_PGDATA picks the data directory, INFERY_PGPORT the port (default: the one used before, else a free one).
# Run as root, the server runs as the postgres user.
set -euo pipefail

find_bin() {
  for dir in /usr/lib/postgresql/*/bin /usr/local/bin /usr/bin; do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return; fi
  done
  echo "PostgreSQL server binaries not found: install the postgresql package (apt-get install postgresql)" >&2
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 ))
}

bin=$(find_bin)
if [ "$(id -u)" = 0 ]; then
  as_pg=(runuser -u postgres --)
  default_data=/var/tmp/infery/pgdata
else
  as_pg=()
  default_data="$(cd "$(dirname "$0")/.." && pwd)/.infery/pgdata"
fi
data=${INFERY_PGDATA:-$default_data}
port_file="$data.port"

mkdir -p "$data"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$data" "$(dirname "$data")"
chmod 700 "$data"

if [ ! -f "$data/PG_VERSION" ]; then
  "${as_pg[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  {
    echo "listen_addresses = '127.0.0.1'"
    echo "unix_socket_directories = ''"
    echo "max_connections = 200"
    echo "idle_in_transaction_session_timeout = '60s'"
  } >> "$data/postgresql.conf"
fi

port=${INFERY_PGPORT:-$(cat "$port_file" 2>/dev/null || free_port)}
echo "$port" > "$port_file"
if ! "${as_pg[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -o "-p $port" -l "$data/server.log" -w -t 60 start >/dev/null
  echo "PostgreSQL started on 127.0.0.1:$port (data in $data)" >&2
fi

db=infery
if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname = '$db'" | grep -q 1; then
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -qc "create database $db" >/dev/null
fi
echo "export INFERY_DB='Host=127.0.0.1;Port=$port;Username=postgres;Database=$db'"
