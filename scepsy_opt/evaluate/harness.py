"""The evaluation harness: every plan and baseline placed, simulated at the target rate and
pushed to its highest sustainable rate (:class:`scepsy_opt.sim.runner.PlanRunner`), and the
``evaluation.json`` document.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from scepsy_opt.core.artifacts import SCHEMA_VERSION, to_jsonable
from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.packing import PlacementError, first_fit_decreasing
from scepsy_opt.core.problem import AllocationError, AllocationProblem
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.types import Allocation, Catalog, Placement
from scepsy_opt.evaluate import baselines as base
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.sim.metrics import SimulationMetrics
from scepsy_opt.sim.runner import PlanRunner, RateProbe, capacity_bound_rps, metrics_to_json
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.workflow.spec import WorkflowSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanEvaluation:
    name: str
    allocation: Allocation | None
    placement: Placement | None
    at_target: SimulationMetrics | None
    max_sustainable_rate_rps: float
    error: str = ""
    probes: tuple[RateProbe, ...] = ()  # the rates simulated to find the sustainable one


@dataclass(frozen=True)
class EvaluationResult:
    workflow: str
    cluster: str
    gpu: str
    target_rate_rps: float
    plans: tuple[PlanEvaluation, ...]


def produce(name: str, problem: AllocationProblem, catalog: Catalog, evaluator: Evaluator,
            max_candidates: int) -> Allocation:
    if name in base.CLOSED_FORM_PRODUCERS:
        return base.CLOSED_FORM_PRODUCERS[name](problem, catalog)
    if name == "exact":
        return base.exact(problem, catalog, evaluator, max_candidates)
    raise ValueError(f"unknown baseline {name!r}")


def evaluate(spec: WorkflowSpec, problem: AllocationProblem, catalog: Catalog,
             settings: SimulateSettings, unloaded_latency_s: float, *,
             profiles: Mapping[tuple[str, str], ProfileTable] | None = None,
             plans: Mapping[str, Allocation] | None = None) -> EvaluationResult:
    """Simulate every baseline (and the given ``plans``) at the target rate and find each one's
    highest sustainable rate."""
    profiles = profiles or {}

    def runner(allocation: Allocation, placement: Placement) -> PlanRunner:
        return PlanRunner(spec, allocation, placement, catalog, problem.memory, settings,
                          profiles, unloaded_latency_s, problem.call_overhead_s)

    # the exact baseline's candidates placed as the harness places them, first fit decreasing
    simulator = SimulatedEvaluator(spec, problem, catalog, settings, unloaded_latency_s,
                                   profiles, fallback=False)
    names = list(plans or {}) + list(settings.baselines)
    progress = Progress("evaluate", len(names), log, interval_s=0.0)
    results = []
    for name in names:
        try:
            allocation = (plans or {}).get(name) or produce(
                name, problem, catalog, simulator, settings.exact_max_candidates)
            placement = first_fit_decreasing(allocation, problem.cluster)
        except (AllocationError, PlacementError) as error:
            results.append(PlanEvaluation(name, None, None, None, math.nan, str(error)))
            progress.advance(note=f"{name}: {error.problem}")
            continue
        run = runner(allocation, placement)
        count = run.requests_for(problem.rate_rps, settings.num_requests)
        at_target = run.run_long(problem.rate_rps, settings.num_requests,
                                 Progress(f"simulate {name} at the target", count, log))
        bound = capacity_bound_rps(problem, catalog, allocation)
        sustainable, probes = run.sustainable_rate(bound)
        results.append(PlanEvaluation(name, allocation, placement, at_target, sustainable,
                                      probes=probes))
        progress.advance(note=f"{name}: max sustainable {sustainable:.4g} rps, mean latency "
                              f"{at_target.e2e_latency_s.mean:.3g} s at the target")
    return EvaluationResult(spec.name, problem.cluster.name, problem.gpu, problem.rate_rps,
                            tuple(results))


def evaluation_to_json(result: EvaluationResult) -> dict:
    """The ``evaluation.json`` document: plans keyed by name."""
    plans = {}
    for plan in result.plans:
        entry: dict = {"error": plan.error} if plan.error else {}
        if plan.allocation is not None:
            entry["allocation"] = {
                e.llm: {"gpu": e.gpu, "tp": e.tp, "replicas": e.replicas,
                        "gpu_fraction": e.gpu_fraction, "gpus": e.gpus}
                for e in plan.allocation.llms}
            entry["gpus"] = plan.allocation.gpus
            entry["note"] = plan.allocation.note
        if plan.placement is not None:
            entry["placement"] = [to_jsonable(i) for i in plan.placement.instances]
        if plan.at_target is not None:
            entry["at_target"] = metrics_to_json(plan.at_target)
            entry["max_sustainable_rate_rps"] = plan.max_sustainable_rate_rps
            entry["probes"] = [to_jsonable(p) for p in plan.probes]
        plans[plan.name] = entry
    return {"schema_version": SCHEMA_VERSION, "artifact": "evaluation",
            "workflow": result.workflow, "cluster": result.cluster, "gpu": result.gpu,
            "target_rate_rps": result.target_rate_rps, "plans": plans}
