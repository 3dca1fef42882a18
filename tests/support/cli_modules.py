"""What a ``jobworker`` command imports: run it in a fresh interpreter (``jobworker.cli.main``
with the given arguments, no ``JOBWORKER_*`` variables but those given) and list ``sys.modules``
at its end. Used by the tests of what the CLI and a worker process import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
sys.argv = ["jobworker", *json.loads(sys.argv[1])]
from jobworker.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def run_cli(cwd: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """The finished command and the names of the modules it imported."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        cwd=cwd,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, set(json.loads(done.stderr.strip().splitlines()[-1]))


def with_parents(modules: set[str]) -> set[str]:
    """Every module and each of its parent packages: ``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``."""
    return {".".join(m.split(".")[: i + 1]) for m in modules for i in range(m.count(".") + 1)}
