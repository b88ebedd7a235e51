"""Command line: ``python -m scepsy_opt +workflow=NAME [overrides...]`` (Hydra).

The CLI is the only place that talks to the console and decides where files go: every
artifact is written atomically into Hydra's run directory. A
:class:`~scepsy_opt.core.errors.ScepsyError` is printed as one message without a traceback and
the process exits with :data:`~scepsy_opt.core.errors.EXIT_CODE`; in a sweep (``--multirun``)
the failed job's error goes to its ``error.json`` and the sweep goes on, and
:class:`SweepSummary` summarises the jobs at the end. ``from_run=<dir> stage=<name>`` re-runs a
stage from a run directory's artifacts (:func:`rerun`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import hydra
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from scepsy_opt import pipeline
from scepsy_opt.config import register_configs, to_settings
from scepsy_opt.core.artifacts import atomic_write_bytes, atomic_write_json, atomic_write_text
from scepsy_opt.core.catalog import load_catalog, load_yaml
from scepsy_opt.core.errors import EXIT_CODE, ConfigError, EmitError, ScepsyError
from scepsy_opt.core.profile_table import profile_filename, write_csv
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.trace import write_jsonl
from scepsy_opt.evaluate.harness import EvaluationResult, evaluation_to_json
from scepsy_opt.report import Report, ReportInputs, build_report
from scepsy_opt.report.sweep import SweepJob, job_row, summary_csv, summary_figure
from scepsy_opt.workflow.stage import WorkflowAnalysis, analysis_to_json

log = logging.getLogger("scepsy_opt")
CONF_DIR = data_dir("conf")
CURVES = "predicted_curves.json"
REPORT = "report.md"
JOB_ERROR = "error.json"  # a failed job of a sweep: its error, for the sweep summary


def _fail(error: ScepsyError) -> None:
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(EXIT_CODE)


def _search_dirs(argv: Sequence[str]) -> list[Path]:
    """The config folders a run reads: ours, ``--config-dir``, ``hydra.searchpath`` entries."""
    dirs = [CONF_DIR]
    for i, arg in enumerate(argv):
        if arg in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(Path(argv[i + 1]))
        elif arg.startswith("--config-dir="):
            dirs.append(Path(arg.split("=", 1)[1]))
        elif arg.lstrip("+").startswith("hydra.searchpath="):
            for entry in re.split(r"[,\[\]]", arg.split("=", 1)[1]):
                entry = entry.strip().strip("'\"")
                if entry.startswith("file://"):
                    dirs.append(Path(entry[len("file://"):]))
                elif entry and "://" not in entry:
                    dirs.append(Path(entry))
    return [d for d in dirs if d.is_dir()]


def check_config_syntax(argv: Sequence[str]) -> None:
    """Parse every YAML file of the config search path, so malformed YAML gets a clear error
    naming the file, line and column instead of a traceback from inside Hydra."""
    for folder in _search_dirs(argv):
        for path in sorted(folder.rglob("*.yaml")):
            try:
                load_yaml(path)
            except ScepsyError as exc:
                raise ConfigError(exc.problem, source=str(path), fix=exc.fix) from None


def _workflow_source(option: str) -> str:
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema == "file":
            candidate = Path(source.path) / "workflow" / f"{option}.yaml"
            if candidate.is_file():
                return str(candidate)
    return f"workflow '{option}'"


def _group_source(group: str, option: str | None = None) -> str:
    option = option or HydraConfig.get().runtime.choices.get(group)
    for source in HydraConfig.get().runtime.config_sources:
        if source.schema == "file":
            candidate = Path(source.path) / group / f"{option}.yaml"
            if candidate.is_file():
                return str(candidate)
    return f"{group} '{option}'"


def _available_workflows() -> list[str]:
    loader = GlobalHydra.instance().config_loader()
    return sorted(loader.get_group_options("workflow"))


def _fmt(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def format_summary(analysis: WorkflowAnalysis) -> str:
    """A readable table of the per-llm statistics (combined, and per member for a mix)."""
    lines = []
    blocks = [(analysis.workflow if len(analysis.members) == 1 else
               f"{analysis.workflow} (combined by rate)", analysis.combined)]
    if len(analysis.members) > 1:
        blocks += [(f"{m.workflow} (rate fraction {m.rate_fraction:.2f})", m.stats)
                   for m in analysis.members]
    header = ("llm", "n", "p", "c", "n/p", "share", "share CV", "in tok mean/p99",
              "out tok mean/p99", "call s mean")
    for title, stats in blocks:
        lat = stats.e2e_latency_s
        lines.append(f"\n{title}: {stats.num_requests} requests ({stats.duration_model}); "
                     f"end-to-end latency mean {_fmt(lat.mean)} s, p50 {_fmt(lat.p50)} s, "
                     f"p99 {_fmt(lat.p99)} s, CV {_fmt(lat.cv)}")
        rows = [header]
        for s in stats.llms:
            rows.append((
                s.llm, _fmt(s.calls_per_request.mean), _fmt(s.parallelism),
                _fmt(s.critical_path_weight), _fmt(s.n_over_p), _fmt(s.share),
                _fmt(s.share_cv),
                f"{_fmt(s.input_tokens.mean)}/{_fmt(s.input_tokens.p99)}",
                f"{_fmt(s.output_tokens.mean)}/{_fmt(s.output_tokens.p99)}",
                _fmt(s.call_duration_s.mean),
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for k, row in enumerate(rows):
            cells = [row[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
            lines.append("  " + "  ".join(cells))
            if k == 0:
                lines.append("  " + "  ".join("-" * w for w in widths))
        if stats is analysis.combined and len(analysis.members) > 1:
            continue  # per-request shares of pooled workflows are not one distribution
        verdict = "stable" if stats.shares_stable else "NOT stable"
        lines.append(f"  shares are {verdict}: share CV (share-weighted) "
                     f"{_fmt(stats.weighted_share_cv)} vs end-to-end latency CV {_fmt(lat.cv)}")
    return "\n".join(lines)


def format_profiles(profiles: dict) -> str:
    """Per profile: how many configurations hold the llm, the smallest TP degree that holds it on
    whole GPUs, and its decode step at batch 1 there."""
    lines = ["\nprofiles:"]
    for (llm, gpu), table in sorted(profiles.items()):
        memory = table.rows("memory")
        feasible = sorted({(int(t), float(f)) for t, f in zip(
            memory["tp"], memory["gpu_fraction"], strict=True)})
        whole = [t for t, f in feasible if f == 1.0]
        detail = "no configuration holds it"
        if whole:
            tp = min(whole)
            decode = table.rows("decode")
            mask = (decode["tp"] == tp) & (decode["gpu_fraction"] == 1.0) & (
                decode["batch_size"] == 1)
            steps = decode["time_ms"][mask]
            step = f", decode step at batch 1 {float(steps.min()):.2f} ms" if steps.size else ""
            detail = f"smallest TP on whole GPUs {tp}{step}"
        lines.append(f"  {llm} on {gpu} ({table.backend}): {len(feasible)} feasible "
                     f"TP x fraction configurations; {detail}")
    return "\n".join(lines)


def format_allocation(record: dict) -> str:
    """The planned allocation: per llm its configuration and predicted load and latency."""
    predicted = record["predicted"]
    lines = [f"\nallocation for {record['workflow']} at {_fmt(record['target_rate_rps'])} rps "
             f"on {record['cluster']} ({_fmt(record['gpus_used'])} of "
             f"{record['cluster_gpus']} {record['gpu']} GPUs), predicted: throughput up to "
             f"{_fmt(predicted['throughput_rps'])} rps, mean latency "
             f"{_fmt(predicted['latency_s'])} s (bottleneck {predicted['bottleneck']})"]
    rows = [("llm", "TP", "replicas", "fraction", "GPUs", "utilisation", "latency s", "share")]
    for llm, entry in record["llms"].items():
        p = entry["predicted"]
        rows.append((llm, str(entry["tp"]), str(entry["replicas"]),
                     _fmt(entry["gpu_fraction"]), _fmt(entry["gpus"]), _fmt(p["utilization"]),
                     _fmt(p["latency_contribution_s"]), f"{p['latency_share']:.0%}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    search = record["search"]
    lines.append(f"  search: {search['method']}, {search['allocations_scored']:,} allocations "
                 f"scored in {search['elapsed_s']:.2f} s")
    return "\n".join(lines)


def format_evaluation(evaluation: EvaluationResult) -> str:
    """One row per plan: GPUs, max sustainable rate, latency and throughput at the target."""
    lines = [f"\nevaluation of {evaluation.workflow} on {evaluation.cluster} at "
             f"{_fmt(evaluation.target_rate_rps)} rps (simulated):"]
    rows = [("plan", "GPUs", "max rps", "mean s", "p99 s", "throughput/offered")]
    for plan in evaluation.plans:
        if plan.error:
            lines.append(f"  {plan.name}: {plan.error}")
            continue
        m = plan.at_target
        rows.append((plan.name, _fmt(plan.allocation.gpus), _fmt(plan.max_sustainable_rate_rps),
                     _fmt(m.e2e_latency_s.mean), _fmt(m.e2e_latency_s.p99),
                     _fmt(m.throughput_ratio)))
    if len(rows) > 1:
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                          for i, (c, w) in enumerate(zip(row, widths,
                                                                         strict=True))))
    return "\n".join(lines)


def format_placement(result) -> str:
    """The placement: per node its GPUs' occupants, then the metrics and how it was solved."""
    from scepsy_opt.placement.verify import gpu_uses

    m = result.metrics
    lines = [f"\nplacement on {result.problem.cluster.name}: {result.method} ({result.status}), "
             f"{m.instances_placed} instances on {m.gpus_used} GPUs of {m.nodes_used} nodes, "
             f"{m.fragmented_gpus} fragmented GPU(s), anti-affinity excess "
             f"{m.anti_affinity_excess}, topology cost {m.topology_cost:.3g}"]
    by_node: dict[str, list[str]] = {}
    for use in gpu_uses(result.problem, result.placement):
        if use.occupants:
            names = "+".join(f"{llm}#{r}" for llm, r in use.occupants)
            by_node.setdefault(use.node, []).append(f"GPU{use.gpu}: {names}")
    for k, (node, cells) in enumerate(by_node.items()):
        if k == 16:
            lines.append(f"  ... and {len(by_node) - 16} more nodes (placement.json)")
            break
        lines.append(f"  {node}: " + ", ".join(cells))
    gap = "-" if result.gap is None else f"{result.gap:.2%}"
    solve_s = sum(r.solve_s for r in result.solves)
    build_s = sum(r.build_s for r in result.solves)
    lines.append(f"  objective {m.objective:.6g}, bound {_fmt(result.bound, 6)}, gap {gap}; "
                 f"build {build_s:.2f} s, solve {solve_s:.2f} s (HiGHS "
                 f"{result.solves[0].solver_version if result.solves else '-'})")
    if result.note:
        lines.append(f"  note: {result.note}")
    return "\n".join(lines)


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> None:
    try:
        _run(cfg)
    except ScepsyError as error:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            # one job of a sweep: record the error for the sweep summary, go on with the next
            output_dir = Path(HydraConfig.get().runtime.output_dir)
            atomic_write_json(output_dir / JOB_ERROR, {"error": str(error),
                                                       "type": type(error).__name__})
            log.error("job %s failed: %s", HydraConfig.get().job.num, error)
            return
        _fail(error)


def _run(cfg: DictConfig) -> None:
    """One run: the pipeline, a stage re-run (``from_run``) or an emit from a placement."""
    if cfg.from_run is not None:
        rerun(cfg)
        return
    if cfg.workflow is None:
        names = ", ".join(_available_workflows())
        raise ConfigError("no workflow selected", source="command line", field="workflow",
                          fix=f"add +workflow=<name>; shipped workflows: {names}")
    catalog = load_catalog()
    settings = to_settings(
        cfg, catalog,
        workflow_source=_workflow_source,
        workflow_option=HydraConfig.get().runtime.choices.get("workflow"),
        cluster_source=_group_source("cluster"),
    )
    if settings.emit.placement is not None:
        path = Path(settings.emit.placement).expanduser()
        emitted = pipeline.emit_placement(read_placement(path), str(path), settings,
                                          catalog)
        paths = write_emitted(emitted, Path(HydraConfig.get().runtime.output_dir))
        print(format_emitted(emitted))
        for written in paths:
            print(f"wrote {written}")
        return
    result = pipeline.run(settings, catalog)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    paths = write_artifacts(result, run_dir, write_traces=settings.analyze.write_traces)
    print(format_summary(result.analysis))
    if result.profiles:
        print(format_profiles(result.profiles))
    if result.allocation_record is not None:
        print(format_allocation(result.allocation_record))
    if result.placement is not None:
        print(format_placement(result.placement))
    if result.emitted is not None:
        print(format_emitted(result.emitted))
    if result.evaluation is not None:
        print(format_evaluation(result.evaluation))
    for path in paths:
        print(f"wrote {path}")
    if result.allocation_record is not None:
        print(format_run_summary(result.allocation_record, run_dir))


def write_artifacts(result: pipeline.PipelineResult, run_dir: Path, *, write_traces: bool
                    ) -> list[Path]:
    """Write the run's artifacts (each atomically) and return their paths."""
    paths = [run_dir / "workflow_stats.json"]
    atomic_write_json(paths[0], analysis_to_json(result.analysis))
    for (llm, gpu), table in sorted(result.profiles.items()):
        path = run_dir / "profiles" / profile_filename(llm, gpu)
        write_csv(table, path)
        paths.append(path)
    if result.allocation_record is not None:
        path = run_dir / "allocation.json"
        atomic_write_json(path, result.allocation_record)
        paths.append(path)
    if result.placement is not None:
        paths.extend(write_placement(result.placement, run_dir))
    if result.emitted is not None:
        paths.extend(write_emitted(result.emitted, run_dir))
    if result.curves is not None:
        path = run_dir / CURVES
        atomic_write_json(path, result.curves)
        paths.append(path)
    if result.evaluation is not None:
        path = run_dir / "evaluation.json"
        atomic_write_json(path, evaluation_to_json(result.evaluation))
        paths.append(path)
    if result.report is not None:
        paths.extend(write_report(result.report, run_dir))
    if write_traces:
        for name, table in result.tables.items():
            path = run_dir / "traces" / f"{name}.jsonl"
            write_jsonl(table, path)
            paths.append(path)
    return paths


def write_placement(result, run_dir: Path) -> list[Path]:
    """``placement.json``, the cluster map ``placement.png`` and, when exported, the model as
    ``placement.mps``."""
    import io

    from scepsy_opt.placement.artifact import placement_to_json
    from scepsy_opt.placement.plot import cluster_map

    paths = [run_dir / "placement.json", run_dir / "placement.png"]
    atomic_write_json(paths[0], placement_to_json(result))
    buffer = io.BytesIO()
    cluster_map(result).savefig(buffer, format="png")
    atomic_write_bytes(paths[1], buffer.getvalue())
    if result.mps is not None:
        paths.append(run_dir / "placement.mps")
        atomic_write_text(paths[-1], result.mps)
    return paths


def read_placement(path: Path) -> dict:
    """A ``placement.json`` to emit from (``emit.placement``)."""
    return read_json(path, "emit.placement", "point emit.placement at the placement.json of a "
                                             "run", EmitError)


def read_json(path: Path, field: str, fix: str, error: type[ScepsyError] = ConfigError) -> dict:
    """A JSON artifact; a missing or malformed file is a :class:`ScepsyError` naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {path.name} ({exc.strerror})", source=str(path),
                    field=field, fix=fix) from None
    except json.JSONDecodeError as exc:
        raise error(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
                    source=str(path), field=field,
                    fix="restore the file as the stage that wrote it left it") from None


def format_emitted(emitted) -> str:
    """What the emit stage rendered: instances per node and files per format."""
    plan = emitted.plan
    lines = [f"\nmanifests for {len(plan.records)} instance(s) on {len(plan.nodes)} node(s) "
             f"({plan.mechanism} for shared GPUs), validated:"]
    for fmt in dict.fromkeys(f.format for f in emitted.files):
        count = sum(1 for f in emitted.files if f.format == fmt)
        lines.append(f"  {fmt}: {count} file(s)")
    for r in plan.records:
        gpus = ",".join(map(str, r.gpus))
        lines.append(f"  {r.name}: {r.node} GPU {gpus}, {r.mechanism} {r.gpu_fraction:g}, "
                     f"TP {r.tp}, port {r.port}, gpu-memory-utilization "
                     f"{r.gpu_memory_utilization:g}, max-model-len {r.max_model_len_tokens}")
    return "\n".join(lines)


def write_tree(files: dict[str, str], target: Path, *, executable: tuple[str, ...] = (".sh",)
               ) -> list[Path]:
    """Write ``files`` (relative path -> text) as the folder ``target``, atomically as a whole:
    everything goes to a temporary folder beside it, which then replaces ``target``. A failure
    leaves the previous ``target`` (or none) untouched."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old: Path | None = None
    try:
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if path.suffix in executable:
                path.chmod(0o755)
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old",
                                        dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            os.replace(old / target.name, target)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return [target / relative for relative in files]


def write_emitted(emitted, run_dir: Path) -> list[Path]:
    """The ``manifests/`` tree (replaced as a whole) and ``plan.json``."""
    paths = []
    manifests = emitted.manifests()
    if manifests:
        paths += write_tree(manifests, run_dir / "manifests")
    for relative, text in emitted.top_level().items():
        atomic_write_text(run_dir / relative, text)
        paths.append(run_dir / relative)
    return paths


def format_run_summary(record: dict, run_dir: Path) -> str:
    """The console's closing table: per llm its TP, replicas, gpu fraction and GPUs; the
    predicted throughput and latency; where the manifests and the report are."""
    predicted = record["predicted"]
    lines = [f"\nsummary: {record['workflow']} on {record['cluster']} at "
             f"{_fmt(record['target_rate_rps'])} rps"]
    rows = [("llm", "TP", "replicas", "fraction", "GPUs")]
    for llm, entry in record["llms"].items():
        rows.append((llm, str(entry["tp"]), str(entry["replicas"]),
                     _fmt(entry["gpu_fraction"]), _fmt(entry["gpus"])))
    rows.append(("total", "", "", "", f"{_fmt(record['gpus_used'])} of "
                                      f"{record['cluster_gpus']}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        if k in (1, len(rows) - 1):
            lines.append("  " + "  ".join("-" * w for w in widths))
        lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    lines.append(f"  predicted: throughput up to {_fmt(predicted['throughput_rps'])} rps, mean "
                 f"latency {_fmt(predicted['latency_s'])} s at the target")
    manifests = run_dir / "manifests"
    if manifests.is_dir():
        formats = ", ".join(sorted(p.name for p in manifests.iterdir() if p.is_dir()))
        lines.append(f"  manifests: {manifests} ({formats})")
    if (run_dir / "plan.json").is_file():
        lines.append(f"  plan: {run_dir / 'plan.json'}")
    if (run_dir / REPORT).is_file():
        lines.append(f"  report: {run_dir / REPORT}")
    return "\n".join(lines)


def write_report(report: Report, run_dir: Path) -> list[Path]:
    """``report.md`` and its figures, each atomically."""
    paths = []
    for name, data in report.figures.items():
        atomic_write_bytes(run_dir / name, data)
        paths.append(run_dir / name)
    atomic_write_text(run_dir / REPORT, report.markdown)
    return [*paths, run_dir / REPORT]


def _optional_json(path: Path) -> dict | None:
    return read_json(path, "from_run", "re-run the stage that writes it") if path.is_file() \
        else None


def report_inputs_from_dir(run_dir: Path) -> ReportInputs:
    """The report's inputs as a run directory holds them (``workflow_stats.json`` required)."""
    stats = run_dir / "workflow_stats.json"
    if not stats.is_file():
        raise ConfigError("the run directory has no workflow_stats.json", source=str(run_dir),
                          field="from_run",
                          fix="point from_run at the output directory of a finished run")
    manifests = run_dir / "manifests"
    return ReportInputs(
        stats=read_json(stats, "from_run", "re-run the workflow"),
        allocation=_optional_json(run_dir / "allocation.json"),
        placement=_optional_json(run_dir / "placement.json"),
        curves=_optional_json(run_dir / CURVES),
        evaluation=_optional_json(run_dir / "evaluation.json"),
        plan=_optional_json(run_dir / "plan.json"),
        placement_figure="placement.png" if (run_dir / "placement.png").is_file() else None,
        manifests=tuple(f"manifests/{p.name}" for p in sorted(manifests.iterdir())
                        if p.is_dir()) if manifests.is_dir() else ())


def _override_key(override: str) -> str:
    return override.lstrip("+~").split("=", 1)[0]


NOT_CARRIED = ("stop_after", "from_run", "stage", "emit.placement")


def rerun_overrides(earlier: Sequence[str], current: Sequence[str]) -> list[str]:
    """The earlier run's overrides, then this command line's (which win). Hydra's own
    settings except the config search path stay with the command line that gave them, and
    where the earlier run stopped (``stop_after``) does not carry over: a run that stopped
    after the search goes on with ``stage=place``."""
    def keep(override: str) -> bool:
        key = _override_key(override)
        return not key.startswith("hydra.") or key == "hydra.searchpath"

    mine = {_override_key(o) for o in current}
    return ([o for o in earlier if keep(o) and _override_key(o) not in mine
             and _override_key(o) not in NOT_CARRIED]
            + [o for o in current if keep(o)])


def _option(overrides: Sequence[str], group: str) -> str | None:
    values = [o.split("=", 1)[1] for o in overrides if _override_key(o) == group and "=" in o]
    return values[-1] if values else None


def rerun(cfg: DictConfig) -> None:
    """``from_run=<dir> stage=<place|emit|report>``: that stage and the following ones up to
    ``stop_after``, from the artifacts of the run directory, written back into it. Earlier
    stages are not repeated: place reads allocation.json, emit placement.json, report every
    artifact."""
    from hydra import compose

    from scepsy_opt.config import STAGES

    run_dir = Path(str(cfg.from_run)).expanduser()
    if not run_dir.is_dir():
        raise ConfigError("no such run directory", source="command line", field="from_run",
                          value=str(run_dir),
                          fix="point from_run at the output directory of an earlier run")
    saved = run_dir / ".hydra" / "overrides.yaml"
    earlier = [str(o) for o in (load_yaml(saved) or [])] if saved.is_file() else []
    overrides = rerun_overrides(earlier, list(HydraConfig.get().overrides.task))
    composed = compose(config_name="config", overrides=overrides)
    if composed.workflow is None:
        raise ConfigError("no workflow selected", source=str(saved), field="workflow",
                          fix="add +workflow=<name> (the run directory has no "
                              ".hydra/overrides.yaml naming it)")
    catalog = load_catalog()
    settings = to_settings(composed, catalog, workflow_source=_workflow_source,
                           workflow_option=_option(overrides, "workflow") or "",
                           cluster_source=_group_source("cluster", _option(overrides, "cluster")))
    last = STAGES.index(settings.stop_after)
    first = STAGES.index(settings.stage)
    if last < first:
        raise ConfigError("stop_after comes before the stage to re-run", source="command line",
                          field="stop_after", value=settings.stop_after,
                          fix=f"use stop_after={settings.stage} or a later stage")
    todo = STAGES[first:last + 1]
    log.info("re-running %s from %s", ", ".join(todo), run_dir)
    paths: list[Path] = []
    if "place" in todo:
        source = run_dir / "allocation.json"
        document = read_json(source, "from_run", "re-run the whole pipeline into this "
                                                 "directory: it has no allocation")
        earlier_placement = _optional_json(run_dir / "placement.json")
        affinity = tuple((a["llms"][0], a["llms"][1], float(a["weight"]))
                         for a in (earlier_placement or {}).get("affinity", []))
        placed = pipeline.place_from_allocation(document, str(source), settings, catalog,
                                                affinity)
        paths += write_placement(placed, run_dir)
        print(format_placement(placed))
    if "emit" in todo:
        source = run_dir / "placement.json"
        document = read_json(source, "from_run", "re-run from stage=place")
        emitted = pipeline.emit_placement(document, str(source), settings, catalog)
        paths += write_emitted(emitted, run_dir)
        print(format_emitted(emitted))
    if "report" in todo:
        paths += write_report(build_report(report_inputs_from_dir(run_dir)), run_dir)
    for path in paths:
        print(f"wrote {path}")
    allocation = _optional_json(run_dir / "allocation.json")
    if allocation is not None:
        print(format_run_summary(allocation, run_dir))


SWEEP_CSV = "sweep_summary.csv"
SWEEP_FIGURE = "sweep_summary.png"


def read_sweep_jobs(sweep_dir: Path) -> list[SweepJob]:
    """Every job of a sweep directory (a folder with ``.hydra/config.yaml``), by job number."""
    jobs = []
    for config_path in sorted(sweep_dir.glob("*/.hydra/config.yaml")):
        job_dir = config_path.parent.parent
        hydra_yaml = job_dir / ".hydra" / "hydra.yaml"
        num = len(jobs)
        if hydra_yaml.is_file():
            num = int((load_yaml(hydra_yaml) or {}).get("hydra", {}).get("job", {})
                       .get("num", num))
        overrides_path = job_dir / ".hydra" / "overrides.yaml"
        overrides = load_yaml(overrides_path) if overrides_path.is_file() else []
        error = _optional_json(job_dir / JOB_ERROR)
        jobs.append(SweepJob(
            num=num, run_dir=str(job_dir), config=load_yaml(config_path) or {},
            overrides=tuple(str(o) for o in overrides or ()),
            allocation=_optional_json(job_dir / "allocation.json"),
            placement=_optional_json(job_dir / "placement.json"),
            evaluation=_optional_json(job_dir / "evaluation.json"),
            error=None if error is None else error["error"]))
    return sorted(jobs, key=lambda job: job.num)


def write_sweep_summary(sweep_dir: Path) -> list[Path]:
    """``sweep_summary.csv`` and ``sweep_summary.png`` of the jobs in ``sweep_dir``."""
    from scepsy_opt.report.figures import png_bytes

    rows = [job_row(job) for job in read_sweep_jobs(sweep_dir)]
    atomic_write_text(sweep_dir / SWEEP_CSV, summary_csv(rows))
    atomic_write_bytes(sweep_dir / SWEEP_FIGURE, png_bytes(summary_figure(rows)))
    failed = [r for r in rows if r["status"] in ("failed", "incomplete")]
    if failed:
        log.warning("%d of %d sweep job(s) without a plan: %s", len(failed), len(rows),
                    "; ".join(f"job {r['job']}: {r['error']}" for r in failed))
    return [sweep_dir / SWEEP_CSV, sweep_dir / SWEEP_FIGURE]


class SweepSummary(Callback):
    """Hydra callback (``hydra.callbacks`` in ``conf/config.yaml``): when a multirun ends, the
    sweep directory gets ``sweep_summary.csv`` (one row per job: target, GPUs, predicted and
    simulated latency, or the job's error) and ``sweep_summary.png``."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            paths = write_sweep_summary(sweep_dir)
        except ScepsyError as error:
            log.error("no sweep summary: %s", error)
            return
        for path in paths:
            print(f"wrote {path}")


def main() -> None:
    register_configs()
    try:
        check_config_syntax(sys.argv[1:])
    except ScepsyError as error:
        _fail(error)
    _hydra_entry()


if __name__ == "__main__":
    main()
