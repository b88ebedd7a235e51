"""Composes the stages. Pure: settings in, artifacts out; :mod:`scepsy_opt.cli` writes them."""

from __future__ import annotations

from dataclasses import dataclass

from scepsy_opt.config import RunSettings
from scepsy_opt.types import Catalog
from scepsy_opt.workflow.stage import AnalyzeOptions, WorkflowAnalysis, analyze_workflow
from scepsy_opt.workflow.trace import TraceTable


@dataclass(frozen=True)
class PipelineResult:
    analysis: WorkflowAnalysis
    tables: dict[str, TraceTable]


def run(settings: RunSettings, catalog: Catalog) -> PipelineResult:
    """Run every stage that exists for ``settings``: analyze."""
    options = AnalyzeOptions(
        num_requests=settings.analyze.num_requests,
        seed=settings.analyze.seed,
        work_estimate=settings.analyze.work_estimate,
    )
    analysis, tables = analyze_workflow(settings.workflow, options, catalog)
    return PipelineResult(analysis=analysis, tables=tables)
