"""The search stage's entry: the allocation with the lowest predicted latency that sustains the
target, and its ``allocation.json`` record.

The caller's starting allocations (the pipeline passes the closed-form baselines of
:mod:`scepsy_opt.evaluate.baselines` that fit the problem) are extra starting points of the
heuristic, so the plan is never predicted worse than any of them. Allocations are scored by an
:class:`~scepsy_opt.core.evaluator.Evaluator` (the fitted surrogate).

With a refining evaluator (``search.refine=simulate``: the pipeline passes the simulator's,
:class:`scepsy_opt.evaluate.simulated.SimulatedEvaluator`), the search keeps its best few
feasible allocations that pack (its result and the next best by predicted latency,
``search.refine_candidates`` in all) and the refining evaluator scores them at the target: the
one with the lowest refined mean latency among those that sustain the target is the plan
(none sustains: the search's own choice stands). Where the surrogate's ranking of close
allocations is within its error, this decides between them by the simulator.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from scepsy_opt.core.evaluator import Evaluator, GradientEvaluator
from scepsy_opt.core.memory import memory_plan
from scepsy_opt.core.problem import FRACTION_GRID, AllocationProblem
from scepsy_opt.core.settings import check
from scepsy_opt.core.space import SearchSpace, search_space
from scepsy_opt.core.types import Allocation, Catalog
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import Candidate, SearchResult, TraceStep, search

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SearchSettings:
    """The search stage (``conf/search``): ``method``, the gradient-guided heuristic over TP
    degrees, replicas and GPU fractions or the exhaustive ``exact`` oracle (small instances);
    ``max_steps``, the heuristic's step limit; ``refine``: ``none``, or ``simulate``: the
    search keeps its best ``refine_candidates`` feasible allocations (its choice and the next
    best by predicted latency) and the simulator (``simulate`` settings, at the target) picks
    the fastest that sustains the target (``allocation.json``'s ``search.refine`` records it)."""

    method: Literal["gradient_guided", "exact"] = "gradient_guided"
    max_steps: int = 500
    refine: Literal["none", "simulate"] = "none"
    refine_candidates: int = 4

    def __post_init__(self) -> None:
        check(self.max_steps > 0, "max_steps", "must be > 0", self.max_steps,
              "allow the search at least one step")
        check(self.refine_candidates >= 1, "refine_candidates", "must be >= 1",
              self.refine_candidates, "keep at least the search's own choice")


@dataclass(frozen=True)
class Refined:
    """One candidate of a refinement: the search's prediction and the refining evaluator's
    score at the target."""

    candidate: Candidate
    latency_s: float
    throughput_rps: float
    sustains: bool


@dataclass(frozen=True)
class Refinement:
    """What ``search.refine`` did: every candidate (by predicted latency, the search's choice
    first) refined, and which one became the plan."""

    method: str
    candidates: tuple[Refined, ...]
    chosen: int
    elapsed_s: float
    note: str = ""


@dataclass(frozen=True, eq=False)
class Plan:
    """The search stage's result: the allocation, its predictions and how it was found."""

    problem: AllocationProblem
    space: SearchSpace
    result: SearchResult
    method: str
    refinement: Refinement | None = None

    @property
    def allocation(self) -> Allocation:
        return self.result.allocation


REFINE_METHODS = ("none", "simulate")


def plan_allocation(problem: AllocationProblem, catalog: Catalog, evaluator: GradientEvaluator,
                    *, method: str = "gradient_guided", max_steps: int = 500,
                    starts: tuple[Allocation, ...] = (), refine: Evaluator | None = None,
                    refine_candidates: int = 4, refine_method: str = "simulate") -> Plan:
    """Search the allocation (``method``: the gradient-guided heuristic, also from ``starts``,
    or the exact oracle for small instances); with ``refine``, its best
    ``refine_candidates`` re-ranked by that evaluator (the module text; ``refine_method``
    names it in the record)."""
    space = search_space(problem, catalog, evaluator)
    alternatives = refine_candidates if refine is not None else 0
    if method == "exact":
        result = exact(space, alternatives=alternatives)
    else:
        result = search(space, max_steps=max_steps, starts=starts, alternatives=alternatives)
    log.info("search (%s): %s, predicted latency %.4g s, throughput %.4g rps, %d allocations "
             "scored in %.2f s", method, describe(result.allocation), result.latency_s,
             result.throughput_rps, result.evaluated, result.elapsed_s)
    refinement = None
    if refine is not None:
        refinement = refine_candidates_by(refine, result.candidates, problem, refine_method)
        result = refined_result(result, refinement)
    return Plan(problem, space, result, method, refinement)


def refine_candidates_by(evaluator: Evaluator, candidates: tuple[Candidate, ...],
                         problem: AllocationProblem, method: str) -> Refinement:
    """Score the candidates with ``evaluator`` at the target rate and choose the one with the
    lowest mean latency among those it says sustain the rate (its ``sustains``, else its
    throughput within the utilisation cap); none sustains: the first (the search's choice)."""
    started = time.perf_counter()
    llms = evaluator.llms
    arrays = [np.array([[getattr(c.allocation.llm(llm), name) for llm in llms]
                        for c in candidates], dtype=float)
              for name in ("tp", "replicas", "gpu_fraction")]
    out = evaluator.predict_batch(*arrays, problem.rate_rps)
    latency = np.asarray(out["latency_s"], dtype=float)
    throughput = np.asarray(out["throughput_rps"], dtype=float)
    sustains = (np.asarray(out["sustains"], dtype=bool) if "sustains" in out else
                problem.rate_rps <= (problem.utilization_cap + 1e-9) * throughput)
    refined = tuple(Refined(c, float(latency[i]), float(throughput[i]), bool(sustains[i]))
                    for i, c in enumerate(candidates))
    note = ""
    if np.any(sustains):
        chosen = int(np.argmin(np.where(sustains, latency, np.inf)))  # ties: predicted order
    else:
        chosen = 0
        note = "no candidate sustains the target by the refining evaluator; the search's " \
               "choice stands"
    elapsed = time.perf_counter() - started
    log.info("search refined by %s: %d candidates in %.1f s, chose #%d (%s), %s latency "
             "%.4g s against %.4g s for the search's choice", method, len(refined), elapsed,
             chosen, describe(candidates[chosen].allocation), method, latency[chosen],
             latency[0])
    return Refinement(method, refined, chosen, elapsed, note)


def refined_result(result: SearchResult, refinement: Refinement) -> SearchResult:
    """The search's result with the refinement's choice as its allocation (its predictions
    the search's) and a last trace step."""
    chosen = refinement.candidates[refinement.chosen]
    candidate = chosen.candidate
    step = TraceStep(len(result.trace), "refine",
                     f"candidate {refinement.chosen} of {len(refinement.candidates)} by "
                     f"{refinement.method}: {chosen.latency_s:.4g} s",
                     candidate.allocation.gpus, candidate.latency_s, candidate.throughput_rps,
                     result.elapsed_s + refinement.elapsed_s)
    return dataclasses.replace(result, allocation=candidate.allocation,
                               latency_s=candidate.latency_s,
                               throughput_rps=candidate.throughput_rps,
                               trace=(*result.trace, step))


def describe(allocation: Allocation) -> str:
    return "; ".join(f"{a.llm} TP{a.tp} x{a.replicas} @{a.gpu_fraction:g}"
                     for a in allocation.llms)


def plan_to_json(plan: Plan, catalog: Catalog, *, workflow: str, fit: dict | None = None
                 ) -> dict:
    """The ``allocation.json`` document (``fit``: the fit stage's record of the fits used)."""
    problem, allocation = plan.problem, plan.allocation
    evaluator = plan.space.evaluator
    tp = np.array([allocation.llm(llm).tp for llm in evaluator.llms], dtype=float)
    replicas = np.array([allocation.llm(llm).replicas for llm in evaluator.llms], dtype=float)
    fraction = np.array([allocation.llm(llm).gpu_fraction for llm in evaluator.llms])
    out = evaluator.predict(tp, replicas, fraction, problem.rate_rps)
    parts = evaluator.breakdown(tp, replicas, fraction, problem.rate_rps)
    latency = float(out["latency_s"])
    llms = {}
    for i, llm in enumerate(evaluator.llms):
        entry = allocation.llm(llm)
        memory = memory_plan(catalog.llms[llm], catalog.gpus[problem.gpu], entry.tp,
                             entry.gpu_fraction, problem.memory)
        llms[llm] = {
            "tp": entry.tp, "replicas": entry.replicas, "gpu_fraction": entry.gpu_fraction,
            "gpus": entry.gpus, "gpu": problem.gpu,
            "memory_per_gpu_gib": {
                "budget": memory.budget_gib_per_gpu, "weights": memory.weights_gib_per_gpu,
                "reserve": memory.reserve_gib_per_gpu,
                "kv_cache": memory.budget_gib_per_gpu - memory.weights_gib_per_gpu
                - memory.reserve_gib_per_gpu},
            "kv_capacity_tokens": memory.kv_capacity_tokens,
            "calls_per_request": float(evaluator.calls_per_request[i]),
            "predicted": {
                "utilization": float(out["rho"][i]),
                "capacity_rps": float(out["capacity_rps"][i]),
                "mean_call_latency_s": float(out["call_latency_s"][i]),
                "latency_contribution_s": float(parts["llm_s"][i]),
                "latency_share": float(parts["llm_s"][i]) / latency if latency > 0 else 0.0,
            },
        }
    result = plan.result
    document = {
        "schema_version": SCHEMA_VERSION,
        "workflow": workflow,
        "cluster": problem.cluster.name,
        "gpu": problem.gpu,
        "cluster_gpus": problem.gpus,
        "target_rate_rps": problem.rate_rps,
        "utilization_cap": problem.utilization_cap,
        "gpus_used": allocation.gpus,
        "llms": llms,
        "predicted": {
            "throughput_rps": float(out["throughput_rps"]),
            "latency_s": latency,
            "tool_latency_s": float(parts["tool_s"]),
            "members": {m: float(v) for m, v in zip(
                evaluator.members, np.asarray(out["member_latency_s"]), strict=True)},
            "bottleneck": evaluator.llms[int(np.argmax(np.asarray(out["rho"])))],
        },
        "search": {
            "method": plan.method,
            "elapsed_s": result.elapsed_s,
            "allocations_scored": result.evaluated,
            "configurations": {llm: [[t, k / FRACTION_GRID] for t, k in configs]
                               for llm, configs in zip(plan.space.llms, plan.space.configs,
                                                       strict=True)},
            "trace": [{"step": s.step, "phase": s.phase, "move": s.move, "gpus": s.gpus,
                       "latency_s": s.latency_s, "throughput_rps": s.throughput_rps,
                       "elapsed_s": s.elapsed_s} for s in result.trace],
        },
    }
    if plan.refinement is not None:
        document["search"]["refine"] = refinement_to_json(plan.refinement)
    if fit is not None:
        document["fit"] = fit
    return document



def refinement_to_json(refinement: Refinement) -> dict:
    """``allocation.json``'s ``search.refine``: per candidate (the search's choice first, then
    by predicted latency) its allocation, predicted and refined latency and throughput, and
    whether it sustains the target; which one won."""
    return {
        "method": refinement.method,
        "chosen": refinement.chosen,
        "changed": refinement.chosen != 0,
        "elapsed_s": refinement.elapsed_s,
        "note": refinement.note,
        "candidates": [{
            "allocation": {e.llm: {"tp": e.tp, "replicas": e.replicas,
                                   "gpu_fraction": e.gpu_fraction}
                           for e in r.candidate.allocation.llms},
            "gpus": r.candidate.allocation.gpus,
            "predicted": {"latency_s": r.candidate.latency_s,
                          "throughput_rps": r.candidate.throughput_rps},
            # not finite: the refining evaluator could not run it (e.g. it does not place)
            "refined": {"latency_s": _finite(r.latency_s),
                                "throughput_rps": _finite(r.throughput_rps),
                                "sustains": r.sustains},
            "chosen": i == refinement.chosen,
        } for i, r in enumerate(refinement.candidates)],
    }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
