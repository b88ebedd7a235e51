"""The fit stage's entry: per-llm instance models and the workflow's load calibration, fitted
or reused from the cache, assembled into the workflow surrogate."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import jax
import numpy as np

from scepsy_opt.core.problem import AllocationProblem, check_servable, problem_from_stats
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.core.settings import check
from scepsy_opt.core.trace import KIND_LLM, TraceTable
from scepsy_opt.core.types import Catalog
from scepsy_opt.sim.runner import unloaded_latency_s
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate import model
from scepsy_opt.surrogate.calib import CalibrationSettings
from scepsy_opt.surrogate.data import InstanceDataSettings
from scepsy_opt.surrogate.fit import LlmFit, WorkflowFit, fit_llm, fit_workflow
from scepsy_opt.surrogate.paths import PathSet, path_set, row_llm_index
from scepsy_opt.surrogate.workflow import WorkflowSurrogate
from scepsy_opt.workflow.spec import WorkflowSpec
from scepsy_opt.workflow.stage import WorkflowAnalysis
from scepsy_opt.workflow.work import reference_tp, work_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    """The fit stage (``conf/fit``, DESIGN 3.3): how much is simulated for the instance models
    (``instance``) and the workflow's load calibration (``calibration``), whether fits are kept
    in the cache (keyed by a content hash of everything they depend on, and reused) and where
    (``cache_dir`` null: :func:`default_cache_dir`), and how many processes simulate in
    parallel (``workers`` 0: every usable core). The default call mix is large (4,096 calls),
    so its mean tokens match the workflow's within ~2%."""

    cache: bool = True
    cache_dir: str | None = None
    workers: int = 0
    instance: InstanceDataSettings = field(default_factory=InstanceDataSettings)
    calibration: CalibrationSettings = field(default_factory=CalibrationSettings)

    def __post_init__(self) -> None:
        check(self.workers >= 0, "workers", "must be >= 0", self.workers,
              "use 0 for every core, or a process count")

    @property
    def cache_path(self) -> Path | None:
        """The folder fits are kept in (None: not cached)."""
        if not self.cache:
            return None
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

    @property
    def worker_count(self) -> int:
        from scepsy_opt.core.parallel import default_workers

        return int(self.workers) or default_workers()


def default_cache_dir() -> Path:
    """Where fitted models are kept across runs: ``$SCEPSY_OPT_CACHE``, else
    ``$XDG_CACHE_HOME/scepsy_opt`` (default ``~/.cache/scepsy_opt``), then ``fits/``."""
    root = os.environ.get("SCEPSY_OPT_CACHE")
    if not root:
        root = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                   / "scepsy_opt")
    return Path(root).expanduser() / "fits"


def call_mix(tables: Mapping[str, TraceTable], llm: str, size: int, seed: int) -> CallMix:
    inputs, outputs = [], []
    for table in tables.values():
        if llm in table.llms:
            rows = (table.kind == KIND_LLM) & (table.llm == table.llms.index(llm))
            inputs.append(table.input_tokens[rows])
            outputs.append(table.output_tokens[rows])
    return CallMix.sample(np.concatenate(inputs), np.concatenate(outputs), size, seed)


def reference_durations(table: TraceTable, llms: tuple[str, ...], problem: AllocationProblem,
                        catalog: Catalog) -> np.ndarray:
    """Every row's duration with llm calls at their unloaded latency on the problem's GPU type
    at the reference configuration (tools keep their recorded or sampled time)."""
    gpu = catalog.gpus[problem.gpu]
    durations = np.asarray(table.end_s - table.start_s, dtype=np.float64).copy()
    index = row_llm_index(table, llms)
    for i, llm in enumerate(llms):
        rows = index == i
        if rows.any():
            durations[rows] = work_model(catalog.llms[llm], gpu, problem.memory).duration_s(
                table.input_tokens[rows], table.output_tokens[rows])
    return durations


def member_paths(analysis: WorkflowAnalysis, tables: Mapping[str, TraceTable],
                 llms: tuple[str, ...], problem: AllocationProblem, catalog: Catalog
                 ) -> tuple[tuple[PathSet, ...], np.ndarray]:
    """Every member's path set and the mean reference duration of each llm's calls."""
    sums, counts = np.zeros(len(llms)), np.zeros(len(llms))
    sets = []
    for member in analysis.members:
        table = tables[member.workflow]
        durations = reference_durations(table, llms, problem, catalog)
        index = row_llm_index(table, llms)
        for i in range(len(llms)):
            sums[i] += durations[index == i].sum()
            counts[i] += np.count_nonzero(index == i)
        sets.append(path_set(table, llms, durations))
    return tuple(sets), sums / np.maximum(counts, 1)


def build_surrogate(analysis: WorkflowAnalysis, tables: Mapping[str, TraceTable],
                    problem: AllocationProblem, catalog: Catalog, fits: Mapping[str, LlmFit],
                    paths: tuple[PathSet, ...], mean_call_s: np.ndarray,
                    load: dict[str, np.ndarray] | None = None,
                    call_overhead_s: float = 0.0) -> WorkflowSurrogate:
    """The surrogate of fitted llms and paths. ``call_overhead_s`` (the cluster's serving
    overhead) is 0 while calibrating (the runs simulate the engines alone) and the problem's
    in the surrogate the search uses."""
    llms = tuple(fits)
    gpu = catalog.gpus[problem.gpu]
    instance = {name: np.stack([fits[llm].params[name] for llm in llms])
                for name in fits[llms[0]].params}
    return WorkflowSurrogate(
        llms=llms,
        members=tuple(m.workflow for m in analysis.members),
        member_weight=np.array([m.rate_fraction for m in analysis.members]),
        calls_per_request=np.array([analysis.combined.llm(llm).calls_per_request.mean
                                    for llm in llms]),
        parallelism=np.array([max(1.0, analysis.combined.llm(llm).parallelism)
                              for llm in llms]),
        ref_tp=np.array([reference_tp(catalog.llms[llm], gpu, problem.memory)
                         for llm in llms], dtype=float),
        mean_call_s=mean_call_s,
        instance=instance,
        load=load if load is not None else model.to_numpy(
            model.init_load(jax.random.PRNGKey(0), len(llms))),
        paths=paths,
        call_overhead_s=call_overhead_s,
    )


def fit_surrogate(spec: WorkflowSpec, analysis: WorkflowAnalysis,
                  tables: Mapping[str, TraceTable], problem: AllocationProblem,
                  catalog: Catalog, *, simulate: SimulateSettings,
                  settings: FitSettings | None = None,
                  profiles: Mapping[tuple[str, str], ProfileTable] | None = None,
                  seed: int = 0, instance_fits: Mapping[str, LlmFit] | None = None
                  ) -> tuple[WorkflowSurrogate, dict[str, LlmFit], WorkflowFit]:
    """Fit every llm of the workflow on the problem's GPU type, calibrate the workflow's load
    parameters, and assemble the surrogate (each piece reused from ``cache_dir`` when its
    inputs' content hash matches). ``instance_fits``: llms already fitted on the same calls
    (a mix's members), not fitted again."""
    check_servable(problem, catalog)
    profiles = profiles or {}
    settings = settings or FitSettings(cache=False, workers=1)
    cache_dir = settings.cache_path
    gpu = catalog.gpus[problem.gpu]
    llms = tuple(s.llm for s in analysis.combined.llms)
    fits = {}
    for llm in llms:
        if instance_fits and llm in instance_fits:
            fits[llm] = instance_fits[llm]
            continue
        mix = call_mix(tables, llm, settings.instance.mix_calls, seed)
        fits[llm] = fit_llm(catalog.llms[llm], gpu, problem.memory, mix,
                            profile=profiles.get((llm, problem.gpu)), cache_dir=cache_dir,
                            seed=seed, settings=settings.instance,
                            workers=settings.worker_count)

    if settings.calibration.mix == "members" and separate_members(spec):
        return _fit_members(spec, analysis, tables, problem, catalog, fits, simulate=simulate,
                            settings=settings, profiles=profiles, seed=seed)

    def paths() -> tuple[tuple[PathSet, ...], np.ndarray]:
        return member_paths(analysis, tables, llms, problem, catalog)

    def initial(sets: tuple[PathSet, ...], mean_call: np.ndarray) -> WorkflowSurrogate:
        return build_surrogate(analysis, tables, problem, catalog, fits, sets, mean_call)

    workflow_fit = fit_workflow(
        spec, tables, problem, catalog, fits, paths, initial, simulate=simulate,
        calibration=settings.calibration, unloaded_latency_s=unloaded_latency_s(
            analysis.combined.e2e_latency_s.mean), profiles=profiles, cache_dir=cache_dir,
        workers=settings.worker_count)
    surrogate = build_surrogate(analysis, tables, problem, catalog, fits, workflow_fit.paths,
                                workflow_fit.mean_call_s, workflow_fit.load,
                                problem.call_overhead_s)
    return surrogate, fits, workflow_fit


def separate_members(spec: WorkflowSpec) -> bool:
    """Whether a mix is calibrated member by member: its members share no llm (and none is a
    mix itself), so each member's requests queue only on its own llms."""
    if not spec.is_mix or any(m.workflow.is_mix for m in spec.members):
        return False
    seen: set[str] = set()
    for member in spec.members:
        llms = set(member.workflow.llms)
        if not llms or llms & seen:
            return False
        seen |= llms
    return True


def member_alone(spec: WorkflowSpec, analysis: WorkflowAnalysis, problem: AllocationProblem,
                 index: int) -> tuple[WorkflowSpec, WorkflowAnalysis, AllocationProblem]:
    """Member ``index`` of a mix as a workflow of its own: its spec, its analysis (the mix's
    statistics of its requests) and its problem at its share of the rate."""
    member_spec = spec.members[index].workflow
    member = analysis.members[index]
    alone = WorkflowAnalysis(
        workflow=member.workflow, description=member_spec.description,
        kind="program" if member_spec.program is not None else "traces",
        seed=analysis.seed, combined=member.stats,
        members=(replace(member, weight=1.0, rate_fraction=1.0),),
        work_models=tuple(w for w in analysis.work_models if w.llm in member_spec.llms))
    sub_problem = problem_from_stats(member.stats, problem.rate_rps * member.rate_fraction,
                                     problem.cluster, problem.memory, problem.utilization_cap,
                                     gpu=problem.gpu)
    return member_spec, alone, sub_problem


def _fit_members(spec: WorkflowSpec, analysis: WorkflowAnalysis,
                 tables: Mapping[str, TraceTable], problem: AllocationProblem, catalog: Catalog,
                 fits: dict[str, LlmFit], *, simulate: SimulateSettings, settings: FitSettings,
                 profiles: Mapping[tuple[str, str], ProfileTable], seed: int
                 ) -> tuple[WorkflowSurrogate, dict[str, LlmFit], WorkflowFit]:
    """A mix whose members share no llm: each member's load model is calibrated on runs of
    that member alone (the runs of a mix leave a small member's llms a few requests in flight,
    and a joint fit explains them poorly; its llms' instance models are the mix's, fitted on
    the same calls), then the mix is assembled from the members' load parameters: each llm
    keeps its member's, and each member's pipeline its own soft-minimum exponent. A member's
    predictions inside the mix are then exactly its own at its share of the rate."""
    llms = tuple(fits)
    parts = []
    # a member is no mix: its fit is the one it has alone (the same key, reused)
    alone_settings = replace(settings, calibration=replace(settings.calibration, mix="joint"))
    for index in range(len(spec.members)):
        member_spec, alone, sub_problem = member_alone(spec, analysis, problem, index)
        log.info("fit %s: calibrating member %s on its own", spec.name, member_spec.name)
        parts.append(fit_surrogate(member_spec, alone, {member_spec.name: tables[
            member_spec.name]}, sub_problem, catalog, simulate=simulate, settings=alone_settings,
            profiles=profiles, seed=seed, instance_fits=fits))
    owner = {llm: (sub, fit) for sub, _, fit in parts for llm in sub.llms}
    share = {llm: m.rate_fraction for m, (sub, _, _) in zip(analysis.members, parts,
                                                            strict=True) for llm in sub.llms}
    mine = {llm: owner[llm][0].llms.index(llm) for llm in llms}  # its index in its member
    load = {name: np.stack([np.asarray(owner[llm][1].load[name])[mine[llm]] for llm in llms])
            for name in ("s", "g", "k", "e")}
    load["p"] = np.array([float(fit.load["p"]) for _, _, fit in parts])
    sets, mean_call = member_paths(analysis, tables, llms, problem, catalog)
    surrogate = build_surrogate(analysis, tables, problem, catalog, fits, sets, mean_call, load,
                                problem.call_overhead_s)
    # each llm's calls per request of the mix and its fan-out are its member's (the mix's
    # pooled sample of requests estimates them less exactly)
    surrogate = replace(
        surrogate,
        calls_per_request=np.array([share[llm] * owner[llm][0].calls_per_request[mine[llm]]
                                    for llm in llms]),
        parallelism=np.array([owner[llm][0].parallelism[mine[llm]] for llm in llms]))
    weights = np.array([m.rate_fraction for m in analysis.members])
    errors = {name: float(np.dot(weights, [fit.errors[name] for _, _, fit in parts]))
              for name in ("latency_mape_pct", "throughput_mape_pct")}
    combined = WorkflowFit(
        key="+".join(fit.key for _, _, fit in parts), load=load,
        loss=float(np.dot(weights, [fit.loss for _, _, fit in parts])), paths=sets,
        mean_call_s=mean_call, runs=None, errors=errors,
        reused=all(fit.reused for _, _, fit in parts),
        members=tuple(fit for _, _, fit in parts))
    return surrogate, fits, combined


def fit_record(fits: Mapping[str, LlmFit], workflow_fit: WorkflowFit | None,
               fit_s: float | None) -> dict:
    """The ``fit`` section of ``allocation.json``: per llm the instance fit's key, whether it
    was reused from the cache and its errors; the workflow calibration's likewise."""
    record: dict = {
        "elapsed_s": fit_s,
        "instances": {llm: {"key": f.key, "reused": f.reused, "errors_pct": f.errors}
                      for llm, f in fits.items()},
    }
    if workflow_fit is not None:
        record["workflow"] = {
            "key": workflow_fit.key, "reused": workflow_fit.reused,
            "loss": workflow_fit.loss, "errors_pct": workflow_fit.errors,
            "calibration_runs": workflow_fit.calibration_runs,
        }
    return record
