#!/usr/bin/env bash
# Prints the pip install arguments for every plugin and example distribution, with the extras
# their tests need (each pyproject.toml's `test` extra, plus the ones listed here).
cd "$(dirname "$0")/.."
declare -A EXTRA=([pdf]="ocr" [audio]="whisper")
for dir in plugins/* examples/worker-plugin-*; do
    [ -f "$dir/pyproject.toml" ] || continue
    name=$(basename "$dir")
    extras="test"
    [ -n "${EXTRA[$name]:-}" ] && extras="${EXTRA[$name]},test"
    if grep -q '^test *=' "$dir/pyproject.toml"; then
        echo "-e $dir[$extras]"
    else
        echo "-e $dir${EXTRA[$name]:+[${EXTRA[$name]}]}"
    fi
done
