#!/usr/bin/env bash
# Install everything jobworker's demo and tests need, on a fresh Debian machine or a laptop:
# the Debian packages in scripts/apt-packages.txt (as root, or through sudo), and a virtualenv
# .venv with the core, every plugin, the example plugin and the development tools.
# Idempotent: run it again after pulling. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r pkg; do
    [ -z "$pkg" ] || [[ "$pkg" == \#* ]] && continue
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done < scripts/apt-packages.txt
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# The core first, then every distribution of the workspace with its test extras.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -e ".[dev]" \
    -e "core[mongodb,server]" \
    $(bash scripts/plugin-specs.sh)
echo "setup: ready ($(.venv/bin/jobworker --version))"
