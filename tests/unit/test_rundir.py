"""The run directory's writers: a tree of files stays inside its folder, outputs are committed
all or nothing, and files and folders get the modes of the process umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scepsy_opt import rundir
from scepsy_opt.core.errors import OutputError
from scepsy_opt.pipeline import stale_artifacts

REPO = Path(__file__).resolve().parents[2]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("escaping", ["../x", "a/../../x", "/tmp/escaped-by-a-name/x",
                                      "a/../b", ""])
def test_a_tree_with_a_path_outside_its_folder_is_refused_and_nothing_is_written(
        tmp_path, escaping):
    """A name that would climb out of the manifests tree (``..``, an absolute path): an
    OutputError naming the path, before any file of the tree is written."""
    target = tmp_path / "run" / "manifests"
    rundir.write_tree({"ok/first.yaml": "a: 1\n"}, target)
    before = _listing(tmp_path)
    with pytest.raises(OutputError, match="outside its folder") as caught:
        rundir.write_tree({"ok/second.yaml": "b: 2\n", escaping: "boom\n"}, target)
    assert repr(escaping) in str(caught.value) and str(target) in str(caught.value)
    assert _listing(tmp_path) == before
    assert (target / "ok" / "first.yaml").read_text() == "a: 1\n"
    assert not Path("/tmp/escaped-by-a-name").exists()


def test_a_commit_that_fails_part_way_puts_everything_back(tmp_path):
    """Entries moved in order, the last one cannot be placed (its name is held by a folder
    that is not empty where a file must go): every earlier entry goes back."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "a.json").write_text("old a\n")
    (run / "b.json").write_text("old b\n")
    staged = run / ".outputs.abcdefgh.tmp"
    staged.mkdir()
    (staged / "a.json").write_text("new a\n")
    (staged / "z").mkdir()
    (staged / "z" / "f").write_text("x")
    os.chmod(staged, 0o755)
    # the staged entry vanishes before its turn: its rename fails (ENOENT)
    entries = {"a.json": staged / "a.json", "b.json": None, "z": staged / "missing"}
    with pytest.raises(OSError):
        rundir.replace_all(staged, run, entries)
    assert (run / "a.json").read_text() == "old a\n"
    assert (run / "b.json").read_text() == "old b\n"
    assert (staged / "a.json").read_text() == "new a\n"
    assert not [p for p in run.iterdir() if p.name.endswith(".old")]


def test_stale_artifacts_follow_the_stages_that_ran():
    """``stop_after=search`` makes every later stage's artifacts stale; a re-run of place
    keeps the evaluation (it follows from the search, which did not run) and loses nothing
    it rewrote; a stage that ran drops what it did not write this time."""
    full = ["workflow_stats.json", "profiles/x.csv", "allocation.json",
            "predicted_curves.json"]
    stale = stale_artifacts(("analyze", "profile", "fit", "search"), full)
    assert set(stale) == {"traces/", "placement.json", "placement.png", "placement.mps",
                          "manifests/", "plan.json", "evaluation.json", "report.md",
                          "latency_throughput.png"}
    rerun = ["placement.json", "placement.png", "manifests/vllm/a.yaml", "plan.json",
             "report.md", "latency_throughput.png"]
    assert stale_artifacts(("place", "emit", "report"), rerun) == ["placement.mps"]


MODES = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    import numpy as np
    os.umask(int(sys.argv[2], 8))
    from scepsy_opt import rundir
    from scepsy_opt.core.artifacts import atomic_write_text
    from scepsy_opt.surrogate import cache
    root = Path(sys.argv[1])
    with rundir.staging(root / "run") as staged:
        atomic_write_text(staged / "plan.json", "{}")
        rundir.write_tree({"vllm/node/a.yaml": "a: 1", "vllm/launch.sh": "true"},
                          staged / "manifests")
        rundir.commit(staged, root / "run")
    with cache.locked(root / "fits", "k"):
        cache.save(root / "fits", "k", {"w": np.zeros(3)}, {})
""")


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_and_folders_get_the_modes_of_the_umask(tmp_path, umask):
    """Artifacts, the manifests tree, its scripts and the fit cache, written under a umask in
    a process of their own: each file is 0666 & ~umask (scripts and folders 0777 & ~umask),
    as ``open`` and ``mkdir`` would give, so another user reads a shared cache."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", MODES, str(tmp_path), oct(umask)], check=True,
                   env=env, timeout=300)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
             for p in tmp_path.rglob("*")}
    file, folder = 0o666 & ~umask, 0o777 & ~umask
    assert modes == {
        "run": folder, "run/plan.json": file, "run/manifests": folder,
        "run/manifests/vllm": folder, "run/manifests/vllm/node": folder,
        "run/manifests/vllm/node/a.yaml": file, "run/manifests/vllm/launch.sh": folder,
        "fits": folder, "fits/locks": folder, "fits/locks/k.lock": file,
        "fits/k.npz": file, "fits/k.json": file}, {k: oct(v) for k, v in modes.items()}


def test_profiles_named_outside_their_folder_are_refused(tmp_path):
    """The profiles' files are named after llm ids: one that climbs out is refused, nothing
    written (the same check as the manifests tree's)."""
    from scepsy_opt.pipeline import PipelineResult, _save_profiles

    result = PipelineResult(profiles={("../../escaped", "H100-SXM-80GB"): None})
    with pytest.raises(OutputError, match="outside its folder"):
        _save_profiles(result, tmp_path / "run", None)
    assert not list(tmp_path.iterdir())
