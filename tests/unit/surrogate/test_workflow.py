"""The workflow surrogate: critical-path sets against brute force, load calibration recovering
a synthetic ground truth."""

import jax
import numpy as np
import optax
import pytest

from scepsy_opt.surrogate import model
from scepsy_opt.surrogate.calib import WorkflowRuns, fit_load
from scepsy_opt.surrogate.paths import expected_max, path_set, row_llm_index
from scepsy_opt.testing import TokenDurations, random_program, synthetic_surrogate
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program

LLMS = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct")


def brute_force_latency(table, llm_of_row, durations):
    """Mean over requests of the longest path, each row starting when its last parent ends."""
    finish = np.full(table.num_calls, np.nan)
    pending = list(range(table.num_calls))
    while pending:
        left = []
        for row in pending:
            parents = table.parent_idx[table.parent_ptr[row]:table.parent_ptr[row + 1]]
            if np.any(np.isnan(finish[parents])):
                left.append(row)
                continue
            start = finish[parents].max() if len(parents) else 0.0
            finish[row] = start + durations[row]
        pending = left
    ends = np.zeros(table.num_requests)
    np.maximum.at(ends, table.request, finish)
    return float(ends.mean())


def _call(llm: str, mean: int) -> dict:
    return {"call": {"llm": llm, "input_tokens": {"dist": "uniform", "low": 16, "high": 900},
                     "output_tokens": {"dist": "lognormal", "mean": mean, "cv": 0.9,
                                       "min": 1, "max": 400}}}


# Parallel branches of different llms whose longest branch changes with the llms' speeds.
BRANCHES = {"seq": [_call(LLMS[0], 20), {"par": [
    _call(LLMS[0], 60), {"seq": [_call(LLMS[1], 30), _call(LLMS[2], 30)]},
    {"par": {"count": {"dist": "uniform", "low": 1, "high": 4}, "body": _call(LLMS[2], 40)}},
    {"tool": {"name": "search", "latency_s": {"dist": "exponential", "mean": 1.0}}}]},
    _call(LLMS[1], 10)]}


@pytest.mark.parametrize("seed", [0, 1, 2, "branches"])
def test_path_sets_match_brute_force_longest_paths(seed):
    rng = np.random.default_rng(7 if seed == "branches" else seed)
    program = BRANCHES if seed == "branches" else {
        "seq": [random_program(rng, LLMS, depth=3) for _ in range(2)]}
    table = sample_program(parse_program(program, source="test"), 40, seed=3,
                           durations=TokenDurations(), source="test")
    durations = np.asarray(table.end_s - table.start_s, dtype=float)
    paths = path_set(table, LLMS, durations)
    if seed == "branches":  # most requests have competing critical paths
        assert paths.W.shape[0] >= 30 and paths.J_sum.sum() + paths.J.sum() > 0
    llm_of_row = row_llm_index(table, LLMS)
    is_llm = llm_of_row >= 0
    safe = np.where(is_llm, llm_of_row, 0)

    def brute(speed, delay):
        scaled = np.where(is_llm, durations * speed[safe] + delay[safe], durations)
        return brute_force_latency(table, llm_of_row, scaled)

    one, zero = np.ones(3), np.zeros(3)
    assert paths.latency(one, zero) == pytest.approx(brute(one, zero), rel=1e-9)
    # exact at the probes the candidates were built with (one llm scaled or delayed) ...
    mean_call = np.array([durations[llm_of_row == i].mean() if np.any(llm_of_row == i)
                          else 1.0 for i in range(3)])
    for i in range(3):
        for factor in (0.25, 4.0):
            speed = one.copy()
            speed[i] = factor
            assert paths.latency(speed, zero) == pytest.approx(brute(speed, zero), rel=1e-9)
        delay = zero.copy()
        delay[i] = 4 * mean_call[i]
        assert paths.latency(one, delay) == pytest.approx(brute(one, delay), rel=1e-9)
    # ... and elsewhere a lower bound (a subset of paths) that stays close
    for _ in range(5):
        speed = rng.uniform(0.3, 3.0, 3)
        delay = rng.uniform(0, 2, 3) * mean_call
        exact = brute(speed, delay)
        assert paths.latency(speed, delay) <= exact * (1 + 1e-9)
        assert paths.latency(speed, delay) >= exact * 0.97


def test_expected_maximum_of_normals():
    # known values: E max of 2 standard normals = 1/sqrt(pi); of 3 = 3/(2 sqrt(pi))
    values = expected_max(np.array([0, 1, 2, 3, 10]))
    np.testing.assert_allclose(values[:4], [0, 0, 1 / np.sqrt(np.pi), 1.5 / np.sqrt(np.pi)],
                               atol=1e-6)
    assert values[4] == pytest.approx(1.5388, abs=1e-3)


def _truth_runs(truth, rng, allocations=24, rates_per=4) -> WorkflowRuns:
    """Calibration runs of random allocations measured on a surrogate taken as the truth."""
    A = allocations
    tp = rng.choice([1.0, 2.0, 4.0], (A, 2))
    replicas = rng.integers(1, 5, (A, 2)).astype(float)
    fraction = rng.choice([0.5, 0.75, 1.0], (A, 2))
    limits = truth.predict_batch(tp, replicas, fraction, 1.0)["throughput_rps"]
    run_allocation = np.repeat(np.arange(A), rates_per)
    rate = limits[run_allocation] * np.tile(np.linspace(0.2, 0.8, rates_per), A)
    member = np.array([float(truth.predict(tp[a], replicas[a], fraction[a], r)[
        "member_latency_s"][0]) for a, r in zip(run_allocation, rate, strict=True)])
    return WorkflowRuns(
        llms=truth.llms, members=truth.members, tp=tp, replicas=replicas, fraction=fraction,
        max_rate_rps=limits, run_allocation=run_allocation, rate_rps=rate, latency_s=member,
        member_latency_s=member[:, None],
        call_latency_s=np.full((len(rate), 2), np.nan), sustained=np.ones(len(rate), bool))


def test_load_calibration_recovers_a_synthetic_ground_truth():
    rng = np.random.default_rng(7)
    truth, _ = synthetic_surrogate(rng, LLMS[:2], requests=80)
    runs = _truth_runs(truth, rng)
    start = truth.with_load(model.init_load(jax.random.PRNGKey(0), 2))
    load, loss = fit_load(start, runs, jax.random.PRNGKey(1), optax.chain(
        optax.clip_by_global_norm(1.0), optax.adam(optax.cosine_decay_schedule(0.05, 3000,
                                                                               0.02))), 3000)
    fitted = truth.with_load(load)
    assert loss < 1e-3
    # held-out allocations: latency and max throughput within 2% of the truth
    tp2 = rng.choice([1.0, 2.0, 4.0], (12, 2))
    r2 = rng.integers(1, 5, (12, 2)).astype(float)
    f2 = rng.choice([0.5, 0.75, 1.0], (12, 2))
    true_limit = truth.predict_batch(tp2, r2, f2, 1.0)["throughput_rps"]
    fitted_limit = fitted.predict_batch(tp2, r2, f2, 1.0)["throughput_rps"]
    np.testing.assert_allclose(fitted_limit, true_limit, rtol=0.02)
    for b in range(12):
        at = 0.5 * true_limit[b]
        assert float(fitted.predict(tp2[b], r2[b], f2[b], at)["latency_s"]) == pytest.approx(
            float(truth.predict(tp2[b], r2[b], f2[b], at)["latency_s"]), rel=0.02)


def test_calibration_priors_pull_the_scales_and_the_replica_weight_only(monkeypatch):
    """The load loss adds ``LOAD_PRIOR`` times the squared distance of the delay scales and
    the replica thinning from their start and ``ETA_PRIOR`` times that of eta's replica
    weight; eta's level and concurrency-need weights are free."""
    from scepsy_opt.surrogate import calib

    rng = np.random.default_rng(5)
    truth, _ = synthetic_surrogate(rng, LLMS[:2], requests=60)
    start = dict(model.init_load(jax.random.PRNGKey(0), 2), s=jax.numpy.tile(
        jax.numpy.asarray(model.S_START), (2, 1)))
    truth = truth.with_load(start)
    data = {k: jax.numpy.asarray(v) for k, v in _truth_runs(truth, rng, 8, 3).arrays().items()}
    assert float(calib.load_loss(start, truth, data)) == pytest.approx(0.0, abs=1e-12)
    moved = dict(start, s=start["s"] + jax.numpy.array([0.0, 0.2, -0.3, 0.5]),
                 g=start["g"] + 0.4, e=start["e"] + jax.numpy.array([1.0, 0.25, -1.0]))
    with_priors = float(calib.load_loss(moved, truth, data))
    load_prior, eta_prior = calib.LOAD_PRIOR, calib.ETA_PRIOR
    monkeypatch.setattr(calib, "LOAD_PRIOR", 0.0)
    monkeypatch.setattr(calib, "ETA_PRIOR", 0.0)
    without = float(calib.load_loss(moved, truth, data))
    # two llms: each moved by 0.2, -0.3, 0.5 in s and 0.4 in g, and 0.25 in the replica weight
    expected = load_prior * 2 * (0.04 + 0.09 + 0.25 + 0.16) + eta_prior * 2 * 0.0625
    assert with_priors - without == pytest.approx(expected, rel=1e-9)


def test_calibration_budgets_replace_those_too_small_for_the_llms(catalog):
    from scepsy_opt.core.memory import MemorySettings
    from scepsy_opt.core.problem import AllocationProblem, LlmDemand
    from scepsy_opt.surrogate.calib import calibration_budgets, synthetic_cluster

    def problem(llms):
        demands = tuple(LlmDemand(llm, 1.0, 512.0, 128.0, 0.5, 4096) for llm in llms)
        return AllocationProblem(demands, 1.0, synthetic_cluster(catalog, "H100-SXM-80GB", 8),
                                 "H100-SXM-80GB", MemorySettings(), 0.8)

    small = problem(("llama-3.2-3b-instruct", "qwen2.5-7b-instruct"))
    assert calibration_budgets(small, catalog, (4, 8, 16)) == (4, 8, 16)
    # three 70B llms need at least 2 H100s each: 4 GPUs cannot hold them, 32 replaces it
    large = problem(("llama-3.1-70b-instruct", "llama-2-70b", "qwen2.5-72b-instruct"))
    assert calibration_budgets(large, catalog, (4, 8, 16)) == (8, 16, 32)


def test_a_mix_is_one_pipeline_per_member():
    """Members that share no llm queue independently: a member's latency does not depend on
    the other member's llms, and the mix saturates with its weakest member."""
    from dataclasses import replace

    llms = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct",
            "mistral-7b-instruct-v0.3")
    rng = np.random.default_rng(3)
    whole, _ = synthetic_surrogate(rng, llms, requests=80)
    order = whole.llms
    sets = []
    for pair in (order[:2], order[2:]):
        program = {"seq": [_call(pair[0], 20), {"par": [_call(pair[0], 40),
                                                        _call(pair[1], 30)]}]}
        table = sample_program(parse_program(program, source="mix"), 60, seed=7,
                               durations=TokenDurations(), source="mix")
        sets.append(path_set(table, order, table.end_s - table.start_s))
    mix = replace(whole, members=("first", "second"), member_weight=np.array([0.4, 0.6]),
                  paths=tuple(sets))
    np.testing.assert_array_equal(mix.uses, [[True, True, False, False],
                                             [False, False, True, True]])
    tp, fraction = np.ones(4), np.ones(4)
    base = mix.predict(tp, np.array([2.0, 2.0, 2.0, 2.0]), fraction, 0.4)
    # the second member's llms get more replicas: the first member's latency is unchanged,
    # the second's falls
    more = mix.predict(tp, np.array([2.0, 2.0, 5.0, 5.0]), fraction, 0.4)
    assert float(more["member_latency_s"][0]) == pytest.approx(
        float(base["member_latency_s"][0]), rel=1e-12)
    assert float(more["member_latency_s"][1]) < float(base["member_latency_s"][1])
    # throughput: the smaller of the members' soft minima
    load = mix._load()
    capacity = base["capacity_rps"]
    members = [float(model.soft_min(load["p"], capacity, np.asarray(m))) for m in mix.uses]
    assert float(base["throughput_rps"]) == pytest.approx(min(members), rel=1e-12)
    assert min(members) >= float(model.soft_min(load["p"], capacity)) - 1e-12


def test_random_allocations_fit_and_cover_fine_grained_replica_counts(catalog):
    """Every drawn allocation holds every llm, fits the budget and places by first fit; the
    replica counts are spread log-uniformly up to what the GPUs allow, so allocations with
    dozens of small instances (what the search picks on large clusters) are drawn too, not
    only the few-replica ones (a uniform draw capped at 8 never gave more than 8)."""
    from scepsy_opt.core.memory import MemorySettings
    from scepsy_opt.core.packing import first_fit
    from scepsy_opt.core.problem import AllocationProblem, LlmDemand
    from scepsy_opt.surrogate.calib import random_allocation, synthetic_cluster

    llms = ("qwen2.5-7b-instruct", "qwen2.5-math-prm-7b")
    demands = tuple(LlmDemand(llm, 8.0, 512.0, 128.0, 4.0, 4096) for llm in llms)
    problem = AllocationProblem(demands, 1.0, synthetic_cluster(catalog, "H100-SXM-80GB", 16),
                                "H100-SXM-80GB", MemorySettings(), 0.8)
    rng = np.random.default_rng(0)
    drawn = [random_allocation(problem, catalog, rng) for _ in range(200)]
    assert all(a is not None for a in drawn)
    counts = []
    for allocation in drawn:
        assert {e.llm for e in allocation.llms} == set(llms)
        assert allocation.gpus <= 16 + 1e-9
        first_fit(allocation, problem.cluster)  # raises when it does not place
        counts += [e.replicas for e in allocation.llms]
    counts = np.array(counts)
    assert counts.min() == 1
    assert (counts > 8).mean() > 0.1  # dozens of small instances are drawn
    assert (counts <= 3).mean() > 0.3  # and few replicas stay common
    capped = [random_allocation(problem, catalog, rng, max_replicas=4) for _ in range(50)]
    assert max(e.replicas for a in capped for e in a.llms) <= 4
