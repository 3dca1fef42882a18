#!/bin/sh
# A runnable demo of the example plugin: install it, submit the example batch, run a worker
# until the work is done, show the results. Run from anywhere:  sh examples/demo.sh
# Everything it writes (store, reports) goes to a temporary directory, printed at the end.
set -eu
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/jobworker-demo.XXXXXX")"
cd "$repo"

if ! jobworker plugins --json | grep -q '"worker-plugin-wordstats"'; then
    jobworker install -e examples/worker-plugin-wordstats
fi
cat > "$work/jobworker.toml" <<TOML
store = "sqlite:///$work/demo.db"

[paths]
input_roots = ["$repo"]
output_root = "$work/output"
TOML
export JOBWORKER_CONFIG="$work/jobworker.toml"

jobworker plugins
batch="$(jobworker batch submit examples/jobs/batch.jsonl --name "wordstats demo")"
echo "submitted batch $batch"
jobworker run --burst --log-level warning
jobworker batch status "$batch"
jobworker list --batch "$batch"
alice="$(jobworker list --batch "$batch" --json | python3 -c \
    'import json, sys; print(next(j["job_id"] for j in json.load(sys.stdin) if j["job_name"].startswith("Alice")))')"
jobworker logs "$alice"
echo
cat "$work/output/$alice/wordstats.md"
echo "store, config and reports: $work"
