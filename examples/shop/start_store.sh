#!/usr/bin/env bash
# Starts the server behind `make demo STORE=redis` or `STORE=postgres` on 127.0.0.1, unless
# something listens on its port already; installs Debian's package when it is missing. For the
# demo only: no password, nothing kept on disk for redis, trust authentication for PostgreSQL.
# The server keeps running after the demo stops; the line printed at start says how to stop it.
#   usage: start_store.sh cookie|memory|redis|postgres
set -euo pipefail

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
    if listening 6379; then
        echo "redis: something already listens on 127.0.0.1:6379; using it"
        return
    fi
    command -v redis-server >/dev/null || apt_install redis-server
    redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --logfile /tmp/scsession-demo-redis.log
    wait_for 6379 redis
    echo "redis: started on 127.0.0.1:6379 (stop it with: redis-cli -p 6379 shutdown)"
}

start_postgres() {
    if listening 5432; then
        echo "postgres: something already listens on 127.0.0.1:5432; using it"
        return
    fi
    local bin data=/tmp/scsession-demo-postgres
    bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ]; then
        apt_install postgresql
        bin=$(find /usr/lib/postgresql -maxdepth 2 -name bin | sort -V | tail -n 1)
        # Debian's package may have started its own cluster, with passwords: then use that one.
        if listening 5432; then
            echo "postgres: Debian's cluster listens on 5432; set SCSESSION_STORE_URL for it"
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
        -o "-p 5432 -k $data -c listen_addresses=127.0.0.1" start >/dev/null
    echo "postgres: started on 127.0.0.1:5432 (stop it with: ${run[*]} $bin/pg_ctl -D $data stop)"
}

case "${1:-cookie}" in
    cookie | memory) ;;  # nothing to start: the cookie, or this process, holds the sessions
    redis) start_redis ;;
    postgres) start_postgres ;;
    *) echo "STORE must be cookie, memory, redis or postgres, not '$1'" >&2; exit 2 ;;
esac
