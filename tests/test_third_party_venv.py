"""Evidence from an empty virtualenv: the third-party plugin path end to end, with real pip.

One private virtualenv per test session (``python -m venv`` under pytest's tmp, no system site
packages): ``pip install`` of the core from this repository, then ``jobworker install`` of the
example plugin, ``jobworker plugin new`` + an editable install of the generated package, the
deliberately broken plugins of ``tests/broken_plugins`` next to the good ones, and finally
``jobworker uninstall``. Nothing is installed into the environment running the tests.

The tests of this module build on each other in file order (install, list, run, break,
uninstall), like a person trying it out; each asserts what it needs and does not undo the
installs of earlier ones, except the broken plugins, which are uninstalled again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "core"
EXAMPLE = REPO / "examples" / "worker-plugin-wordstats"
BROKEN = Path(__file__).resolve().parent / "broken_plugins"
BROKEN_DISTS = [
    "worker-plugin-broken-import",
    "worker-plugin-wordstats-fork",
    "worker-plugin-broken-hook",
    "worker-plugin-too-old",
]
_IGNORE = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".pytest_cache")


class Venv:
    """A virtualenv and a way to run its programs with a clean environment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.bin = path / "bin"
        self.timings: dict[str, float] = {}
        self.facts: dict[str, object] = {}

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("JOBWORKER_", "PYTHON")) and k != "VIRTUAL_ENV"
        }
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(self.path),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
        )
        env.update(extra)
        return env

    def run(
        self,
        program: str,
        *args: object,
        cwd: Path | None = None,
        check: bool = True,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bin / program), *map(str, args)],
            cwd=cwd,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and done.returncode:
            pytest.fail(
                f"{program} {' '.join(map(str, args))} exited {done.returncode}\n"
                f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        return done

    def jobworker(self, *args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        return self.run("jobworker", *args, **kwargs)

    def plugins(self, **env: str) -> dict[str, dict]:
        out = self.jobworker("plugins", "--json", env=self.env(**env)).stdout
        return {p["name"]: p for p in json.loads(out)}

    def timed(self, label: str, program: str, *args: object, **kwargs: object) -> None:
        start = time.monotonic()
        self.run(program, *args, **kwargs)
        self.timings[label] = round(time.monotonic() - start, 1)


def copy_of(source: Path, tmp: Path) -> Path:
    """A copy without build leftovers, so pip builds in tmp and never writes into the repo."""
    target = tmp / source.name
    shutil.copytree(source, target, ignore=_IGNORE)
    return target


@pytest.fixture(scope="session")
def venv(tmp_path_factory) -> Venv:
    """An empty virtualenv with only the core installed, the way a user installs it."""
    root = tmp_path_factory.mktemp("third-party-venv")
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", root / "env"], check=True, timeout=300)
    v = Venv(root / "env")
    v.timings["venv"] = round(time.monotonic() - start, 1)
    v.facts["freeze_before"] = v.run("python", "-m", "pip", "freeze").stdout
    v.facts["no_system_site"] = "include-system-site-packages = false" in (
        (root / "env" / "pyvenv.cfg").read_text()
    )
    # The honest install: pip resolves the core's dependencies itself.
    v.timed("pip install core", "python", "-m", "pip", "install", copy_of(CORE, root))
    v.facts["plugins_core_only"] = v.jobworker("plugins", "--json").stdout
    return v


@pytest.fixture(scope="module")
def installed(venv, tmp_path_factory) -> Venv:
    """The example plugin installed with ``jobworker install``; a generated plugin with
    ``jobworker plugin new`` and ``jobworker install -e``."""
    work = tmp_path_factory.mktemp("third-party-src")
    venv.timed("jobworker install example", "jobworker", "install", copy_of(EXAMPLE, work))
    venv.jobworker(
        "plugin",
        "new",
        "hello",
        "--dir",
        work,
        "--description",
        "Greets people (generated by jobworker plugin new)",
    )
    venv.facts["hello_dir"] = work / "worker-plugin-hello"
    venv.timed(
        "jobworker install -e generated[test]",
        "jobworker",
        "install",
        "-e",
        f"{work / 'worker-plugin-hello'}[test]",
    )
    return venv


def test_starts_from_an_empty_virtualenv_with_only_the_core(venv):
    assert venv.facts["no_system_site"]
    assert venv.facts["freeze_before"].strip() == ""  # nothing but pip (and setuptools)
    assert json.loads(venv.facts["plugins_core_only"]) == []
    assert "No plugins installed" in venv.jobworker("plugins").stdout
    version = venv.jobworker("--version").stdout
    assert "0.1" in version
    print(f"\nvirtualenv timings (s): {venv.timings}")


def test_jobworker_plugins_shows_the_example(installed):
    listing = installed.plugins()
    ws = listing["wordstats"]
    assert ws["distribution"] == "worker-plugin-wordstats"
    assert ws["version"] == "0.1.0"
    assert ws["job_types"] == ["wordstats"]
    assert ws["hooks"] == ["register_job_handlers"]
    assert (ws["available"], ws["problems"]) == (True, [])
    assert listing["hello"]["distribution"] == "worker-plugin-hello"
    table = installed.jobworker("plugins").stdout
    assert "worker-plugin-wordstats" in table and "broken" not in table
    print(f"\nvirtualenv timings (s): {installed.timings}")


def config(tmp_path: Path) -> Path:
    path = tmp_path / "jobworker.toml"
    path.write_text(
        f'store = "sqlite:///{tmp_path / "jobs.db"}"\n\n[paths]\n'
        f'input_roots = ["{REPO}"]\noutput_root = "{tmp_path / "out"}"\n'
    )
    return path


def test_example_jobs_run_through_jobworker_run_burst(installed, tmp_path):
    cfg = config(tmp_path)
    batch_id = installed.jobworker(
        "--config", cfg, "batch", "submit", "examples/jobs/batch.jsonl", cwd=REPO
    ).stdout.strip()
    job_id = installed.jobworker(
        "--config",
        cfg,
        "submit",
        "wordstats",
        "-p",
        "text=to be or not to be",
        "-p",
        "top:=2",
        cwd=REPO,
    ).stdout.strip()
    installed.jobworker("--config", cfg, "run", "--burst", cwd=REPO)

    batch = json.loads(
        installed.jobworker("--config", cfg, "batch", "status", batch_id, "--json").stdout
    )
    assert (batch["completed_jobs"], batch["failed_jobs"], batch["total_jobs"]) == (3, 0, 3)
    job = json.loads(installed.jobworker("--config", cfg, "status", job_id, "--json").stdout)
    assert job["status"] == "completed"
    data = job["results"]["structured_data"]
    assert data["words"] == 6
    assert data["top_words"] == [{"word": "be", "count": 2}, {"word": "to", "count": 2}]
    assert Path(job["results"]["markdown_file"]).is_relative_to(tmp_path / "out")
    jobs = json.loads(
        installed.jobworker("--config", cfg, "list", "--batch", batch_id, "--json").stdout
    )
    alice = next(j for j in jobs if j["job_name"] == "Alice, top 5")
    assert alice["results"]["structured_data"]["top_words"][0] == {"word": "the", "count": 13}
    logs = installed.jobworker("--config", cfg, "logs", alice["job_id"]).stdout
    assert "counted" in logs and "alice.txt" in logs


def test_the_demo_script_runs(installed, tmp_path):
    # A short TMPDIR: the SQLite store binds a Unix socket beside the database (108-byte limit).
    with tempfile.TemporaryDirectory(prefix="jw") as tmp:
        done = subprocess.run(
            ["sh", str(REPO / "examples" / "demo.sh")],
            cwd=tmp_path,
            env=installed.env(TMPDIR=tmp),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "total 3: 3 completed, 0 failed" in done.stdout
    assert "counted 253 words (135 distinct) in 23 lines of alice.txt" in done.stdout
    assert "| 1 | the | 13 | 5.1% |" in done.stdout
    assert f"store, config and reports: {tmp}/jobworker-demo." in done.stdout


def test_the_generated_plugin_passes_its_own_tests(installed, tmp_path):
    done = installed.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=installed.facts["hello_dir"]
    )
    assert "4 passed" in done.stdout
    cfg = config(tmp_path)
    job_id = installed.jobworker("--config", cfg, "submit", "hello", "-p", "name=Ada").stdout
    installed.jobworker("--config", cfg, "run", "--burst")
    job = json.loads(
        installed.jobworker("--config", cfg, "status", job_id.strip(), "--json").stdout
    )
    assert job["results"]["markdown_content"] == "Hello, Ada!"


def test_broken_plugins_are_reported_and_the_good_ones_keep_working(installed, tmp_path):
    dirs = [
        copy_of(BROKEN / d, tmp_path)
        for d in ("import-error", "duplicate", "hook-typo", "incompatible")
    ]
    # --no-deps: pip would otherwise try to satisfy worker-plugin-too-old's jobworker<0.1.
    # One build environment for the four instead of one each (saves ~15 s).
    installed.run("python", "-m", "pip", "install", "setuptools>=68")
    installed.timed(
        "pip install broken",
        "python",
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        *dirs,
    )
    try:
        listing = installed.plugins()
        problems = {name: " | ".join(p["problems"]) for name, p in listing.items()}

        imp = listing["broken_import"]
        assert (imp["distribution"], imp["available"]) == ("worker-plugin-broken-import", False)
        assert "failed to import 'worker_plugin_broken_import'" in problems["broken_import"]
        assert "ModuleNotFoundError" in problems["broken_import"]
        assert "jobworker_no_such_dependency" in problems["broken_import"]

        fork = listing["wordstats_fork"]
        assert fork["distribution"] == "worker-plugin-wordstats-fork"
        assert fork["job_types"] == [] and not fork["available"]
        assert problems["wordstats_fork"] == (
            "job type 'wordstats' is already registered by wordstats "
            "(worker-plugin-wordstats 0.1.0); wordstats_fork "
            "(worker-plugin-wordstats-fork 0.2.0) was refused for it"
        )

        hook = listing["broken_hook"]
        assert hook["distribution"] == "worker-plugin-broken-hook"
        assert "unknown hook" in problems["broken_hook"]
        assert "register_job_handler" in problems["broken_hook"]

        old = listing["too_old"]
        assert (old["distribution"], old["version"]) == ("worker-plugin-too-old", "0.0.3")
        assert problems["too_old"] == (
            "worker-plugin-too-old 0.0.3 requires jobworker<0.1, "
            "but jobworker 0.1.0 is installed; not loaded"
        )

        for good in ("wordstats", "hello"):
            assert listing[good]["available"] and listing[good]["problems"] == []

        # Every problem is also on stderr and in the table, naming plugin and distribution.
        shown = installed.jobworker("plugins")
        for name, dist in (
            ("broken_import", "worker-plugin-broken-import"),
            ("wordstats_fork", "worker-plugin-wordstats-fork"),
            ("broken_hook", "worker-plugin-broken-hook"),
            ("too_old", "worker-plugin-too-old"),
        ):
            assert f"plugin {name} ({dist}):" in shown.stderr
            assert f"broken {name} ({dist}):" in shown.stdout

        # The incompatible plugin was refused before its code was imported.
        probe = installed.run(
            "python",
            "-c",
            "import sys; from jobworker.plugins import Plugins;"
            " p = Plugins.load(); print(sorted(t for t in p.job_types()"
            " if p.plugin_of(t).distribution != 'jobworker'),"
            " 'worker_plugin_too_old' in sys.modules)",
        )
        assert probe.stdout.strip() == "['hello', 'wordstats'] False"

        # The good job types still run, served by their own plugins.
        cfg = config(tmp_path)
        ids = [
            installed.jobworker("--config", cfg, "submit", t, "-p", p).stdout.strip()
            for t, p in (("wordstats", "text=a b a"), ("hello", "name=Bo"))
        ]
        run = installed.jobworker("--config", cfg, "run", "--burst")
        assert "warning: plugin too_old (worker-plugin-too-old)" in run.stderr
        jobs = [
            json.loads(installed.jobworker("--config", cfg, "status", i, "--json").stdout)
            for i in ids
        ]
        assert [j["status"] for j in jobs] == ["completed", "completed"]
        assert jobs[0]["results"]["structured_data"]["words"] == 3  # not the fork's handler
        assert jobs[1]["results"]["markdown_content"] == "Hello, Bo!"
        refused = installed.jobworker("--config", cfg, "submit", "too_old", check=False)
        assert refused.returncode == 2 and "UNKNOWN_JOB_TYPE" in refused.stderr

        # JOBWORKER_PLUGINS chooses what loads: only wordstats, or nothing at all.
        only = installed.plugins(JOBWORKER_PLUGINS="worker_plugin_wordstats")
        assert list(only) == ["wordstats"] and only["wordstats"]["available"]
        assert installed.plugins(JOBWORKER_PLUGINS="") == {}

        # JOBWORKER_TRACE_HOOKS=1 shows hook calls (here: each plugin's register_job_handlers).
        traced = installed.jobworker(
            "plugins", "--json", env=installed.env(JOBWORKER_TRACE_HOOKS="1")
        )
        assert traced.stderr.count("register_job_handlers [hook]") >= 3
        assert "finish register_job_handlers" in traced.stderr
        assert json.loads(traced.stdout)  # stdout stays clean JSON
    finally:
        installed.jobworker("uninstall", "-y", *BROKEN_DISTS)
    assert not {"broken_import", "wordstats_fork", "broken_hook", "too_old"} & set(
        installed.plugins()
    )


def test_uninstall_removes_the_plugin(installed, tmp_path):
    done = installed.jobworker("uninstall", "worker-plugin-wordstats", "-y")
    assert "Successfully uninstalled worker-plugin-wordstats" in done.stdout
    assert "wordstats" not in installed.plugins()
    assert "hello" in installed.plugins()
    refused = installed.jobworker(
        "--config", config(tmp_path), "submit", "wordstats", "-p", "text=x", check=False
    )
    assert refused.returncode == 2
    assert "UNKNOWN_JOB_TYPE: unknown job type 'wordstats'" in refused.stderr
    missing = installed.jobworker("uninstall", "worker-plugin-wordstats", "-y", check=False)
    assert "not installed" in missing.stderr + missing.stdout


def test_install_from_a_wheel_and_from_a_private_index(installed, tmp_path):
    """Nothing is on PyPI (README "Installing"): the documented ways are a path (above), a
    wheel file and a private index. The index here is a real HTTP server on 127.0.0.1 serving
    a directory of wheels, which pip reads as a simple index."""
    wheels = tmp_path / "wheels"
    installed.run(
        "python", "-m", "pip", "wheel", "--no-deps", "-w", wheels, copy_of(EXAMPLE, tmp_path)
    )
    [wheel] = wheels.glob("worker_plugin_wordstats-*.whl")
    installed.jobworker("install", wheel)
    assert installed.plugins()["wordstats"]["job_types"] == ["wordstats"]
    installed.jobworker("uninstall", "worker-plugin-wordstats", "-y")
    project = tmp_path / "index" / "simple" / "worker-plugin-wordstats"
    project.mkdir(parents=True)
    shutil.copy(wheel, project)
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path / "index",
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        banner = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = int(banner.split(" port ")[1].split()[0])
        done = installed.jobworker(
            "install", "--index-url", f"http://127.0.0.1:{port}/simple/", "worker-plugin-wordstats"
        )
        assert "Successfully installed worker-plugin-wordstats" in done.stdout
        assert "wordstats" in installed.plugins()
    finally:
        server.kill()
        server.wait()
