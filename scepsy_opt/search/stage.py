"""The search stage's entry: the allocation with the lowest predicted latency that sustains the
target, and its ``allocation.json`` record.

The baselines (:mod:`scepsy_opt.simulate.baselines`) that fit the problem are extra starting
points of the heuristic, so the plan is never predicted worse than any of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scepsy_opt.profile.memory import memory_plan
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import SearchResult, search
from scepsy_opt.search.problem import FRACTION_GRID, AllocationError, AllocationProblem
from scepsy_opt.search.space import SearchSpace, search_space
from scepsy_opt.simulate import baselines
from scepsy_opt.surrogate.fit import LlmFit, WorkflowFit
from scepsy_opt.surrogate.workflow import WorkflowSurrogate
from scepsy_opt.types import Allocation, Catalog

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
START_BASELINES = ("independent", "user_specified", "pooled_tp1")


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


def baseline_starts(problem: AllocationProblem, catalog: Catalog) -> tuple[Allocation, ...]:
    """The closed-form baselines that exist for the problem (for the search to start from)."""
    starts = []
    for name in START_BASELINES:
        try:
            starts.append(getattr(baselines, name)(problem, catalog))
        except AllocationError as error:
            log.info("baseline %s is no starting point: %s", name, error.problem)
    return tuple(starts)


def plan_allocation(problem: AllocationProblem, catalog: Catalog, surrogate: WorkflowSurrogate,
                    *, method: str = "gradient_guided", max_steps: int = 500) -> Plan:
    """Search the allocation (``method``: the gradient-guided heuristic, or the exact oracle
    for small instances)."""
    space = search_space(problem, catalog, surrogate)
    if method == "exact":
        result = exact(space)
    else:
        result = search(space, max_steps=max_steps,
                        starts=baseline_starts(problem, catalog))
    log.info("search (%s): %s, predicted latency %.4g s, throughput %.4g rps, %d allocations "
             "scored in %.2f s", method, describe(result.allocation), result.latency_s,
             result.throughput_rps, result.evaluated, result.elapsed_s)
    return Plan(problem, space, result, method)


def describe(allocation: Allocation) -> str:
    return "; ".join(f"{a.llm} TP{a.tp} x{a.replicas} @{a.gpu_fraction:g}"
                     for a in allocation.llms)


def plan_to_json(plan: Plan, surrogate: WorkflowSurrogate, catalog: Catalog, *,
                 workflow: str, fits: dict[str, LlmFit] | None = None,
                 workflow_fit: WorkflowFit | None = None, fit_s: float | None = None) -> dict:
    """The ``allocation.json`` document."""
    problem, allocation = plan.problem, plan.allocation
    tp = np.array([allocation.llm(llm).tp for llm in surrogate.llms], dtype=float)
    replicas = np.array([allocation.llm(llm).replicas for llm in surrogate.llms], dtype=float)
    fraction = np.array([allocation.llm(llm).gpu_fraction for llm in surrogate.llms])
    out = surrogate.predict(tp, replicas, fraction, problem.rate_rps)
    parts = surrogate.breakdown(tp, replicas, fraction, problem.rate_rps)
    latency = float(out["latency_s"])
    llms = {}
    for i, llm in enumerate(surrogate.llms):
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
            "calls_per_request": float(surrogate.calls_per_request[i]),
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
                surrogate.members, np.asarray(out["member_latency_s"]), strict=True)},
            "bottleneck": surrogate.llms[int(np.argmax(np.asarray(out["rho"])))],
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
    if fits is not None:
        document["fit"] = {
            "elapsed_s": fit_s,
            "instances": {llm: {"key": f.key, "reused": f.reused, "errors_pct": f.errors}
                          for llm, f in fits.items()},
        }
        if workflow_fit is not None:
            document["fit"]["workflow"] = {
                "key": workflow_fit.key, "reused": workflow_fit.reused,
                "loss": workflow_fit.loss, "errors_pct": workflow_fit.errors,
                "calibration_runs": workflow_fit.calibration_runs,
            }
    return document

