"""What a run shows on the console (:func:`view`): the artifacts' documents as readable text,
every table through :func:`table`. Pure: text out; :mod:`scepsy_opt.cli` prints it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from scepsy_opt import pipeline
from scepsy_opt.core.documents import (
    AllocationDocument,
    EvaluationDocument,
    PlacementDocument,
    WorkflowStatsDocument,
)
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.emit.stage import EmitResult

REPORT = "report.md"


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table: ``-`` when missing or not finite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def table(rows: Sequence[Sequence[str]], rules: Sequence[int] = ()) -> list[str]:
    """Aligned, indented rows (the first column left, the others right); a rule of dashes
    before each row index in ``rules``."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        if k in rules:
            lines.append("  " + "  ".join("-" * w for w in widths))
        lines.append("  " + "  ".join(c.rjust(w) if i else c.ljust(w)
                                      for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return lines


def summary(document: WorkflowStatsDocument) -> str:
    """The per-llm statistics (combined, and per member for a mix)."""
    members = document.workflows
    mix = len(members) > 1
    blocks = [(f"{document.workflow} (combined by rate)" if mix else document.workflow,
               document.stats)]
    if mix:
        blocks += [(f"{name} (rate fraction {m.rate_fraction:.2f})", m.stats)
                   for name, m in members.items()]
    lines = []
    for k, (title, stats) in enumerate(blocks):
        lat = stats.e2e_latency_s
        lines.append(f"\n{title}: {stats.num_requests} requests ({stats.duration_model}); "
                     f"end-to-end latency mean {fmt(lat.mean)} s, p50 {fmt(lat.p50)} s, "
                     f"p99 {fmt(lat.p99)} s, CV {fmt(lat.cv)}")
        rows = [("llm", "n", "p", "c", "n/p", "share", "share CV", "in tok mean/p99",
                 "out tok mean/p99", "call s mean")]
        rows += [(llm, fmt(s.calls_per_request.mean), fmt(s.parallelism),
                  fmt(s.critical_path_weight), fmt(s.n_over_p), fmt(s.share), fmt(s.share_cv),
                  f"{fmt(s.input_tokens.mean)}/{fmt(s.input_tokens.p99)}",
                  f"{fmt(s.output_tokens.mean)}/{fmt(s.output_tokens.p99)}",
                  fmt(s.call_duration_s.mean)) for llm, s in stats.llms.items()]
        lines += table(rows, rules=(1,))
        if k == 0 and mix:
            continue  # per-request shares of pooled workflows are not one distribution
        verdict = "stable" if stats.shares_stable else "NOT stable"
        lines.append(f"  shares are {verdict}: share CV (share-weighted) "
                     f"{fmt(stats.weighted_share_cv)} vs end-to-end latency CV {fmt(lat.cv)}")
    return "\n".join(lines)


def profiles(tables: dict[tuple[str, str], ProfileTable]) -> str:
    """Per profile: how many configurations hold the llm, the smallest TP degree that holds it on
    whole GPUs, and its decode step at batch 1 there."""
    lines = ["\nprofiles:"]
    for (llm, gpu), profile in sorted(tables.items()):
        memory = profile.rows("memory")
        feasible = sorted({(int(t), float(f)) for t, f in zip(
            memory["tp"], memory["gpu_fraction"], strict=True)})
        whole = [t for t, f in feasible if f == 1.0]
        detail = "no configuration holds it"
        if whole:
            tp = min(whole)
            decode = profile.rows("decode")
            mask = (decode["tp"] == tp) & (decode["gpu_fraction"] == 1.0) & (
                decode["batch_size"] == 1)
            steps = decode["time_ms"][mask]
            step = f", decode step at batch 1 {float(steps.min()):.2f} ms" if steps.size else ""
            detail = f"smallest TP on whole GPUs {tp}{step}"
        lines.append(f"  {llm} on {gpu} ({profile.backend}): {len(feasible)} feasible "
                     f"TP x fraction configurations; {detail}")
    return "\n".join(lines)


def allocation(record: AllocationDocument) -> str:
    """The planned allocation: per llm its configuration and predicted load and latency."""
    predicted = record.predicted
    lines = [f"\nallocation for {record.workflow} at {fmt(record.target_rate_rps)} rps "
             f"on {record.cluster} ({fmt(record.gpus_used)} of "
             f"{record.cluster_gpus} {record.gpu} GPUs), predicted: throughput up to "
             f"{fmt(predicted.throughput_rps)} rps, mean latency "
             f"{fmt(predicted.latency_s)} s (bottleneck {predicted.bottleneck})"]
    rows = [("llm", "TP", "replicas", "fraction", "GPUs", "utilisation", "latency s", "share")]
    rows += [(llm, str(e.tp), str(e.replicas), fmt(e.gpu_fraction), fmt(e.gpus),
              fmt(e.predicted.utilization), fmt(e.predicted.latency_contribution_s),
              f"{e.predicted.latency_share:.0%}") for llm, e in record.llms.items()]
    lines += table(rows)
    search = record.search
    lines.append(f"  search: {search.method}, {search.allocations_scored:,} allocations "
                 f"scored in {search.elapsed_s:.2f} s")
    return "\n".join(lines)


def evaluation(document: EvaluationDocument) -> str:
    """One row per plan: GPUs, max sustainable rate, latency and throughput at the target."""
    lines = [f"\nevaluation of {document.workflow} on {document.cluster} at "
             f"{fmt(document.target_rate_rps)} rps (simulated):"]
    rows = [("plan", "GPUs", "max rps", "mean s", "p99 s", "throughput/offered")]
    for name, plan in document.plans.items():
        if plan.error or plan.at_target is None:
            lines.append(f"  {name}: {plan.error}")
            continue
        m = plan.at_target
        rows.append((name, fmt(plan.gpus), fmt(plan.max_sustainable_rate_rps),
                     fmt(m.e2e_latency_s.mean), fmt(m.e2e_latency_s.p99),
                     fmt(m.throughput_ratio)))
    if len(rows) > 1:
        lines += table(rows)
    return "\n".join(lines)


def placement(document: PlacementDocument) -> str:
    """The placement: per node its GPUs' occupants, then the metrics and how it was solved."""
    m, objective, solves = document.metrics, document.objective, document.solver.solves
    lines = [f"\nplacement on {document.cluster}: {document.method} ({document.status}), "
             f"{m.instances_placed} instances on {m.gpus_used} GPUs of {m.nodes_used} nodes, "
             f"{document.fragmentation.fragmented_gpus} fragmented GPU(s), anti-affinity excess "
             f"{m.anti_affinity_excess}, topology cost {m.topology_cost:.3g}"]
    by_node: dict[str, list[str]] = {}
    for use in document.gpus:
        if use.occupants:
            names = "+".join(f"{o.llm}#{o.replica}" for o in use.occupants)
            by_node.setdefault(use.node, []).append(f"GPU{use.gpu}: {names}")
    for k, (node, cells) in enumerate(by_node.items()):
        if k == 16:
            lines.append(f"  ... and {len(by_node) - 16} more nodes (placement.json)")
            break
        lines.append(f"  {node}: " + ", ".join(cells))
    gap = "-" if objective.gap is None else f"{objective.gap:.2%}"
    value = "-" if objective.value is None else f"{objective.value:.6g}"
    lines.append(f"  objective {value}, bound {fmt(objective.bound, 6)}, gap {gap}; "
                 f"build {sum(s.build_s for s in solves):.2f} s, "
                 f"solve {sum(s.solve_s for s in solves):.2f} s (HiGHS "
                 f"{solves[0].solver_version if solves else '-'})")
    if document.note:
        lines.append(f"  note: {document.note}")
    return "\n".join(lines)


def emitted(result: EmitResult) -> str:
    """What the emit stage rendered: instances per node and files per format."""
    plan = result.plan
    lines = [f"\nmanifests for {len(plan.records)} instance(s) on {len(plan.nodes)} node(s) "
             f"({plan.mechanism} for shared GPUs), validated:"]
    for name in dict.fromkeys(f.format for f in result.files):
        count = sum(1 for f in result.files if f.format == name)
        lines.append(f"  {name}: {count} file(s)")
    for r in plan.records:
        gpus = ",".join(map(str, r.gpus))
        lines.append(f"  {r.name}: {r.node} GPU {gpus}, {r.mechanism} {r.gpu_fraction:g}, "
                     f"TP {r.tp}, port {r.port}, gpu-memory-utilization "
                     f"{r.gpu_memory_utilization:g}, max-model-len {r.max_model_len_tokens}")
    return "\n".join(lines)


def run_summary(record: AllocationDocument, run_dir: Path) -> str:
    """The closing table: per llm its TP, replicas, gpu fraction and GPUs; the predicted
    throughput and latency; where the manifests and the report are."""
    lines = [f"\nsummary: {record.workflow} on {record.cluster} at "
             f"{fmt(record.target_rate_rps)} rps"]
    rows = [("llm", "TP", "replicas", "fraction", "GPUs")]
    rows += [(llm, str(e.tp), str(e.replicas), fmt(e.gpu_fraction), fmt(e.gpus))
             for llm, e in record.llms.items()]
    rows.append(("total", "", "", "", f"{fmt(record.gpus_used)} of {record.cluster_gpus}"))
    lines += table(rows, rules=(1, len(rows) - 1))
    lines.append(f"  predicted: throughput up to {fmt(record.predicted.throughput_rps)} rps, "
                 f"mean latency {fmt(record.predicted.latency_s)} s at the target")
    manifests = run_dir / "manifests"
    if manifests.is_dir():
        formats = ", ".join(sorted(p.name for p in manifests.iterdir() if p.is_dir()))
        lines.append(f"  manifests: {manifests} ({formats})")
    if (run_dir / "plan.json").is_file():
        lines.append(f"  plan: {run_dir / 'plan.json'}")
    if (run_dir / REPORT).is_file():
        lines.append(f"  report: {run_dir / REPORT}")
    return "\n".join(lines)


def view(result: pipeline.PipelineResult, paths: Sequence[Path], run_dir: Path,
         closing: AllocationDocument | None = None) -> str:
    """A run on the console: what each stage that ran made, the files written, and the
    closing summary of the allocation ``closing``."""
    parts = []
    if "analyze" in result.ran:
        parts.append(summary(result.stats))
    if result.profiles:
        parts.append(profiles(result.profiles))
    if "search" in result.ran:
        parts.append(allocation(result.allocation))
    if "place" in result.ran:
        parts.append(placement(result.placement_document))
    if result.emitted is not None:
        parts.append(emitted(result.emitted))
    if "evaluate" in result.ran:
        parts.append(evaluation(result.evaluation))
    parts += [f"wrote {path}" for path in paths]
    if closing is not None:
        parts.append(run_summary(closing, run_dir))
    return "\n".join(parts)
