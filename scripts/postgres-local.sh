#!/usr/bin/env bash
# A throw-away PostgreSQL server for the tests, on 127.0.0.1 only, with trust auth.
#
#   eval "$(scripts/postgres-local.sh start)"   # starts it (or reuses a running one), prints
#                                               # export PGHOST=... PGPORT=... PGUSER=...
#   scripts/postgres-local.sh env               # the exports of the running server
#   scripts/postgres-local.sh stop              # stops it and removes its data directory
#
# The state file (DAISY_PG_STATE, default /tmp/daisy-postgres-local.state) names the data
# directory and port. PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` system user (created if missing). Binaries: initdb/pg_ctl on PATH, else
# /usr/lib/postgresql/*/bin, else Debian's `postgresql` package is installed.
set -euo pipefail

state=${DAISY_PG_STATE:-/tmp/daisy-postgres-local.state}

find_bin() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        bindir=$(dirname "$(command -v initdb)")
        return
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x $dir/initdb ]]; then bindir=$dir; return; fi
    done
    echo "postgres-local: installing Debian's postgresql package" >&2
    apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    for dir in /usr/lib/postgresql/*/bin; do
        if [[ -x $dir/initdb ]]; then bindir=$dir; return; fi
    done
    echo "postgres-local: no initdb found" >&2
    exit 1
}

# Runs a command as the server's user.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

print_env() {
    echo "export PGHOST=127.0.0.1 PGPORT=$port PGUSER=postgres"
}

running() {
    [[ -f $state ]] || return 1
    # shellcheck disable=SC1090
    source "$state"
    as_owner "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-start}
case $cmd in
start)
    find_bin
    if running; then
        print_env
        exit 0
    fi
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    datadir=$(mktemp -d /tmp/daisy-postgres.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then chown postgres "$datadir"; fi
    port=$(free_port)
    as_owner "$bindir/initdb" -D "$datadir" -U postgres --auth=trust --encoding=UTF8 \
        --no-sync >/dev/null
    # A socket directory of our own (the default /var/run/postgresql may be missing).
    as_owner "$bindir/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -s \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c fsync=off -c max_connections=200" \
        start >&2
    printf 'bindir=%q\ndatadir=%q\nport=%q\n' "$bindir" "$datadir" "$port" >"$state"
    print_env
    ;;
env)
    find_bin
    running || { echo "postgres-local: not running" >&2; exit 1; }
    print_env
    ;;
stop)
    if [[ -f $state ]]; then
        # shellcheck disable=SC1090
        source "$state"
        as_owner "$bindir/pg_ctl" -D "$datadir" -m immediate -s stop >&2 || true
        rm -rf "$datadir" "$state"
    fi
    ;;
*)
    echo "usage: $0 start|env|stop" >&2
    exit 2
    ;;
esac
