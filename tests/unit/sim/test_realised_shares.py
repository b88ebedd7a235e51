"""Realised shares of execution time in the simulator against the analyze stage's shares."""

import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import first_fit
from scepsy_opt.core.types import Allocation, LlmAllocation
from scepsy_opt.sim.arrivals import ArrivalProcess
from scepsy_opt.sim.metrics import compute_metrics
from scepsy_opt.sim.plan import instance_specs
from scepsy_opt.sim.simulator import Simulation
from scepsy_opt.sim.workload import build_workload
from scepsy_opt.workflow.stage import AnalyzeSettings, analyze_workflow
from scepsy_opt.workflow.work import WorkEstimateSettings


def test_beam_search_shares_match_the_analysis(catalog, compose):
    _, settings = compose("beam_search", "cluster=dgx_h100_x2")
    spec = settings.workflow
    analysis, _ = analyze_workflow(spec, AnalyzeSettings(2000, 0, WorkEstimateSettings(
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
        assert metrics.littles_law_error < 0.02
        again = compute_metrics(Simulation(workload.table, workload.arrivals_s,
                                           workload.members, specs).run(), rate)
        assert again == metrics  # deterministic


def rag_beam_allocation(beam_replicas: tuple[int, int]) -> Allocation:
    """Whole H100s for rag_beam: rag_reranker's llms with room to spare, beam_search's two
    with ``beam_replicas`` replicas each."""
    qwen, prm = beam_replicas
    return Allocation("manual", tuple(
        LlmAllocation(llm, "H100-SXM-80GB", tp, replicas, 1.0) for llm, tp, replicas in (
            ("llama-3.2-3b-instruct", 1, 1), ("bge-reranker-v2-gemma", 1, 1),
            ("llama-3.1-70b-instruct", 2, 4), ("qwen2.5-7b-instruct", 1, qwen),
            ("qwen2.5-math-prm-7b", 1, prm))))


def test_a_mix_of_workflows_runs_each_at_its_rate(catalog, compose):
    _, settings = compose("rag_beam", "cluster=dgx_h100_x2")
    workload = build_workload(settings.workflow, 0.5, 400, ArrivalProcess(), seed=1)
    assert workload.member_names == ("rag_reranker", "beam_search")
    shares = [float((workload.members == i).mean()) for i in range(2)]
    assert shares == pytest.approx([0.8, 0.2], abs=0.01)
    allocation = rag_beam_allocation(beam_replicas=(4, 2))
    specs = instance_specs(allocation, first_fit(allocation, settings.cluster), catalog,
                           MemorySettings())
    raw = Simulation(workload.table, workload.arrivals_s, workload.members, specs).run()
    metrics = compute_metrics(raw, 0.5, member_names=workload.member_names)
    rag, beam = metrics.members
    assert rag.workflow == "rag_reranker" and beam.workflow == "beam_search"
    assert beam.e2e_latency_s.mean > rag.e2e_latency_s.mean  # dozens of steps vs four calls
    assert metrics.littles_law_error < 0.02


def test_a_mix_is_sustained_only_when_every_member_keeps_up(catalog, compose):
    from scepsy_opt.sim.runner import PlanRunner

    _, settings = compose("rag_beam", "cluster=dgx_h100_x2")
    # rag_reranker's llms have room to spare; beam_search's (20% of the requests) do not
    allocation = rag_beam_allocation(beam_replicas=(1, 1))
    runner = PlanRunner(settings.workflow, allocation, first_fit(allocation, settings.cluster),
                        catalog, MemorySettings(), settings.simulate, {}, 10.0)
    light = runner.run(0.2, 600)
    assert runner.sustains(light)
    heavy = runner.run(0.4, 600)
    rag, beam = heavy.members
    # the whole mix completes 95% of its arrivals: the beam_search member's backlog hides in
    # the rag_reranker requests' slack, and only the member's own ratio shows it
    assert heavy.throughput_ratio >= settings.simulate.sustain.throughput_ratio
    assert heavy.latency_growth <= settings.simulate.sustain.latency_growth
    assert rag.throughput_ratio >= 0.95 > beam.throughput_ratio
    assert not runner.sustains(heavy)


def test_a_mix_runs_long_enough_for_its_slowest_member(catalog, compose):
    """A run spans ``latency_spans`` of the slowest member's latencies, not of the mix's mean:
    beam_search (a fifth of rag_beam's requests) takes several times the mix's mean, and a
    run sized by the mean gave it only a few of its own latencies to be judged on."""
    import dataclasses

    from scepsy_opt.sim.runner import PlanRunner, span_latency_s

    _, settings = compose("rag_beam", "cluster=dgx_h100_x2")
    allocation = rag_beam_allocation(beam_replicas=(4, 2))
    runner = PlanRunner(settings.workflow, allocation, first_fit(allocation, settings.cluster),
                        catalog, MemorySettings(), settings.simulate, {}, 1.0)
    rate, spans = 0.2, settings.simulate.sustain.latency_spans
    metrics = runner.run_long(rate, 10)
    slowest = max(m.e2e_latency_s.mean for m in metrics.members)
    assert slowest > 2 * metrics.e2e_latency_s.mean  # the beam_search member
    assert span_latency_s(metrics) == slowest
    # the run's arrivals span `spans` of the slowest member's latencies (what sized it;
    # sized by the mix's mean, it had fewer than half as many requests)
    assert metrics.measured_requests / 0.9 >= spans * slowest * rate * 0.8
    # a single workflow is sized by its own mean, as before
    assert span_latency_s(dataclasses.replace(metrics, members=())) == \
        metrics.e2e_latency_s.mean
