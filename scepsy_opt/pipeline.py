"""Composes the stages. Pure: settings in, artifacts out; :mod:`scepsy_opt.cli` writes them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scepsy_opt.config import RunSettings
from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.placement import placement_problem
from scepsy_opt.core.problem import AllocationError, AllocationProblem, problem_from_stats
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.trace import KIND_LLM, TraceTable
from scepsy_opt.core.types import Allocation, Catalog
from scepsy_opt.emit.record import instances_from_json, planned_instances
from scepsy_opt.emit.stage import EmitResult, emit
from scepsy_opt.evaluate import baselines
from scepsy_opt.evaluate.harness import EvaluationResult, evaluate, evaluation_to_json
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.placement.affinity import call_affinity
from scepsy_opt.placement.stage import PlacementResult, PlaceSettings, place
from scepsy_opt.profile.stage import profile_llms
from scepsy_opt.report import Report, ReportInputs, build_report, predicted_curves
from scepsy_opt.search.stage import Plan, plan_allocation, plan_to_json
from scepsy_opt.sim.runner import unloaded_latency_s
from scepsy_opt.surrogate.stage import fit_record, fit_surrogate
from scepsy_opt.workflow.stage import (
    AnalyzeOptions,
    WorkflowAnalysis,
    analysis_to_json,
    analyze_workflow,
)

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
    curves: dict | None = None
    report: Report | None = None


PLANNING = ("fit", "search", "place", "emit", "report")


def _stage(settings: RunSettings, stage: str, detail: str = "") -> None:
    """The stage log: ``stage k/n <name>`` as each stage starts, ``n`` the last stage run."""
    from scepsy_opt.config import STAGES

    log.info("stage %d/%d %s%s", STAGES.index(stage) + 1, STAGES.index(settings.stop_after) + 1,
             stage, f": {detail}" if detail else "")


def _after(settings: RunSettings, stage: str) -> bool:
    """Whether the run goes on to ``stage`` (``stop_after`` is that stage or a later one)."""
    from scepsy_opt.config import STAGES

    return STAGES.index(settings.stop_after) >= STAGES.index(stage)


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
    """Run the stages up to ``settings.stop_after``: analyze, profile, fit, search, place, emit
    and report, and with ``evaluate`` the simulator's comparison of the plan with the
    baselines (before the report, which shows it)."""
    options = AnalyzeOptions(
        num_requests=settings.analyze.num_requests,
        seed=settings.analyze.seed,
        work_estimate=settings.analyze.work_estimate,
    )
    _stage(settings, "analyze", settings.workflow.name)
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
    _stage(settings, "profile", settings.profile.backend)
    profiles = profile_llms(
        llms, gpus, settings.profile,
        call_mixes=call_mixes(tables, settings.profile.call_mix_size, settings.seed),
        kept_dir=data_dir("models"),
    )
    planning = settings.stop_after in PLANNING
    if (planning or settings.evaluate) and outside:
        raise AllocationError(
            "only catalog llms can be planned and simulated", source="workflow", value=outside,
            fix="map recorded names to catalog llms with workflow.traces.llm_map, or stop "
                "after profiling with stop_after=profile")
    problem = problem_from_stats(analysis.combined, settings.target.rate_rps,
                                 settings.cluster, settings.profile.memory,
                                 settings.target.utilization_cap,
                                 placement=settings.placement.options)
    plan, record, curves = None, None, None
    if planning:
        if settings.fit.cache_dir is not None:
            compilation_cache(settings.fit.cache_dir.parent / "jax")
        started = time.perf_counter()
        _stage(settings, "fit")
        surrogate, fits, workflow_fit = fit_surrogate(
            settings.workflow, analysis, tables, problem, catalog, simulate=settings.simulate,
            settings=settings.fit, profiles=profiles, seed=settings.seed)
        fit_s = time.perf_counter() - started
        if _after(settings, "search"):
            _stage(settings, "search", settings.search.method)
            plan = plan_allocation(problem, catalog, surrogate, method=settings.search.method,
                                   max_steps=settings.search.max_steps,
                                   starts=baselines.starts(problem, catalog),
                                   refine=refining_evaluator(settings, problem, catalog,
                                                             analysis, profiles),
                                   refine_candidates=settings.search.refine_candidates,
                                   refine_method=settings.search.refine)
            record = plan_to_json(plan, catalog, workflow=settings.workflow.name,
                                  fit=fit_record(fits, workflow_fit, fit_s))
            curves = predicted_curves(plan, surrogate, baselines.closed_form(problem, catalog),
                                      workflow=settings.workflow.name)
    placed = emitted = None
    if plan is not None and _after(settings, "place"):
        instances = sum(a.replicas for a in plan.allocation.llms)
        _stage(settings, "place", f"{instances} instance(s) on {settings.cluster.name}")
        placed = place_allocation(plan.allocation, settings, catalog, tables)
    if placed is not None and _after(settings, "emit"):
        _stage(settings, "emit", ", ".join(settings.emit.formats))
        emitted = emit(planned_instances(placed), settings.cluster, catalog,
                       settings.profile.memory, settings.emit,
                       workflow=settings.workflow.name, source=placed.problem.source,
                       context_tokens={d.llm: d.context_tokens for d in problem.demands})
    evaluation = None
    if settings.evaluate:
        log.info("simulating the plan and the baselines %s", ", ".join(settings.simulate.baselines))
        planned = {"planned": plan.allocation} if plan is not None else None
        evaluation = evaluate(settings.workflow, problem, catalog, settings.simulate,
                              unloaded_latency_s(analysis.combined.e2e_latency_s.mean),
                              profiles=profiles, plans=planned)
    report = None
    if _after(settings, "report"):
        _stage(settings, "report")
        report = build_report(report_inputs(analysis_to_json(analysis), record, placed, curves,
                                            evaluation, emitted))
    return PipelineResult(analysis=analysis, tables=tables, profiles=profiles,
                          evaluation=evaluation, plan=plan, allocation_record=record,
                          placement=placed, emitted=emitted, curves=curves, report=report)


def refining_evaluator(settings: RunSettings, problem: AllocationProblem, catalog: Catalog,
                       analysis: WorkflowAnalysis,
                       profiles: dict[tuple[str, str], ProfileTable]) -> Evaluator | None:
    """The evaluator that re-ranks the search's best candidates (``search.refine``): the
    simulator with the run's simulate settings (None: ``none``)."""
    if settings.search.refine == "none":
        return None
    return SimulatedEvaluator(settings.workflow, problem, catalog, settings.simulate,
                              unloaded_latency_s(analysis.combined.e2e_latency_s.mean),
                              profiles)


def report_inputs(stats: dict, allocation: dict | None, placed: PlacementResult | None,
                  curves: dict | None, evaluation: EvaluationResult | None,
                  emitted: EmitResult | None) -> ReportInputs:
    """The report's inputs from this run's results (as their artifacts hold them)."""
    import json

    from scepsy_opt.placement.artifact import placement_to_json

    plan_doc = None
    folders: tuple[str, ...] = ()
    if emitted is not None:
        top = emitted.top_level()
        plan_doc = json.loads(top["plan.json"]) if "plan.json" in top else None
        folders = tuple(dict.fromkeys(
            f"manifests/{path.split('/', 1)[0]}" for path in emitted.manifests()))
    return ReportInputs(
        stats=stats, allocation=allocation,
        placement=placement_to_json(placed) if placed is not None else None,
        curves=curves,
        evaluation=evaluation_to_json(evaluation) if evaluation is not None else None,
        plan=plan_doc,
        placement_figure="placement.png" if placed is not None else None,
        manifests=folders)


def place_allocation(allocation: Allocation, settings: RunSettings, catalog: Catalog,
                     tables: dict[str, TraceTable]) -> PlacementResult:
    """The place stage: the allocation's instances on the cluster, llms that call each other
    kept close."""
    problem = placement_problem(allocation, settings.cluster, catalog, settings.profile.memory,
                                settings.placement.options, affinity=call_affinity(tables))
    return place(problem, PlaceSettings(settings.placement.preset,
                                        settings.placement.hierarchical_threshold,
                                        settings.placement.export_mps))


def allocation_from_json(document: dict, source: str) -> Allocation:
    """The planned allocation of an ``allocation.json`` document."""
    from scepsy_opt.core.errors import ConfigError
    from scepsy_opt.core.types import LlmAllocation

    try:
        return Allocation("planned", tuple(
            LlmAllocation(llm, e["gpu"], int(e["tp"]), int(e["replicas"]),
                          float(e["gpu_fraction"]))
            for llm, e in document["llms"].items()))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"not an allocation.json document ({exc!r} is missing or wrong)",
                          source=source, field="llms",
                          fix="restore the file as the search stage wrote it") from None


def place_from_allocation(document: dict, source: str, settings: RunSettings,
                          catalog: Catalog, affinity: tuple[tuple[str, str, float], ...] = ()
                          ) -> PlacementResult:
    """The place stage alone, from an earlier run's ``allocation.json`` (with the call affinity
    its ``placement.json`` recorded): the search is not repeated."""
    allocation = allocation_from_json(document, source)
    if document.get("cluster") not in (None, settings.cluster.name):
        log.warning("%s was planned for cluster %s; placing it on %s", source,
                    document["cluster"], settings.cluster.name)
    problem = placement_problem(allocation, settings.cluster, catalog, settings.profile.memory,
                                settings.placement.options, affinity=affinity)
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
