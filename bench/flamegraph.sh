#!/usr/bin/env bash
# A flame graph of one worker process draining no-op jobs (py-spy, from the dev extras).
#   bash bench/flamegraph.sh [OUT.svg] [N]      # default bench/results/flame-worker.svg, 20000
# The jobs are stored first without a batch (as one-by-one submits are), then
# `jobworker run --burst --processes 1` drains them under `py-spy record --subprocesses`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/bench/results/flame-worker.svg}
N=${2:-20000}
PY=${PYTHON:-$ROOT/.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export PYTHONPATH="$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}" JOBWORKER_PLUGINS=""
"$PY" - "$TMP/bench.db" "$N" <<'PYEOF'
import sys

import benchjobs
from jobworker import connect
from jobworker.testing import make_plugins

client = connect(f"sqlite:///{sys.argv[1]}", plugins=make_plugins([benchjobs]))
n = int(sys.argv[2])
for start in range(0, n, 5000):
    client.store.enqueue([client.build_job("bench.noop") for _ in range(min(5000, n - start))])
client.close()
PYEOF
cd "$TMP"
"$(dirname "$PY")/py-spy" record --subprocesses -r 250 -o "$OUT" -- "$PY" -m jobworker \
    --store "sqlite:///$TMP/bench.db" --plugin benchjobs run --burst --processes 1 --log-level warning
