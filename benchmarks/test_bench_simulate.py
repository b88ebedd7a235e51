"""Speed of the simulator: 1,000 beam_search requests on a 16-GPU cluster (2 DGX H100).

Target: under 60 s on the 2-core development machine; events per second are recorded too
(see RESULTS.md). Run with `make bench`. Two allocations: whole GPUs (no instance shares a
GPU), and every GPU shared by two instances at half of it each, so that every phase of every
instance goes through the contention model (:mod:`scepsy_opt.sim.contention`).
"""

import numpy as np
import pytest

from scepsy_opt.core.catalog import expand_cluster, load_catalog, load_yaml
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import first_fit
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import Allocation, LlmAllocation
from scepsy_opt.sim.arrivals import ArrivalProcess
from scepsy_opt.sim.metrics import compute_metrics
from scepsy_opt.sim.plan import instance_specs
from scepsy_opt.sim.simulator import Simulation
from scepsy_opt.sim.workload import build_workload
from scepsy_opt.workflow.spec import parse_workflow

RATE_RPS = 0.3  # the PRM replicas run at about 70% utilisation


ALLOCATIONS = {
    "whole_gpus": (("qwen2.5-7b-instruct", 12, 1.0), ("qwen2.5-math-prm-7b", 4, 1.0)),
    "shared_gpus": (("qwen2.5-7b-instruct", 24, 0.5), ("qwen2.5-math-prm-7b", 8, 0.5)),
}


@pytest.fixture(scope="module", params=sorted(ALLOCATIONS))
def setup(request):
    catalog = load_catalog()
    path = data_dir("conf") / "workflow" / "beam_search.yaml"
    spec = parse_workflow(load_yaml(path), source_of=lambda _: str(path),
                          llm_ids=frozenset(catalog.llms), option="beam_search")
    raw = load_yaml(data_dir("conf") / "cluster" / "dgx_h100_x2.yaml")
    raw["node_groups"] = [{"nvlink_domains": None, **g} for g in raw["node_groups"]]
    cluster = expand_cluster(raw, catalog, source="dgx_h100_x2")
    allocation = Allocation("manual", tuple(
        LlmAllocation(llm, "H100-SXM-80GB", 1, replicas, fraction)
        for llm, replicas, fraction in ALLOCATIONS[request.param]))
    specs = instance_specs(allocation, first_fit(allocation, cluster), catalog,
                           MemorySettings())
    gpus = [gpu for s in specs for gpu in s.gpus]
    assert len(set(gpus)) == 16
    assert len(gpus) == (16 if request.param == "whole_gpus" else 32)
    workload = build_workload(spec, RATE_RPS, 1000, ArrivalProcess(), seed=0)
    return workload, specs


def test_simulate_1000_beam_search_requests_on_16_gpus(benchmark, setup):
    workload, specs = setup

    def run():
        return Simulation(workload.table, workload.arrivals_s, workload.members, specs).run()

    raw = benchmark.pedantic(run, rounds=3, iterations=1)
    metrics = compute_metrics(raw, RATE_RPS)
    benchmark.extra_info["events"] = raw.events
    benchmark.extra_info["calls"] = workload.table.num_calls
    if benchmark.stats is not None:  # None under --benchmark-disable (the test suite)
        benchmark.extra_info["events_per_s"] = raw.events / benchmark.stats.stats.mean
    benchmark.extra_info["mean_latency_s"] = metrics.e2e_latency_s.mean
    assert np.isfinite(raw.request_done).all()
