"""``emit.mps.isolation`` end to end: the place stage re-run from a finished run's artifacts
(``tests/data/run_rag_reranker``) with isolation keeps the isolated llms off one another's
GPUs in placement.json and plan.json, and report.md shows the fault domains; an isolation
that leaves no placement, and one that names an llm the workflow lacks, fail with the setting,
the llms and the fix, exit 2, no traceback, and the run directory untouched."""

import json
import shutil
from pathlib import Path

from scepsy_opt.core.errors import EXIT_CODE

RUN = Path(__file__).resolve().parents[1] / "data" / "run_rag_reranker"
SEVENTY, RERANKER = "llama-3.1-70b-instruct", "bge-reranker-v2-gemma"


def _copy(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(RUN, run_dir)
    return run_dir


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}


def _hosts(plan: dict) -> dict[tuple[str, int], set[str]]:
    llms = {i["name"]: i["llm"] for i in plan["instances"]}
    return {(g["node"], g["gpu"]): {llms[name] for name in g["instances"]}
            for g in plan["gpus"]}


def test_a_place_rerun_with_isolation_keeps_the_llms_apart(cli, tmp_path):
    # on two DGX nodes the 70B (TP 8, 3/4 of each GPU) and the reranker (TP 4, 1/4) share the
    # first node's GPUs unless isolated (the place stage fills one node)
    plain = _copy(tmp_path / "plain")
    result = cli("+workflow=rag_reranker", f"from_run={plain}", "stage=place",
                 "cluster=dgx_h100_x2", "emit.formats=[plan]")
    assert result.returncode == 0, result.stderr
    assert any({SEVENTY, RERANKER} <= llms
               for llms in _hosts(json.loads((plain / "plan.json").read_text())).values())

    run_dir = _copy(tmp_path / "isolated")
    result = cli("+workflow=rag_reranker", f"from_run={run_dir}", "stage=place",
                 "cluster=dgx_h100_x2", f"emit.mps.isolation=[[{SEVENTY},{RERANKER}]]")
    assert result.returncode == 0, result.stderr
    plan = json.loads((run_dir / "plan.json").read_text())
    assert not any({SEVENTY, RERANKER} <= llms for llms in _hosts(plan).values())
    placement = json.loads((run_dir / "placement.json").read_text())
    for gpu in placement["gpus"]:
        assert not {SEVENTY, RERANKER} <= {o["llm"] for o in gpu["occupants"]}
    domains = plan["fault_domains"]
    assert domains["isolation"] == [[SEVENTY, RERANKER]]
    by_id = {d["id"]: d for d in domains["domains"]}
    for gpu in plan["gpus"]:  # every used GPU names its fate and its domain
        assert gpu["shared_fate"] == gpu["instances"]
        assert set(gpu["instances"]) <= set(by_id[gpu["fault_domain"]]["instances"])
    assert not any({SEVENTY, RERANKER} <= set(d["llms"]) for d in by_id.values())
    assert domains["max_instances_per_fault"] == max(len(d["instances"])
                                                     for d in by_id.values())
    report = (run_dir / "report.md").read_text()
    assert "## Fault domains" in report
    assert (f"A single fatal GPU fault can take down at most "
            f"{domains['max_instances_per_fault']} instances") in report


def test_an_isolation_that_leaves_no_placement_fails_cleanly(cli, tmp_path):
    # on one DGX node the 70B takes 3/4 of every GPU: alone, it leaves the others no GPU
    run_dir = _copy(tmp_path)
    before = _snapshot(run_dir)
    result = cli("+workflow=rag_reranker", f"from_run={run_dir}", "stage=place",
                 f"emit.mps.isolation=[[{SEVENTY}]]")
    assert result.returncode == EXIT_CODE, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for needle in ("emit.mps.isolation", "no placement exists that keeps the llms of the "
                   f"isolation apart ({SEVENTY} shares no GPU with another llm)",
                   "Fix: drop or split a group of emit.mps.isolation"):
        assert needle in result.stderr, needle
    assert _snapshot(run_dir) == before  # no partial artifact


def test_an_isolation_of_an_unknown_llm_fails_before_any_stage(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=rag_reranker", "emit.mps.isolation=[[planner,coder]]",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == EXIT_CODE, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert ("emit.mps.isolation: names llms that workflow 'rag_reranker' does not call: "
            "planner, coder") in result.stderr
    assert f"Fix: name llms of the workflow: {RERANKER}, {SEVENTY}" in result.stderr
    assert not (run_dir / "workflow_stats.json").exists()


def test_placement_follows_the_emit_setting(compose):
    _, settings = compose("rag_reranker", f"emit.mps.isolation=[[{SEVENTY}],[{RERANKER}]]")
    assert settings.placement.isolation == settings.emit.mps.isolation == (
        (SEVENTY,), (RERANKER,))
    _, settings = compose("rag_reranker")
    assert settings.placement.isolation == ()
