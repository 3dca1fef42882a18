"""Every code example in the docs runs, excerpts match their files, the hook reference is current.

Collected from README.md, CONTRIBUTING.md, docs/**/*.md and examples/**/README.md:

* ```` ```python ```` blocks of one file run in order in one namespace (like a session), in a
  temporary working directory, with the environment of a normal install (installed plugins load).
  A block defining ``test_*`` functions has them called, with a fresh ``tmp_path`` if they ask.
* A block preceded by ``<!-- from: PATH -->`` is an excerpt: it must appear verbatim in PATH
  (relative to the repository), and a Python excerpt is also executed in that module's namespace.
* A block preceded by ``<!-- no-test -->`` is skipped: only for code that cannot run here (a
  server it needs). Keep those rare.
* The hook reference of docs/writing-plugins.md is generated from ``hookspecs.py``
  (``python -m jobworker.scaffold.hookdoc``); it must be current, and each hookspec's example
  must register against the hookspecs without errors.
"""

from __future__ import annotations

import importlib
import inspect
import re
import tempfile
import types
from pathlib import Path

import attrs
import pluggy
import pytest
from jobworker import JobHandler, hookimpl, hookspecs
from jobworker.scaffold import hookdoc

REPO = Path(__file__).resolve().parents[1]
WRITING_PLUGINS = REPO / "docs" / "writing-plugins.md"
FENCE = re.compile(r"^(?P<indent> *)(?P<ticks>`{3,})(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>no-test|from:)\s*(?P<arg>[^>]*?)\s*-->\s*$")


@attrs.define
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str | None = None  # "no-test" or "from:"
    source: str | None = None  # the PATH of a from: marker
    generated: bool = False  # inside the generated hook reference

    @property
    def label(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def doc_files() -> list[Path]:
    found = [
        REPO / "README.md",
        REPO / "CONTRIBUTING.md",
        *REPO.glob("docs/**/*.md"),
        *REPO.glob("examples/**/README.md"),
    ]
    return sorted({p for p in found if p.is_file() and ".venv" not in p.parts})


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    in_generated = False
    i = 0
    while i < len(lines):
        if lines[i].startswith(hookdoc.BEGIN):
            in_generated = True
        elif lines[i].startswith(hookdoc.END):
            in_generated = False
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = i + 1
        closing = opening["indent"] + opening["ticks"]
        while end < len(lines) and lines[end].rstrip() != closing:
            end += 1
        indent = len(opening["indent"])
        code = "\n".join(line[indent:] for line in lines[i + 1 : end]) + "\n"
        block = Block(path, i + 1, opening["lang"].lower(), code, generated=in_generated)
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(before)
        if marker:
            block.marker = marker["kind"].rstrip(":") if marker["kind"] == "no-test" else "from:"
            block.source = marker["arg"] or None
        blocks.append(block)
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for f in doc_files() for b in parse_blocks(f)]


def files_with_python() -> list[Path]:
    return sorted(
        {b.file for b in all_blocks() if b.lang == "python" and not b.marker and not b.generated}
    )


def excerpts() -> list[Block]:
    return [b for b in all_blocks() if b.marker == "from:"]


def module_of(path: Path) -> str:
    """``.../src/pkg/handler.py`` -> ``pkg.handler``; ``core/src/jobworker/x.py`` likewise."""
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = parts[parts.index("src") + 1 :] if "src" in parts else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


@pytest.fixture
def normal_environment(monkeypatch, tmp_path):
    """As a user runs the examples: no JOBWORKER_* overrides, a scratch working directory."""
    for name in [n for n in __import__("os").environ if n.startswith("JOBWORKER_")]:
        monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def _call_new_tests(namespace: dict, seen: set[str], label: str) -> int:
    called = 0
    for name, value in list(namespace.items()):
        if name.startswith("test_") and inspect.isfunction(value) and name not in seen:
            seen.add(name)
            # A short tmp_path: the SQLite store binds Unix sockets under it (108-byte limit).
            with tempfile.TemporaryDirectory(prefix="jwdoc") as tmp:
                kwargs = (
                    {"tmp_path": Path(tmp)}
                    if "tmp_path" in inspect.signature(value).parameters
                    else {}
                )
                try:
                    value(**kwargs)
                except Exception as exc:
                    raise AssertionError(f"{label}: {name} failed: {exc!r}") from exc
            called += 1
    return called


@pytest.mark.parametrize("path", files_with_python(), ids=lambda p: str(p.relative_to(REPO)))
def test_python_blocks_run(path, normal_environment):
    namespace: dict = {"__name__": f"docs_{path.stem.replace('-', '_')}"}
    seen: set[str] = set()
    ran = 0
    for block in parse_blocks(path):
        if block.lang != "python" or block.marker or block.generated:
            continue
        code = compile(block.code, block.label, "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(f"{block.label}: the example raised {exc!r}") from exc
        _call_new_tests(namespace, seen, block.label)
        ran += 1
    assert ran


@pytest.mark.parametrize("block", excerpts(), ids=lambda b: b.label)
def test_excerpts_match_their_files(block):
    assert block.source, f"{block.label}: <!-- from: --> needs a path"
    source = REPO / block.source
    assert source.is_file(), f"{block.label}: {block.source} does not exist"
    assert _normalise(block.code) in _normalise(source.read_text(encoding="utf-8")), (
        f"{block.label}: the excerpt differs from {block.source}; copy it again"
    )
    if block.lang == "python":  # and it runs, in the namespace of the module it comes from
        module = importlib.import_module(module_of(source))
        exec(compile(block.code, block.label, "exec"), dict(vars(module)))


def test_the_docs_have_examples_to_check():
    blocks = all_blocks()
    assert WRITING_PLUGINS in {b.file for b in blocks}
    assert len([b for b in blocks if b.file == WRITING_PLUGINS and b.marker == "from:"]) >= 4
    assert WRITING_PLUGINS in files_with_python()


def test_hook_reference_is_generated_from_hookspecs():
    assert hookdoc.update_file(WRITING_PLUGINS, check=True), (
        "docs/writing-plugins.md is stale: run python -m jobworker.scaffold.hookdoc "
        "docs/writing-plugins.md"
    )
    text = WRITING_PLUGINS.read_text(encoding="utf-8")
    specs = [spec for _, spec in ALL_SPECS]
    assert len(specs) >= 11
    for spec in specs:
        first_line = inspect.cleandoc(spec.__doc__).splitlines()[0]
        assert f"### `{spec.__name__}`" in text
        assert hookdoc._rst_to_markdown(first_line) in text, spec.__name__


def test_hook_reference_detects_drift(tmp_path):
    copy = tmp_path / "writing-plugins.md"
    text = WRITING_PLUGINS.read_text(encoding="utf-8")
    copy.write_text(text.replace("### `job_finished`", "### `job_done`"), encoding="utf-8")
    assert not hookdoc.update_file(copy, check=True)
    assert hookdoc.main(["--check", str(copy)]) == 1
    assert hookdoc.update_file(copy) is False  # rewritten...
    assert copy.read_text(encoding="utf-8") == text  # ...back to the current reference


DECLARED = [(source, spec) for _, source, specs in hookdoc.plugin_hookspecs() for spec in specs]
ALL_SPECS = [(None, spec) for spec in hookdoc.hookspecs_in_order()] + DECLARED


def test_plugins_declare_their_own_hooks_and_the_reference_lists_them():
    core = {s.__name__ for s in hookdoc.hookspecs_in_order()}
    declared = {spec.__name__: getattr(source, "__name__", "") for source, spec in DECLARED}
    assert declared == {
        "register_transcribers": "worker_plugin_audio.hookspecs",
        "register_templates": "worker_plugin_transform.hookspecs",
        "register_text_transformers": "worker_plugin_transform.hookspecs",
    }
    assert not core & set(declared)  # the core contract holds only the core's hooks
    text = WRITING_PLUGINS.read_text(encoding="utf-8")
    assert "Declared by worker-plugin-audio (`worker_plugin_audio.hookspecs`)" in text


@pytest.mark.parametrize("source,spec", ALL_SPECS, ids=lambda s: getattr(s, "__name__", "core"))
def test_hookspec_examples_implement_their_hook(source, spec):
    _, example = hookdoc._split_example(inspect.cleandoc(spec.__doc__))
    assert example, f"{spec.__name__} has no example"
    namespace = {"hookimpl": hookimpl, "JobHandler": JobHandler, "__name__": "hook_example"}
    exec(compile(example, f"hookspecs.{spec.__name__}", "exec"), namespace)
    plugin = types.SimpleNamespace(**{k: v for k, v in namespace.items() if callable(v)})
    pm = pluggy.PluginManager("jobworker")
    pm.add_hookspecs(hookspecs)
    if source is not None:
        pm.add_hookspecs(source)
    pm.register(plugin, name="example")  # validates argument names against the spec
    pm.check_pending()  # no misspelt hook
    assert getattr(pm.hook, spec.__name__).get_hookimpls(), spec.__name__
