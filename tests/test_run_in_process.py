"""``jobworker run`` called in-process (as tests and embedding programs do) returns to its caller.

After a run the command exits the process at once only if a thread that this run started is
still alive (a thread-executor handler that ignored its cancellation). Threads that existed
before the run, and the worker's pools' idle threads that are still leaving, must not make it
end its caller's process: under pytest that ended the whole suite with exit status 0.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from procs import SUPPORT

PROGRAM = textwrap.dedent(
    """
    import threading, sys
    from click.testing import CliRunner
    from jobworker import connect
    from jobworker.cli import cli
    from jobworker.testing import make_plugins
    import testjobs

    url = sys.argv[1]
    client = connect(url, plugins=make_plugins([testjobs]))
    for _ in range(3):
        client.submit("thread", {"fail": "final"})
        client.submit("async", {})
    release = threading.Event()
    bystander = threading.Thread(target=release.wait)  # not daemon, not the run's
    bystander.start()
    for _ in range(3):  # thread pools shut down without waiting, three times over
        result = CliRunner().invoke(
            cli, ["--store", url, "--plugin", "testjobs", "run", "--burst"], catch_exceptions=False
        )
        print("returned", result.exit_code, flush=True)
    release.set()
    """
)


def test_run_in_process_returns_to_its_caller(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, f"sqlite:///{tmp_path / 'q.db'}"],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(SUPPORT), os.environ.get("PYTHONPATH")])
            ),
            "JOBWORKER_PLUGINS": "",
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["returned 0"] * 3, done.stdout + done.stderr
