"""The simulator as an Evaluator: its scores are the harness's own runs (oracle: PlanRunner
directly), an allocation that does not place scores as not sustained, and each allocation is
simulated once per rate."""

import math

import numpy as np
import pytest

from scepsy_opt.core.catalog import expand_cluster
from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import first_fit_decreasing
from scepsy_opt.core.problem import AllocationProblem, LlmDemand
from scepsy_opt.core.space import search_space
from scepsy_opt.core.types import Allocation, LlmAllocation
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.sim.capacity import replica_capacity_rps
from scepsy_opt.sim.runner import PlanRunner
from scepsy_opt.sim.settings import SimulateSettings, SustainSettings
from scepsy_opt.workflow.spec import parse_workflow

LLM = "llama-3.2-3b-instruct"
GPU = "H100-SXM-80GB"


@pytest.fixture(scope="module")
def setup(catalog):
    cluster = expand_cluster({"name": "c", "node_groups": [{
        "name": "n", "count": 1, "gpu": GPU, "gpus_per_node": 2, "nvlink_domain_size": None,
        "nvlink_domains": None, "nodes_per_rack": 4, "network_gb_s": 400.0}]}, catalog,
        source="c")
    problem = AllocationProblem((LlmDemand(LLM, 1.0, 500, 100, 1.0, 600),), 2.0, cluster, GPU,
                                MemorySettings(), 0.8)
    spec = parse_workflow({"name": "one", "program": {"call": {
        "llm": LLM, "input_tokens": 500, "output_tokens": 100}}}, source_of=str,
        llm_ids=frozenset(catalog.llms), option="one")
    settings = SimulateSettings(sustain=SustainSettings(num_requests=80, latency_spans=5.0))
    return problem, spec, settings


def test_scores_are_the_harness_runs(catalog, setup):
    problem, spec, settings = setup
    evaluator = SimulatedEvaluator(spec, problem, catalog, settings, 1.0)
    assert isinstance(evaluator, Evaluator) and evaluator.llms == (LLM,)
    # TP 1 at 1/4 x1, TP 1 x2 whole GPUs, and 3 whole GPUs (does not place on 2)
    tp, replicas, fraction = (np.array([[1.0], [1.0], [1.0]]), np.array([[1.0], [2.0], [3.0]]),
                              np.array([[0.25], [1.0], [1.0]]))
    out = evaluator.predict_batch(tp, replicas, fraction, problem.rate_rps)
    for b in range(2):
        allocation = Allocation("x", (LlmAllocation(LLM, GPU, 1, int(replicas[b, 0]),
                                                    float(fraction[b, 0])),))
        run = PlanRunner(spec, allocation, first_fit_decreasing(allocation, problem.cluster),
                         catalog, problem.memory, settings, {}, 1.0)
        metrics = run.run_long(problem.rate_rps, settings.sustain.num_requests)
        assert out["latency_s"][b] == metrics.e2e_latency_s.mean
        assert out["throughput_rps"][b] == metrics.completed_throughput_rps
        assert out["sustains"][b] == run.sustains(metrics) and out["placed"][b]
        assert out["rho"][b, 0] == metrics.llm(LLM).utilization
        assert out["capacity_rps"][b, 0] == pytest.approx(
            replicas[b, 0] * replica_capacity_rps(problem, catalog, LLM, 1, fraction[b, 0]))
    assert not out["placed"][2] and not out["sustains"][2]
    assert math.isinf(out["latency_s"][2]) and out["throughput_rps"][2] == 0.0
    assert out["latency_s"][1] < out["latency_s"][0]  # two whole GPUs beat a quarter
    # each allocation once per rate; one allocation alone is the batch's row
    assert evaluator.simulations == 3
    one = evaluator.predict(tp[1], replicas[1], fraction[1], problem.rate_rps)
    assert evaluator.simulations == 3 and one["latency_s"] == out["latency_s"][1]
    parts = evaluator.breakdown(tp[1], replicas[1], fraction[1], problem.rate_rps)
    assert float(np.sum(parts["llm_s"]) + parts["tool_s"]) == pytest.approx(one["latency_s"])


def test_the_space_takes_the_simulators_sustain_rule(catalog, setup):
    """Feasible in the allocation space = within the budget and sustained by simulation (the
    completed throughput at the rate is no highest throughput to hold to the cap)."""
    problem, spec, settings = setup
    space = search_space(problem, catalog, SimulatedEvaluator(spec, problem, catalog,
                                                              settings, 1.0))
    scored = space.score(np.array([[1], [1]]), np.array([[8], [8]]), np.array([[2], [3]]))
    assert scored["feasible"].tolist() == [bool(scored["sustains"][0]), False]
    assert scored["sustains"][0]
