#!/usr/bin/env bash
# Install everything (scripts/setup.sh), start the MongoDB wire-compatible test server unless
# MONGO_URI already names a server, and run the whole test suite. Extra arguments go to pytest.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
started=""
if [ -z "${MONGO_URI:-}" ]; then
    # The test server, or one loud line that the MongoDB tests are skipped (a failure if CI=true).
    wire="$(bash scripts/mongo-wire.sh for-tests)"
    eval "$wire"
    if [ -n "${MONGO_URI:-}" ]; then
        export MONGO_URI
        started=1
    fi
fi
trap '[ -n "$started" ] && bash scripts/mongo-wire.sh stop >/dev/null 2>&1 || true' EXIT
echo "test: MongoDB tests against ${MONGO_URI:-nothing (skipped)}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ -z "${MONGO_URI:-}" ]; then
    bash scripts/mongo-wire.sh skipped >&2  # again, after pytest's output
fi
exit "$status"
