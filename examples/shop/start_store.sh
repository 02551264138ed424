#!/usr/bin/env bash
# Starts the server behind `make demo STORE=redis` or `STORE=postgres` on 127.0.0.1, unless
# something listens on its port already; installs Debian's package when it is missing. For the
# demo only: no password, nothing kept on disk for redis, trust authentication for PostgreSQL.
# A server it starts is written down in MARKER, and `stop MARKER` stops exactly that one when
# the demo ends; a server it found running is not written down, so it is left alone.
#   usage: start_store.sh cookie|memory|redis|postgres [MARKER]
#          start_store.sh stop MARKER
# Ports: DEMO_REDIS_PORT (6379), DEMO_POSTGRES_PORT (5432).
set -euo pipefail

REDIS_PORT=${DEMO_REDIS_PORT:-6379}
POSTGRES_PORT=${DEMO_POSTGRES_PORT:-5432}
MARKER=${2:-/dev/null}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # PORT NAME
    for _ in $(seq 50); do listening "$1" && return 0; sleep 0.1; done
    echo "$2 did not start listening on 127.0.0.1:$1" >&2
    return 1
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    echo "== installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get install -y --no-install-recommends "$@" \
        || { as_root apt-get update && as_root apt-get install -y --no-install-recommends "$@"; }
}

start_redis() {
    local port=$REDIS_PORT
    if listening "$port"; then
        echo "redis: something already listens on 127.0.0.1:$port; using it (and leaving it running)"
        return
    fi
    command -v redis-server >/dev/null || apt_install redis-server
    local pidfile=/tmp/scsession-demo-redis-$port.pid
    rm -f "$pidfile"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$pidfile" --logfile "/tmp/scsession-demo-redis-$port.log"
    wait_for "$port" redis
    for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
    echo "redis $(cat "$pidfile")" >>"$MARKER"
    echo "redis: started on 127.0.0.1:$port (stopped when the demo ends)"
}

start_postgres() {
    local port=$POSTGRES_PORT
    if listening "$port"; then
        echo "postgres: something already listens on 127.0.0.1:$port; using it (and leaving it running)"
        return
    fi
    # The data directory is kept between demos (sessions survive a restart of the demo).
    local bin data=/tmp/scsession-demo-postgres
    if [ "$port" != 5432 ]; then data=$data-$port; fi
    bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ]; then
        apt_install postgresql
        bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin | sort -V | tail -n 1)
        # Debian's package may have started its own cluster, with passwords: then use that one.
        if listening "$port"; then
            echo "postgres: Debian's cluster listens on $port; set SCSESSION_STORE_URL for it"
            return
        fi
    fi
    # PostgreSQL refuses to run as root: as root, run it as the postgres user.
    local run=()
    if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$data"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
        "${run[@]}" "$bin/initdb" -D "$data" -U postgres -A trust >/dev/null
    fi
    "${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
        -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >/dev/null
    echo "postgres $data $bin" >>"$MARKER"
    echo "postgres: started on 127.0.0.1:$port (stopped when the demo ends)"
}

# Stops what MARKER lists (what this demo started), and nothing else.
stop_started() {
    [ -s "$1" ] || return 0
    local kind what bin
    while read -r kind what bin; do
        case "$kind" in
            redis)  # a pid from redis's pid file, checked to still be a redis-server
                if [[ "$(ps -o comm= -p "$what" 2>/dev/null)" == *redis-server* ]]; then
                    kill -TERM "$what"
                    for _ in $(seq 100); do kill -0 "$what" 2>/dev/null || break; sleep 0.05; done
                    echo "redis: stopped (pid $what)"
                fi
                ;;
            postgres)  # a data directory and the pg_ctl that started it
                local run=()
                if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
                "${run[@]}" "$bin/pg_ctl" -D "$what" -m fast -w stop >/dev/null \
                    && echo "postgres: stopped ($what)"
                ;;
        esac
    done <"$1"
}

case "${1:-cookie}" in
    stop) stop_started "${2:?usage: start_store.sh stop MARKER}" ;;
    cookie | memory) ;;  # nothing to start: the cookie, or this process, holds the sessions
    redis) start_redis ;;
    postgres) start_postgres ;;
    *) echo "STORE must be cookie, memory, redis or postgres, not '$1'" >&2; exit 2 ;;
esac
