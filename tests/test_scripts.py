"""The scripts a new user runs: scripts/test.sh never lets the MongoDB tests be skipped
silently (issue 15 item 10)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _for_tests(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MONGO_URI")}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "mongo-wire.sh"), "for-tests"],
        # the state folder cannot be made (a file is in the way): the server cannot start
        env={**env, "MONGO_WIRE_STATE": str(blocker / "state"), **({"CI": "true"} if ci else {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_a_test_server_ci_fails(tmp_path):
    result = _for_tests(tmp_path, ci=True)
    assert result.returncode != 0 and "MONGO_URI=" not in result.stdout
    assert "FAILED: CI=true and no MongoDB server" in result.stderr
    assert "MONGO_URI=mongodb://HOST:PORT" in result.stderr


def test_without_a_test_server_elsewhere_one_loud_line(tmp_path):
    result = _for_tests(tmp_path, ci=False)
    assert result.returncode == 0 and result.stdout == ""
    [loud] = [line for line in result.stderr.splitlines() if "SKIPPED" in line]
    assert "the MongoDB tests are SKIPPED" in loud and "export MONGO_URI=mongodb://" in loud


def test_test_sh_uses_it_and_repeats_the_line_after_pytest():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert 'wire="$(bash scripts/mongo-wire.sh for-tests)"' in script
    assert "set -euo pipefail" in script  # so a failing for-tests stops the run
    assert script.index("mongo-wire.sh skipped") > script.index("pytest")
