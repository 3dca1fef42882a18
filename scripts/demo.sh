#!/usr/bin/env bash
# The quick start: install everything (scripts/setup.sh), make example inputs in jobworker-demo/,
# submit them as one batch of seven job types to the default embedded store
# (sqlite:///jobworker.db in that folder), run a worker until the batch is done, and show what
# every job produced. Usage: bash scripts/demo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
export PATH="$ROOT/.venv/bin:$PATH"
mkdir -p "$ROOT/jobworker-demo"
cd "$ROOT/jobworker-demo"
python "$ROOT/examples/demo/make_inputs.py" .
jobworker plugins
batch=$(jobworker batch submit demo.jsonl --name "jobworker demo")
echo "submitted batch $batch; running a worker until it is done ..."
jobworker run --burst --log-level warning
jobworker batch status "$batch"
jobworker list --batch "$batch"
python "$ROOT/examples/demo/show.py" "$batch"
echo
echo "Store: $PWD/jobworker.db   outputs: $PWD/jobworker-output/"
echo
echo "Dashboard and HTTP API: in $PWD run"
echo "  $ROOT/.venv/bin/jobworker keys create me --scope admin   # prints a key once"
echo "  $ROOT/.venv/bin/jobworker serve"
echo "then open http://127.0.0.1:8000/ and paste the key (API: http://127.0.0.1:8000/schema/swagger)."
