#!/usr/bin/env bash
# A/B in one run of the shared peers harness: jobworker from this checkout beside
# jobworker-base, the core at commit BASE, interleaved with the peers in every repetition.
#   bash bench/peers/ab.sh BASE --peers jobworker-base,jobworker,huey-sqlite,huey-redis --reps 3
# Results: bench/results/peers-ab.md and peers-ab.csv.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=$1; shift
SRC="${BENCH_PEERS:-$ROOT/../shared/bench-peers}"
WORKDIR="${BENCH_PEERS_COPY:-/tmp/jobworker-bench-peers-ab}"
BASEDIR="$WORKDIR-base-src"
rm -rf "$WORKDIR" "$BASEDIR" && cp -r "$SRC" "$WORKDIR" && chmod -R u+w "$WORKDIR"
mkdir -p "$BASEDIR" && git -C "$ROOT" archive "$BASE" core | tar -x -C "$BASEDIR"
cp "$HERE/peer_jobworker.py" "$HERE/jobworker.toml" "$WORKDIR/"
echo "-e $ROOT/core" > "$WORKDIR/requirements-jobworker.txt"
echo "-e $BASEDIR/core  # $BASE" > "$WORKDIR/requirements-jobworker-base.txt"
sed -e 's/\[peers.jobworker\]/[peers.jobworker-base]/' -e 's/venv = "jobworker"/venv = "jobworker-base"/' \
  -e "s/^note = \"/note = \"core at $BASE; /" "$HERE/jobworker.toml" > "$WORKDIR/jobworker-base.toml"
mkdir -p "$ROOT/bench/results"
exec "$WORKDIR/run.sh" --add "$WORKDIR/jobworker.toml" --add "$WORKDIR/jobworker-base.toml" \
  --out "${BENCH_OUT:-$ROOT/bench/results/peers-ab}" "$@"
