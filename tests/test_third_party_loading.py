"""Loading installed plugins: selection, tracing, compatibility and every kind of broken plugin.

Each test lays out distributions exactly as pip installs them (``<name>-<version>.dist-info/``
with ``METADATA`` and ``entry_points.txt``, beside the plugin module) in a directory put on
``sys.path``, so ``importlib.metadata`` really finds them; nothing is installed into the running
environment. ``tests/test_third_party_venv.py`` does the same with real pip in a virtualenv.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from jobworker.cli import cli
from jobworker.plugins import Plugins, core_version

HANDLER_MODULE = """
from jobworker import JobHandler, hookimpl

def handle(ctx):
    return {{"structured_data": {{"served_by": {label!r}}}}}

@hookimpl
def register_job_handlers(register):
    register(JobHandler({job_type!r}, handle))
"""


class Site:
    """A directory on sys.path holding "installed" distributions."""

    def __init__(self, root: Path, tag: str) -> None:
        self.root, self.tag = root, tag

    def module_name(self, base: str) -> str:
        return f"{base}_{self.tag}"  # unique per test: no stale sys.modules entries

    def add(
        self,
        dist: str,
        *,
        version: str = "1.0.0",
        entry_point: str | None = None,
        source: str | None = None,
        job_type: str | None = None,
        requires: tuple[str, ...] = ("jobworker>=0.1,<0.2",),
    ) -> str:
        """Install ``dist`` with one entry point to a module; return the module name."""
        base = dist.replace("-", "_")
        module = self.module_name(base)
        entry_point = entry_point or base.removeprefix("worker_plugin_")
        info = self.root / f"{base}-{version}.dist-info"
        info.mkdir(parents=True)
        info.joinpath("METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires),
            encoding="utf-8",
        )
        info.joinpath("entry_points.txt").write_text(
            f"[jobworker]\n{entry_point} = {module}\n", encoding="utf-8"
        )
        if source is None:
            source = HANDLER_MODULE.format(label=dist, job_type=job_type or entry_point)
        self.root.joinpath(f"{module}.py").write_text(source, encoding="utf-8")
        return module


@pytest.fixture
def site(tmp_path, monkeypatch):
    made: list[Site] = []
    tag = uuid.uuid4().hex[:8]

    def new_site(name: str = "site") -> Site:
        root = tmp_path / name
        root.mkdir()
        monkeypatch.syspath_prepend(str(root))  # also invalidates importlib's caches
        made.append(Site(root, tag))
        return made[-1]

    monkeypatch.delenv("JOBWORKER_TRACE_HOOKS", raising=False)
    monkeypatch.delenv("JOBWORKER_EXTRA_PLUGINS", raising=False)
    yield new_site
    for name in [n for n in sys.modules if n.endswith(f"_{tag}")]:
        del sys.modules[name]


def load(monkeypatch, *names: str) -> Plugins:
    """Load the named installed plugins only (the test environment has others installed)."""
    monkeypatch.setenv("JOBWORKER_PLUGINS", ",".join(names))
    return Plugins.load()


def problems_of(plugins: Plugins) -> dict[str, list[str]]:
    return {p.name: p.problems for p in plugins.listing() if p.problems}


def listing(plugins: Plugins) -> list:
    """What ``jobworker plugins`` shows without ``--all``: no built-ins."""
    return [p for p in plugins.listing() if p.distribution != "jobworker"]


def types(plugins: Plugins) -> list[str]:
    """Job types of installed (not built-in) plugins."""
    return [t for t in plugins.job_types() if plugins.plugin_of(t).distribution != "jobworker"]


def test_a_good_plugin_loads_with_its_distribution_and_version(site, monkeypatch):
    site().add("worker-plugin-alpha", version="1.2.3")
    plugins = load(monkeypatch, "alpha")
    [info] = listing(plugins)
    assert info.as_dict() == {
        "name": "alpha",
        "distribution": "worker-plugin-alpha",
        "version": "1.2.3",
        "job_types": ["alpha"],
        "hooks": ["register_job_handlers"],
        "available": True,
        "problems": [],
        "unavailable": {},
    }
    assert plugins.handler_for("alpha").job_type == "alpha"


def test_import_error_is_reported_and_the_others_load(site, monkeypatch):
    s = site()
    s.add("worker-plugin-alpha")
    module = s.add("worker-plugin-broken", source="import jobworker_no_such_module\n")
    plugins = load(monkeypatch, "alpha", "broken")
    [problem] = plugins.problems
    assert (problem.plugin, problem.distribution) == ("broken", "worker-plugin-broken")
    assert problem.message == (
        f"failed to import {module!r}: ModuleNotFoundError: "
        "No module named 'jobworker_no_such_module'"
    )
    assert types(plugins) == ["alpha"]


def test_a_plugin_calling_sys_exit_on_import_is_reported_not_obeyed(site, monkeypatch):
    site().add("worker-plugin-quitter", source="import sys\nsys.exit(3)\n")
    plugins = load(monkeypatch, "quitter")
    assert "SystemExit: 3" in problems_of(plugins)["quitter"][0]


def test_misspelt_hook_is_refused_naming_the_plugin(site, monkeypatch):
    s = site()
    s.add("worker-plugin-alpha")
    s.add(
        "worker-plugin-typo",
        source=HANDLER_MODULE.format(label="x", job_type="typo").replace(
            "def register_job_handlers", "def register_job_handler"
        ),
    )
    plugins = load(monkeypatch, "alpha", "typo")
    [message] = problems_of(plugins)["typo"]
    assert message.startswith("unknown hook: ")
    assert "register_job_handler" in message and "misspelt" in message
    assert listing(plugins)[1].distribution == "worker-plugin-typo"
    assert types(plugins) == ["alpha"]
    assert not plugins.pm.has_plugin("typo")  # not half-registered


def test_a_hook_with_a_wrong_argument_name_is_refused(site, monkeypatch):
    site().add(
        "worker-plugin-args",
        source=HANDLER_MODULE.format(label="x", job_type="args")
        .replace("register_job_handlers(register)", "register_job_handlers(registry)")
        .replace("    register(", "    registry("),
    )
    plugins = load(monkeypatch, "args")
    [message] = problems_of(plugins)["args"]
    assert "PluginValidationError" in message and "registry" in message
    assert types(plugins) == []


def test_duplicate_job_type_first_in_name_order_keeps_it(site, monkeypatch):
    # worker-plugin-b sits earlier on sys.path than worker-plugin-a: the order is by name anyway.
    site("site-a").add("worker-plugin-a", entry_point="a", job_type="shared")
    site("site-b").add("worker-plugin-b", entry_point="b", job_type="shared", version="2.0")
    assert sys.path[0].endswith("site-b") and sys.path[1].endswith("site-a")
    plugins = load(monkeypatch, "a", "b")
    assert problems_of(plugins) == {
        "b": [
            "job type 'shared' is already registered by a (worker-plugin-a 1.0.0); "
            "b (worker-plugin-b 2.0) was refused for it"
        ]
    }
    assert plugins.plugin_of("shared").distribution == "worker-plugin-a"
    result = plugins.handler_for("shared").func(None)
    assert result == {"structured_data": {"served_by": "worker-plugin-a"}}


def test_two_distributions_with_one_entry_point_name(site, monkeypatch):
    s = site()
    s.add("worker-plugin-one", entry_point="same", job_type="one")
    s.add("worker-plugin-two", entry_point="same", job_type="two")
    plugins = load(monkeypatch, "same")
    assert types(plugins) == ["one"]
    [problem] = plugins.problems
    assert problem.distribution == "worker-plugin-two"
    assert "plugin name 'same' is already taken by same (worker-plugin-one 1.0.0)" in (
        problem.message
    )


def test_incompatible_core_version_is_refused_without_importing(site, monkeypatch):
    s = site()
    s.add("worker-plugin-alpha")
    s.add(
        "worker-plugin-old",
        version="0.0.3",
        requires=("jobworker<0.1",),
        source="raise RuntimeError('an incompatible plugin must not be imported')\n",
    )
    plugins = load(monkeypatch, "alpha", "old")
    assert problems_of(plugins) == {
        "old": [
            f"worker-plugin-old 0.0.3 requires jobworker<0.1, but jobworker {core_version()} "
            "is installed; not loaded"
        ]
    }
    assert listing(plugins)[1].version == "0.0.3"
    assert types(plugins) == ["alpha"]


def test_requirement_markers_decide_whether_the_version_matters(site, monkeypatch):
    s = site()
    s.add("worker-plugin-extra", requires=('jobworker<0.1; extra == "legacy"',))
    s.add("worker-plugin-env", requires=('jobworker<0.1; python_version >= "3"',))
    s.add("worker-plugin-none", requires=("attrs",))  # no jobworker requirement: accepted
    plugins = load(monkeypatch, "extra", "env", "none")
    assert types(plugins) == ["extra", "none"]
    assert list(problems_of(plugins)) == ["env"]


def test_jobworker_plugins_selects_by_entry_point_or_distribution_name(site, monkeypatch):
    s = site()
    s.add("worker-plugin-alpha")
    s.add("worker-plugin-beta")
    assert types(load(monkeypatch, "alpha")) == ["alpha"]
    assert types(load(monkeypatch, "Worker_Plugin.Beta")) == ["beta"]  # normalised
    assert types(load(monkeypatch, " alpha , worker-plugin-beta ")) == ["alpha", "beta"]
    none = load(monkeypatch)  # set but empty: nothing installed loads
    assert types(none) == [] and listing(none) == []


def test_jobworker_plugins_reports_a_name_that_matches_nothing(site, monkeypatch):
    site().add("worker-plugin-alpha")
    plugins = load(monkeypatch, "alpha", "alhpa")
    assert types(plugins) == ["alpha"]
    assert problems_of(plugins) == {
        "alhpa": [
            "named in JOBWORKER_PLUGINS, but no installed plugin (entry point or distribution) "
            "has that name"
        ]
    }


def test_extra_plugins_load_modules_that_are_not_installed(site, monkeypatch):
    s = site()
    module = s.module_name("dev_plugin")
    s.root.joinpath(f"{module}.py").write_text(
        HANDLER_MODULE.format(label="dev", job_type="dev"), encoding="utf-8"
    )
    monkeypatch.setenv("JOBWORKER_EXTRA_PLUGINS", f"{module},no_such_module_{s.tag}")
    plugins = load(monkeypatch)
    assert types(plugins) == ["dev"]
    assert plugins.infos[module].distribution is None
    assert "failed to import" in problems_of(plugins)[f"no_such_module_{s.tag}"][0]


def test_trace_hooks_prints_hook_calls(site, monkeypatch, capsys):
    site().add("worker-plugin-alpha")
    monkeypatch.setenv("JOBWORKER_TRACE_HOOKS", "1")
    load(monkeypatch, "alpha")
    err = capsys.readouterr().err
    assert "register_job_handlers [hook]" in err
    assert "finish register_job_handlers --> []" in err
    monkeypatch.setenv("JOBWORKER_TRACE_HOOKS", "0")
    load(monkeypatch, "alpha")
    assert capsys.readouterr().err == ""


def test_register_hook_that_raises_or_hands_over_junk(site, monkeypatch):
    s = site()
    s.add(
        "worker-plugin-raiser",
        source=(
            "from jobworker import hookimpl\n\n@hookimpl\ndef register_job_handlers(register):\n"
            "    raise RuntimeError('boom')\n"
        ),
    )
    s.add(
        "worker-plugin-junk",
        source=(
            "from jobworker import hookimpl\n\n@hookimpl\ndef register_job_handlers(register):\n"
            "    register('junk')\n"
        ),
    )
    s.add("worker-plugin-alpha")
    plugins = load(monkeypatch, "raiser", "junk", "alpha")
    assert problems_of(plugins) == {
        "junk": ["register_job_handlers passed 'junk', not a jobworker.JobHandler"],
        "raiser": ["register_job_handlers raised RuntimeError: boom"],
    }
    assert types(plugins) == ["alpha"]


def test_cli_plugins_reports_each_problem_naming_plugin_and_distribution(
    site, monkeypatch, tmp_path
):
    s = site()
    s.add("worker-plugin-alpha")
    s.add("worker-plugin-broken", source="import jobworker_no_such_module\n")
    s.add("worker-plugin-old", requires=("jobworker<0.1",))
    monkeypatch.setenv("JOBWORKER_PLUGINS", "alpha,broken,old")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    listing = {p["name"]: p for p in json.loads(result.stdout)}
    assert listing["alpha"]["available"] is True
    assert listing["broken"]["available"] is False
    assert listing["broken"]["distribution"] == "worker-plugin-broken"
    assert "ModuleNotFoundError" in listing["broken"]["problems"][0]
    assert "requires jobworker<0.1" in listing["old"]["problems"][0]
    assert "warning: plugin broken (worker-plugin-broken): failed to import" in result.stderr

    table = runner.invoke(cli, ["plugins"])
    assert "worker-plugin-alpha" in table.stdout
    assert "broken broken (worker-plugin-broken): failed to import" in table.stdout
    assert "broken old (worker-plugin-old): worker-plugin-old 1.0.0 requires" in table.stdout


DECLARER = """
from jobworker import hookimpl, hookspec

class Hooks:
    @hookspec
    def register_greetings(self, register):
        '''Hand over greetings: register(language, text).'''

@hookimpl
def register_hookspecs(register):
    register(Hooks)
"""

GREETER = """
from jobworker import hookimpl

@hookimpl
def register_greetings(register):
    register("en", "hello")
"""


def test_a_plugin_declares_hooks_that_plugins_loaded_before_it_implement(site, monkeypatch):
    s = site()
    s.add("worker-plugin-aa-greeter", source=GREETER)  # loads first (sorted by distribution)
    s.add("worker-plugin-zz-greetings", source=DECLARER)
    plugins = load(monkeypatch, "aa-greeter", "zz-greetings")
    assert problems_of(plugins) == {}
    assert plugins.collect("register_greetings") == [("en", "hello")]
    assert plugins.infos["aa_greeter"].hooks == ["register_greetings"]
    assert list(plugins.declared) == ["zz_greetings"]


def test_implementing_a_hook_of_a_plugin_that_is_not_loaded_is_refused(site, monkeypatch):
    s = site()
    s.add("worker-plugin-aa-greeter", source=GREETER)
    s.add("worker-plugin-zz-greetings", source=DECLARER)
    plugins = load(monkeypatch, "aa-greeter")
    [message] = problems_of(plugins)["aa_greeter"]
    assert message.startswith("unknown hook: 'register_greetings'")
    assert not plugins.pm.has_plugin("aa_greeter")
    assert plugins.collect("register_greetings") == []


def test_the_core_requirement_is_read_in_every_form(tmp_path):
    # Plain lines are read with packaging's specifiers alone; markers and URLs with the full
    # requirement parser: both must agree on which plugins this core refuses.
    import importlib.metadata as md

    from jobworker.plugins import _incompatibility

    def problem(*requires: str) -> str | None:
        info = tmp_path / f"p{len(list(tmp_path.iterdir()))}.dist-info"
        info.mkdir()
        lines = "".join(f"Requires-Dist: {r}\n" for r in requires)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: p\nVersion: 1\n{lines}")
        return _incompatibility(md.PathDistribution(info))

    too_old = "requires jobworker<0.1, but jobworker"
    assert too_old in (problem("attrs>=23", "jobworker<0.1") or "")
    assert too_old in (problem("Jobworker (<0.1)") or "")
    assert too_old in (problem("jobworker[extra]<0.1") or "")
    assert too_old in (problem('jobworker<0.1; python_version >= "3"') or "")
    assert problem("jobworker>=0.1,<9", "jobworker2<0.1", "attrs<0.1") is None
    assert problem('jobworker<0.1; extra == "old"') is None
    assert problem("jobworker @ https://example.invalid/jobworker.whl") is None
    assert problem("jobworker.<0.1") is None  # not a valid requirement: ignored as before


def test_plain_core_requirements_are_decided_as_packaging_decides():
    # The quick check without packaging (a fast ``submit``) may only say "allowed" where
    # packaging says so too; on plain release numbers and operators it must always answer.
    import itertools

    from jobworker.plugins import _plainly_allows
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    versions = ["0", "0.1", "0.1.0", "0.1.1", "0.2", "1.0.0", "1.10", "2"]
    operators = [">=", "<=", "==", "!=", "<", ">", "~=", "===", "==0.1.*|"]
    for version, op, bound in itertools.product(versions, operators, versions):
        spec = op.replace("|", "") if op.endswith("|") else f"{op}{bound}"
        if op == "~=" and "." not in bound:
            continue  # not a valid specifier at all
        allowed = SpecifierSet(spec).contains(Version(version), prereleases=True)
        quick = _plainly_allows(spec, version)
        assert not quick or allowed, (spec, version)
        if op in (">=", "<=", "==", "!=", "<", ">"):
            assert quick == allowed, (spec, version)
    for pair in itertools.product(versions, repeat=2):
        spec = f" >={pair[0]} , <{pair[1]} "
        assert _plainly_allows(spec, "0.1.0") == SpecifierSet(spec).contains("0.1.0")
    assert _plainly_allows("", "0.1.0") and _plainly_allows(" ", "0.1.0")
    # Anything else is left to packaging: pre-, post-, dev and local versions, odd text.
    for version in ("0.1.0rc1", "0.1.0.post1", "0.1.0.dev0", "0.1.0+local", "v0.1"):
        assert not _plainly_allows(">=0.1", version)
    for spec in (">=0.1,", "=>0.1", ">=0.1a1", ">=0.1.*", "<0.2.dev0", "latest"):
        assert not _plainly_allows(spec, "0.1.0")
