"""report.md's fault domains: the domains of more than one instance with their GPUs and llms,
and the most instances one fault can take down, from plan.json (or, without one, from
placement.json)."""

from __future__ import annotations

import json

from scepsy_opt.core.documents import PlacementDocument, PlanDocument, WorkflowStatsDocument
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.emit import EmitSettings, emit
from scepsy_opt.report import ReportInputs, build_report
from scepsy_opt.testing.documents import document
from scepsy_opt.testing.emit import h100_cluster, instance

STATS = document(WorkflowStatsDocument, workflow="toy", num_requests=1,
                 e2e_latency_s={"mean": 1.0, "p50": 1.0, "p99": 1.0, "cv": 0.0})


def _plan_document(catalog, instances) -> PlanDocument:
    result = emit(instances, h100_cluster(), catalog, MemorySettings(),
                  EmitSettings(formats=("plan",)), workflow="toy", source="fixed")
    return PlanDocument.from_json(json.loads(result.top_level()["plan.json"]), "plan.json")


def _section(markdown: str) -> str:
    start = markdown.index("## Fault domains")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end > 0 else None]


def test_the_report_tables_the_shared_fault_domains_and_the_worst_fault(catalog):
    tp_on_shared = (instance(catalog, "qwen2.5-14b-instruct", 0, "node-0", (0, 1, 2, 3), 0.5),
                    instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 0.5),
                    instance(catalog, "qwen2.5-7b-instruct", 0, "node-0", (3,), 0.5),
                    instance(catalog, "llama-3.1-8b-instruct", 1, "node-0", (4,), 1.0))
    text = _section(build_report(ReportInputs(
        stats=STATS, plan=_plan_document(catalog, tp_on_shared))).markdown)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0].startswith("| domain | instances | llms | GPUs |")
    assert len(rows) == 2  # only the shared domain; the whole-GPU replica fails alone
    assert "| 0 | 3 |" in rows[1] and "node-0: 0-3" in rows[1]
    for llm in ("qwen2.5-14b-instruct", "llama-3.1-8b-instruct", "qwen2.5-7b-instruct"):
        assert f"`{llm}`" in rows[1]
    assert "at most 3 instances (1 shared fault domain, 2 in all)" in text


def test_the_report_of_a_plan_without_shared_gpus(catalog):
    alone = (instance(catalog, "llama-3.1-8b-instruct", 0, "node-0", (0,), 1.0),
             instance(catalog, "llama-3.1-8b-instruct", 1, "node-0", (1,), 0.5))
    text = _section(build_report(ReportInputs(
        stats=STATS, plan=_plan_document(catalog, alone))).markdown)
    assert "No instance shares a GPU with another." in text
    assert "at most 1 instance (0 shared fault domains, 2 in all)" in text


def test_without_a_plan_the_report_reads_the_placement(catalog):
    placed = [{"llm": "a", "replica": 0, "node": "n0", "gpus": [0, 1], "tp": 2,
               "gpu_fraction": 0.5, "compute_share": 0.5, "mechanism": "mps"},
              {"llm": "b", "replica": 0, "node": "n0", "gpus": [1], "tp": 1,
               "gpu_fraction": 0.5, "compute_share": 0.5, "mechanism": "mps"},
              {"llm": "c", "replica": 0, "node": "n0", "gpus": [2], "tp": 1,
               "gpu_fraction": 0.375, "compute_share": 0.43, "mechanism": "mig",
               "mig_profile": "3g.40gb"},
              {"llm": "d", "replica": 0, "node": "n0", "gpus": [2], "tp": 1,
               "gpu_fraction": 0.375, "compute_share": 0.43, "mechanism": "mig",
               "mig_profile": "3g.40gb"}]
    placement = document(PlacementDocument, instances=placed)
    markdown = build_report(ReportInputs(stats=STATS, placement=placement)).markdown
    text = _section(markdown)
    assert "| 0 | 2 | `a`, `b` | n0: 0-1 | a-0, b-0 |" in text  # MIG slices c, d apart
    assert "at most 2 instances (1 shared fault domain, 3 in all)" in text
    assert "## Fault domains" not in build_report(ReportInputs(stats=STATS)).markdown
