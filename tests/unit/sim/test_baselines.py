"""Each baseline on a hand-computed small case."""

import math

import pytest

from scepsy_opt.core.catalog import expand_cluster
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import PlacementError, first_fit
from scepsy_opt.core.problem import AllocationError, AllocationProblem, LlmDemand
from scepsy_opt.core.types import Allocation, LlmAllocation
from scepsy_opt.evaluate import baselines as base
from scepsy_opt.sim.capacity import replica_capacity_rps


def cluster(catalog, gpus=8, gpu="H100-SXM-80GB", count=1, domains=None):
    group = {"name": "n", "count": count, "gpu": gpu, "gpus_per_node": gpus,
             "nvlink_domain_size": None, "nvlink_domains": domains, "nodes_per_rack": 4,
             "network_gb_s": 400.0}
    return expand_cluster({"name": "c", "node_groups": [group]}, catalog, source="c")


def problem(catalog, demands, rate, gpus=8, **kw):
    return AllocationProblem(tuple(demands), rate, cluster(catalog, gpus, **kw),
                             kw.get("gpu", "H100-SXM-80GB"), MemorySettings(), 0.8)


SMALL = LlmDemand("llama-3.1-8b-instruct", 2.0, 500, 100, 0.3)
LARGE = LlmDemand("llama-3.1-70b-instruct", 1.0, 1000, 200, 0.6)
TINY = LlmDemand("llama-3.2-3b-instruct", 1.0, 300, 40, 0.1)
RERANK = LlmDemand("bge-reranker-v2-gemma", 24.0, 420, 0, 0.05)


def test_independent_sizes_each_llm_by_its_own_call_rate(catalog):
    p = problem(catalog, [SMALL, LARGE], rate=1.0)
    allocation = base.independent(p, catalog)
    for entry, demand, tp in ((allocation.llm(SMALL.llm), SMALL, 1),
                              (allocation.llm(LARGE.llm), LARGE, 2)):
        capacity = replica_capacity_rps(p, catalog, demand.llm, tp, 1.0)
        assert entry.tp == tp and entry.gpu_fraction == 1.0
        assert entry.replicas == math.ceil(demand.calls_per_request * 1.0 / (capacity * 0.8))
    assert allocation.gpus <= 8 and not allocation.note


def test_independent_shrinks_replicas_when_gpus_run_out(catalog):
    p = problem(catalog, [SMALL, LARGE], rate=20.0)
    allocation = base.independent(p, catalog)
    assert allocation.gpus <= 8 and "shrunk proportionally" in allocation.note
    assert all(entry.replicas >= 1 for entry in allocation.llms)


def test_user_specified_splits_gpus_equally(catalog):
    allocation = base.user_specified(problem(catalog, [SMALL, LARGE, TINY], rate=1.0), catalog)
    assert [(e.llm, e.tp, e.replicas) for e in allocation.llms] == [
        ("llama-3.1-70b-instruct", 2, 1), ("llama-3.1-8b-instruct", 1, 2),
        ("llama-3.2-3b-instruct", 1, 2)]
    assert allocation.note == "2 GPUs per llm; 2 GPUs left idle"
    with pytest.raises(AllocationError, match="equal split gives llama-3.1-70b-instruct 1 GPUs"):
        base.user_specified(problem(catalog, [SMALL, LARGE, TINY], rate=1.0, gpus=4), catalog)


def test_pooled_tp1_shares_gpus_by_call_counts(catalog):
    allocation = base.pooled_tp1(problem(catalog, [RERANK, TINY, LARGE], rate=1.0), catalog)
    assert allocation.llm(LARGE.llm) == LlmAllocation(LARGE.llm, "H100-SXM-80GB", 2, 1, 1.0)
    # 24 : 1 calls -> the 3B llm keeps its smallest fraction, the reranker takes the rest
    assert allocation.llm(TINY.llm).gpu_fraction == 0.125
    assert allocation.llm(RERANK.llm).gpu_fraction == 0.875
    assert allocation.llm(TINY.llm).replicas == allocation.llm(RERANK.llm).replicas == 6
    first_fit(allocation, cluster(catalog))  # it places


def test_exact_picks_the_fastest_sustaining_candidate(catalog):
    p = problem(catalog, [SMALL], rate=1.0, gpus=2)
    candidates = base.exact_candidates(p, catalog)
    # TP 1 or 2, fractions 1/4..1, replicas within 2 GPUs
    assert {(a.llms[0].tp, a.llms[0].gpu_fraction) for a in candidates} >= {(1, 0.25), (2, 1.0)}
    assert all(a.gpus <= 2 for a in candidates)

    def score(allocation):  # more GPU capacity: faster; sustains from one GPU's worth
        gpus = allocation.gpus
        return base.Score(gpus >= 1.0, 1.0 / gpus + 0.01 * allocation.llms[0].tp, gpus)

    best = base.exact(p, catalog, score, max_candidates=1000)
    assert best.gpus == 2 and best.llms[0].tp == 1  # 2 GPUs, TP 1 beats TP 2 by the tie term
    none = base.exact(p, catalog, lambda a: base.Score(False, 1.0, a.gpus), 1000)
    assert none.gpus == 2 and "none sustains" in none.note
    with pytest.raises(AllocationError, match="exhaustive search is for small instances"):
        base.exact(p, catalog, score, max_candidates=3)


def test_first_fit_respects_domains_fractions_and_capacity(catalog):
    pairs = cluster(catalog, gpus=4, gpu="A100-PCIe-80GB", domains=[[0, 1], [2, 3]])
    allocation = Allocation("t", (
        LlmAllocation("llama-3.1-8b-instruct", "A100-PCIe-80GB", 1, 2, 0.5),
        LlmAllocation("qwen2.5-14b-instruct", "A100-PCIe-80GB", 2, 1, 1.0),
        LlmAllocation("llama-3.2-3b-instruct", "A100-PCIe-80GB", 1, 1, 0.5)))
    placement = first_fit(allocation, pairs)
    spots = [(i.llm, i.gpus) for i in placement.instances]
    # both 8B halves share GPU 0; the TP-2 group takes the next whole pair; the 3B half GPU 1
    assert spots == [("llama-3.1-8b-instruct", (0,)), ("llama-3.1-8b-instruct", (0,)),
                     ("qwen2.5-14b-instruct", (2, 3)), ("llama-3.2-3b-instruct", (1,))]
    too_big = Allocation("t", (LlmAllocation("llama-3.1-8b-instruct", "A100-PCIe-80GB", 1, 5,
                                             1.0),))
    with pytest.raises(PlacementError, match="replica 4 of llama-3.1-8b-instruct"):
        first_fit(too_big, pairs)


def test_exact_candidates_are_every_fitting_combination_and_stop_at_the_limit(catalog):
    import itertools

    p = problem(catalog, [SMALL, TINY], rate=1.0, gpus=2)
    candidates = base.exact_candidates(p, catalog)
    # brute force: the product of every llm's options, within the GPUs, placed by first fit
    options = [[LlmAllocation(d.llm, p.gpu, tp, r, f) for tp in base.TP_DEGREES
                for f in base.EXACT_FRACTIONS if base.holds(p, catalog, d.llm, tp, f)
                for r in range(1, int(p.gpus // (tp * f)) + 1)] for d in p.demands]
    expected = set()
    for combo in itertools.product(*options):
        if sum(e.gpus for e in combo) <= p.gpus + 1e-9:
            try:
                first_fit(Allocation("exact", combo), p.cluster)
            except PlacementError:
                continue
            expected.add(combo)
    assert {a.llms for a in candidates} == expected and len(expected) > 10
    # with a limit the enumeration stops one past it (a mix of many llms has billions)
    assert len(base.exact_candidates(p, catalog, limit=10)) == 11
