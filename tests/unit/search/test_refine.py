"""``search.refine``: the search's best candidates re-ranked by another evaluator (the
simulator). Oracles: without refinement the search is unchanged; the refined choice is the
argmin, over the kept candidates, of the refining evaluator's latency among those it says
sustain the target (brute force over the candidates, with a scripted evaluator and with the
simulator itself)."""

import dataclasses

import numpy as np
import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import first_fit_decreasing
from scepsy_opt.core.problem import problem_from_stats
from scepsy_opt.core.space import search_space
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import max_achievable_rate, search
from scepsy_opt.search.stage import plan_allocation, plan_to_json
from scepsy_opt.sim.runner import PlanRunner
from scepsy_opt.sim.settings import SimulateSettings, SustainSettings
from scepsy_opt.surrogate.calib import synthetic_cluster
from scepsy_opt.testing import synthetic_surrogate
from scepsy_opt.workflow.spec import parse_workflow

LLMS = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct")
PROGRAM = {"seq": [{"call": {"llm": LLMS[0], "input_tokens": 300, "output_tokens": 40}},
                   {"par": {"count": 2, "body": {"call": {
                       "llm": LLMS[1], "input_tokens": 500, "output_tokens": 80}}}}]}


def small(catalog, seed=1, gpus=3, load=0.5):
    rng = np.random.default_rng(seed)
    surrogate, stats = synthetic_surrogate(rng, LLMS, program=PROGRAM, requests=60)
    cluster = synthetic_cluster(catalog, "H100-SXM-80GB", gpus)
    problem = problem_from_stats(stats, 1.0, cluster, MemorySettings(), 0.8)
    top, _ = max_achievable_rate(search_space(problem, catalog, surrogate))
    return dataclasses.replace(problem, rate_rps=load * top), surrogate


class Scripted:
    """A refining evaluator with a fixed random score per allocation."""

    def __init__(self, llms, seed, sustain_p=0.7):
        self.llms, self.rng, self.table, self.sustain_p = llms, np.random.default_rng(seed), {}, \
            sustain_p

    def score(self, key):
        if key not in self.table:
            self.table[key] = (bool(self.rng.random() < self.sustain_p),
                               float(self.rng.uniform(1, 2)), float(self.rng.uniform(0, 1)))
        return self.table[key]

    def predict_batch(self, tp, replicas, fraction, rate):
        rows = [self.score(tuple(zip(tp[b], replicas[b], fraction[b], strict=True)))
                for b in range(len(tp))]
        sustains, latency, throughput = (np.array(c) for c in zip(*rows, strict=True))
        return {"sustains": sustains, "latency_s": latency, "throughput_rps": throughput}


def key_of(allocation, llms):
    return tuple((float(allocation.llm(llm).tp), float(allocation.llm(llm).replicas),
                  allocation.llm(llm).gpu_fraction) for llm in llms)


def trace_of(result):
    return [(s.phase, s.move, s.gpus, s.latency_s, s.throughput_rps) for s in result.trace]


@pytest.mark.parametrize("method", ["heuristic", "exact"])
def test_keeping_candidates_leaves_the_search_unchanged(catalog, method):
    problem, surrogate = small(catalog)
    space = search_space(problem, catalog, surrogate)
    run = (lambda n: search(space, alternatives=n)) if method == "heuristic" else \
        (lambda n: exact(space, alternatives=n))
    plain, kept = run(0), run(4)
    assert plain.candidates == ()
    assert (kept.allocation, kept.latency_s, kept.throughput_rps) == (
        plain.allocation, plain.latency_s, plain.throughput_rps)
    assert trace_of(kept) == trace_of(plain)
    found = kept.candidates
    assert 2 <= len(found) <= 4 and found[0].allocation == plain.allocation
    assert len({c.allocation.llms for c in found}) == len(found)  # distinct
    latencies = [c.latency_s for c in found]
    assert latencies[1:] == sorted(latencies[1:]) and latencies[0] <= latencies[1] + 1e-9
    L = len(space.llms)
    state = np.array([[[c.allocation.llm(llm).tp, round(c.allocation.llm(llm).gpu_fraction * 8),
                        c.allocation.llm(llm).replicas] for llm in space.llms] for c in found])
    scored = space.score(state[:, :, 0], state[:, :, 1], state[:, :, 2])
    assert scored["feasible"].all() and state.shape[1] == L
    assert scored["latency_s"] == pytest.approx(latencies, rel=1e-6)
    assert all(space.packs(*s.T) for s in state)


def test_the_refined_choice_is_the_argmin_over_the_kept_candidates(catalog):
    problem, surrogate = small(catalog)
    plain = plan_allocation(problem, catalog, surrogate)
    refiner = Scripted(surrogate.llms, seed=3)
    plan = plan_allocation(problem, catalog, surrogate, refine=refiner, refine_candidates=4)
    refinement = plan.refinement
    candidates = [r.candidate for r in refinement.candidates]
    assert candidates[0].allocation == plain.allocation
    # brute force over the candidates by the refining evaluator's scores
    scores = [refiner.score(key_of(c.allocation, surrogate.llms)) for c in candidates]
    sustaining = [i for i, (ok, _, _) in enumerate(scores) if ok]
    assert sustaining
    expected = min(sustaining, key=lambda i: scores[i][1])
    assert refinement.chosen == expected
    assert plan.allocation == candidates[expected].allocation
    assert plan.result.latency_s == candidates[expected].latency_s  # the search's prediction
    assert plan.result.trace[-1].phase == "refine"
    record = plan_to_json(plan, catalog, workflow="synthetic")["search"]["refine"]
    assert record["chosen"] == expected and record["changed"] == (expected != 0)
    assert [c["refined"]["latency_s"] for c in record["candidates"]] == \
        pytest.approx([s[1] for s in scores])
    assert [c["chosen"] for c in record["candidates"]].count(True) == 1
    # the typed allocation.json document keeps the record (it is written through it)
    from scepsy_opt.core.documents import AllocationDocument

    whole = plan_to_json(plan, catalog, workflow="synthetic")
    assert AllocationDocument.from_json(whole, source="test").to_json()["search"]["refine"] \
        == record
    # refine none: no record, the plan as without it
    assert "refine" not in plan_to_json(plain, catalog, workflow="synthetic")["search"]


def test_when_no_candidate_sustains_the_search_choice_stands(catalog):
    problem, surrogate = small(catalog)
    plan = plan_allocation(problem, catalog, surrogate,
                           refine=Scripted(surrogate.llms, 4, sustain_p=0.0))
    assert plan.refinement.chosen == 0 and "choice stands" in plan.refinement.note
    assert plan.allocation == plan_allocation(problem, catalog, surrogate).allocation


def test_refined_by_the_simulator_is_the_simulated_argmin(catalog, tmp_path):
    """The simulator as the refining evaluator: each candidate's score is the harness's own
    run of it (first fit decreasing, ``run_long`` at the target, the sustain rule)."""
    problem, surrogate = small(catalog, gpus=2, load=0.6)
    spec = parse_workflow({"name": "synthetic", "program": PROGRAM}, source_of=str,
                          llm_ids=frozenset(catalog.llms), option="synthetic")
    settings = SimulateSettings(num_requests=100, sustain=SustainSettings(
        num_requests=80, latency_spans=5.0))
    simulator = SimulatedEvaluator(spec, problem, catalog, settings, 1.0)
    plan = plan_allocation(problem, catalog, surrogate, refine=simulator, refine_candidates=3)
    refined = plan.refinement.candidates
    assert len(refined) >= 2 and simulator.simulations == len(refined)
    outcomes = []
    for r in refined:
        allocation = r.candidate.allocation
        run = PlanRunner(spec, allocation, first_fit_decreasing(allocation, problem.cluster),
                         catalog, problem.memory, settings, {}, 1.0)
        metrics = run.run_long(problem.rate_rps, settings.sustain.num_requests)
        outcomes.append((run.sustains(metrics), metrics.e2e_latency_s.mean))
        assert (r.sustains, r.latency_s) == (outcomes[-1][0], pytest.approx(outcomes[-1][1]))
    sustaining = [i for i, (ok, _) in enumerate(outcomes) if ok]
    assert sustaining
    expected = min(sustaining, key=lambda i: outcomes[i][1])
    assert plan.refinement.chosen == expected
    assert plan.allocation == refined[expected].candidate.allocation
