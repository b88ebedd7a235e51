"""Baseline allocations: how operators size multi-LLM workflows without scepsy_opt.

Each producer takes an :class:`~scepsy_opt.core.problem.AllocationProblem` (the same input the
search stage answers) and returns an :class:`~scepsy_opt.core.types.Allocation`:

- ``independent``: every llm sized on its own, as per-model autoscaling does: whole GPUs at the
  smallest TP degree that holds it, ``replicas = ceil(call rate / (capacity x cap))`` with the
  per-replica capacity of its own call mix; when the GPUs run out, replicas shrink
  proportionally (at least one each).
- ``user_specified``: a static hand split: ``floor(GPUs / llms)`` whole GPUs per llm, the
  smallest TP degree that holds it, the rest of its share as replicas.
- ``pooled_tp1``: llms that fit one GPU share a pool at TP 1, every pool GPU running one
  instance of each with GPU fractions proportional to their calls per request (at least the
  smallest fraction that holds each, on the 1/8 grid); llms that need more than one GPU get one
  dedicated replica at the smallest TP degree that holds them.
- ``exact``: every allocation of a small instance (TP, replicas and fractions in
  {1/4, 1/2, 3/4, 1}) within the GPU budget, enumerated by the exhaustive search's own
  enumeration (:mod:`scepsy_opt.search.exact`) over the coarse grid of the search space and
  scored by a caller-given evaluator (the harness's simulator,
  :class:`scepsy_opt.evaluate.simulated.SimulatedEvaluator`): the lowest mean latency among
  those that sustain the rate, else the highest throughput.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import get_args

import numpy as np

from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.problem import (
    FRACTION_GRID,
    AllocationError,
    AllocationProblem,
    min_fraction,
    smallest_tp,
)
from scepsy_opt.core.space import SearchSpace, search_space
from scepsy_opt.core.types import Allocation, Catalog, LlmAllocation
from scepsy_opt.search.exact import budget_combinations, combinations, replica_options
from scepsy_opt.sim.capacity import replica_capacity_rps
from scepsy_opt.sim.settings import Baseline

log = logging.getLogger(__name__)
BASELINES = get_args(Baseline)
EXACT_FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def _need_tp(problem: AllocationProblem, catalog: Catalog, llm: str, method: str) -> int:
    tp = smallest_tp(problem, catalog, llm)
    if tp is None:
        raise AllocationError(
            f"no TP degree up to {problem.max_tp} holds {llm} on {problem.gpu}",
            source=f"baseline '{method}'", field=llm, value=problem.gpu,
            fix="use a cluster with larger or more GPUs per node")
    return tp


def independent(problem: AllocationProblem, catalog: Catalog) -> Allocation:
    sizes: dict[str, tuple[int, int]] = {}
    for d in problem.demands:
        tp = _need_tp(problem, catalog, d.llm, "independent")
        capacity = replica_capacity_rps(problem, catalog, d.llm, tp, 1.0)
        wanted = math.ceil(problem.call_rate_rps(d.llm) / (capacity * problem.utilization_cap))
        sizes[d.llm] = (tp, max(1, wanted))
    total = sum(tp * r for tp, r in sizes.values())
    note = ""
    if total > problem.gpus:
        factor = problem.gpus / total
        sizes = {llm: (tp, max(1, math.floor(r * factor))) for llm, (tp, r) in sizes.items()}
        while sum(tp * r for tp, r in sizes.values()) > problem.gpus:
            llm = max((k for k, (_, r) in sizes.items() if r > 1),
                      key=lambda k: sizes[k][0] * sizes[k][1], default=None)
            if llm is None:
                raise AllocationError(
                    "one replica of every llm needs more GPUs than the cluster has",
                    source="baseline 'independent'", value=total,
                    fix="use a larger cluster")
            tp, r = sizes[llm]
            sizes[llm] = (tp, r - 1)
        note = f"wanted {total} GPUs, shrunk proportionally to {problem.gpus}"
    return Allocation("independent", tuple(
        LlmAllocation(llm, problem.gpu, tp, r, 1.0) for llm, (tp, r) in sorted(sizes.items())),
        note)


def user_specified(problem: AllocationProblem, catalog: Catalog) -> Allocation:
    share = problem.gpus // len(problem.demands)
    entries = []
    for d in problem.demands:
        tp = _need_tp(problem, catalog, d.llm, "user_specified")
        if tp > share:
            raise AllocationError(
                f"an equal split gives {d.llm} {share} GPUs but it needs TP {tp}",
                source="baseline 'user_specified'", field=d.llm, value=share,
                fix="use a cluster with more GPUs")
        entries.append(LlmAllocation(d.llm, problem.gpu, tp, share // tp, 1.0))
    unused = problem.gpus - sum(e.tp * e.replicas for e in entries)
    return Allocation("user_specified", tuple(sorted(entries, key=lambda e: e.llm)),
                      f"{share} GPUs per llm; {unused} GPUs left idle" if unused else "")


def pooled_tp1(problem: AllocationProblem, catalog: Catalog) -> Allocation:
    pooled, dedicated = [], []
    for d in problem.demands:
        tp = _need_tp(problem, catalog, d.llm, "pooled_tp1")
        (pooled if tp == 1 else dedicated).append((d, tp))
    pool_gpus = problem.gpus - sum(tp for _, tp in dedicated)
    entries = [LlmAllocation(d.llm, problem.gpu, tp, 1, 1.0) for d, tp in dedicated]
    if pooled:
        if pool_gpus < 1:
            raise AllocationError("no GPU is left for the pool", source="baseline 'pooled_tp1'",
                                  value=problem.gpus, fix="use a larger cluster")
        floors = {d.llm: min_fraction(problem, catalog, d.llm, 1) for d, _ in pooled}
        units = {llm: round(f * FRACTION_GRID) for llm, f in floors.items()}  # type: ignore[operator]
        if sum(units.values()) > FRACTION_GRID:
            raise AllocationError(
                "the pooled llms' smallest fractions do not fit on one GPU",
                source="baseline 'pooled_tp1'",
                value={llm: u / FRACTION_GRID for llm, u in units.items()},
                fix="pool fewer llms or use GPUs with more memory")
        calls = {d.llm: d.calls_per_request for d, _ in pooled}
        while sum(units.values()) < FRACTION_GRID:
            # the next 1/8 goes where it is furthest below the call-proportional share
            llm = max(sorted(units), key=lambda k: calls[k] / sum(calls.values())
                      - units[k] / FRACTION_GRID)
            units[llm] += 1
        entries += [LlmAllocation(llm, problem.gpu, 1, pool_gpus, u / FRACTION_GRID)
                    for llm, u in units.items()]
    return Allocation("pooled_tp1", tuple(sorted(entries, key=lambda e: e.llm)),
                      f"{pool_gpus} pooled GPUs" if pooled else "")


def exact_space(problem: AllocationProblem, catalog: Catalog, evaluator: Evaluator
                ) -> SearchSpace:
    """The search space of the problem on the coarse grid: every llm's configurations with a
    fraction in ``EXACT_FRACTIONS``."""
    space = search_space(problem, catalog, evaluator)
    coarse = {round(f * FRACTION_GRID) for f in EXACT_FRACTIONS}
    return dataclasses.replace(space, configs=tuple(
        tuple((tp, k) for tp, k in configs if k in coarse) for configs in space.configs))


def exact_candidates(space: SearchSpace) -> np.ndarray:
    """Every allocation of the space within the GPU budget, any replica count from one (not
    only those within the utilisation cap: the simulator judges): rows ``[tp.., k.., r..]``
    (:func:`scepsy_opt.search.exact.budget_combinations`)."""
    return budget_combinations(space, replica_options(space))


def exact(problem: AllocationProblem, catalog: Catalog, evaluator: Evaluator,
          max_candidates: int) -> Allocation:
    """The exhaustive baseline: every candidate of :func:`exact_candidates` on the coarse grid
    scored by ``evaluator`` at the target (one batch); at most ``max_candidates`` of them
    (counted without enumerating them)."""
    space = exact_space(problem, catalog, evaluator)
    fronts = replica_options(space)
    size = combinations(fronts, space.budget)
    if size > max_candidates:
        raise AllocationError(
            f"{size:,} candidate allocations within the GPU budget, more than "
            f"{max_candidates}: exhaustive search is for small instances",
            source="baseline 'exact'", value=size,
            fix=f"raise simulate.exact_max_candidates to {size} or drop 'exact'")
    rows = budget_combinations(space, fronts)
    L = len(space.llms)
    scored = space.score(rows[:, :L], rows[:, L:2 * L], rows[:, 2 * L:]) if len(rows) else {}
    placed = np.asarray(scored.get("placed", np.ones(len(rows), dtype=bool)), dtype=bool)
    if not np.any(placed):
        raise AllocationError("no allocation fits the cluster", source="baseline 'exact'",
                              fix="use a larger cluster")
    sustaining = np.flatnonzero(scored["feasible"] & placed)
    gpus, latency = scored["gpus"], scored["latency_s"]
    if len(sustaining):  # lowest latency, then fewest GPUs, then enumeration order
        best = sustaining[np.lexsort((gpus[sustaining], latency[sustaining]))[0]]
    else:  # highest throughput, then fewest GPUs
        ranked = np.flatnonzero(placed)
        best = ranked[np.lexsort((gpus[ranked], -scored["throughput_rps"][ranked]))[0]]
    unplaced = len(rows) - int(placed.sum())
    state = rows[best].reshape(3, L).astype(int)
    return space.allocation(
        state[0], state[1], state[2], "exact",
        note=f"best of {int(placed.sum())} candidates by simulation"
             + (f" ({unplaced} more within the budget do not place)" if unplaced else "")
             + ("" if len(sustaining) else "; none sustains the rate"))


CLOSED_FORM_PRODUCERS = {"independent": independent, "user_specified": user_specified,
                         "pooled_tp1": pooled_tp1}


def closed_form(problem: AllocationProblem, catalog: Catalog
                ) -> dict[str, Allocation | AllocationError]:
    """Every closed-form baseline of the problem, or the error saying why it does not exist
    (the search's extra starting points, the report's predicted curves)."""
    out: dict[str, Allocation | AllocationError] = {}
    for name, producer in CLOSED_FORM_PRODUCERS.items():
        try:
            out[name] = producer(problem, catalog)
        except AllocationError as error:
            out[name] = error
    return out


def starts(problem: AllocationProblem, catalog: Catalog) -> tuple[Allocation, ...]:
    """The closed-form baselines that exist for the problem, for the search to start from."""
    found = closed_form(problem, catalog)
    for name, entry in found.items():
        if isinstance(entry, AllocationError):
            log.info("baseline %s is no starting point: %s", name, entry.problem)
    return tuple(a for a in found.values() if isinstance(a, Allocation))
