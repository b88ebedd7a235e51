"""The analyze stage's entry: a workflow spec in, workflow statistics out.

Programs are sampled (durations from the token-based work estimate of
:mod:`scepsy_opt.workflow.work`), recorded traces are imported (their measured times are kept),
and a mix is analysed member by member plus *combined*: the members' requests pooled in proportion
to their rate weights, which is the load the shared llms see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from scepsy_opt.core.artifacts import SCHEMA_VERSION, to_jsonable
from scepsy_opt.core.catalog import unknown
from scepsy_opt.core.settings import check, run_field
from scepsy_opt.core.stats import WorkflowStats
from scepsy_opt.core.trace import TraceTable, check_context, concat_tables, rename_llms
from scepsy_opt.core.types import Catalog
from scepsy_opt.workflow.analyze import analyze_table
from scepsy_opt.workflow.sampler import PerLlmDurations, sample_program
from scepsy_opt.workflow.spec import WorkflowSpec
from scepsy_opt.workflow.work import LlmWorkModel, WorkEstimateSettings, work_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyzeSettings:
    """The analyze stage (``analyze``): ``num_requests`` requests sampled per workflow program
    (recorded traces use all their requests), drawn with the run's ``seed``; how call durations
    of sampled programs are estimated (``work_estimate``); ``write_traces``: also write the
    sampled requests as JSON Lines traces under traces/ in the run directory."""

    num_requests: int = 2000
    seed: int = run_field("seed", 0)
    work_estimate: WorkEstimateSettings = WorkEstimateSettings()
    write_traces: bool = False

    def __post_init__(self) -> None:
        check(self.num_requests > 0, "num_requests", "must be > 0", self.num_requests,
              "sample at least 1 request, e.g. 2000")


@dataclass(frozen=True)
class MemberAnalysis:
    workflow: str
    weight: float
    rate_fraction: float
    stats: WorkflowStats


@dataclass(frozen=True)
class WorkflowAnalysis:
    """The ``workflow_stats.json`` artifact.

    ``combined`` is the workflow's own statistics, or for a mix the statistics of the members'
    requests pooled by rate weight; ``members`` has one entry per workflow served.
    """

    workflow: str
    description: str
    kind: str
    seed: int
    combined: WorkflowStats
    members: tuple[MemberAnalysis, ...]
    work_models: tuple[LlmWorkModel, ...]


def analyze_workflow(spec: WorkflowSpec, options: AnalyzeSettings, catalog: Catalog
                     ) -> tuple[WorkflowAnalysis, dict[str, TraceTable]]:
    """Sample or import the requests of ``spec`` and compute their statistics.

    Returns the analysis and the trace table of every member (keyed by workflow name).
    """
    members = spec.members or ()
    parts = [(m.workflow, m.weight) for m in members] if members else [(spec, 1.0)]
    models = _work_models(spec, options.work_estimate, catalog)
    durations = PerLlmDurations({m.llm: m for m in models})
    tables: dict[str, TraceTable] = {}
    analyses = []
    total_weight = sum(weight for _, weight in parts)
    for index, (workflow, weight) in enumerate(parts):
        table, duration_model = _requests(workflow, options, durations, index,
                                          prefix=f"{workflow.name}/" if members else "")
        _check_context(table, workflow, catalog)
        log.info("analyze %s: %d requests, %d calls", workflow.name, table.num_requests,
                 table.num_calls)
        tables[workflow.name] = table
        stats = analyze_table(table, workflow=workflow.name, duration_model=duration_model)
        analyses.append(MemberAnalysis(workflow.name, weight, weight / total_weight, stats))
    if members:
        combined = analyze_table(_pooled(tables, parts, spec.name), workflow=spec.name,
                                 duration_model=", ".join(sorted({
                                     a.stats.duration_model for a in analyses})))
    else:
        combined = analyses[0].stats
    kind = "mix" if members else ("program" if spec.program is not None else "traces")
    return WorkflowAnalysis(
        workflow=spec.name, description=spec.description, kind=kind, seed=options.seed,
        combined=combined, members=tuple(analyses), work_models=models,
    ), tables


def _work_models(spec: WorkflowSpec, settings: WorkEstimateSettings, catalog: Catalog
                 ) -> tuple[LlmWorkModel, ...]:
    gpu = catalog.gpus[settings.reference_gpu]
    models = []
    for llm in spec.llms:
        if llm not in catalog.llms:
            raise unknown("llm", llm, sorted(catalog.llms), source=spec.source, field="program")
        models.append(work_model(catalog.llms[llm], gpu))
    return tuple(models)


def _check_context(table: TraceTable, workflow: WorkflowSpec, catalog: Catalog) -> None:
    """Every recorded call of a catalog llm fits its context window, named by its line.
    (Sampled calls are checked with every other serving limit before the fit:
    :func:`scepsy_opt.core.problem.servable_configurations`.)"""
    if workflow.program is None:
        check_context(table, {llm: catalog.llms[llm].max_context_tokens for llm in table.llms
                              if llm in catalog.llms}, table.source)


def _requests(workflow: WorkflowSpec, options: AnalyzeSettings, durations: PerLlmDurations,
              index: int, *, prefix: str) -> tuple[TraceTable, str]:
    if workflow.program is not None:
        table = sample_program(
            workflow.program, options.num_requests, seed=[options.seed, index],
            durations=durations, source=workflow.source, request_prefix=f"{prefix}r")
        gpu = options.work_estimate.reference_gpu
        return table, f"unloaded roofline latency on {gpu}"
    from scepsy_opt.workflow.importers import load_traces

    source = workflow.traces
    if source is None:
        raise TypeError(f"workflow {workflow.name!r} has neither a program nor traces")
    table = load_traces(source.path, source.format, **dict(source.options))
    table = rename_llms(table, dict(source.llm_map))
    if prefix:
        table = replace(table, request_ids=tuple(f"{prefix}{r}" for r in table.request_ids))
    return table, "recorded"


def _pooled(tables: dict[str, TraceTable], parts: list[tuple[WorkflowSpec, float]], name: str
            ) -> TraceTable:
    """Members' requests pooled in proportion to their weights (the heaviest keeps all)."""
    heaviest = max(weight / tables[w.name].num_requests for w, weight in parts)
    chosen = []
    for workflow, weight in parts:
        table = tables[workflow.name]
        keep = max(1, round(weight / heaviest))
        chosen.append(table.select_requests(np.arange(min(keep, table.num_requests))))
    return concat_tables(chosen, source=name)


def _stats_json(stats: WorkflowStats) -> dict:
    record = to_jsonable(stats)
    record["llms"] = {s["llm"]: {k: v for k, v in s.items() if k != "llm"}
                      for s in record["llms"]}
    return record


def analysis_to_json(analysis: WorkflowAnalysis) -> dict:
    """The ``workflow_stats.json`` document: llms keyed by id, members keyed by workflow."""
    return {
        "schema_version": SCHEMA_VERSION,
        "artifact": "workflow_stats",
        "workflow": analysis.workflow,
        "description": analysis.description,
        "kind": analysis.kind,
        "seed": analysis.seed,
        **_stats_json(analysis.combined),
        "workflows": {
            m.workflow: {"weight": m.weight, "rate_fraction": m.rate_fraction,
                         **_stats_json(m.stats)}
            for m in analysis.members
        },
        "work_estimate": {m.llm: {"gpu": m.gpu, "tp": m.tp,
                                  "method": "unloaded latency, calibrated roofline"}
                          for m in analysis.work_models},
    }
