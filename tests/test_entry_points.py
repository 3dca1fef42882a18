"""jobworker.entry_points finds a named entry point as importlib.metadata does, or says it is
not sure (``None``) and the plugin loader asks importlib.metadata."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import sys

import pytest
from jobworker.entry_points import named_entry_points
from jobworker.plugins import ENTRY_POINT_GROUP, _canonical


def described(eps):
    return [(e.name, e.value, e.dist.name, e.dist.version, e.dist.requires) for e in eps]


def by_importlib(group, name):
    return [ep for ep in md.entry_points(group=group) if _canonical(ep.name) == _canonical(name)]


def test_every_installed_plugin_is_found_as_importlib_finds_it():
    names = {ep.name for ep in md.entry_points(group=ENTRY_POINT_GROUP)}
    assert {"wordstats", "pdf", "audio"} <= names
    for name in [*names, "Word_Stats", "transformer_template", "nothing"]:
        found = named_entry_points(ENTRY_POINT_GROUP, name)
        assert found is not None, name
        assert described(found) == described(by_importlib(ENTRY_POINT_GROUP, name)), name
    (wordstats,) = named_entry_points(ENTRY_POINT_GROUP, "wordstats")
    assert wordstats.load() is by_importlib(ENTRY_POINT_GROUP, "wordstats")[0].load()


def dist_info(root, folder, name, version, entry_points, requires=()):
    path = root / folder
    path.mkdir(parents=True)
    headers = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    headers += [f"Requires-Dist: {r}" for r in requires]
    (path / "METADATA").write_text("\n".join(headers) + "\n\nA description: é\n")
    (path / "entry_points.txt").write_text(entry_points)
    return path


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    def add(*folders):
        for folder in reversed(folders):
            monkeypatch.syspath_prepend(str(folder))
        importlib.invalidate_caches()  # importlib.metadata's listing of each folder

    yield add
    importlib.invalidate_caches()


def test_first_distribution_of_a_name_wins_and_sections_are_read_alike(tmp_path, on_path):
    first, second = tmp_path / "a", tmp_path / "b"
    eps = "# comment\n[console_scripts]\nx = y:z\n\n[lean_test]\n Probe_One = json : dumps \n"
    dist_info(first, "probe_dist-1.0.dist-info", "probe-dist", "1.0", eps, ["jobworker>=0.1"])
    dist_info(second, "Probe.Dist-2.0.dist-info", "Probe.Dist", "2.0", eps.replace("One", "Two"))
    dist_info(second, "other-3.0.dist-info", "other", "3.0", "[lean_test]\nprobe-one = os:sep\n")
    on_path(first, second)
    found = named_entry_points("lean_test", "probe-one")
    assert found is not None
    assert described(found) == described(by_importlib("lean_test", "probe-one"))
    assert [(e.dist.name, e.value) for e in found] == [
        ("probe-dist", "json : dumps"),
        ("other", "os:sep"),
    ]
    assert found[0].dist.requires == ["jobworker>=0.1"]
    import json
    import os

    assert found[0].load() is json.dumps and found[1].load() == os.sep
    assert named_entry_points("lean_test", "probe-two") == []  # the second Probe.Dist is hidden


@pytest.mark.parametrize(
    "make",
    [
        # an .egg-info distribution with the group: requirements in requires.txt
        lambda root: (
            (root / "eggy.egg-info").mkdir()
            or (root / "eggy.egg-info" / "entry_points.txt").write_text("[lean_test]\nprobe = os\n")
        ),
        # a folded header
        lambda root: (
            dist_info(root, "fold-1.0.dist-info", "fold", "1.0", "[lean_test]\nprobe = os\n")
            / "METADATA"
        ).write_text("Name: fold\nVersion: 1.0\nSummary: a\n  b\n\n"),
        # a line importlib.metadata refuses
        lambda root: dist_info(root, "bad-1.0.dist-info", "bad", "1.0", "[lean_test]\nprobe\n"),
    ],
    ids=["egg-info", "folded-header", "no-equals"],
)
def test_not_sure_means_ask_importlib(tmp_path, on_path, make):
    make(tmp_path)
    on_path(tmp_path)
    assert named_entry_points("lean_test", "probe") is None


def test_a_zip_on_the_path_means_ask_importlib(tmp_path, on_path):
    import zipfile

    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[lean_test]\nprobe = os\n")
    on_path(archive)
    assert named_entry_points("lean_test", "probe") is None
    assert sys.path[0] == str(archive)
