#!/usr/bin/env bash
# Instructions per no-op job of an in-process burst worker, counted by valgrind's callgrind:
# unlike CPU time the count does not move with the machine's load, but it does with thread
# timing (jobs per round trip, idle polls): runs of one commit differ by up to ~10 %, so repeat
# and compare only larger differences. Needs Debian's valgrind; about a minute per 1000 jobs.
#   bash bench/instructions_per_job.sh [N]          # default 1000
# Runs bench/drain_inprocess.py under callgrind with 0 and with N jobs (stored by an untraced
# child process) and prints (instructions(N) - instructions(0)) / N. PYTHONPATH=OTHER/core/src
# measures another checkout's core with this one's virtualenv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
N=${1:-1000}
command -v valgrind > /dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PY" "$ROOT/bench/drain_inprocess.py" "$1" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
count 0 > /dev/null  # compiles what changed, so that both counts below run the same bytecode
ZERO=$(count 0)
FULL=$(count "$N")
echo "instructions per no-op job: $(( (FULL - ZERO) / N )) (N=$N; $FULL total, $ZERO with no job)"
