#!/usr/bin/env bash
# Install everything (scripts/setup.sh), start the MongoDB wire-compatible test server unless
# MONGO_URI already names a server, and run the whole test suite. Extra arguments go to pytest.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
started=""
if [ -z "${MONGO_URI:-}" ]; then
    eval "$(bash scripts/mongo-wire.sh start)"
    export MONGO_URI
    started=1
fi
trap '[ -n "$started" ] && bash scripts/mongo-wire.sh stop >/dev/null 2>&1 || true' EXIT
echo "test: MongoDB tests against $MONGO_URI"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
