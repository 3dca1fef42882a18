"""``jobworker plugin new``: names, the generated package, and its tests passing right away.

The generated package's tests run here with its ``src`` on the path (no install into the running
environment); ``tests/test_third_party_venv.py`` installs one with pip and runs all of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from click.testing import CliRunner
from jobworker.cli import cli
from jobworker.plugins import core_version
from jobworker.scaffold import core_requirement, new_plugin, plugin_names
from jobworker.testing import run_handler


@pytest.mark.parametrize(
    ("name", "dist", "package", "job_type", "title"),
    [
        ("hello", "worker-plugin-hello", "worker_plugin_hello", "hello", "Hello"),
        (
            "word-count",
            "worker-plugin-word-count",
            "worker_plugin_word_count",
            "word_count",
            "WordCount",
        ),
        (
            "Word_Count",
            "worker-plugin-word-count",
            "worker_plugin_word_count",
            "word_count",
            "WordCount",
        ),
        ("worker-plugin-ocr2", "worker-plugin-ocr2", "worker_plugin_ocr2", "ocr2", "Ocr2"),
    ],
)
def test_plugin_names(name, dist, package, job_type, title):
    names = plugin_names(name)
    assert (names.dist, names.package, names.job_type, names.title) == (
        dist,
        package,
        job_type,
        title,
    )


@pytest.mark.parametrize("bad", ["", "9lives", "a b", "a--b", "-a", "a-", "pass", "ä"])
def test_bad_names_are_refused(bad):
    with pytest.raises(ValueError, match="not a usable plugin name"):
        plugin_names(bad)


@pytest.mark.parametrize(
    ("version", "requirement"),
    [
        ("0.1.0", "jobworker>=0.1,<0.2"),
        ("0.12.3.dev1", "jobworker>=0.12,<0.13"),
        ("1.4.0", "jobworker>=1.4,<2"),
    ],
)
def test_core_requirement(version, requirement):
    assert core_requirement(version) == requirement


def generate(tmp_path: Path, *args: str) -> Path:
    result = CliRunner().invoke(cli, ["plugin", "new", *args, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "jobworker install -e '.[test]'" in result.stdout
    return tmp_path / f"worker-plugin-{args[0]}"


def test_generated_package_layout_and_metadata(tmp_path):
    target = generate(tmp_path, "hello", "--description", 'Says "hi" \\o/ """loudly"""')
    files = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert files == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "src/worker_plugin_hello/__init__.py",
        "src/worker_plugin_hello/handler.py",
        "tests/test_hello_handler.py",
    ]
    meta = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["name"] == "worker-plugin-hello"
    assert meta["project"]["description"] == 'Says "hi" \\o/ """loudly"""'
    assert core_requirement(core_version()) in meta["project"]["dependencies"]
    assert meta["project"]["entry-points"]["jobworker"] == {"hello": "worker_plugin_hello"}
    assert meta["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    for source in target.rglob("*.py"):  # every file is valid Python, whatever the description
        compile(source.read_text(encoding="utf-8"), str(source), "exec")
    assert "$" not in "".join(p.read_text(encoding="utf-8") for p in target.rglob("*.*"))


def test_refuses_to_overwrite_and_bad_names(tmp_path):
    generate(tmp_path, "hello")
    again = CliRunner().invoke(cli, ["plugin", "new", "hello", "--dir", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = CliRunner().invoke(cli, ["plugin", "new", "9x", "--dir", str(tmp_path)])
    assert bad.exit_code == 1 and "not a usable plugin name" in bad.output


def test_generated_handler_runs_through_the_worker(tmp_path, monkeypatch):
    target = new_plugin("greeter", tmp_path / "src-root")
    monkeypatch.syspath_prepend(str(target / "src"))
    import worker_plugin_greeter

    try:
        run = run_handler(
            "greeter",
            {"name": "Ada", "repeat": 3},
            plugins=[worker_plugin_greeter],
            tmp_path=tmp_path,
        )
        assert run.error is None, run.error
        assert run.results["markdown_content"] == "Hello, Ada!\n" * 2 + "Hello, Ada!"
        refused = run_handler(
            "greeter", {"repeat": 11}, plugins=[worker_plugin_greeter], tmp_path=tmp_path
        )
        assert refused.error.code == "INVALID_PARAMETERS"
    finally:
        for name in [n for n in sys.modules if n.startswith("worker_plugin_greeter")]:
            del sys.modules[name]


def test_generated_tests_pass_right_away(tmp_path):
    target = new_plugin("fresh", tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBWORKER_")}
    env["PYTHONPATH"] = str(target / "src")
    # All but the entry-point test, which needs `pip install -e .` (done in the venv test).
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not entry_point"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed, 1 deselected" in done.stdout


def test_install_needs_a_package():
    result = CliRunner().invoke(cli, ["install"])
    assert result.exit_code == 2 and "name at least one package" in result.output
    result = CliRunner().invoke(cli, ["uninstall"])
    assert result.exit_code == 2
