#!/usr/bin/env bash
# The production topology as local processes on 127.0.0.1, without Docker: a private PostgreSQL, the schema
# migration, 3 silos and 2 gateways, all sharing one PostgreSQL.
#   scripts/cluster.sh up       build (Release), start everything, wait until both gateways are ready
#   scripts/cluster.sh status   what runs, and whether each gateway is ready
#   scripts/cluster.sh down     stop exactly what `up` started (gracefully, then hard after 20 s); the data stays
#                               in CLUSTER_DIR for the next `up` (rm -rf it to start afresh)
# Environment: CLUSTER_DIR (default .cluster), SILOS (3), GATEWAYS (2), HTTP_PORT (5001: gateways on 5001, 5002, ...),
# SILO_PORT (11111) and GATEWAY_PORT (30001): silo i listens on SILO_PORT+i and GATEWAY_PORT+i. Fixed ports let a
# restarted silo replace its dead predecessor's membership row at once.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
dir=${CLUSTER_DIR:-$root/.cluster}
silos=${SILOS:-3}
gateways=${GATEWAYS:-2}
http_port=${HTTP_PORT:-5001}
silo_port=${SILO_PORT:-11111}
gateway_port=${GATEWAY_PORT:-30001}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
  mkdir -p "$dir/pids" "$dir/logs"
  dotnet build -c Release -v quiet -nologo "$root/Orleans.Presence.sln" >/dev/null
  "$root/scripts/pg.sh" start "$dir/pg" | tail -n 1 > "$dir/connection"
  [ -f "$dir/signing-key" ] || head -c 48 /dev/urandom | base64 | tr -d '\n' > "$dir/signing-key"
  export ConnectionStrings__presence="$(cat "$dir/connection")"
  export Presence__Auth__SigningKey="$(cat "$dir/signing-key")"
  export Presence__Silo__ClusterId=local Presence__Silo__ServiceId=presence
  export ASPNETCORE_ENVIRONMENT=Production DOTNET_ENVIRONMENT=Production

  dotnet "$root/Silo/bin/Release/net10.0/Silo.dll" migrate > "$dir/logs/migrate.log" 2>&1

  for i in $(seq 1 "$silos"); do
    if ! running "$dir/pids/silo$i"; then
      Presence__Silo__SiloPort=$((silo_port + i)) Presence__Silo__GatewayPort=$((gateway_port + i)) \
        nohup dotnet "$root/Silo/bin/Release/net10.0/Silo.dll" < /dev/null > "$dir/logs/silo$i.log" 2>&1 &
      echo $! > "$dir/pids/silo$i"
    fi
  done
  for i in $(seq 1 "$gateways"); do
    if ! running "$dir/pids/gateway$i"; then
      nohup dotnet "$root/Gateway/bin/Release/net10.0/Gateway.dll" --contentRoot "$root/Gateway/bin/Release/net10.0" \
        --urls "http://127.0.0.1:$((http_port + i - 1))" < /dev/null > "$dir/logs/gateway$i.log" 2>&1 &
      echo $! > "$dir/pids/gateway$i"
    fi
  done
  for i in $(seq 1 "$gateways"); do
    url="http://127.0.0.1:$((http_port + i - 1))"
    for _ in $(seq 1 240); do
      curl -fsS "$url/health/ready" >/dev/null 2>&1 && break
      sleep 0.5
    done
    curl -fsS "$url/health/ready" >/dev/null 2>&1 || { echo "gateway $url did not become ready; see $dir/logs" >&2; exit 1; }
    echo "gateway $url ready"
  done
  echo "PostgreSQL: $(cat "$dir/connection")"
  echo "mint a token: Presence__Auth__SigningKey=\$(cat $dir/signing-key) dotnet run --project Gateway -- token --sub alice | tail -n 1"
}

status() {
  for pid in "$dir"/pids/*; do
    [ -e "$pid" ] || continue
    name=$(basename "$pid")
    if running "$pid"; then echo "$name running (pid $(cat "$pid"))"; else echo "$name stopped"; fi
  done
  for i in $(seq 1 "$gateways"); do
    url="http://127.0.0.1:$((http_port + i - 1))"
    echo "$url/health/ready: $(curl -s -m 5 "$url/health/ready" || echo unreachable)"
  done
}

down() {
  for pid in "$dir"/pids/*; do
    [ -e "$pid" ] || continue
    running "$pid" && kill -TERM "$(cat "$pid")" 2>/dev/null || true
  done
  for pid in "$dir"/pids/*; do
    [ -e "$pid" ] || continue
    for _ in $(seq 1 40); do running "$pid" || break; sleep 0.5; done
    running "$pid" && kill -KILL "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
  "$root/scripts/pg.sh" stop "$dir/pg"
  echo "stopped"
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) echo "usage: scripts/cluster.sh up|status|down" >&2; exit 2 ;;
esac
