"""The stage runner: one ordered table of stages (:data:`STAGE_TABLE`), each with the artifacts it
reads and writes. A full run (:func:`run`), a re-run from a run directory (:func:`rerun`) and an
emit from a placement file (:func:`emit_placement`) all go through :func:`run_stages`; stages hand
each other typed documents (:mod:`scepsy_opt.core.documents`). Running is pure (settings in,
results out); :func:`save` writes what the stages made into the directory the CLI chose.

A run's outputs are committed together, after its last stage: they are written to a staging
folder inside the run directory, then moved over the earlier ones at once, so a run that fails
(a stage's error, a full disk) leaves the run directory as it found it. In the same step the
artifacts that the run made stale are removed: those of every later stage that did not run
but reads what a stage of this run rewrote (:attr:`Stage.inputs`), and those a stage that ran
lists but did not write this time. Interrupted (Ctrl-C, :class:`Interrupted`), a run commits
the stages that finished, likewise. Temporaries that a killed run left behind are removed by
the next run that writes there."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from scepsy_opt import rundir
from scepsy_opt.config import RunSettings
from scepsy_opt.core.document import Document
from scepsy_opt.core.documents import (
    AllocationDocument,
    EvaluationDocument,
    PlacementDocument,
    PlanDocument,
    WorkflowStatsDocument,
)
from scepsy_opt.core.errors import ConfigError, ScepsyError
from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.parallel import interrupt_acted_on, raise_if_interrupted
from scepsy_opt.core.placement import placement_problem
from scepsy_opt.core.problem import (
    AllocationError,
    AllocationProblem,
    longest_call_tokens,
    problem_from_stats,
)
from scepsy_opt.core.profile_table import ProfileTable, profile_filename, write_csv
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.trace import KIND_LLM, TraceTable, write_jsonl
from scepsy_opt.core.types import Catalog
from scepsy_opt.emit.plan import PlanEmitter
from scepsy_opt.emit.plan import plan_to_json as launch_plan_to_json
from scepsy_opt.emit.record import instances_from_json, planned_instances
from scepsy_opt.emit.stage import EmitResult, emit
from scepsy_opt.evaluate import baselines
from scepsy_opt.evaluate.harness import evaluate, evaluation_to_json
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.placement.affinity import call_affinity
from scepsy_opt.placement.artifact import placement_to_json
from scepsy_opt.placement.plot import cluster_map
from scepsy_opt.placement.stage import PlacementResult, PlaceSettings, place
from scepsy_opt.profile.stage import profile_llms
from scepsy_opt.report import Report, ReportInputs, build_report, predicted_curves
from scepsy_opt.search.stage import Plan, plan_allocation, plan_to_json
from scepsy_opt.sim.runner import unloaded_latency_s
from scepsy_opt.surrogate.stage import fit_record, fit_surrogate
from scepsy_opt.workflow.stage import (
    WorkflowAnalysis,
    analysis_to_json,
    analyze_workflow,
)

log = logging.getLogger(__name__)
CURVES = rundir.CURVES
D = TypeVar("D", bound=Document)


@dataclass(frozen=True)
class PipelineResult:
    """What the stages of one run produced, and in a re-run the earlier run's artifacts they
    read. ``artifacts``: documents by file name (:data:`~scepsy_opt.core.documents.DOCUMENTS`,
    and ``predicted_curves.json`` as its JSON object); ``sources``: where a read one came from;
    ``ran``: the stages run, in order."""

    analysis: WorkflowAnalysis | None = None
    tables: dict[str, TraceTable] = field(default_factory=dict)
    profiles: dict[tuple[str, str], ProfileTable] = field(default_factory=dict)
    problem: AllocationProblem | None = None
    surrogate: Any = None  # the fitted evaluator the search scores with
    fit: dict | None = None  # the fit stage's record (allocation.json's "fit")
    plan: Plan | None = None
    placement: PlacementResult | None = None
    placement_png: bytes | None = None  # the cluster map
    emitted: EmitResult | None = None
    report: Report | None = None
    artifacts: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    ran: tuple[str, ...] = ()

    def add(self, stage: str, artifacts: dict[str, Any] | None = None, **values: Any
            ) -> PipelineResult:
        """This result after ``stage``: its values and artifacts added."""
        return replace(self, **values, artifacts={**self.artifacts, **(artifacts or {})},
                       ran=(*self.ran, stage))

    @property
    def stats(self) -> WorkflowStatsDocument | None:
        return self.artifacts.get(WorkflowStatsDocument.ARTIFACT)

    @property
    def allocation(self) -> AllocationDocument | None:
        return self.artifacts.get(AllocationDocument.ARTIFACT)

    @property
    def placement_document(self) -> PlacementDocument | None:
        return self.artifacts.get(PlacementDocument.ARTIFACT)

    @property
    def plan_document(self) -> PlanDocument | None:
        return self.artifacts.get(PlanDocument.ARTIFACT)

    @property
    def evaluation(self) -> EvaluationDocument | None:
        return self.artifacts.get(EvaluationDocument.ARTIFACT)

    @property
    def curves(self) -> dict | None:
        return self.artifacts.get(CURVES)


@dataclass(frozen=True)
class RunContext:
    """What every stage of a run sees: its settings, the catalog and, in a re-run, the run
    directory its earlier artifacts are read from."""

    settings: RunSettings
    catalog: Catalog
    run_dir: Path | None = None


@dataclass(frozen=True)
class Stage:
    """One row of the runner's table: the stage (``name``: as ``stop_after`` and ``stage=``
    name it; ``evaluate``, which is no such stage, runs once ``stop_after`` reaches its
    ``gate``), what it does (``run``) and writes (``save``, after the last stage: the files
    ``writes`` lists), the artifacts it needs (``reads``: a re-run reads them from the run
    directory when no earlier stage of the run made them, each with what to do when it is
    missing; ``optional``: read when there), and whether it runs (``when``, ``rerun``)."""

    name: str
    run: Callable[[RunContext, PipelineResult], PipelineResult]
    save: Callable[[PipelineResult, Path, RunSettings], list[Path]]
    reads: dict[str, str] = field(default_factory=dict)  # artifact -> fix when it is missing
    optional: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    gate: str = ""  # the STAGES entry stop_after must reach (default: the name)
    when: Callable[[RunSettings], bool] = lambda settings: True
    rerun: bool = True  # whether from_run=... stage=... re-runs it
    inputs: tuple[str, ...] = ()  # the stages its outputs follow from (default: the one before)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``stage``: ``result`` holds what the stages before it made (their outputs
    can be saved), ``settings`` and ``run_dir`` are the run's."""

    def __init__(self, stage: str, result: PipelineResult, settings: RunSettings,
                 run_dir: Path | None) -> None:
        super().__init__(stage)
        self.stage, self.result, self.settings, self.run_dir = stage, result, settings, run_dir

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


def _document(kind: type[D], record: dict, stage: str) -> D:
    """The stage's record as its typed document (checked like a file read back)."""
    return kind.from_json(record, source=f"the {stage} stage")


def _analyze(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    settings = ctx.settings
    _stage(settings, "analyze", settings.workflow.name)
    analysis, tables = analyze_workflow(settings.workflow, settings.analyze, ctx.catalog)
    stats = _document(WorkflowStatsDocument, analysis_to_json(analysis), "analyze")
    return result.add("analyze", {stats.ARTIFACT: stats}, analysis=analysis, tables=tables)


def _profile(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    """Profile the workflow's catalog llms; the allocation problem of the run."""
    settings, catalog, analysis = ctx.settings, ctx.catalog, result.analysis
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
        call_mixes=call_mixes(result.tables, settings.profile.call_mix_size, settings.seed),
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
                                 placement=settings.placement)
    return result.add("profile", profiles=profiles, problem=problem)


def _fit(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    settings = ctx.settings
    if settings.fit.cache_path is not None:
        compilation_cache(settings.fit.cache_path.parent / "jax")
    started = time.perf_counter()
    _stage(settings, "fit")
    surrogate, fits, workflow_fit = fit_surrogate(
        settings.workflow, result.analysis, result.tables, result.problem, ctx.catalog,
        simulate=settings.simulate, settings=settings.fit, profiles=result.profiles,
        seed=settings.seed)
    fit_s = time.perf_counter() - started
    return result.add("fit", surrogate=surrogate, fit=fit_record(fits, workflow_fit, fit_s))


def _search(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    settings, catalog = ctx.settings, ctx.catalog
    problem, surrogate = result.problem, result.surrogate
    _stage(settings, "search", settings.search.method)
    plan = plan_allocation(problem, catalog, surrogate, method=settings.search.method,
                           max_steps=settings.search.max_steps,
                           starts=baselines.starts(problem, catalog),
                           refine=refining_evaluator(settings, problem, catalog, result),
                           refine_candidates=settings.search.refine_candidates,
                           refine_method=settings.search.refine)
    record = plan_to_json(plan, catalog, workflow=settings.workflow.name, fit=result.fit)
    curves = predicted_curves(plan, surrogate, baselines.closed_form(problem, catalog),
                              workflow=settings.workflow.name)
    allocation = _document(AllocationDocument, record, "search")
    return result.add("search", {allocation.ARTIFACT: allocation, CURVES: curves}, plan=plan)


def refining_evaluator(settings: RunSettings, problem: AllocationProblem, catalog: Catalog,
                       result: PipelineResult) -> Evaluator | None:
    """The evaluator that re-ranks the search's best candidates (``search.refine``): the
    simulator with the run's simulate settings (None: ``none``)."""
    if settings.search.refine == "none":
        return None
    assert result.analysis is not None
    return SimulatedEvaluator(settings.workflow, problem, catalog, settings.simulate,
                              unloaded_latency_s(result.analysis.combined.e2e_latency_s.mean),
                              result.profiles)


def _place(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    """The allocation's instances on the cluster, llms that call each other kept close (in a
    re-run: the allocation and the call affinity that the earlier run recorded)."""
    settings = ctx.settings
    if result.plan is not None:
        allocation, affinity = result.plan.allocation, call_affinity(result.tables)
    else:
        document, source = result.allocation, result.sources[AllocationDocument.ARTIFACT]
        if document.cluster != settings.cluster.name:
            log.warning("%s was planned for cluster %s; placing it on %s", source,
                        document.cluster, settings.cluster.name)
        earlier = result.placement_document
        allocation = document.allocation(catalog=ctx.catalog, source=source)
        affinity = () if earlier is None else earlier.affinity_weights(
            document.llms, result.sources[PlacementDocument.ARTIFACT])
    instances = sum(a.replicas for a in allocation.llms)
    _stage(settings, "place", f"{instances} instance(s) on {settings.cluster.name}")
    problem = placement_problem(allocation, settings.cluster, ctx.catalog,
                                settings.profile.memory, settings.placement,
                                affinity=affinity)
    placed = place(problem, PlaceSettings(settings.placement.preset,
                                          settings.placement.hierarchical_threshold,
                                          settings.placement.export_mps))
    document = _document(PlacementDocument, placement_to_json(placed), "place")
    buffer = io.BytesIO()
    cluster_map(placed).savefig(buffer, format="png")
    return result.add("place", {document.ARTIFACT: document}, placement=placed,
                      placement_png=buffer.getvalue())


def _context_tokens(result: PipelineResult) -> dict[str, int] | None:
    """Per llm the longest call of the workflow: from the run's problem, or in a re-run from
    ``workflow_stats.json`` by the same rule (None: neither is there, as for a placement file
    emitted on its own)."""
    if result.problem is not None:
        return {d.llm: d.context_tokens for d in result.problem.demands}
    if result.stats is None:
        return None
    return {llm: longest_call_tokens(s.input_tokens, s.output_tokens)
            for llm, s in result.stats.stats.llms.items()}


def _emit(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    """Launch manifests of the placement (in a re-run, or from ``emit.placement``: of the
    placement document, re-checked first). The same placement and workflow statistics give
    the same manifests, in a run and in a re-run."""
    settings = ctx.settings
    _stage(settings, "emit", ", ".join(settings.emit.formats))
    if result.placement is not None and result.problem is not None:
        instances = planned_instances(result.placement)
        source = result.placement.problem.source
    else:
        source = result.sources.get(PlacementDocument.ARTIFACT, "placement.json")
        instances = instances_from_json(result.placement_document.to_json(), source)
    emitted = emit(instances, settings.cluster, ctx.catalog, settings.profile.memory,
                   settings.emit, workflow=settings.workflow.name, source=source,
                   context_tokens=_context_tokens(result))
    documents = {}
    if any(f.format == PlanEmitter.format for f in emitted.files):
        documents[PlanDocument.ARTIFACT] = _document(PlanDocument, launch_plan_to_json(
            emitted.plan), "emit")
    return result.add("emit", documents, emitted=emitted)


def _evaluate(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    """The simulator's comparison of the plan (when there is one) with the baselines."""
    settings = ctx.settings
    log.info("simulating the plan and the baselines %s", ", ".join(settings.simulate.baselines))
    planned = {"planned": result.plan.allocation} if result.plan is not None else None
    evaluation = evaluate(settings.workflow, result.problem, ctx.catalog, settings.simulate,
                          unloaded_latency_s(result.analysis.combined.e2e_latency_s.mean),
                          profiles=result.profiles, plans=planned)
    document = _document(EvaluationDocument, evaluation_to_json(evaluation), "evaluate")
    return result.add("evaluate", {document.ARTIFACT: document})


def _report(ctx: RunContext, result: PipelineResult) -> PipelineResult:
    _stage(ctx.settings, "report")
    figure = result.placement is not None or (
        ctx.run_dir is not None and (ctx.run_dir / rundir.PLACEMENT_FIGURE).is_file())
    if result.emitted is not None:
        folders = tuple(dict.fromkeys(f"manifests/{path.split('/', 1)[0]}"
                                      for path in result.emitted.manifests()))
    else:
        folders = rundir.manifest_folders(ctx.run_dir) if ctx.run_dir is not None else ()
    report = build_report(ReportInputs(
        stats=result.stats, allocation=result.allocation, placement=result.placement_document,
        curves=result.curves, evaluation=result.evaluation, plan=result.plan_document,
        placement_figure=rundir.PLACEMENT_FIGURE if figure else None, manifests=folders,
        prerequisites=_kubernetes_prerequisites(ctx, result)))
    return result.add("report", report=report)


KUBERNETES_README = "kubernetes/README.md"


def _kubernetes_prerequisites(ctx: RunContext, result: PipelineResult) -> tuple[str, ...]:
    """The bullet lines of the Kubernetes manifests' README (what the cluster needs), from this
    run's emit or, in a re-run, from the run directory."""
    if result.emitted is not None:
        text = result.emitted.manifests().get(KUBERNETES_README)
    else:
        path = ctx.run_dir / "manifests" / KUBERNETES_README if ctx.run_dir else None
        text = path.read_text(encoding="utf-8") if path is not None and path.is_file() else None
    return tuple(line[2:] for line in (text or "").splitlines() if line.startswith("- "))


def _save_documents(*names: str) -> Callable[[PipelineResult, Path, RunSettings], list[Path]]:
    def save(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
        return [path for name in names if name in result.artifacts
                for path in rundir.write_document(run_dir, name, result.artifacts[name])]
    return save


def _save_analysis(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    paths = _save_documents(WorkflowStatsDocument.ARTIFACT)(result, run_dir, settings)
    if settings.analyze.write_traces:
        for name, table in result.tables.items():
            paths.append(rundir.inside(run_dir / "traces", f"{name}.jsonl"))
            write_jsonl(table, paths[-1])
    return paths


def _save_profiles(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    paths = []
    for (llm, gpu), table in sorted(result.profiles.items()):
        paths.append(rundir.inside(run_dir / "profiles", profile_filename(llm, gpu)))
        write_csv(table, paths[-1])
    return paths


def _save_placement(result: PipelineResult, run_dir: Path, settings: RunSettings
                    ) -> list[Path]:
    return (_save_documents(PlacementDocument.ARTIFACT)(result, run_dir, settings)
            + rundir.write_placement(result.placement_png, result.placement.mps, run_dir))


def _save_emitted(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    return rundir.write_emitted(result.emitted, run_dir)


def _save_report(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    return rundir.write_report(result.report, run_dir)


def _nothing(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    return []  # the fit's models stay in the fit cache


STAGE_TABLE: tuple[Stage, ...] = (
    Stage("analyze", _analyze, _save_analysis, writes=("workflow_stats.json", "traces/")),
    Stage("profile", _profile, _save_profiles, writes=("profiles/",)),
    Stage("fit", _fit, _nothing),
    Stage("search", _search, _save_documents(AllocationDocument.ARTIFACT, CURVES),
          writes=("allocation.json", CURVES)),
    Stage("place", _place, _save_placement,
          reads={"allocation.json": "re-run the whole pipeline into this directory: it has "
                                    "no allocation"},
          optional=("placement.json",),  # a re-run keeps the call affinity it recorded
          writes=("placement.json", "placement.png", "placement.mps")),
    Stage("emit", _emit, _save_emitted,
          reads={"placement.json": "re-run from stage=place"},
          optional=("workflow_stats.json",),  # max-model-len covers the longest call
          writes=("manifests/", "plan.json")),
    Stage("evaluate", _evaluate, _save_documents(EvaluationDocument.ARTIFACT), gate="profile",
          when=lambda settings: settings.evaluate, rerun=False, writes=("evaluation.json",),
          inputs=("search",)),
    Stage("report", _report, _save_report,
          reads={"workflow_stats.json": "point from_run at the output directory of a finished "
                                        "run"},
          optional=("allocation.json", "placement.json", CURVES, "evaluation.json",
                    "plan.json"),
          writes=("report.md", "latency_throughput.png"), inputs=("emit", "evaluate")),
)


def _load(stage: Stage, result: PipelineResult, run_dir: Path) -> PipelineResult:
    """The artifacts ``stage`` reads that no earlier stage of this run made, from ``run_dir``."""
    loaded, sources = {}, {}
    needed = [(name, fix) for name, fix in stage.reads.items()]
    needed += [(name, None) for name in stage.optional]
    for name, fix in needed:
        if name in result.artifacts or name in loaded:
            continue
        document = rundir.load_artifact(run_dir, name, fix)
        if document is not None:
            loaded[name], sources[name] = document, str(run_dir / name)
    return replace(result, artifacts={**result.artifacts, **loaded},
                   sources={**result.sources, **sources})


def run_stages(stages: Sequence[Stage], ctx: RunContext,
               result: PipelineResult | None = None) -> PipelineResult:
    """The stages in order, each on what the earlier ones made (in a re-run, with what they
    need that the run did not make read from ``ctx.run_dir``)."""
    result = result or PipelineResult()
    for stage in stages:
        if ctx.run_dir is not None:
            result = _load(stage, result, ctx.run_dir)
        try:
            raise_if_interrupted()  # a Ctrl-C swallowed in the stage before, which finished
            result = stage.run(ctx, result)
        except Interrupted:
            raise
        except KeyboardInterrupt:
            interrupt_acted_on()
            raise Interrupted(stage.name, result, ctx.settings, ctx.run_dir) from None
    return result


def run(settings: RunSettings, catalog: Catalog) -> PipelineResult:
    """Run the stages up to ``settings.stop_after``: analyze, profile, fit, search, place, emit
    and report, and with ``evaluate`` the simulator's comparison of the plan with the
    baselines (before the report, which shows it)."""
    return run_stages([s for s in STAGE_TABLE if _after(settings, s.gate or s.name)
                       and s.when(settings)], RunContext(settings, catalog))


def rerun(settings: RunSettings, catalog: Catalog, run_dir: Path) -> PipelineResult:
    """``from_run=<dir> stage=<place|emit|report>``: that stage and the following ones up to
    ``stop_after``, from the artifacts of ``run_dir``. Earlier stages are not repeated: place
    reads allocation.json, emit placement.json, report every artifact."""
    from scepsy_opt.config import STAGES

    first, last = STAGES.index(settings.stage), STAGES.index(settings.stop_after)
    if last < first:
        raise ConfigError("stop_after comes before the stage to re-run", source="command line",
                          field="stop_after", value=settings.stop_after,
                          fix=f"use stop_after={settings.stage} or a later stage")
    todo = [s for s in STAGE_TABLE
            if s.rerun and first <= STAGES.index(s.gate or s.name) <= last]
    log.info("re-running %s from %s", ", ".join(s.name for s in todo), run_dir)
    return run_stages(todo, RunContext(settings, catalog, run_dir))


def emit_placement(placement: PlacementDocument, source: str, settings: RunSettings,
                   catalog: Catalog) -> PipelineResult:
    """The emit stage alone, from a ``placement.json`` document (``emit.placement``): the
    manifests of an earlier run's placement, or of one edited by hand, re-checked first."""
    start = PipelineResult(artifacts={placement.ARTIFACT: placement},
                           sources={placement.ARTIFACT: source})
    return run_stages([s for s in STAGE_TABLE if s.name == "emit"],
                      RunContext(settings, catalog), start)


def save(result: PipelineResult, run_dir: Path, settings: RunSettings) -> list[Path]:
    """Write what the run's stages made into ``run_dir`` and remove what they made stale,
    committed together (see the module's docstring): a write that fails leaves ``run_dir`` as
    it was. Returns the paths written."""
    with rundir.staging(run_dir) as staged:
        written: list[str] = []
        for stage in STAGE_TABLE:
            if stage.name in result.ran:
                written += [str(path.relative_to(staged))
                            for path in stage.save(result, staged, settings)]
        rundir.commit(staged, run_dir, stale_artifacts(result.ran, written))
    return [run_dir / relative for relative in written]


def stale_artifacts(ran: Iterable[str], written: Iterable[str]) -> list[str]:
    """The artifacts (names in a run directory, a folder with a trailing ``/``) that a run of
    the stages ``ran`` writing ``written`` leaves stale: every artifact of a stage that did not
    run but follows from one that ran (or from one whose artifacts are stale), and those of a
    stage that ran but did not write them this time."""
    ran = set(ran)
    tops = {relative.split("/", 1)[0] for relative in written}
    changed: set[str] = set()
    stale = []
    for index, stage in enumerate(STAGE_TABLE):
        inputs = stage.inputs or ((STAGE_TABLE[index - 1].name,) if index else ())
        if stage.name in ran:
            changed.add(stage.name)
            stale += [name for name in stage.writes if name.rstrip("/") not in tops]
        elif changed & set(inputs):
            changed.add(stage.name)
            stale += list(stage.writes)
    return stale


def save_interrupted(stop: Interrupted, run_dir: Path) -> str:
    """Commit the stages that finished before Ctrl-C (see :func:`save`) and say, in one line,
    what was kept and what was discarded."""
    finished = stop.result.ran
    cache = stop.settings.fit.cache_path
    fits = f"fits cached in {cache}" if cache is not None else "no fit cache (fit.cache=false)"
    try:
        paths = save(stop.result, run_dir, stop.settings) if finished else []
        kept = (f"the outputs of {', '.join(finished)} ({len(paths)} file(s) in {run_dir})"
                if finished else f"{run_dir} as it was")
    except ScepsyError as error:
        kept = f"{run_dir} as it was (the finished stages' outputs could not be written: {error})"
    return (f"interrupted during the {stop.stage} stage: discarded its work; kept {kept} and "
            f"the {fits}")
