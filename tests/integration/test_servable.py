"""An llm the cluster cannot hold, or a call longer than its llm's context window, is refused
before any fitting, with the llm, what it needs and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.problem import (
    AllocationError,
    AllocationProblem,
    LlmDemand,
    check_servable,
    servable_configurations,
)
from scepsy_opt.core.types import ClusterSpec, NodeSpec

ONE_L40S = ("name: one_l40s\nnode_groups:\n  - {name: n, count: 1, gpu: L40S-48GB, "
            "gpus_per_node: 1, nodes_per_rack: 1, network_gb_s: 50}\n")


def _problem(llm: str, gpu: str, gpus: int, context: int) -> AllocationProblem:
    node = NodeSpec("n-00", gpu, gpus, "r", tuple((g,) for g in range(gpus)), 50.0)
    return AllocationProblem((LlmDemand(llm, 1.0, 100.0, 10.0, 1.0, context),), 1.0,
                             ClusterSpec("c", "", (node,)), gpu, MemorySettings(), 0.8)


def test_a_70b_llm_on_one_48gb_gpu_has_no_configuration(catalog):
    with pytest.raises(AllocationError, match="131 GiB of weights") as error:
        check_servable(_problem("llama-3.1-70b-instruct", "L40S-48GB", 1, 1000), catalog)
    assert "llama-3.1-70b-instruct" in str(error.value) and "Fix:" in str(error.value)
    # a small llm on the same GPU is served whole and on every fraction that holds it
    found = servable_configurations(_problem("llama-3.2-3b-instruct", "L40S-48GB", 1, 1000),
                                    catalog, "llama-3.2-3b-instruct")
    assert (1, 1.0) in found and all(tp == 1 for tp, _ in found)


def test_a_call_longer_than_the_context_window_is_refused(catalog):
    window = catalog.llms["llama-3.2-3b-instruct"].max_context_tokens
    problem = _problem("llama-3.2-3b-instruct", "H100-SXM-80GB", 8, window + 1)
    with pytest.raises(AllocationError, match=f"context window of {window}"):
        check_servable(problem, catalog)
    check_servable(_problem("llama-3.2-3b-instruct", "H100-SXM-80GB", 8, window), catalog)


def _conf(tmp_path: Path) -> Path:
    conf = tmp_path / "user_conf"
    (conf / "cluster").mkdir(parents=True)
    (conf / "workflow").mkdir()
    (conf / "cluster" / "one_l40s.yaml").write_text(ONE_L40S)
    (conf / "workflow" / "long_call.yaml").write_text(
        "name: long_call\nprogram:\n  call: {llm: llama-3.2-3b-instruct, "
        "input_tokens: 200000, output_tokens: 100}\n")
    return conf


@pytest.mark.parametrize("args, needles", [
    (["+workflow=rag_reranker", "cluster=one_l40s"],
     ["llama-3.1-70b-instruct", "131 GiB of weights", "L40S-48GB", "Fix:"]),
    (["+workflow=long_call"],
     ["llama-3.2-3b-instruct", "200100 tokens", "context window of 131072", "Fix:"]),
])
def test_the_cli_refuses_before_fitting(cli, tmp_path, args, needles):
    run_dir = tmp_path / "run"
    result = cli(*args, "fit=fast", "analyze.num_requests=100",
                 f"hydra.searchpath=[file://{_conf(tmp_path)}]", f"hydra.run.dir={run_dir}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr[-2000:])
    assert "fit data" not in result.stderr  # refused before any simulation
    assert not (run_dir / "allocation.json").exists()
