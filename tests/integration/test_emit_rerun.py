"""Emitting is deterministic from its inputs: re-running the emit stage of a finished run
(``from_run=<dir> stage=emit``) writes the manifests of the run, byte for byte."""

import json
from pathlib import Path

import yaml


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_an_emit_rerun_writes_the_runs_manifests_byte_for_byte(cli, tmp_path):
    run_dir = tmp_path / "run"
    first = cli("+workflow=rag_reranker", "fit=fast", "target.rate_rps=1.0",
                f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr
    manifests, plan = _tree(run_dir / "manifests"), (run_dir / "plan.json").read_bytes()
    # the known answer: each llm's max-model-len is its longest call (longest prompt plus
    # longest output, from workflow_stats.json) rounded up to a multiple of 1024
    stats = json.loads((run_dir / "workflow_stats.json").read_text())["llms"]
    for entry in json.loads(plan)["instances"]:
        llm = stats[entry["llm"]]
        longest = int(llm["input_tokens"]["max"] + llm["output_tokens"]["max"])
        config = yaml.safe_load(manifests[f"vllm/{entry['nodes'][0]['node']}/"
                                          f"{entry['name']}.yaml"])
        assert config["max-model-len"] == min(-(-longest // 1024) * 1024,
                                              entry["kv_capacity_tokens"]), entry["name"]

    again = cli(f"from_run={run_dir}", "stage=emit")
    assert again.returncode == 0, again.stderr
    assert "re-running emit" in again.stderr
    rerun = _tree(run_dir / "manifests")
    assert sorted(rerun) == sorted(manifests)
    changed = [path for path in manifests if rerun[path] != manifests[path]]
    assert changed == []
    # plan.json too, but for where the placement came from (the search's allocation in the
    # run, placement.json in the re-run)
    again_plan = json.loads((run_dir / "plan.json").read_text())
    assert again_plan.pop("source") == str(run_dir / "placement.json")
    first_plan = json.loads(plan)
    assert first_plan.pop("source").startswith("allocation ")
    assert again_plan == first_plan
