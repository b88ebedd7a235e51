"""The command line as users type it: the help page, ``workflow=`` without ``+``, trace
options without ``+``, re-runs of runs whose workflow lives outside the repository, unrelated
broken files in a config folder, and sweeps whose jobs fail."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
TINY = ("name: tiny\nprogram:\n  call: {llm: llama-3.2-3b-instruct, input_tokens: 300, "
        "output_tokens: 50}\n")


def _conf(tmp_path: Path, files: dict[str, str]) -> Path:
    conf = tmp_path / "user_conf"
    for name, text in files.items():
        (conf / name).parent.mkdir(parents=True, exist_ok=True)
        (conf / name).write_text(text)
    return conf


def test_help_is_a_page_not_the_config(cli, compose):
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert 30 <= len(lines) <= 80  # Hydra's default printed the composed config (194 lines)
    text = result.stdout
    assert "usage: python -m scepsy_opt +workflow=NAME" in text
    for group in ("cluster: ", "workflow: ", "fit: default, fast", "profile: "):
        assert group in text
    assert "l40s_pcie" in text and "rag_reranker" in text
    # every setting the page names exists, with the default it states
    cfg, _ = compose("rag_reranker")
    traces, _ = compose(None, "+workflow=traces", "workflow.traces.path=x.jsonl")
    keys = [line.split()[0].split("=")[0] for line in lines
            if line.startswith("  ") and "=" in line.split()[0] and "." in line.split()[0]]
    assert len(keys) >= 8
    for key in keys:
        if key.startswith("hydra."):
            continue
        composed = traces if key.startswith("workflow.traces.") else cfg
        assert OmegaConf.select(composed, key, default="<absent>") != "<absent>", key
    assert cfg.target.utilization_cap == 0.8 and "(default 0.8)" in text


def test_workflow_without_plus_selects_it(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("workflow=rag_reranker", "analyze.num_requests=100", "stop_after=analyze",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    assert json.loads((run_dir / "workflow_stats.json").read_text())["workflow"] == \
        "rag_reranker"


@pytest.mark.parametrize("plus", ["", "+"])
def test_trace_llm_map_is_set_with_or_without_plus(cli, tmp_path, plus):
    run_dir = tmp_path / "run"
    result = cli("+workflow=traces", f"workflow.traces.path={DATA / 'metagpt'}",
                 "workflow.traces.format=metagpt",
                 f"{plus}workflow.traces.llm_map={{gpt-4-32k: llama-3.1-8b-instruct}}",
                 "stop_after=analyze", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert set(stats["llms"]) == {"llama-3.1-8b-instruct"}


def test_from_run_of_a_missing_directory_creates_nothing(cli, tmp_path):
    missing = tmp_path / "no_such_run"
    result = cli(f"from_run={missing}", "stage=place")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "from_run: no such run directory" in result.stderr and "Fix:" in result.stderr
    assert not missing.exists()
    empty = tmp_path / "empty"  # a folder but no run: the re-run cannot name its workflow
    empty.mkdir()
    result = cli(f"from_run={empty}", "stage=place")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no workflow selected" in result.stderr and "Fix:" in result.stderr


def test_from_run_keeps_the_runs_searchpath(cli, tmp_path):
    conf = _conf(tmp_path, {"workflow/tiny.yaml": TINY})
    run_dir = tmp_path / "run"
    result = cli("+workflow=tiny", "fit=fast", "analyze.num_requests=100",
                 f"hydra.searchpath=[file://{conf}]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    first = {p.relative_to(run_dir): p.read_bytes()
             for p in (run_dir / "manifests").rglob("*") if p.is_file()}
    # the re-run names neither the workflow nor the folder it lives in
    result = cli(f"from_run={run_dir}", "stage=emit")
    assert result.returncode == 0, result.stderr
    assert list((run_dir / "reruns").iterdir())
    again = {p.relative_to(run_dir): p.read_bytes()
             for p in (run_dir / "manifests").rglob("*") if p.is_file()}
    assert set(again) == set(first)


def test_an_unrelated_broken_file_in_a_config_folder_is_not_read(cli, tmp_path):
    conf = _conf(tmp_path, {"workflow/tiny.yaml": TINY,
                            "workflow/broken.yaml": "name: [unclosed\n",
                            "notes/scratch.yaml": ":\n  - ]["})
    run_dir = tmp_path / "run"
    result = cli("+workflow=tiny", "analyze.num_requests=100", "stop_after=analyze",
                 f"hydra.searchpath=[file://{conf}]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    # the selected file broken is named with its line
    result = cli("+workflow=broken", "stop_after=analyze",
                 f"hydra.searchpath=[file://{conf}]", f"hydra.run.dir={tmp_path / 'b'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "broken.yaml" in result.stderr and "malformed YAML at line 2" in result.stderr


def test_a_defect_in_one_sweep_job_still_gives_the_summary_and_a_failing_exit(tmp_path):
    """A job that hits a defect (an exception that is not a project error; injected here
    into the search of the second job) is recorded, the others run, the summary is
    written and the sweep exits non-zero naming the job."""
    sweep = tmp_path / "sweep"
    script = (
        "import sys\n"
        "import scepsy_opt.pipeline as p\n"
        "from scepsy_opt import cli\n"
        "original = p.run\n"
        "def run(settings, catalog):\n"
        "    if settings.target.rate_rps == 2.0:\n"
        "        raise RuntimeError('injected defect')\n"
        "    return original(settings, catalog)\n"
        "p.run = run\n"
        "cli.main()\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", script, "--multirun", "+workflow=rag_reranker",
         "analyze.num_requests=100", "stop_after=analyze", "target.rate_rps=1,2,3",
         f"hydra.sweep.dir={sweep}"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "job(s) of the sweep failed: job 1 (" in result.stderr
    assert "injected defect" in result.stderr
    rows = list(csv.DictReader((sweep / "sweep_summary.csv").open()))
    assert [r["status"] for r in rows] == ["stopped after analyze", "failed",
                                           "stopped after analyze"]
    assert json.loads((sweep / "1_rag_reranker" / "error.json").read_text())["type"] == \
        "RuntimeError"
