#!/usr/bin/env bash
# Build bench/slowsync/slowsync.so (needs gcc): LD_PRELOAD=... SLOWSYNC_US=2500 <command>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
gcc -shared -fPIC -O2 -o "$here/slowsync.so" "$here/slowsync.c" -ldl
echo "$here/slowsync.so"
