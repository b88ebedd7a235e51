"""Realised shares of execution time in the simulator against the analyze stage's shares."""

import pytest

from scepsy_opt.placement.first_fit import first_fit
from scepsy_opt.profile.memory import MemorySettings
from scepsy_opt.simulate.arrivals import ArrivalProcess
from scepsy_opt.simulate.metrics import compute_metrics
from scepsy_opt.simulate.plan import instance_specs
from scepsy_opt.simulate.simulator import Simulation
from scepsy_opt.simulate.workload import build_workload
from scepsy_opt.types import Allocation, LlmAllocation
from scepsy_opt.workflow.stage import AnalyzeOptions, analyze_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings


def test_beam_search_shares_match_the_analysis(catalog, compose):
    _, settings = compose("beam_search", "cluster=dgx_h100_x2")
    spec = settings.workflow
    analysis, _ = analyze_workflow(spec, AnalyzeOptions(2000, 0, WorkEstimateSettings(
        "H100-SXM-80GB")), catalog)
    allocation = Allocation("manual", (
        LlmAllocation("qwen2.5-7b-instruct", "H100-SXM-80GB", 1, 12, 1.0),
        LlmAllocation("qwen2.5-math-prm-7b", "H100-SXM-80GB", 1, 4, 1.0)))
    specs = instance_specs(allocation, first_fit(allocation, settings.cluster), catalog,
                           MemorySettings())
    for rate in (0.02, 0.1):
        workload = build_workload(spec, rate, 300, ArrivalProcess(), seed=0)
        raw = Simulation(workload.table, workload.arrivals_s, workload.members, specs).run()
        metrics = compute_metrics(raw, rate)
        for stats in analysis.combined.llms:
            assert metrics.llm(stats.llm).realised_share == pytest.approx(stats.share, abs=0.05)
        again = compute_metrics(Simulation(workload.table, workload.arrivals_s,
                                           workload.members, specs).run(), rate)
        assert again == metrics  # deterministic
