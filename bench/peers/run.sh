#!/usr/bin/env bash
# Runs shared/bench-peers with jobworker as one more contender, in one run, so ratios compare.
#   bash bench/peers/run.sh                       # all peers + jobworker, N=5000, 3 reps (~35 min)
#   bash bench/peers/run.sh --peers huey-sqlite,litequeue,jobworker --reps 1 --n 2000
# The harness folder is read-only: it is copied to /tmp with peer_jobworker.py beside it.
# Results: bench/results/peers.md and peers.csv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SRC="${BENCH_PEERS:-$ROOT/../shared/bench-peers}"
WORKDIR="${BENCH_PEERS_COPY:-/tmp/jobworker-bench-peers}"  # the harness copy; set it to run two checkouts at once
rm -rf "$WORKDIR" && cp -r "$SRC" "$WORKDIR" && chmod -R u+w "$WORKDIR"
cp "$HERE/peer_jobworker.py" "$HERE/jobworker.toml" "$WORKDIR/"
echo "-e $ROOT/core" > "$WORKDIR/requirements-jobworker.txt"
mkdir -p "$ROOT/bench/results"
exec "$WORKDIR/run.sh" --add "$WORKDIR/jobworker.toml" --out "$ROOT/bench/results/peers" "$@"
