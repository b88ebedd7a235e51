"""The report stage's entry: ``report.md`` (markdown text) and its figures (PNG bytes) from a
run's artifact documents.

Every input is a typed document (:mod:`scepsy_opt.core.documents`: ``workflow_stats.json``,
``allocation.json``, ``placement.json``, ``evaluation.json``, ``plan.json``) or, for
``predicted_curves.json``, its JSON object; a re-run reads them back from the run directory, so
the report of a finished run can be rebuilt from its directory alone.
Figures are referenced by file name relative to the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.documents import (
    AllocationDocument,
    EvaluationDocument,
    PlacementDocument,
    PlanDocument,
    WorkflowStatsDocument,
)
from scepsy_opt.core.fault_domains import FaultDomains, Tenant, fault_domains
from scepsy_opt.core.markdown import table
from scepsy_opt.report.figures import latency_throughput_figure, png_bytes

CURVES_FIGURE = "latency_throughput.png"
PLACEMENT_FIGURE = "placement.png"


@dataclass(frozen=True)
class ReportInputs:
    """The artifacts a report is built from (``None``: the run has no such artifact)."""

    stats: WorkflowStatsDocument
    allocation: AllocationDocument | None = None
    placement: PlacementDocument | None = None
    curves: dict | None = None  # predicted_curves.json
    evaluation: EvaluationDocument | None = None
    plan: PlanDocument | None = None
    placement_figure: str | None = None  # file name of the cluster map, when it exists
    manifests: tuple[str, ...] = ()  # manifest folders, relative to the run directory
    prerequisites: tuple[str, ...] = ()  # what the Kubernetes manifests need from the cluster


@dataclass(frozen=True)
class Report:
    markdown: str
    figures: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG bytes


def fmt(value, digits: int = 3) -> str:
    """A number for a table: ``-`` for missing or non-finite values."""
    if value is None or isinstance(value, str):
        return "-" if value is None else value
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _stats_section(document: WorkflowStatsDocument) -> list[str]:
    stats = document.stats
    lat = stats.e2e_latency_s
    lines = ["## Workflow statistics", "",
             f"{fmt(stats.num_requests)} requests ({stats.duration_model}); "
             f"end-to-end latency (unloaded) mean {fmt(lat.mean)} s, p50 "
             f"{fmt(lat.p50)} s, p99 {fmt(lat.p99)} s, CV {fmt(lat.cv)}.", ""]
    rows = []
    for llm, s in stats.llms.items():
        rows.append((f"`{llm}`", fmt(s.calls_per_request.mean), fmt(s.parallelism),
                     fmt(s.critical_path_weight), fmt(s.share), fmt(s.share_cv),
                     f"{fmt(s.input_tokens.mean)} / {fmt(s.input_tokens.p99)}",
                     f"{fmt(s.output_tokens.mean)} / {fmt(s.output_tokens.p99)}"))
    lines += table(("llm", "calls n", "parallelism p", "critical path c", "share", "share CV",
                    "input tokens mean / p99", "output tokens mean / p99"), rows)
    members = document.workflows
    if members:
        lines.append("")
        for name, member in members.items():
            verdict = "stable" if member.stats.shares_stable else "**not stable**"
            lines.append(f"- `{name}` (rate fraction {fmt(member.rate_fraction)}): "
                         f"shares are {verdict}: share-weighted share CV "
                         f"{fmt(member.stats.weighted_share_cv)} vs end-to-end latency CV "
                         f"{fmt(member.stats.e2e_latency_s.cv)}")
    return lines


def _allocation_section(record: AllocationDocument) -> list[str]:
    predicted = record.predicted
    lines = ["## Allocation", "",
             f"Target {fmt(record.target_rate_rps)} requests/s on `{record.cluster}` "
             f"({fmt(record.gpus_used)} of {record.cluster_gpus} {record.gpu} GPUs "
             f"used, utilisation cap {fmt(record.utilization_cap)}). Predicted: throughput "
             f"up to {fmt(predicted.throughput_rps)} requests/s, mean latency "
             f"{fmt(predicted.latency_s)} s at the target (tools "
             f"{fmt(predicted.tool_latency_s)} s), bottleneck `{predicted.bottleneck}`.",
             ""]
    rows = []
    for llm, e in record.llms.items():
        p = e.predicted
        rows.append((f"`{llm}`", str(e.tp), str(e.replicas), fmt(e.gpu_fraction),
                     fmt(e.gpus), fmt(p.utilization), fmt(p.capacity_rps),
                     fmt(p.latency_contribution_s), f"{p.latency_share:.0%}"))
    lines += table(("llm", "TP", "replicas", "gpu fraction", "GPUs", "utilisation",
                    "capacity calls/s per replica", "latency s", "latency share"), rows)
    return lines


def _placement_section(record: PlacementDocument, figure: str | None) -> list[str]:
    m, frag = record.metrics, record.fragmentation
    lines = ["## Placement", ""]
    if figure:
        lines += [f"![cluster map]({figure})", ""]
    lines += [f"{m.instances_placed} of {m.instances_requested} instances on "
              f"{m.gpus_used} GPUs of {m.nodes_used} node(s) of `{record.cluster}` "
              f"({record.method}, {record.status}; shared GPUs by "
              f"{record.mechanism}): {frag.fragmented_gpus} fragmented GPU(s), "
              f"{frag.partially_used_gpus} partially used, anti-affinity excess "
              f"{m.anti_affinity_excess}, topology cost {fmt(m.topology_cost)}.", ""]
    rows = [(f"`{i.llm}`", str(i.replica), i.node, ",".join(map(str, i.gpus)),
             str(i.tp), fmt(i.gpu_fraction), fmt(i.memory_gib_per_gpu))
            for i in record.instances]
    lines += table(("llm", "replica", "node", "GPUs", "TP", "gpu fraction",
                    "memory GiB per GPU"), rows)
    if record.unplaced:
        lines += ["", "Unplaced: " + ", ".join(f"`{u.llm}`#{u.replica}"
                                               for u in record.unplaced)]
    return lines


def plan_domains(inputs: ReportInputs) -> FaultDomains | None:
    """The fault domains of the run's plan (``plan.json``), else of its placement (None:
    neither is there), by the one computation of :mod:`scepsy_opt.core.fault_domains`."""
    if inputs.plan is not None:
        return fault_domains([Tenant.of(r.name, r.llm, ((g.node, g.gpus) for g in r.nodes),
                                        r.mechanism) for r in inputs.plan.instances])
    if inputs.placement is not None:
        return fault_domains([Tenant.of(
            f"{i.llm}-{i.replica}", i.llm, ((i.node, i.gpus),),
            "whole" if i.gpu_fraction >= 1 - TOLERANCE else i.mechanism)
            for i in inputs.placement.instances])
    return None


def _gpu_list(gpus: Sequence[tuple[str, int]]) -> str:
    """``node-0: 0-3, 6; node-1: 2``: GPU ids per node, runs collapsed."""
    per_node: dict[str, list[int]] = {}
    for node, g in gpus:
        per_node.setdefault(node, []).append(g)
    parts = []
    for node, ids in per_node.items():
        ids = sorted(set(ids))
        runs, start = [], ids[0]
        for a, b in zip(ids, ids[1:] + [None], strict=True):
            if b != a + 1:
                runs.append(str(start) if start == a else f"{start}-{a}")
                start = b
        parts.append(f"{node}: {', '.join(runs)}")
    return "; ".join(parts)


def _fault_section(domains: FaultDomains) -> list[str]:
    lines = ["## Fault domains", "",
             "Under MPS a fatal GPU fault of one instance takes down every instance that shares "
             "a GPU with it, and through tensor-parallel groups every instance on the GPUs "
             "they span; whole-GPU and MIG instances fail alone. Set `emit.mps.isolation` to "
             "keep llms off one another's GPUs.", ""]
    shared = domains.shared
    if shared:
        rows = [(str(d.id), str(d.size), ", ".join(f"`{llm}`" for llm in d.llms),
                 _gpu_list(d.gpus), ", ".join(d.instances)) for d in shared]
        lines += table(("domain", "instances", "llms", "GPUs", "instance names"), rows,
                       "lrlll") + [""]
    else:
        lines += ["No instance shares a GPU with another.", ""]
    most = domains.max_instances
    lines.append(f"A single fatal GPU fault can take down at most {most} "
                 f"instance{'s' if most != 1 else ''} ({len(shared)} shared fault "
                 f"domain{'s' if len(shared) != 1 else ''}, {len(domains.domains)} in all).")
    return lines


def _curves_section(curves: dict | None, evaluation: EvaluationDocument | None,
                    figure: str | None) -> list[str]:
    lines = ["## Latency and throughput against the baselines", ""]
    if figure:
        lines += [f"![latency against throughput]({figure})", ""]
    if curves:
        lines += [f"Predicted by the surrogate (lines in the figure, up to "
                  f"{curves['load_cap']:.0%} of each plan's predicted highest throughput):", ""]
        rows = []
        for name, entry in curves["plans"].items():
            if "error" in entry:
                rows.append((name, "-", "-", "-", entry["error"]))
                continue
            rows.append((name, fmt(entry["gpus"]), fmt(entry["max_throughput_rps"]),
                         fmt(entry["latency_at_target_s"]), ""))
        lines += table(("plan", "GPUs", "max throughput rps", "mean latency s at target",
                        "note"), rows, "lrrrl")
        lines.append("")
    if evaluation:
        lines += [f"Simulated at {fmt(evaluation.target_rate_rps)} requests/s (markers in the "
                  "figure: latency at the target; squares: rates the search for the highest "
                  "sustainable rate simulated and sustained; triangles: that rate):", ""]
        rows = []
        for name, entry in evaluation.plans.items():
            at = entry.at_target
            if at is None:
                rows.append((name, fmt(entry.gpus), "-", "-", "-", "-", "-", entry.error or ""))
                continue
            lat = at.e2e_latency_s
            rows.append((name, fmt(entry.gpus), fmt(entry.max_sustainable_rate_rps),
                         fmt(at.completed_throughput_rps), fmt(lat.mean),
                         fmt(lat.p50), fmt(lat.p99), entry.note or ""))
        lines += table(("plan", "GPUs", "max sustainable rps", "throughput rps", "mean s",
                        "p50 s", "p99 s", "note"), rows, "lrrrrrrl")
    elif curves:
        lines.append("Run with `evaluate=true` to add the simulated comparison.")
    return lines


def _solver_section(allocation: AllocationDocument | None,
                    placement: PlacementDocument | None) -> list[str]:
    lines = ["## Solver statistics", ""]
    if allocation is not None:
        search = allocation.search
        starts = sum(1 for s in search.trace if s.phase == "start")
        configs = sum(len(c) for c in search.configurations.values())
        lines.append(f"- search: {search.method}, {fmt(search.allocations_scored)} "
                     f"allocations scored in {search.elapsed_s:.2f} s from {starts} "
                     f"start(s), {len(search.trace)} trace steps, {configs} (TP, fraction) "
                     "configurations")
        fit = allocation.fit
        if fit is not None:
            reused = sum(1 for f in fit.instances.values() if f.reused)
            line = (f"- fit: {fmt(fit.elapsed_s)} s, {reused} of {len(fit.instances)} "
                    "instance models reused from the cache")
            workflow = fit.workflow
            if workflow is not None:
                line += (f"; workflow calibration {'reused' if workflow.reused else 'fitted'}"
                         f" on {workflow.calibration_runs} simulated runs, loss "
                         f"{fmt(workflow.loss)}")
            lines.append(line)
    if placement is not None:
        objective = placement.objective
        gap = objective.gap
        lines.append(f"- placement: {placement.method} ({placement.status}), objective "
                     f"{fmt(objective.value, 6)}, bound {fmt(objective.bound, 6)}, gap "
                     f"{'-' if gap is None else f'{gap:.2%}'}, "
                     f"{placement.solver.elapsed_s:.2f} s in all")
        solves = placement.solver.solves
        if solves:
            rows = [(s.model, s.status, s.termination, fmt(s.objective, 6),
                     fmt(s.bound, 6), "-" if s.gap is None else f"{s.gap:.2%}",
                     fmt(s.variables), fmt(s.constraints), f"{s.build_s:.2f}",
                     f"{s.solve_s:.2f}") for s in solves]
            lines += [""] + table(("model", "status", "termination", "objective", "bound",
                                   "gap", "variables", "constraints", "build s", "solve s"),
                                  rows, "lllrrrrrrr")
            lines += ["", f"Solver: {solves[0].solver} {solves[0].solver_version}."]
    if len(lines) == 2:
        lines.append("No search or placement in this run.")
    return lines


def _where(inputs: ReportInputs) -> tuple[str, float] | None:
    """The cluster and target rate the run planned for, from the first artifact that has them."""
    if inputs.allocation is not None:
        return inputs.allocation.cluster, inputs.allocation.target_rate_rps
    if inputs.curves:
        return inputs.curves["cluster"], inputs.curves["target_rate_rps"]
    if inputs.evaluation is not None:
        return inputs.evaluation.cluster, inputs.evaluation.target_rate_rps
    return None


def build_report(inputs: ReportInputs) -> Report:
    """The markdown report and its figures (``latency_throughput.png`` when there are
    predicted curves or an evaluation)."""
    stats = inputs.stats
    figures: dict[str, bytes] = {}
    evaluation = inputs.evaluation.to_json() if inputs.evaluation is not None else None
    if inputs.curves or evaluation:
        figures[CURVES_FIGURE] = png_bytes(latency_throughput_figure(inputs.curves, evaluation))
    title = f"# Plan for `{stats.workflow}`"
    where = _where(inputs)
    if where is not None:
        title += f" on `{where[0]}` at {fmt(where[1])} requests/s"
    lines = [title, ""]
    if stats.description:
        lines += [stats.description.strip(), ""]
    lines += _stats_section(stats) + [""]
    if inputs.allocation is not None:
        lines += _allocation_section(inputs.allocation) + [""]
    if inputs.placement is not None:
        lines += _placement_section(inputs.placement, inputs.placement_figure) + [""]
    domains = plan_domains(inputs)
    if domains is not None and domains.domains:
        lines += _fault_section(domains) + [""]
    if figures or inputs.curves:
        lines += _curves_section(inputs.curves, inputs.evaluation,
                                 CURVES_FIGURE if figures else None) + [""]
    lines += _solver_section(inputs.allocation, inputs.placement) + [""]
    if inputs.manifests or inputs.plan is not None:
        lines += ["## Manifests", ""]
        if inputs.plan is not None:
            lines.append(f"`plan.json`: {len(inputs.plan.instances)} instance(s).")
        lines += [f"- `{folder}/`" for folder in inputs.manifests]
        lines.append("")
        if inputs.prerequisites:
            lines += ["Kubernetes prerequisites (`manifests/kubernetes/README.md`):", ""]
            lines += [f"- {line}" for line in inputs.prerequisites] + [""]
    return Report("\n".join(lines), figures)
