"""Sweeps on Hydra's launchers (the ``sweeps`` extra): joblib runs jobs on local processes,
each with its own fit workers; submitit runs them as submitit jobs. The summary and the exit
status are the same as with the default launcher."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

TINY = ("name: tiny_{seed}\nprogram:\n  call: {{llm: llama-3.2-3b-instruct, input_tokens: 300, "
        "output_tokens: 50}}\n")


def _conf(tmp_path: Path, name: str) -> Path:
    conf = tmp_path / "user_conf"
    (conf / "workflow").mkdir(parents=True)
    (conf / "workflow" / f"{name}.yaml").write_text(TINY.format(seed=name))
    return conf


def _rows(sweep: Path) -> list[dict]:
    return list(csv.DictReader((sweep / "sweep_summary.csv").open()))


def test_joblib_jobs_fit_on_their_own_worker_processes(cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    sweep = tmp_path / "sweep"
    # fit.cache=false: both jobs fit, each on 2 worker processes inside a joblib worker
    result = cli("--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "+workflow=joblib", "fit=fast", "fit.cache=false", "fit.workers=2",
                 "analyze.num_requests=100", "target.rate_rps=1,1000000", "stop_after=search",
                 f"hydra.searchpath=[file://{_conf(tmp_path, 'joblib')}]",
                 f"hydra.sweep.dir={sweep}", timeout=900)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    # the impossible target fails as a project error, the other job plans; exit 2 names it
    assert result.returncode == 2 and "job 1 (" in result.stderr.splitlines()[-1]
    rows = _rows(sweep)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert "cannot be sustained" in rows[1]["error"]
    assert float(rows[0]["gpus_used"]) > 0


def test_submitit_local_jobs_write_the_summary(cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    sweep = tmp_path / "sweep"
    result = cli("--multirun", "hydra/launcher=submitit_local", "+workflow=submitit",
                 "analyze.num_requests=100", "stop_after=analyze", "target.rate_rps=1,2",
                 f"hydra.searchpath=[file://{_conf(tmp_path, 'submitit')}]",
                 f"hydra.sweep.dir={sweep}", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(sweep)
    assert [(r["target_rate_rps"], r["status"]) for r in rows] == [
        ("1.0", "stopped after analyze"), ("2.0", "stopped after analyze")]
    assert all((Path(r["run_dir"]) / "workflow_stats.json").is_file() for r in rows)
