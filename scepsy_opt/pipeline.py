"""Composes the stages. Pure: settings in, artifacts out; :mod:`scepsy_opt.cli` writes them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scepsy_opt.config import RunSettings
from scepsy_opt.emit.record import instances_from_json, planned_instances
from scepsy_opt.emit.stage import EmitResult, emit
from scepsy_opt.placement.affinity import call_affinity
from scepsy_opt.placement.problem import placement_problem
from scepsy_opt.placement.stage import PlacementResult, PlaceSettings, place
from scepsy_opt.profile.backends import CallMix
from scepsy_opt.profile.schema import ProfileTable
from scepsy_opt.profile.stage import profile_llms
from scepsy_opt.resources import data_dir
from scepsy_opt.search.problem import AllocationError, problem_from_stats
from scepsy_opt.search.stage import Plan, plan_allocation, plan_to_json
from scepsy_opt.simulate.evaluate import EvaluationResult, evaluate, unloaded_latency_s
from scepsy_opt.surrogate.stage import fit_surrogate
from scepsy_opt.types import Allocation, Catalog
from scepsy_opt.workflow.stage import AnalyzeOptions, WorkflowAnalysis, analyze_workflow
from scepsy_opt.workflow.trace import KIND_LLM, TraceTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineResult:
    analysis: WorkflowAnalysis
    tables: dict[str, TraceTable]
    profiles: dict[tuple[str, str], ProfileTable]
    evaluation: EvaluationResult | None = None
    plan: Plan | None = None
    allocation_record: dict | None = None
    placement: PlacementResult | None = None
    emitted: EmitResult | None = None


def call_mixes(tables: dict[str, TraceTable], size: int, seed: int) -> dict[str, CallMix]:
    """Per llm, ``size`` calls drawn from the analysed requests (their token pairs)."""
    inputs: dict[str, list[np.ndarray]] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for table in tables.values():
        for index, llm in enumerate(table.llms):
            rows = (table.kind == KIND_LLM) & (table.llm == index)
            inputs.setdefault(llm, []).append(table.input_tokens[rows])
            outputs.setdefault(llm, []).append(table.output_tokens[rows])
    mixes = {}
    for llm in inputs:
        inp, out = np.concatenate(inputs[llm]), np.concatenate(outputs[llm])
        if inp.size:
            mixes[llm] = CallMix.sample(inp, np.maximum(out, 1), size, seed)
    return mixes


def compilation_cache(folder: Path) -> None:
    """Keep JAX's compiled surrogate functions across runs (a second plan of the same fitted
    workflow skips most compilation)."""
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def run(settings: RunSettings, catalog: Catalog) -> PipelineResult:
    """Run the stages up to ``settings.stop_after``: analyze, profile, fit, search, place and
    emit, and with ``evaluate`` the simulator's comparison of the plan with the baselines."""
    options = AnalyzeOptions(
        num_requests=settings.analyze.num_requests,
        seed=settings.analyze.seed,
        work_estimate=settings.analyze.work_estimate,
    )
    analysis, tables = analyze_workflow(settings.workflow, options, catalog)
    if settings.stop_after == "analyze":
        return PipelineResult(analysis=analysis, tables=tables, profiles={})
    names = sorted({s.llm for s in analysis.combined.llms})
    outside = [name for name in names if name not in catalog.llms]
    if outside:
        log.warning("not in the catalog, so not profiled: %s (map recorded names to catalog "
                    "llms with workflow.traces.llm_map)", ", ".join(outside))
    llms = [catalog.llms[name] for name in names if name in catalog.llms]
    gpus = [catalog.gpus[gpu] for gpu in settings.cluster.gpu_types]
    profiles = profile_llms(
        llms, gpus, settings.profile,
        call_mixes=call_mixes(tables, settings.profile.call_mix_size, settings.seed),
        kept_dir=data_dir("models"),
    )
    planning = settings.stop_after in ("fit", "search", "place", "emit")
    if (planning or settings.evaluate) and outside:
        raise AllocationError(
            "only catalog llms can be planned and simulated", source="workflow", value=outside,
            fix="map recorded names to catalog llms with workflow.traces.llm_map, or stop "
                "after profiling with stop_after=profile")
    problem = problem_from_stats(analysis.combined, settings.target.rate_rps,
                                 settings.cluster, settings.profile.memory,
                                 settings.target.utilization_cap)
    plan, record = None, None
    if planning:
        if settings.fit.cache_dir is not None:
            compilation_cache(settings.fit.cache_dir.parent / "jax")
        started = time.perf_counter()
        surrogate, fits, workflow_fit = fit_surrogate(
            settings.workflow, analysis, tables, problem, catalog, simulate=settings.simulate,
            settings=settings.fit, profiles=profiles, seed=settings.seed)
        fit_s = time.perf_counter() - started
        if settings.stop_after in ("search", "place", "emit"):
            plan = plan_allocation(problem, catalog, surrogate, method=settings.search.method,
                                   max_steps=settings.search.max_steps)
            record = plan_to_json(plan, surrogate, catalog, workflow=settings.workflow.name,
                                  fits=fits, workflow_fit=workflow_fit, fit_s=fit_s)
    placed = emitted = None
    if plan is not None and settings.stop_after in ("place", "emit"):
        placed = place_allocation(plan.allocation, settings, catalog, tables)
    if placed is not None and settings.stop_after == "emit":
        emitted = emit(planned_instances(placed), settings.cluster, catalog,
                       settings.profile.memory, settings.emit,
                       workflow=settings.workflow.name, source=placed.problem.source,
                       context_tokens={d.llm: d.context_tokens for d in problem.demands})
    evaluation = None
    if settings.evaluate:
        planned = {"planned": plan.allocation} if plan is not None else None
        evaluation = evaluate(settings.workflow, problem, catalog, settings.simulate,
                              unloaded_latency_s(analysis.combined.e2e_latency_s.mean),
                              profiles=profiles, plans=planned)
    return PipelineResult(analysis=analysis, tables=tables, profiles=profiles,
                          evaluation=evaluation, plan=plan, allocation_record=record,
                          placement=placed, emitted=emitted)


def place_allocation(allocation: Allocation, settings: RunSettings, catalog: Catalog,
                     tables: dict[str, TraceTable]) -> PlacementResult:
    """The place stage: the allocation's instances on the cluster, llms that call each other
    kept close."""
    problem = placement_problem(allocation, settings.cluster, catalog, settings.profile.memory,
                                settings.placement.options, affinity=call_affinity(tables))
    return place(problem, PlaceSettings(settings.placement.preset,
                                        settings.placement.hierarchical_threshold,
                                        settings.placement.export_mps))


def emit_placement(document: dict, source: str, settings: RunSettings, catalog: Catalog
                   ) -> EmitResult:
    """The emit stage alone, from a ``placement.json`` document (``emit.placement``): the
    manifests of an earlier run's placement, or of one edited by hand, re-checked first."""
    return emit(instances_from_json(document, source), settings.cluster, catalog,
                settings.profile.memory, settings.emit, workflow=settings.workflow.name,
                source=source)
