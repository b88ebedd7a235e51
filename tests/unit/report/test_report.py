"""The report stage's parts: predicted curves, report.md, the sweep summary, re-run overrides."""

import csv
import io

import numpy as np
import pytest

from scepsy_opt.cli import rerun_overrides
from scepsy_opt.config import run_dir
from scepsy_opt.core.documents import AllocationDocument, EvaluationDocument, WorkflowStatsDocument
from scepsy_opt.core.types import Allocation, LlmAllocation
from scepsy_opt.report import ReportInputs, build_report
from scepsy_opt.report.curves import LOAD_CAP, allocation_curve
from scepsy_opt.report.sweep import COLUMNS, SweepJob, job_row, summary_csv, summary_figure
from scepsy_opt.testing.documents import document

PNG = b"\x89PNG\r\n\x1a\n"
SUMMARY = {"mean": 2.0, "p50": 1.5, "p99": 6.0, "cv": 0.5}


class QueueSurrogate:
    """M/M/1-like: throughput 2 x replicas of llm a, latency 1 / (capacity - rate)."""

    llms = ("a", "b")

    def predict(self, tp, replicas, fraction, rate):
        capacity = 2.0 * float(np.asarray(replicas)[0])
        latency = 1.0 / (capacity - rate) if rate < capacity else float("inf")
        return {"throughput_rps": capacity, "latency_s": latency}


def test_a_curve_rises_to_the_load_cap_of_the_predicted_throughput():
    allocation = Allocation("x", (LlmAllocation("a", "H100", 1, 3, 1.0),
                                  LlmAllocation("b", "H100", 2, 1, 0.5)))
    curve = allocation_curve(allocation, QueueSurrogate(), target_rps=1.0, points=10)
    assert curve["max_throughput_rps"] == 6.0 and curve["gpus"] == 4.0
    rates = [p["rate_rps"] for p in curve["points"]]
    assert len(rates) == 10 and rates[-1] == pytest.approx(LOAD_CAP * 6.0)
    for point in curve["points"]:
        assert point["latency_s"] == pytest.approx(1.0 / (6.0 - point["rate_rps"]))
    assert curve["latency_at_target_s"] == pytest.approx(0.2)
    # a target above the highest throughput has no latency there
    assert allocation_curve(allocation, QueueSurrogate(), 7.0)["latency_at_target_s"] is None


def _inputs(evaluation: bool) -> ReportInputs:
    llm = {"calls_per_request": {"mean": 2.0}, "parallelism": 1.5, "critical_path_weight": 1.2,
           "share": 0.5, "share_cv": 0.1, "input_tokens": {"mean": 300.0, "p99": 900.0},
           "output_tokens": {"mean": 40.0, "p99": 90.0}}
    stats = {"workflow": "toy", "description": "A toy.", "num_requests": 100,
             "duration_model": "unloaded", "e2e_latency_s": SUMMARY,
             "llms": {"a": llm, "b": llm},
             "workflows": {"toy": {"rate_fraction": 1.0, "shares_stable": True,
                                   "num_requests": 100,
                                   "weighted_share_cv": 0.1, "e2e_latency_s": SUMMARY}}}
    entry = {"tp": 1, "replicas": 2, "gpu_fraction": 0.5, "gpus": 1.0,
             "predicted": {"utilization": 0.4, "capacity_rps": 3.0,
                           "latency_contribution_s": 1.0, "latency_share": 0.5}}
    allocation = {"workflow": "toy", "cluster": "pair", "gpu": "H100", "cluster_gpus": 2,
                  "target_rate_rps": 1.0, "utilization_cap": 0.8, "gpus_used": 2.0,
                  "llms": {"a": entry, "b": entry},
                  "predicted": {"throughput_rps": 3.0, "latency_s": 2.1, "tool_latency_s": 0.1,
                                "bottleneck": "a"},
                  "search": {"method": "gradient_guided", "elapsed_s": 0.5,
                             "allocations_scored": 1234, "configurations": {"a": [[1, 0.5]]},
                             "trace": [{"phase": "start"}, {"phase": "result"}]}}
    curve = {"gpus": 2.0, "max_throughput_rps": 3.0, "latency_at_target_s": 2.1,
             "points": [{"rate_rps": 0.5, "latency_s": 2.0}, {"rate_rps": 2.8, "latency_s": 9.0}]}
    curves = {"workflow": "toy", "cluster": "pair", "gpu": "H100", "target_rate_rps": 1.0,
              "load_cap": 0.95, "plans": {"planned": curve,
                                          "pooled_tp1": {"error": "does not fit"}}}
    simulated = None
    if evaluation:
        metrics = {"completed_throughput_rps": 0.98, "e2e_latency_s": SUMMARY}
        simulated = {"workflow": "toy", "cluster": "pair", "gpu": "H100", "target_rate_rps": 1.0,
                     "plans": {"planned": {"gpus": 2.0, "at_target": metrics,
                                           "max_sustainable_rate_rps": 2.5,
                                           "probes": [{"rate_rps": 2.5, "throughput_rps": 2.4,
                                                       "mean_latency_s": 7.0,
                                                       "p99_latency_s": 20.0,
                                                       "sustained": True}]},
                               "exact": {"error": "too many candidates"}}}
    return ReportInputs(stats=document(WorkflowStatsDocument, **stats),
                        allocation=document(AllocationDocument, **allocation), curves=curves,
                        evaluation=document(EvaluationDocument, **simulated) if simulated else None,
                        placement_figure=None, manifests=("manifests/vllm",))


@pytest.mark.parametrize("evaluation", [False, True])
def test_the_report_shows_every_part_and_references_its_figure(evaluation):
    report = build_report(_inputs(evaluation))
    text = report.markdown
    assert text.startswith("# Plan for `toy` on `pair` at 1 requests/s")
    for section in ("## Workflow statistics", "## Allocation", "## Latency and throughput",
                    "## Solver statistics", "## Manifests"):
        assert section in text
    assert text.count("| `a` |") == 2 and text.count("| `b` |") == 2  # statistics, allocation
    assert "![latency against throughput](latency_throughput.png)" in text
    assert report.figures["latency_throughput.png"].startswith(PNG)
    assert "| pooled_tp1 | - | - | - | does not fit |" in text
    assert "1,234 allocations scored" in text and "`manifests/vllm/`" in text
    assert ("too many candidates" in text) == evaluation
    assert ("| planned | 2 | 2.5 | 0.98 | 2 | 1.5 | 6 |" in text) == evaluation
    assert ("evaluate=true" in text) != evaluation
    assert "## Placement" not in text  # no placement.json in these inputs


def test_a_sweep_summary_has_a_row_per_job_with_the_errors_of_failed_ones():
    config = {"workflow": {"name": "toy"}, "cluster": {"name": "pair"},
              "target": {"rate_rps": 2.0}}
    allocation = _inputs(False).allocation
    jobs = [SweepJob(0, "/s/0", config, ("target.rate_rps=2",), allocation=allocation),
            SweepJob(1, "/s/1", {**config, "target": {"rate_rps": 99.0}}, error="cannot, Fix: x"),
            SweepJob(2, "/s/2", config),
            SweepJob(3, "/s/3", {**config, "stop_after": "profile"})]
    rows = [job_row(job) for job in jobs]
    parsed = list(csv.DictReader(io.StringIO(summary_csv(rows))))
    assert list(parsed[0]) == list(COLUMNS)
    assert [r["status"] for r in parsed] == ["ok", "failed", "incomplete",
                                             "stopped after profile"]
    assert parsed[0]["gpus_used"] == "2.0" and parsed[0]["predicted_latency_s"] == "2.1"
    assert parsed[1]["error"] == "cannot, Fix: x" and parsed[1]["target_rate_rps"] == "99.0"
    figure = summary_figure(rows)
    latency_ax = figure.axes[0]
    assert list(latency_ax.lines[0].get_xdata()) == [2.0]


def test_a_rerun_applies_the_runs_overrides_then_the_command_lines():
    earlier = ["+workflow=rag_reranker", "target.rate_rps=2", "fit=fast", "hydra.run.dir=/r",
               "hydra.searchpath=[file:///conf]", "stop_after=search"]
    current = ["from_run=/r", "stage=place", "target.rate_rps=3", "hydra.run.dir=/x"]
    assert rerun_overrides(earlier, current) == [
        "+workflow=rag_reranker", "fit=fast", "hydra.searchpath=[file:///conf]",
        "from_run=/r", "stage=place", "target.rate_rps=3"]


def test_run_directories():
    assert run_dir(None, None, "toy", "T") == "outputs/toy/T"
    assert run_dir("/runs/a", "place", "none", "T") == "/runs/a/reruns/T_place"
