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
  {1/4, 1/2, 3/4, 1}) within the GPU budget, scored by a caller-given simulator run: the lowest
  mean latency among those that sustain the rate, else the highest throughput.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

from scepsy_opt.core.packing import PlacementError, first_fit
from scepsy_opt.core.problem import (
    FRACTION_GRID,
    AllocationError,
    AllocationProblem,
    holds,
    min_fraction,
    smallest_tp,
)
from scepsy_opt.core.types import TP_DEGREES, Allocation, Catalog, LlmAllocation
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


@dataclass(frozen=True)
class Score:
    """A candidate's simulated outcome at the target rate."""

    sustains: bool
    mean_latency_s: float
    throughput_rps: float


def exact_candidates(problem: AllocationProblem, catalog: Catalog,
                     limit: int | None = None) -> list[Allocation]:
    """Every allocation on the coarse grid that fits the budget and places by first fit;
    with ``limit``, the enumeration stops at ``limit + 1`` of them (more than anyone will
    simulate: a mix of five llms on 16 GPUs has billions of combinations)."""
    options = []
    for d in problem.demands:
        choices = []
        for tp in TP_DEGREES:
            for fraction in EXACT_FRACTIONS:
                if not holds(problem, catalog, d.llm, tp, fraction):
                    continue
                for replicas in range(1, int(problem.gpus // (tp * fraction)) + 1):
                    choices.append(LlmAllocation(d.llm, problem.gpu, tp, replicas, fraction))
        if not choices:
            raise AllocationError(f"no configuration holds {d.llm}", source="baseline 'exact'",
                                  field=d.llm, fix="use a cluster with larger GPUs")
        options.append(sorted(choices, key=lambda e: e.gpus))
    # the fewest GPUs the llms after each position still need, to prune early
    least = [0.0] * (len(options) + 1)
    for i in range(len(options) - 1, -1, -1):
        least[i] = least[i + 1] + options[i][0].gpus
    out: list[Allocation] = []

    def extend(i: int, chosen: list[LlmAllocation], used: float) -> bool:
        if i == len(options):
            allocation = Allocation("exact", tuple(chosen))
            try:
                first_fit(allocation, problem.cluster)
            except PlacementError:
                return True
            out.append(allocation)
            return limit is None or len(out) <= limit
        for entry in options[i]:
            if used + entry.gpus + least[i + 1] > problem.gpus + 1e-9:
                break  # sorted by GPUs: every later choice is larger
            if not extend(i + 1, [*chosen, entry], used + entry.gpus):
                return False
        return True

    extend(0, [], 0.0)
    return out


def exact(problem: AllocationProblem, catalog: Catalog, score: Callable[[Allocation], Score],
          max_candidates: int) -> Allocation:
    candidates = exact_candidates(problem, catalog, limit=max_candidates)
    if len(candidates) > max_candidates:
        raise AllocationError(
            f"more than {max_candidates} candidate allocations: exhaustive search is for small "
            "instances",
            source="baseline 'exact'", value=len(candidates),
            fix=f"raise simulate.exact_max_candidates above {len(candidates)} or drop 'exact'")
    if not candidates:
        raise AllocationError("no allocation fits the cluster", source="baseline 'exact'",
                              fix="use a larger cluster")
    scored = [(score(c), c) for c in candidates]
    sustaining = [(s, c) for s, c in scored if s.sustains]
    if sustaining:
        best = min(sustaining, key=lambda sc: (sc[0].mean_latency_s, sc[1].gpus))
    else:
        best = max(scored, key=lambda sc: (sc[0].throughput_rps, -sc[1].gpus))
    return Allocation("exact", best[1].llms,
                      f"best of {len(candidates)} candidates by simulation"
                      + ("" if sustaining else "; none sustains the rate"))


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
