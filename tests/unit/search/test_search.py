"""The allocation search: brute force versus the exact oracle, the heuristic versus the oracle,
feasibility rules and the infeasible-target error."""

import dataclasses
import itertools

import numpy as np
import pytest

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.problem import AllocationError, problem_from_stats
from scepsy_opt.core.space import (
    config_arrays,
    min_replicas,
    search_space,
    sustaining_replicas,
)
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import max_achievable_rate, search, target_point
from scepsy_opt.surrogate.calib import synthetic_cluster
from scepsy_opt.testing import synthetic_surrogate

POOL = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct",
        "mistral-7b-instruct-v0.3", "qwen2.5-14b-instruct")


def instance(catalog, seed, *, llms=None, gpus=None, load=None, program=None):
    """A random small search space: synthetic surrogate, cluster and a feasible target."""
    rng = np.random.default_rng(seed)
    if llms is None:
        llms = tuple(rng.choice(POOL, int(rng.integers(2, 5)), replace=False))
    surrogate, stats = synthetic_surrogate(rng, llms, program=program, requests=60)
    cluster = synthetic_cluster(catalog, "H100-SXM-80GB", gpus or int(rng.integers(4, 9)))
    problem = problem_from_stats(stats, 1.0, cluster, MemorySettings(), 0.8)
    top, _ = max_achievable_rate(search_space(problem, catalog, surrogate))
    rate = top * (load if load is not None else rng.uniform(0.1, 0.9))
    problem = dataclasses.replace(problem, rate_rps=rate)
    return search_space(problem, catalog, surrogate)


def every_allocation(space):
    """``[N, L, 3]``: every (TP, eighths, replicas) of every llm, the combinations within the
    budget."""
    per_llm = [[(tp, k, r) for tp, k in configs for r in range(1, space.budget // (tp * k) + 1)]
               for configs in space.configs]
    return np.array([c for c in itertools.product(*per_llm)
                     if sum(tp * k * r for tp, k, r in c) <= space.budget])


def brute_force(space):
    """Every (configuration, replicas) of every llm within the budget, scored at once."""
    array = every_allocation(space)
    best = (np.inf, None)
    for start in range(0, len(array), 20000):
        chunk = array[start:start + 20000]
        scored = space.score(chunk[:, :, 0], chunk[:, :, 1], chunk[:, :, 2])
        latency = np.where(scored["feasible"], scored["latency_s"], np.inf)
        i = int(np.argmin(latency))
        if latency[i] < best[0]:
            best = (float(latency[i]), chunk[i])
    return best


def test_min_replicas_is_the_fewest_that_meet_the_cap(catalog):
    space = instance(catalog, 3)
    need = min_replicas(space, space.rate)
    tp, k, valid = config_arrays(space)
    L = len(space.llms)
    for c, i in zip(*np.nonzero(valid), strict=True):
        counts = np.arange(1, space.budget // (tp[c, i] * k[c, i]) + 1)
        # an llm's capacity depends on its own decision only: vary llm i, keep the others
        tps, ks = np.ones((len(counts), L)), np.full((len(counts), L), 8.0)
        rs = np.ones((len(counts), L))
        tps[:, i], ks[:, i], rs[:, i] = tp[c, i], k[c, i], counts
        capacity = space.evaluator.terms_batch(tps, rs, ks / 8, space.rate)["capacity_rps"]
        enough = counts[capacity[:, i] >= space.rate / space.cap * (1 - 1e-12)]
        assert need[c, i] == (enough[0] if len(enough) else 0), (c, i)


@pytest.mark.parametrize("seed", [11, 12])
def test_exact_oracle_equals_brute_force(catalog, seed):
    space = instance(catalog, seed, llms=POOL[:2], gpus=3)
    latency, _ = brute_force(space)
    result = exact(space, packing=False)
    assert result.latency_s == pytest.approx(latency, rel=1e-9)


def test_exact_oracle_with_competing_paths_equals_brute_force(catalog):
    call = {"input_tokens": {"dist": "uniform", "low": 50, "high": 900},
            "output_tokens": {"dist": "lognormal", "mean": 40, "cv": 0.9, "max": 300}}
    program = {"par": [{"call": {"llm": POOL[0], **call}}, {"call": {"llm": POOL[1], **call}}]}
    space = instance(catalog, 5, llms=POOL[:2], gpus=3, program=program)
    assert not space.evaluator.separable()
    latency, _ = brute_force(space)
    assert exact(space, packing=False).latency_s == pytest.approx(latency, rel=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_heuristic_is_within_two_percent_of_the_oracle(catalog, seed):
    space = instance(catalog, 100 + seed)
    oracle = exact(space, packing=False)
    found = search(space, packing=False)
    assert found.latency_s <= oracle.latency_s * 1.02
    entries = found.allocation.llms
    scored = space.score(np.array([[a.tp for a in entries]]),
                         np.array([[round(a.gpu_fraction * 8) for a in entries]]),
                         np.array([[a.replicas for a in entries]]))
    assert scored["feasible"][0]
    assert found.allocation.gpus <= space.problem.gpus


def test_heuristic_plans_pack_onto_the_cluster(catalog):
    from scepsy_opt.core.packing import first_fit_decreasing

    space = instance(catalog, 21, gpus=8, load=0.5)
    found = search(space)
    first_fit_decreasing(found.allocation, space.problem.cluster)  # raises when it cannot


def test_an_infeasible_target_names_the_achievable_rate(catalog):
    space = instance(catalog, 4, load=0.5)
    top, gpus = max_achievable_rate(space)
    assert gpus.sum() <= space.problem.gpus
    feasible = search_space(dataclasses.replace(space.problem, rate_rps=top * 0.99),
                            catalog, space.evaluator)
    assert search(feasible, packing=False).latency_s > 0
    too_high = search_space(dataclasses.replace(space.problem, rate_rps=top * 1.05),
                            catalog, space.evaluator)
    with pytest.raises(AllocationError) as error:
        search(too_high)
    message = str(error.value)
    assert f"at most {top:.4g} requests/s is achievable" in message
    assert "lower target.rate_rps" in message and "GPUs" in message


def test_the_workflow_throughput_is_held_to_the_cap_like_every_llm(catalog):
    """Two llms each at the cap are past it together (the workflow's throughput is the soft
    minimum of theirs): the target point adds replicas until the workflow is within the cap,
    and the achievable rate is the brute-force highest ``cap x throughput`` within a few
    percent, never above it."""
    space = instance(catalog, 2, llms=POOL[:2], gpus=3, load=0.9)
    point, need = target_point(space, space.rate)
    tp, k, _ = config_arrays(space)
    columns = np.arange(2)
    cheapest = np.argmin(np.where(need > 0, tp * k * need, 10**9), axis=0)
    per_llm = space.score(tp[cheapest, columns], k[cheapest, columns],
                          need[cheapest, columns])
    assert np.all(per_llm["rho"] <= space.cap + 1e-9)  # every llm within the cap
    assert space.rate > space.cap * per_llm["throughput_rps"][0]  # but not the workflow
    assert not per_llm["feasible"][0]
    at_point = space.score(point.tp, point.k, point.r)
    assert at_point["feasible"][0] and np.all(point.r >= need[cheapest, columns])
    found = search(space, packing=False)
    assert space.rate <= space.cap * found.throughput_rps * (1 + 1e-9)

    rows = every_allocation(space)
    scored = space.score(rows[:, :, 0], rows[:, :, 1], rows[:, :, 2])
    highest = space.cap * np.max(np.minimum(scored["throughput_rps"],
                                            scored["capacity_rps"].min(axis=1)))
    top, _ = max_achievable_rate(space)
    assert 0.95 * highest <= top <= highest * (1 + 1e-9)


def test_a_start_that_meets_a_target_the_target_point_misses_is_searched(catalog):
    """Above the achievable rate ``R`` (the greedy target point's limit) the search still
    plans from a given start that the surrogate predicts meets the target, and without one
    it names ``R``."""
    from scepsy_opt.core.types import Allocation, LlmAllocation

    space = instance(catalog, 2, llms=POOL[:2], gpus=3, load=0.9)
    top, _ = max_achievable_rate(space)
    rows = every_allocation(space)
    scored = space.score(rows[:, :, 0], rows[:, :, 1], rows[:, :, 2], rate=top)
    best = int(np.argmax(np.where(scored["feasible"], scored["throughput_rps"], -np.inf)))
    highest = space.cap * float(scored["throughput_rps"][best])
    assert highest > top * (1 + 1e-6)  # the greedy point stops short of the best allocation
    rate = (top + highest) / 2
    above = search_space(dataclasses.replace(space.problem, rate_rps=rate), catalog,
                         space.evaluator)
    assert target_point(above, rate)[0] is None
    with pytest.raises(AllocationError, match="is achievable"):
        search(above, packing=False)
    start = Allocation("given", tuple(
        LlmAllocation(llm, space.problem.gpu, int(t), int(r), kk / 8)
        for llm, (t, kk, r) in zip(space.llms, rows[best], strict=True)))
    found = search(above, packing=False, starts=(start,))
    assert rate <= space.cap * found.throughput_rps * (1 + 1e-9)


def test_combination_count_matches_enumeration():
    from scepsy_opt.search.exact import combinations

    rng = np.random.default_rng(5)
    fronts = [np.column_stack([np.zeros((n, 3)), rng.integers(1, 9, n)])
              for n in (4, 6, 3)]
    budget = 14
    counted = sum(1 for c in itertools.product(*(f[:, 3] for f in fronts)) if sum(c) <= budget)
    assert combinations(fronts, budget) == counted > 0


@pytest.mark.parametrize("method", ["gradient_guided", "exact"])
def test_when_the_placement_options_rule_out_every_node_the_place_stages_reason_is_given(
        catalog, method):
    from scepsy_opt.core.errors import PlacementError
    from scepsy_opt.core.placement import PlacementSettings

    space = instance(catalog, 21, gpus=8, load=0.5)
    assert search(space).latency_s > 0  # feasible with every node
    nodes = tuple(node.id for node in space.problem.cluster.nodes)
    closed = search_space(dataclasses.replace(
        space.problem, placement=PlacementSettings(exclude_nodes=nodes)), catalog,
        space.evaluator)
    with pytest.raises(PlacementError) as error:
        (search if method == "gradient_guided" else exact)(closed)
    message = str(error.value)
    assert "is excluded or outside its pins" in message
    assert "Fix: relax placement.exclude_nodes" in message
    assert f"meets {space.problem.rate_rps:g} requests/s" in message


def test_when_the_fewest_gpus_do_not_pack_the_cheapest_point_that_packs_is_used(
        catalog, monkeypatch):
    from scepsy_opt.core.space import SearchSpace

    space = instance(catalog, 21, gpus=8, load=0.5)
    need = min_replicas(space, space.rate)
    tp, k, _ = config_arrays(space)
    L = len(space.llms)
    choices = [[c for c in range(need.shape[0]) if need[c, i] > 0] for i in range(L)]

    def point(combo):
        """The combination's target point: replicas raised until the workflow sustains it."""
        tps = np.array([tp[c, i] for i, c in enumerate(combo)])
        ks = np.array([k[c, i] for i, c in enumerate(combo)])
        rs = sustaining_replicas(space, tps, ks, [need[c, i] for i, c in enumerate(combo)],
                                 space.rate)
        return None if rs is None else (tuple(map(int, tps)), tuple(map(int, ks)),
                                        tuple(map(int, rs)))

    def cost(combo):  # the order the combinations are tried in
        return sum(int(tp[c, i] * k[c, i] * need[c, i]) for i, c in enumerate(combo))

    combos = list(itertools.product(*choices))
    cheapest = min(cost(c) for c in combos)
    # every cheapest point is made not to pack (as slivers of fractions no llm can use)
    rejected = {point(c) for c in combos if cost(c) == cheapest}
    original = SearchSpace.packs

    def packs(self, tp_, k_, r_):
        key = (tuple(int(x) for x in tp_), tuple(int(x) for x in k_),
               tuple(int(x) for x in r_))
        return key not in rejected and original(self, tp_, k_, r_)

    monkeypatch.setattr(SearchSpace, "packs", packs)
    # brute force: the points of the cheapest combinations whose points pack
    packing = [(cost(c), point(c)) for c in combos if point(c) is not None
               and packs(space, *map(np.array, point(c)))]
    first = min(spent for spent, _ in packing)
    expected = {sum(a * b * c for a, b, c in zip(*p, strict=True))
                for spent, p in packing if spent == first}
    found = search(space)
    step = next(s for s in found.trace if s.move == "fewest GPUs that meet the target and pack")
    assert step.gpus * 8 in expected and first > cheapest
    entries = [found.allocation.llm(llm) for llm in space.llms]
    assert packs(space, np.array([e.tp for e in entries]),
                 np.array([round(e.gpu_fraction * 8) for e in entries]),
                 np.array([e.replicas for e in entries]))


@pytest.mark.parametrize("seed", range(4))
def test_knapsack_moves_are_the_best_sets_per_net_change_of_gpus(catalog, seed):
    """Brute force over every set of at most one change per llm: each multi-llm move is the
    best set for its net change of GPUs within the budget, and the moves are the best such
    sets (the global best first)."""
    from scepsy_opt.search.heuristic import KNAPSACK_SETS, _Search

    space = instance(catalog, 40 + seed, gpus=8)
    run = _Search(space, 10, packing=False)
    state, _ = target_point(space, space.rate)
    L = len(space.llms)
    rng = np.random.default_rng(seed)
    owner = np.sort(rng.integers(0, L, 5 * L))
    effect = rng.normal(-0.5, 1.0, len(owner))
    effect[rng.random(len(owner)) < 0.1] = np.inf  # infeasible changes are never chosen
    extra = rng.integers(-6, 9, len(owner))
    changes = []
    for o, i in enumerate(owner):
        changed = state.copy()
        changed.r[i] += o + 1  # a distinct state per change (only llm i's entry is used)
        changes.append((int(i), f"c{o}", changed))
    left = space.budget - space.cost(state.tp, state.k, state.r)
    moves = run.knapsack_moves(state, changes, owner, effect, extra, left)
    # brute force: the best summed effect for every net change of GPUs within the budget
    best: dict[int, tuple[float, int]] = {}
    options = [[None] + [o for o in range(len(owner)) if owner[o] == i] for i in range(L)]
    for combo in itertools.product(*options):
        chosen = [o for o in combo if o is not None]
        cost = int(sum(extra[o] for o in chosen))
        value = float(sum(effect[o] for o in chosen))
        if cost <= left and np.isfinite(value) and value < best.get(cost, (np.inf, 0))[0]:
            best[cost] = (value, len(chosen))
    ranked = sorted(best, key=lambda cost: best[cost][0])[:KNAPSACK_SETS]
    # the moves: those of the best sets (in order) that change several llms
    expected = [cost for cost in ranked if best[cost][0] < 0 and best[cost][1] >= 2]
    assert expected, "some set of several changes cuts the summed effect"
    costs = []
    for text, combined in moves:
        chosen = [int(t[1:]) for t in text.split("; ")]
        assert len({owner[o] for o in chosen}) == len(chosen) >= 2
        costs.append(int(sum(extra[o] for o in chosen)))
        assert sum(effect[o] for o in chosen) == pytest.approx(best[costs[-1]][0], abs=1e-9)
        for o in chosen:
            assert combined.r[owner[o]] == changes[o][2].r[owner[o]]
    assert costs == expected
