"""Faults around a run, through `python -m scepsy_opt` as a user meets them: Ctrl-C, a killed
process, read-only folders, a full disk, a run directory rewritten by a later run.

A read-only folder and a full disk are real: a read-only bind mount and a small tmpfs, in a
mount namespace of the test's own (``unshare``), skipped where namespaces are not allowed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = ("+workflow=rag_reranker", "fit=fast", "analyze.num_requests=300", "target.rate_rps=1.0")
TEMPORARY = (".tmp", ".old")


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)
    env["SCEPSY_OPT_CACHE"] = str(cache)
    return env


def _cli(cache: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scepsy_opt", *args], cwd=REPO,
                          env=_env(cache), capture_output=True, text=True, timeout=timeout)


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file under ``folder``: its bytes' digest, inode and modification time (a file
    rewritten with the same bytes is a new inode)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(folder))] = (
                hashlib.sha256(path.read_bytes()).hexdigest(), st.st_ino, st.st_mtime_ns)
    return out


def temporaries(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.name.endswith(TEMPORARY)]


@pytest.fixture(scope="module")
def finished(fit_cache, tmp_path_factory) -> Path:
    """A finished run of every stage (the session's fit cache, so its fits are reused)."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    result = _cli(fit_cache, *RUN, f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


@pytest.fixture
def earlier(finished, tmp_path) -> Path:
    copy = tmp_path / "earlier"
    shutil.copytree(finished, copy)
    return copy


# --------------------------------------------------------------------------- run directory


def test_stop_after_search_into_a_finished_run_removes_the_later_stages_artifacts(
        fit_cache, earlier):
    result = _cli(fit_cache, *RUN, "stop_after=search", f"hydra.run.dir={earlier}")
    assert result.returncode == 0, result.stderr
    names = {p.name for p in earlier.iterdir()}
    assert {"workflow_stats.json", "profiles", "allocation.json",
            "predicted_curves.json"} <= names
    assert not names & {"placement.json", "placement.png", "manifests", "plan.json",
                        "report.md", "latency_throughput.png"}, names
    assert not temporaries(earlier)


def test_temporaries_of_a_killed_run_are_removed_by_the_next_run(fit_cache, earlier):
    (earlier / ".manifests.k1ll3d00.tmp" / "vllm").mkdir(parents=True)
    (earlier / ".manifests.k1ll3d00.tmp" / "vllm" / "half.yaml").write_text("a: ")
    (earlier / ".report.md.abc_1234.tmp").write_text("half")
    (earlier / ".manifests.zz99zz99.old").mkdir()
    result = _cli(fit_cache, f"from_run={earlier}", "stage=report",
                  f"hydra.run.dir={earlier.parent / 'hydra'}")
    assert result.returncode == 0, result.stderr
    assert not temporaries(earlier)
    assert (earlier / "report.md").is_file()


# --------------------------------------------------------------------------- Ctrl-C, SIGKILL


def _start(cache: Path, log: Path, *args: str) -> subprocess.Popen:
    """The CLI in a session of its own (a terminal's Ctrl-C reaches its whole group), its
    output in ``log``."""
    with log.open("w") as handle:
        return subprocess.Popen([sys.executable, "-m", "scepsy_opt", *args], cwd=REPO,
                                env=_env(cache), stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _wait_for(predicate, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] \
            != "Z"
    except OSError:
        return False


def test_ctrl_c_during_the_fit_exits_130_keeps_the_finished_stages_and_leaves_no_temporary(
        tmp_path):
    cache, run_dir, log = tmp_path / "cache", tmp_path / "run", tmp_path / "log"
    proc = _start(cache, log, *RUN, "fit.workers=2", f"hydra.run.dir={run_dir}")
    try:
        _wait_for(lambda: "stage 3/7 fit" in log.read_text(), "fit stage log line")
        _wait_for(lambda: "fit data" in log.read_text(), "the instance data's progress")
        workers = _children(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        assert proc.wait(timeout=120) == 130, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    output = log.read_text()
    assert "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("interrupted during the fit stage: discarded its work; kept the "
                           "outputs of analyze, profile"), last
    assert str(cache / "fits") in last
    names = {p.name for p in run_dir.iterdir()}
    assert {"workflow_stats.json", "profiles"} <= names and "allocation.json" not in names
    assert not temporaries(run_dir) and not temporaries(cache)
    assert not [pid for pid in workers if _alive(pid)]


def test_workers_die_with_a_killed_parent(tmp_path):
    """SIGKILL of the CLI while its fit's worker processes start: they are gone within
    seconds (they ran on, about 190 MB each, until their imports and a task were done)."""
    cache, run_dir, log = tmp_path / "cache", tmp_path / "run", tmp_path / "log"
    proc = _start(cache, log, *RUN, "fit.workers=2", f"hydra.run.dir={run_dir}")
    try:
        _wait_for(lambda: len(_children(proc.pid)) >= 2, "worker processes")
        workers = _children(proc.pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if _alive(pid)]
    finally:
        for pid in _children(1) + _children(os.getpid()):
            if pid in workers and _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent:\n{log.read_text()}"


# --------------------------------------------------------------------------- read-only, full


def _namespace(script: str) -> subprocess.CompletedProcess:
    """``script`` (sh) in a mount namespace of its own: its mounts vanish with it."""
    command = ["unshare", "-m", "--propagation", "private"] if os.geteuid() == 0 else \
        ["unshare", "-rm", "--propagation", "private"]
    return subprocess.run([*command, "sh", "-c", script], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def mounts() -> None:
    """Skip where this process cannot make a mount namespace with a bind and a tmpfs."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = _namespace("d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && "
                       "mount --bind $d $d && mount -o remount,ro,bind $d $d && umount $d "
                       "&& umount $d && rmdir $d")
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.strip()}")


def _cli_line(cache: Path, *args: str) -> str:
    env = f"SCEPSY_OPT_CACHE={shlex.quote(str(cache))} PYTHONPATH={shlex.quote(str(REPO))}"
    return f"env {env} {shlex.quote(sys.executable)} -m scepsy_opt " + " ".join(
        shlex.quote(a) for a in args)


def _read_only(path: Path) -> str:
    p = shlex.quote(str(path))
    return f"mount --bind {p} {p} && mount -o remount,ro,bind {p} {p}"


def _check_failed(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 0, result.stderr  # the namespace script itself
    rc = int(result.stdout.split("rc=")[1].split()[0])
    assert rc == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in expected:
        assert text in result.stdout, result.stdout


@pytest.mark.parametrize("read_only", ["", "manifests"])
def test_a_rerun_into_a_read_only_folder_fails_clearly_and_changes_nothing(
        mounts, fit_cache, earlier, read_only):
    """``from_run stage=place`` where the run directory, or only its ``manifests/``, is a
    read-only mount: an error naming the path, exit 2, and every earlier artifact untouched
    (placement.json was rewritten before the manifests failed)."""
    before = snapshot(earlier)
    line = _cli_line(fit_cache, f"from_run={earlier}", "stage=place",
                     f"hydra.run.dir={earlier.parent / 'hydra'}")
    result = _namespace(f"{_read_only(earlier / read_only)} && {line} 2>&1; echo rc=$?")
    _check_failed(result, "cannot write", str(earlier))
    assert snapshot(earlier) == before
    assert not temporaries(earlier)


def test_a_full_disk_fails_clearly_and_leaves_the_earlier_run_untouched(
        mounts, fit_cache, earlier, tmp_path):
    """A re-run of the report into the earlier run's copy on a tmpfs with no space left
    (ENOSPC, a real full disk): an error naming the path and the fix, exit 2, the earlier
    run's files byte for byte as they were, no temporary left."""
    disk = tmp_path / "disk"
    disk.mkdir()
    size_k = sum(p.stat().st_size for p in earlier.rglob("*") if p.is_file()) // 1024 + 512
    run = disk / "run"
    line = _cli_line(fit_cache, f"from_run={run}", "stage=report",
                     f"hydra.run.dir={tmp_path / 'hydra'}")
    d, r = shlex.quote(str(disk)), shlex.quote(str(run))
    result = _namespace(
        f"mount -t tmpfs -o size={size_k}k tmpfs {d} && cp -a {shlex.quote(str(earlier))} {r}"
        f" && (cat /dev/zero > {d}/filler 2>/dev/null; true) && {line} 2>&1; echo rc=$?; "
        f"rm {d}/filler; cd {r} && find . -type f | sort | xargs sha256sum; "
        f"echo left; find . -name '*.tmp' -o -name '*.old'")
    _check_failed(result, "No space left on device", "free space")
    listing = result.stdout.split("rc=")[1].split("\n", 1)[1]
    sums, left = listing.split("left\n")
    expected = {f"./{name}": digest for name, (digest, _, _) in snapshot(earlier).items()}
    assert dict(reversed(line.split()) for line in sums.strip().splitlines()) == expected
    assert not left.strip()


def test_an_unwritable_fit_cache_is_warned_about_once_and_the_run_goes_on(tmp_path):
    """The cache folder under a regular file (unwritable even as root): one warning naming
    it, the plan made all the same."""
    (tmp_path / "file").write_text("")
    cache, run_dir = tmp_path / "file" / "cache", tmp_path / "run"
    result = _cli(cache, *RUN, "stop_after=search", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert output.count("cannot be written") == 1, output
    assert str(cache / "fits") in output and "Traceback" not in output
    assert (run_dir / "allocation.json").is_file()


def test_a_run_directory_that_cannot_be_made_is_a_clear_error(tmp_path):
    """``hydra.run.dir`` under a regular file: the error names the folder, exit 2, no
    traceback from inside Hydra, nothing written."""
    (tmp_path / "file").write_text("kept")
    result = _cli(tmp_path / "cache", *RUN, f"hydra.run.dir={tmp_path / 'file' / 'run'}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {tmp_path / 'file' / 'run'}: cannot write (Not a "
                                    "directory)"), result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
    assert (tmp_path / "file").read_text() == "kept"


def test_a_read_only_run_directory_is_a_clear_error(mounts, tmp_path):
    """A fresh run into a read-only mount: the error names the folder and the fix, exit 2."""
    target = tmp_path / "shared"
    target.mkdir()
    line = _cli_line(tmp_path / "cache", *RUN, f"hydra.run.dir={target / 'run'}")
    result = _namespace(f"{_read_only(target)} && {line} 2>&1; echo rc=$?")
    _check_failed(result, f"error: {target / 'run'}: cannot write (Read-only file system)",
                  "write to another directory")
    assert not list(target.iterdir())


def test_a_corrupt_load_model_in_the_cache_is_quarantined_and_fitted_again(
        fit_cache, finished, tmp_path):
    """The workflow's cached load model with a truncated sidecar (the finished run's cache,
    copied): a warning naming the entry, the load model fitted again, the same plan."""
    cache = tmp_path / "cache"
    (cache / "fits").mkdir(parents=True)
    for entry in (fit_cache / "fits").iterdir():  # the finished entries: other test processes
        if entry.is_file() and not entry.name.startswith("."):  # may be writing theirs
            shutil.copy2(entry, cache / "fits" / entry.name)
    key = json.loads((finished / "allocation.json").read_text())["fit"]["workflow"]["key"]
    sidecar = cache / "fits" / f"{key}.json"  # the session cache holds other workflows' too
    assert '"workflow load model"' in sidecar.read_text()
    sidecar.write_text(sidecar.read_text()[:50])
    run_dir = tmp_path / "run"
    result = _cli(cache, *RUN, "stop_after=search", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"fit cache entry {sidecar} is corrupt" in result.stderr, result.stderr
    assert "calibrating the load model" in result.stderr
    assert sorted(p.suffix for p in (cache / "fits" / "quarantine").iterdir()) == [
        ".json", ".npz"]
    assert '"workflow load model"' in sidecar.read_text()  # the refit's entry
    assert json.loads((run_dir / "allocation.json").read_text())["llms"] == json.loads(
        (finished / "allocation.json").read_text())["llms"]
