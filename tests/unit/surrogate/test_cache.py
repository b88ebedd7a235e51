"""The fit cache: keys of content only, one fit per key among processes sharing a cache, corrupt
entries quarantined and fitted again, an unwritable cache skipped with one warning."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.surrogate import cache
from scepsy_opt.surrogate.data import InstanceDataSettings
from scepsy_opt.surrogate.fit import fit_llm

REPO = Path(__file__).resolve().parents[3]
LLM, GPU = "llama-3.2-3b-instruct", "H100-SXM-80GB"
SMALL = InstanceDataSettings(mix_calls=128, saturation_calls=200, load_calls=128,
                             loads=(0.3, 0.8))

# Fits llm LLM on GPU with the SMALL settings in a process of its own, once the file GO exists,
# and writes what it got to OUT (npz of the parameters, whether it was reused).
FIT_SCRIPT = textwrap.dedent(f"""
    import json, logging, sys, time
    from pathlib import Path
    import numpy as np
    from scepsy_opt.core.catalog import load_catalog
    from scepsy_opt.core.memory import MemorySettings
    from scepsy_opt.core.profiling import CallMix
    from scepsy_opt.surrogate.data import InstanceDataSettings
    from scepsy_opt.surrogate.fit import fit_llm
    logging.basicConfig(level=logging.INFO)
    cache_dir, go, out = (Path(a) for a in sys.argv[1:4])
    catalog = load_catalog()
    rng = np.random.default_rng(5)
    mix = CallMix(tuple(int(x) for x in rng.integers(32, 96, 128)),
                  tuple(int(x) for x in rng.integers(8, 48, 128)))
    settings = InstanceDataSettings(mix_calls=128, saturation_calls=200, load_calls=128,
                                    loads=(0.3, 0.8))
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    fit = fit_llm(catalog.llms["{LLM}"], catalog.gpus["{GPU}"], MemorySettings(), mix,
                  cache_dir=cache_dir, settings=settings)
    np.savez(out, **fit.params)
    out.with_suffix(".json").write_text(json.dumps({{"reused": fit.reused, "key": fit.key}}))
""")


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def test_two_processes_fitting_the_same_llm_compute_it_once_and_get_the_same_fit(tmp_path):
    """Two real processes start the same fit at the same instant on one cache: the second
    waits on the first's lock and reads its entry (without the lock both missed the cache and
    both fitted)."""
    cache_dir, go = tmp_path / "fits", tmp_path / "go"
    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    procs = [subprocess.Popen([sys.executable, str(script), str(cache_dir), str(go),
                               str(tmp_path / f"out{i}.npz")], env=_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    logs = [proc.communicate(timeout=600)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], logs
    results = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    assert sorted(r["reused"] for r in results) == [False, True], logs
    assert results[0]["key"] == results[1]["key"]
    assert sum("fitting the instance model" in log for log in logs) == 1, logs
    with np.load(tmp_path / "out0.npz") as a, np.load(tmp_path / "out1.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])
    entries = sorted(p.name for p in cache_dir.iterdir() if p.is_file())
    assert entries == [f"{results[0]['key']}.json", f"{results[0]['key']}.npz"]


KEY_SCRIPT = textwrap.dedent("""
    import types
    from scepsy_opt.core.catalog import load_catalog, load_yaml
    from scepsy_opt.core.memory import MemorySettings
    from scepsy_opt.core.profiling import CallMix
    from scepsy_opt.core.resources import data_dir
    from scepsy_opt.sim.settings import SimulateSettings
    from scepsy_opt.surrogate.calib import CalibrationSettings, synthetic_cluster
    from scepsy_opt.surrogate.fit import fit_key, workflow_key
    from scepsy_opt.workflow.spec import parse_workflow
    catalog = load_catalog()
    path = data_dir("conf") / "workflow" / "rag_reranker.yaml"
    raw = load_yaml(path)
    spec = parse_workflow(raw, source_of=lambda option: str(path),
                          llm_ids=frozenset(catalog.llms), option="rag_reranker")
    mix = CallMix((10, 20, 30), (5, 6, 7))
    problem = types.SimpleNamespace(gpu="H100-SXM-80GB", memory=MemorySettings(),
                                    cluster=synthetic_cluster(catalog, "H100-SXM-80GB", 8))
    print(spec.source)
    print(fit_key(catalog.llms["llama-3.2-3b-instruct"], catalog.gpus["H100-SXM-80GB"],
                  MemorySettings(), mix, None))
    print(workflow_key(spec, {}, problem, {}, SimulateSettings(), CalibrationSettings()))
""")


def test_keys_are_the_same_for_the_package_installed_in_another_folder(tmp_path):
    """The same package and data at two paths (a checkout and an installed wheel's
    ``_data``): the instance and workflow keys are equal, so an install reuses the fits (the
    keys held the workflow file's and the roofline calibration file's paths)."""
    outputs = []
    for where in ("site-a", "site-b"):
        package = tmp_path / where / "scepsy_opt"
        shutil.copytree(REPO / "scepsy_opt", package,
                        ignore=shutil.ignore_patterns("__pycache__"))
        for folder in ("conf", "models", "solvers"):
            shutil.copytree(REPO / folder, package / "_data" / folder)
        result = subprocess.run([sys.executable, "-c", KEY_SCRIPT], capture_output=True,
                                text=True, timeout=300, cwd=tmp_path,
                                env=_env(PYTHONPATH=str(tmp_path / where)))
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout.split())
    (source_a, *keys_a), (source_b, *keys_b) = outputs
    assert "site-a" in source_a and "site-b" in source_b  # really read from two places
    assert keys_a == keys_b


# --------------------------------------------------------------------------- corrupt entries


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A cache holding one instance fit, and the fit."""
    folder = tmp_path_factory.mktemp("fits")
    fit = _fit(folder)
    assert not fit.reused
    return folder, fit


def _fit(folder: Path):
    catalog = load_catalog()
    rng = np.random.default_rng(5)
    mix = CallMix(tuple(int(x) for x in rng.integers(32, 96, 128)),
                  tuple(int(x) for x in rng.integers(8, 48, 128)))
    return fit_llm(catalog.llms[LLM], catalog.gpus[GPU], MemorySettings(), mix,
                   cache_dir=folder, settings=SMALL)


def _truncate_json(path: Path) -> None:
    path.write_text(path.read_text()[:40])


def _invalid_json(path: Path) -> None:
    path.write_bytes(b"\xff\xfe not json")


def _truncate_npz(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _arrays_differ(path: Path) -> None:
    """A whole, valid .npz, but one array short of what its sidecar lists."""
    with np.load(path) as stored:
        arrays = {name: stored[name] for name in stored.files[1:]}
    np.savez(path, **arrays)


def _meta_unusable(path: Path) -> None:
    """Valid JSON whose metadata lacks the fit's errors."""
    meta = json.loads(path.read_text())
    del meta["errors"]
    path.write_text(json.dumps(meta))


@pytest.mark.parametrize("corrupt, suffix", [
    (_truncate_json, ".json"), (_invalid_json, ".json"), (_truncate_npz, ".npz"),
    (_arrays_differ, ".npz"), (_meta_unusable, ".json")])
def test_a_corrupt_entry_is_quarantined_and_fitted_again(fitted, tmp_path, caplog, corrupt,
                                                         suffix):
    folder, original = fitted
    cache_dir = tmp_path / "fits"
    shutil.copytree(folder, cache_dir)
    corrupt(cache_dir / f"{original.key}{suffix}")
    with caplog.at_level(logging.WARNING, logger="scepsy_opt.surrogate.cache"):
        fit = _fit(cache_dir)
    assert not fit.reused  # fitted again, with the same result
    for name, value in original.params.items():
        np.testing.assert_array_equal(np.asarray(fit.params[name]), np.asarray(value))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and f"{original.key}.json" in warnings[0], warnings
    assert "corrupt" in warnings[0]
    quarantined = sorted(p.suffix for p in (cache_dir / cache.QUARANTINE).iterdir())
    assert quarantined == [".json", ".npz"]
    again = _fit(cache_dir)  # the refit's entry is whole: the next run reuses it
    assert again.reused


def test_saves_of_one_entry_at_once_all_land_whole(tmp_path):
    """Writers saving the same entry at the same time each write a whole one: none fails,
    and what stays reads back exactly."""
    from concurrent.futures import ThreadPoolExecutor

    arrays = {"w": np.arange(50_000, dtype=np.float64)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: cache.save(tmp_path, "k", arrays, {"llm": "x"}), range(64)))
    stored, meta = cache.load(tmp_path, "k", lambda a, m: (a, m))
    np.testing.assert_array_equal(stored["w"], arrays["w"])
    assert meta == {"llm": "x"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.json", "k.npz"]


def test_an_unwritable_cache_is_warned_about_once_and_the_fit_goes_on(tmp_path, caplog):
    """A cache folder under a regular file (it can never be created, even as root): the fits
    are computed, one warning names the folder, nothing is raised."""
    (tmp_path / "file").write_text("not a folder")
    cache_dir = tmp_path / "file" / "fits"
    with caplog.at_level(logging.WARNING, logger="scepsy_opt.surrogate.cache"):
        first, second = _fit(cache_dir), _fit(cache_dir)
    assert not first.reused and not second.reused
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(cache_dir) in warnings[0], warnings
    assert (tmp_path / "file").read_text() == "not a folder"
    cache._unwritable.discard(cache_dir)



def test_a_full_disk_under_the_cache_is_warned_about_once_and_the_fit_goes_on(tmp_path):
    """The cache on a tmpfs with no space left (a real ENOSPC, in a mount namespace of the
    test's own; skipped where that is not allowed): the fit is computed and returned, one
    warning says why nothing was kept."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    disk, go = tmp_path / "disk", tmp_path / "go"
    disk.mkdir()
    go.touch()
    script = tmp_path / "fit.py"
    script.write_text(FIT_SCRIPT)
    unshare = ["unshare", "-m", "--propagation", "private"] if os.geteuid() == 0 else \
        ["unshare", "-rm", "--propagation", "private"]
    probe = subprocess.run([*unshare, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"no mount namespace here: {probe.stderr.strip()}")
    out = tmp_path / "out.npz"
    line = (f"mount -t tmpfs -o size=64k tmpfs {disk} && (cat /dev/zero > {disk}/filler "
            f"2>/dev/null; true) && {sys.executable} {script} {disk / 'fits'} {go} {out}")
    result = subprocess.run([*unshare, "sh", "-c", line], capture_output=True, text=True,
                            env=_env(), timeout=600)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "cannot be written" in line]
    assert len(warnings) == 1 and "No space left on device" in warnings[0], result.stderr
    assert json.loads(out.with_suffix(".json").read_text())["reused"] is False
    with np.load(out) as params:
        assert params.files


@pytest.mark.parametrize("folders", [("sim",), ("surrogate", "sim")])
def test_the_fit_keys_hash_every_module_the_fitted_code_loads(folders):
    """The code digests of the fit keys cover each module a fresh process loads with the
    fitted packages (the roofline and memory model in core/ among them): changing any of them
    refits instead of reusing parameters fitted to other physics."""
    from scepsy_opt.core.code import imported_files

    root = Path(__file__).resolve().parents[3] / "scepsy_opt"
    modules = [f"scepsy_opt.{folder}.{path.stem}" for folder in folders
               for path in sorted((root / folder).glob("*.py")) if path.stem != "__init__"]
    script = (f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
              "print('\\n'.join(sorted(m.__file__ for n, m in list(sys.modules.items())"
              " if n.startswith('scepsy_opt') and getattr(m, '__file__', None))))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, cwd=root.parent).stdout.split()
    hashed = {str(p) for p in imported_files(folders)}
    assert {"core/roofline.py", "core/memory.py"} <= {p.split("scepsy_opt/")[1] for p in hashed}
    assert set(loaded) <= hashed, sorted(set(loaded) - hashed)
    assert not any("/placement/" in p or "/search/" in p for p in hashed)
