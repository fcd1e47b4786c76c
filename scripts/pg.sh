#!/usr/bin/env bash
# A private PostgreSQL on 127.0.0.1 for tests and local clusters: initdb into a directory of its own, nothing shared.
#   scripts/pg.sh start DIR [PORT]   creates DIR on first use, else starts it again with its data and port;
#                                    prints the connection string on its last line
#   scripts/pg.sh stop DIR
# Installs PostgreSQL from Debian packages when it is missing. PostgreSQL refuses to run as root, so as root the
# server runs as the 'postgres' user.
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop DIR [PORT]}
dir=${2:?usage: pg.sh start|stop DIR [PORT]}

bindir() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ]; then
    echo "installing PostgreSQL from Debian packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  start)
    bin=$(bindir)
    if [ -d "$dir/data" ]; then
      port=$(cat "$dir/port")
      as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 \
        || as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$(cat "$dir/options")" start >/dev/null
    else
      port=${3:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
      mkdir -p "$dir"
      if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        runuser -u postgres -- test -w "$dir" || { echo "pg.sh: user postgres cannot reach $dir (a parent directory is private)" >&2; exit 1; }
      fi
      as_owner "$bin/initdb" -D "$dir/data" -U presence --auth=trust -E UTF8 >/dev/null
      echo "$port" > "$dir/port"
      echo "-h 127.0.0.1 -p $port -k $dir -c max_connections=200" > "$dir/options"
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "$(cat "$dir/options")" start >/dev/null
      as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U presence presence
    fi
    echo "Host=127.0.0.1;Port=$port;Database=presence;Username=presence"
    ;;
  stop)
    bin=$(bindir)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    ;;
  *)
    echo "usage: pg.sh start|stop DIR [PORT]" >&2
    exit 2
    ;;
esac
