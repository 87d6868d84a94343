#!/usr/bin/env bash
# A throw-away MongoDB-wire-compatible server for the tests, on 127.0.0.1 only, no auth.
#
#   eval "$(scripts/mongodb-local.sh start)"   # starts it (or reuses a running one), prints
#                                              # export MONGODB_URI=mongodb://127.0.0.1:PORT
#   scripts/mongodb-local.sh env               # the export of the running server
#   scripts/mongodb-local.sh stop              # stops it and removes its data directory
#
# The server is SecantusDB (PyPI's `secantusdb`, pinned below: no real mongod is installable
# from the registries this project uses), installed on first use into its own virtual
# environment under the repository's ignored `.cache/` and reused later. The state file
# (DAISY_MONGODB_STATE, default /tmp/daisy-mongodb-local.state) names its pid, data directory
# and port.
set -euo pipefail

state=${DAISY_MONGODB_STATE:-/tmp/daisy-mongodb-local.state}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.cache/mongodb-venv
package=secantusdb==0.7.0b3

install_server() {
    if [[ -x $venv/bin/secantusd-py ]] && "$venv/bin/pip" show -q secantusdb 2>/dev/null \
        && [[ $("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("secantusdb"))') == "${package#*==}" ]]; then
        return
    fi
    echo "mongodb-local: installing $package into $venv" >&2
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "$package" >&2
}

print_env() {
    echo "export MONGODB_URI=mongodb://127.0.0.1:$port"
}

running() {
    [[ -f $state ]] || return 1
    # shellcheck disable=SC1090
    source "$state"
    kill -0 "$pid" 2>/dev/null && answers
}

# Whether the server answers a `ping` on its port.
answers() {
    "$venv/bin/python" - "$port" <<'PY' >/dev/null 2>&1
import sys
import pymongo
c = pymongo.MongoClient("127.0.0.1", int(sys.argv[1]), directConnection=True,
                        serverSelectionTimeoutMS=500)
c.admin.command("ping")
PY
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cmd=${1:-start}
case $cmd in
start)
    if running; then
        print_env
        exit 0
    fi
    install_server
    datadir=$(mktemp -d /tmp/daisy-mongodb.XXXXXX)
    port=$(free_port)
    # --standalone: a plain server (not a one-node replica set) for every driver.
    setsid "$venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" \
        --storage-path "$datadir/data" --log-level WARNING --standalone \
        >"$datadir/server.log" 2>&1 </dev/null &
    pid=$!
    printf 'pid=%q\ndatadir=%q\nport=%q\n' "$pid" "$datadir" "$port" >"$state"
    for _ in $(seq 1 300); do
        if answers; then
            print_env
            exit 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.1
    done
    echo "mongodb-local: the server did not answer on 127.0.0.1:$port; its log:" >&2
    cat "$datadir/server.log" >&2 || true
    kill "$pid" 2>/dev/null || true
    rm -rf "$datadir" "$state"
    exit 1
    ;;
env)
    running || { echo "mongodb-local: not running" >&2; exit 1; }
    print_env
    ;;
stop)
    if [[ -f $state ]]; then
        # shellcheck disable=SC1090
        source "$state"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid" 2>/dev/null || true
            # The data is thrown away: a second for a clean exit, then SIGKILL.
            for _ in $(seq 1 10); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
        rm -rf "$datadir" "$state"
    fi
    ;;
*)
    echo "usage: $0 start|env|stop" >&2
    exit 2
    ;;
esac
