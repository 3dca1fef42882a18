#!/usr/bin/env bash
# A MongoDB wire-compatible test server (mongoeco, in-memory engine) on 127.0.0.1.
#
#   bash scripts/mongo-wire.sh start   # prints MONGO_URI=mongodb://127.0.0.1:PORT
#   bash scripts/mongo-wire.sh stop    # stops the server started by `start` (by its PID)
#   bash scripts/mongo-wire.sh status
#   bash scripts/mongo-wire.sh for-tests # what scripts/test.sh runs without MONGO_URI: `start`, or
#                                        # one loud line that the MongoDB tests will be skipped;
#                                        # under CI=true a server that cannot start is a failure
#
# It is NOT a real mongod: no change streams, no replication, memory only. Real pymongo talks to
# it over TCP, so the MongoDB tests run unchanged against it and against a real deployment
# (export MONGO_URI=... yourself instead). mongoeco 4.11.0 needs Python >= 3.13: it lives in its
# own virtualenv, created on first use with pinned versions.
#
# Environment: MONGO_WIRE_PYTHON (python3.13 to build the venv with), MONGO_WIRE_VENV,
# MONGO_WIRE_STATE (directory for the PID, port and log files).
set -euo pipefail

VENV="${MONGO_WIRE_VENV:-/tmp/jobworker-mongoeco-venv}"
STATE="${MONGO_WIRE_STATE:-/tmp/jobworker-mongo-wire}"
PIDFILE="$STATE/server.pid"
PORTFILE="$STATE/server.port"
LOGFILE="$STATE/server.log"
MONGOECO_VERSION="4.11.0"
PYMONGO_SPEC="pymongo==4.19.*"

find_python() {
    local candidate
    for candidate in "${MONGO_WIRE_PYTHON:-}" /root/.pyenv/versions/3.13.0/bin/python \
                     "$(command -v python3.13 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c \
            'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "mongo-wire: need Python >= 3.13 (set MONGO_WIRE_PYTHON)" >&2
    return 1
}

ensure_venv() {
    if "$VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('mongoeco') != '$MONGOECO_VERSION' or not m.version('pymongo').startswith('4.19.'))" \
        2>/dev/null; then
        return 0
    fi
    local python
    python="$(find_python)"
    "$python" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "mongoeco==$MONGOECO_VERSION" "$PYMONGO_SPEC" >&2
}

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# The server: binds a free port (port 0), writes it to PORTFILE, serves until killed.
SERVER_PY='
import asyncio, os, signal, sys
from mongoeco.wire import AsyncMongoEcoProxyServer

async def main() -> None:
    server = AsyncMongoEcoProxyServer(host="127.0.0.1", port=0)
    address = await server.start()
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(address.port))
    os.replace(tmp, sys.argv[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()

asyncio.run(main())
'

PING_PY='
import sys
from pymongo import MongoClient
client = MongoClient(sys.argv[1], serverSelectionTimeoutMS=2000)
client.admin.command("ping")
'

start() {
    mkdir -p "$STATE"
    if running; then
        echo "MONGO_URI=mongodb://127.0.0.1:$(cat "$PORTFILE")"
        return 0
    fi
    ensure_venv
    rm -f "$PORTFILE"
    nohup "$VENV/bin/python" -c "$SERVER_PY" "$PORTFILE" >"$LOGFILE" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    local i uri
    for i in $(seq 1 150); do
        if [ -s "$PORTFILE" ]; then
            uri="mongodb://127.0.0.1:$(cat "$PORTFILE")"
            if "$VENV/bin/python" -c "$PING_PY" "$uri" 2>/dev/null; then
                echo "MONGO_URI=$uri"
                return 0
            fi
        fi
        if ! running; then
            echo "mongo-wire: the server exited; log:" >&2
            cat "$LOGFILE" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "mongo-wire: the server did not answer within 15 s; log: $LOGFILE" >&2
    stop
    return 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        local pid
        pid="$(cat "$PIDFILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        fi
        rm -f "$PIDFILE" "$PORTFILE"
    fi
}

SKIPPED="test: !!! the MongoDB tests are SKIPPED: no MONGO_URI and the wire-compatible test server did not start (it needs Python >= 3.13: set MONGO_WIRE_PYTHON). Run them with export MONGO_URI=mongodb://HOST:PORT pointing at a MongoDB server (any database name; the tests use their own) !!!"

for_tests() {
    local out
    if out="$(bash "$0" start)"; then
        echo "$out"
        return 0
    fi
    if [ "${CI:-}" = "true" ]; then
        echo "test: FAILED: CI=true and no MongoDB server for the MongoDB tests (see above): set MONGO_URI=mongodb://HOST:PORT, or MONGO_WIRE_PYTHON to a Python >= 3.13 for the test server" >&2
        return 1
    fi
    echo "$SKIPPED" >&2
}

case "${1:-}" in
    start) start ;;
    for-tests) for_tests ;;
    skipped) echo "$SKIPPED" ;;
    stop) stop ;;
    status)
        if running; then echo "running: MONGO_URI=mongodb://127.0.0.1:$(cat "$PORTFILE")"
        else echo "not running"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status|for-tests|skipped" >&2; exit 2 ;;
esac
