"""Composes the stages. Pure: settings in, artifacts out; :mod:`scepsy_opt.cli` writes them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from scepsy_opt.config import RunSettings
from scepsy_opt.profile.backends import CallMix
from scepsy_opt.profile.schema import ProfileTable
from scepsy_opt.profile.stage import profile_llms
from scepsy_opt.resources import data_dir
from scepsy_opt.search.problem import AllocationError, problem_from_stats
from scepsy_opt.simulate.evaluate import EvaluationResult, evaluate, unloaded_latency_s
from scepsy_opt.types import Catalog
from scepsy_opt.workflow.stage import AnalyzeOptions, WorkflowAnalysis, analyze_workflow
from scepsy_opt.workflow.trace import KIND_LLM, TraceTable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineResult:
    analysis: WorkflowAnalysis
    tables: dict[str, TraceTable]
    profiles: dict[tuple[str, str], ProfileTable]
    evaluation: EvaluationResult | None = None


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


def run(settings: RunSettings, catalog: Catalog) -> PipelineResult:
    """Run every stage that exists for ``settings``: analyze, profile, and with ``evaluate``
    the simulator's comparison of the baselines."""
    options = AnalyzeOptions(
        num_requests=settings.analyze.num_requests,
        seed=settings.analyze.seed,
        work_estimate=settings.analyze.work_estimate,
    )
    analysis, tables = analyze_workflow(settings.workflow, options, catalog)
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
    evaluation = None
    if settings.evaluate:
        if outside:
            raise AllocationError(
                "the simulator runs catalog llms only", source="workflow", value=outside,
                fix="map recorded names to catalog llms with workflow.traces.llm_map")
        problem = problem_from_stats(analysis.combined, settings.target.rate_rps,
                                     settings.cluster, settings.profile.memory,
                                     settings.target.utilization_cap)
        evaluation = evaluate(settings.workflow, problem, catalog, settings.simulate,
                              unloaded_latency_s(analysis.combined.e2e_latency_s.mean),
                              profiles=profiles)
    return PipelineResult(analysis=analysis, tables=tables, profiles=profiles,
                          evaluation=evaluation)
