"""The summary of a sweep (``--multirun``): one row per job, as CSV text, and a figure of
latency and GPUs against the target rate (pure; the CLI's sweep callback reads the jobs'
artifacts and writes the files)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from matplotlib.figure import Figure

from scepsy_opt.core.documents import AllocationDocument, EvaluationDocument, PlacementDocument

COLUMNS = ("job", "workflow", "cluster", "target_rate_rps", "status", "gpus_used",
           "cluster_gpus", "predicted_throughput_rps", "predicted_latency_s", "bottleneck",
           "placed_gpus", "placed_nodes", "fragmented_gpus", "simulated_mean_latency_s",
           "simulated_max_sustainable_rps", "error", "overrides", "run_dir")


@dataclass(frozen=True)
class SweepJob:
    """One job's artifact documents as its directory holds them (``None``: not written)."""

    num: int
    run_dir: str
    config: dict  # the job's composed config (.hydra/config.yaml)
    overrides: tuple[str, ...] = ()
    allocation: AllocationDocument | None = None
    placement: PlacementDocument | None = None
    evaluation: EvaluationDocument | None = None
    error: str | None = None


def job_row(job: SweepJob) -> dict:
    """The summary row of one job; a job without an allocation failed (its error), stopped
    before the search (``stop_after``), or is incomplete (interrupted)."""
    config = job.config
    row = {c: "" for c in COLUMNS}
    row.update(job=job.num, workflow=(config.get("workflow") or {}).get("name", ""),
               cluster=(config.get("cluster") or {}).get("name", ""),
               target_rate_rps=(config.get("target") or {}).get("rate_rps", ""),
               overrides=" ".join(job.overrides), run_dir=job.run_dir)
    if job.error is not None:
        row.update(status="failed", error=job.error)
        return row
    record = job.allocation
    if record is None:
        stop_after = config.get("stop_after")
        if stop_after in ("analyze", "profile", "fit"):
            row.update(status=f"stopped after {stop_after}")
        else:
            row.update(status="incomplete", error="no allocation.json")
        return row
    row.update(status="ok", gpus_used=record.gpus_used, cluster_gpus=record.cluster_gpus,
               predicted_throughput_rps=record.predicted.throughput_rps,
               predicted_latency_s=record.predicted.latency_s,
               bottleneck=record.predicted.bottleneck)
    if job.placement is not None:
        row.update(placed_gpus=job.placement.metrics.gpus_used,
                   placed_nodes=job.placement.metrics.nodes_used,
                   fragmented_gpus=job.placement.fragmentation.fragmented_gpus)
    planned = job.evaluation.plans.get("planned") if job.evaluation is not None else None
    if planned is not None and planned.at_target is not None:
        row.update(simulated_mean_latency_s=planned.at_target.e2e_latency_s.mean,
                   simulated_max_sustainable_rps=planned.max_sustainable_rate_rps)
    return row


def summary_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v)
                         for k, v in row.items()})
    return buffer.getvalue()


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def summary_figure(rows: list[dict]) -> Figure:
    """Predicted (and simulated, where evaluated) mean latency, and GPUs used, against the
    target rate: one line per workflow and cluster; failed jobs as crosses on the rate axis."""
    fig = Figure(figsize=(10.0, 6.5), dpi=110)
    latency_ax, gpus_ax = fig.subplots(2, 1, sharex=True)
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["workflow"], row["cluster"]), []).append(row)
    palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]
    failed_label = True
    for k, ((workflow, cluster), members) in enumerate(sorted(groups.items())):
        colour = palette[k % len(palette)]
        label = f"{workflow} on {cluster}"
        ok = sorted((r for r in members if r["status"] == "ok"),
                    key=lambda r: _number(r["target_rate_rps"]) or 0.0)
        rates = [_number(r["target_rate_rps"]) for r in ok]
        if ok:
            latency_ax.plot(rates, [_number(r["predicted_latency_s"]) for r in ok], "o-",
                            color=colour, label=f"{label}, predicted")
            simulated = [(x, _number(r["simulated_mean_latency_s"])) for x, r in
                         zip(rates, ok, strict=True) if _number(r["simulated_mean_latency_s"])]
            if simulated:
                latency_ax.plot(*zip(*simulated, strict=True), "s--", color=colour,
                                label=f"{label}, simulated")
            gpus_ax.plot(rates, [_number(r["gpus_used"]) for r in ok], "o-", color=colour,
                         label=label)
            capacity = _number(ok[0]["cluster_gpus"])
            if capacity:
                gpus_ax.axhline(capacity, color=colour, ls=":", lw=1)
        for row in members:
            if row["status"] != "ok" and _number(row["target_rate_rps"]) is not None:
                for ax in (latency_ax, gpus_ax):
                    ax.plot([_number(row["target_rate_rps"])], [0], "x", color=colour, ms=10,
                            mew=2, clip_on=False, zorder=5,
                            label="failed (see sweep_summary.csv)"
                            if failed_label and ax is latency_ax else None)
                failed_label = False
    latency_ax.set_ylabel("mean end-to-end latency (s)")
    latency_ax.set_ylim(bottom=0, top=latency_ax.get_ylim()[1] * 1.1)
    latency_ax.set_title("sweep: latency and GPUs against the target rate")
    gpus_ax.set_ylabel("GPUs used (dotted: cluster)")
    gpus_ax.set_ylim(bottom=0)
    gpus_ax.set_xlabel("target rate (requests/s)")
    rates = sorted({r for r in (_number(row["target_rate_rps"]) for row in rows) if r})
    if len(rates) > 1 and rates[-1] / rates[0] > 3:
        # sweeps double the rate: a log axis spaces them evenly; ticks at the swept rates
        gpus_ax.set_xscale("log", base=2)
        if len(rates) <= 12:
            gpus_ax.set_xticks(rates, [f"{r:g}" for r in rates])
            gpus_ax.minorticks_off()
    else:
        gpus_ax.set_xlim(left=0)
    for ax in (latency_ax, gpus_ax):
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      borderaxespad=0.0)
    fig.tight_layout()
    return fig
