"""The canonical machine-readable plan (``plan.json``): every instance record and every used
GPU with its occupants, under a schema version (``schemas/plan.schema.json``).

Shared fate (:mod:`scepsy_opt.core.fault_domains`): each GPU lists the instances that a fatal
fault on it takes down directly (``shared_fate``: every MPS client and whole-GPU instance on
it, no MIG slice) and their ``fault_domain``; ``fault_domains`` lists every domain (the
instances one fault can take down: linked by shared GPUs, transitively through TP groups) with
its instances, llms and GPUs, the most instances one fault can take down, and the
``emit.mps.isolation`` groups the plan honours."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from scepsy_opt.core.fault_domains import FaultDomains, Tenant, fault_domains
from scepsy_opt.emit.base import to_json
from scepsy_opt.emit.record import MPS, InstanceRecord, LaunchPlan
from scepsy_opt.emit.schemas import validate_json

SCHEMA_VERSION = 1


def record_to_json(r: InstanceRecord) -> dict[str, Any]:
    return {
        "name": r.name, "llm": r.llm, "replica": r.replica, "hf_id": r.hf_id, "task": r.task,
        "model": r.model, "gpu": r.gpu,
        "nodes": [{"node": g.node, "gpus": list(g.gpus)} for g in r.nodes],
        "tp": r.tp, "pp": r.pp, "gpu_fraction": r.gpu_fraction, "mechanism": r.mechanism,
        "compute_share": r.compute_share,
        "mps": ({"active_thread_percentage": r.mps_active_thread_percentage,
                 "pinned_device_memory_mib": r.mps_pinned_memory_mib}
                if r.mechanism == MPS else None),
        "mig": ({"profile": r.mig_profile, "ordinal": r.mig_ordinal}
                if r.mig_profile is not None else None),
        "memory_gib_per_gpu": r.memory_gib_per_gpu,
        "gpu_memory_utilization": r.gpu_memory_utilization,
        "kv_capacity_tokens": r.kv_capacity_tokens,
        "max_model_len_tokens": r.max_model_len_tokens,
        "port": r.port, "launch_order": r.launch_order, "waits_for": list(r.waits_for),
        "engine_args": dict(r.engine_args), "env": dict(r.env),
    }


def plan_fault_domains(plan: LaunchPlan) -> FaultDomains:
    """The fault domains of the plan's records."""
    return fault_domains([Tenant.of(r.name, r.llm, ((g.node, g.gpus) for g in r.nodes),
                                    r.mechanism) for r in plan.records])


def fault_domains_to_json(domains: FaultDomains, isolation) -> dict[str, Any]:
    return {
        "isolation": [list(group) for group in isolation],
        "max_instances_per_fault": domains.max_instances,
        "domains": [{"id": d.id, "instances": list(d.instances), "llms": list(d.llms),
                     "gpus": [{"node": node, "gpu": g} for node, g in d.gpus]}
                    for d in domains.domains],
    }


def plan_to_json(plan: LaunchPlan) -> dict[str, Any]:
    gpus: dict[tuple[str, int], list[InstanceRecord]] = defaultdict(list)
    for r in plan.records:
        for group in r.nodes:
            for g in group.gpus:
                gpus[(group.node, g)].append(r)
    domains = plan_fault_domains(plan)
    fate = {(f.node, f.gpu): f for f in domains.gpus}
    return {
        "schema_version": SCHEMA_VERSION,
        "workflow": plan.workflow,
        "cluster": plan.cluster,
        "source": plan.source,
        "fraction_mechanism": plan.mechanism,
        "memory_headroom": plan.memory_headroom,
        "instances": [record_to_json(r) for r in plan.records],
        "gpus": [{"node": node, "gpu": g,
                  "instances": [r.name for r in users],
                  "compute_used": round(sum(r.compute_share for r in users), 9),
                  "memory_utilization_used": round(sum(
                      r.gpu_memory_utilization for r in users if r.mechanism == MPS), 9),
                  "shared_fate": list(fate[(node, g)].shared_fate),
                  "fault_domain": fate[(node, g)].domain}
                 for (node, g), users in sorted(gpus.items())],
        "fault_domains": fault_domains_to_json(domains, plan.settings.mps.isolation),
    }


class PlanEmitter:
    """``plan.json`` in the run directory."""

    format = "plan"
    folder = ""

    def render(self, plan: LaunchPlan) -> dict[str, str]:
        return {"plan.json": to_json(plan_to_json(plan))}

    def validate(self, files: dict[str, str]) -> None:
        import json

        for path, text in files.items():
            validate_json(json.loads(text), "plan.schema.json", source=path, what="the plan")
