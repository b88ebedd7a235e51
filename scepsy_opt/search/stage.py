"""The search stage's entry: the allocation with the lowest predicted latency that sustains the
target, and its ``allocation.json`` record.

The caller's starting allocations (the pipeline passes the closed-form baselines of
:mod:`scepsy_opt.evaluate.baselines` that fit the problem) are extra starting points of the
heuristic, so the plan is never predicted worse than any of them. Allocations are scored by an
:class:`~scepsy_opt.core.evaluator.Evaluator` (the fitted surrogate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np

from scepsy_opt.core.evaluator import GradientEvaluator
from scepsy_opt.core.memory import memory_plan
from scepsy_opt.core.problem import FRACTION_GRID, AllocationProblem
from scepsy_opt.core.settings import check
from scepsy_opt.core.space import SearchSpace, search_space
from scepsy_opt.core.types import Allocation, Catalog
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import SearchResult, search

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SearchSettings:
    """The search stage (``conf/search``): ``method``, the gradient-guided heuristic over TP
    degrees, replicas and GPU fractions or the exhaustive ``exact`` oracle (small instances);
    ``max_steps``, the heuristic's step limit."""

    method: Literal["gradient_guided", "exact"] = "gradient_guided"
    max_steps: int = 500

    def __post_init__(self) -> None:
        check(self.max_steps > 0, "max_steps", "must be > 0", self.max_steps,
              "allow the search at least one step")


@dataclass(frozen=True, eq=False)
class Plan:
    """The search stage's result: the allocation, its predictions and how it was found."""

    problem: AllocationProblem
    space: SearchSpace
    result: SearchResult
    method: str

    @property
    def allocation(self) -> Allocation:
        return self.result.allocation


def plan_allocation(problem: AllocationProblem, catalog: Catalog, evaluator: GradientEvaluator,
                    *, method: str = "gradient_guided", max_steps: int = 500,
                    starts: tuple[Allocation, ...] = ()) -> Plan:
    """Search the allocation (``method``: the gradient-guided heuristic, also from ``starts``,
    or the exact oracle for small instances)."""
    space = search_space(problem, catalog, evaluator)
    if method == "exact":
        result = exact(space)
    else:
        result = search(space, max_steps=max_steps, starts=starts)
    log.info("search (%s): %s, predicted latency %.4g s, throughput %.4g rps, %d allocations "
             "scored in %.2f s", method, describe(result.allocation), result.latency_s,
             result.throughput_rps, result.evaluated, result.elapsed_s)
    return Plan(problem, space, result, method)


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
    if fit is not None:
        document["fit"] = fit
    return document

