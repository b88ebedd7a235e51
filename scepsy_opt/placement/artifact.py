"""The ``placement.json`` document of a placement result."""

from __future__ import annotations

import dataclasses

from scepsy_opt.core.placement import objective_weights
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.placement.stage import PlacementResult
from scepsy_opt.placement.verify import gpu_uses

SCHEMA_VERSION = 1


def placement_to_json(result: PlacementResult) -> dict:
    """Instances (node, GPU ids, fractions), every GPU with its occupants, fragmentation
    metrics, the objective with its bound and gap, and solver statistics."""
    problem = result.problem
    classes = {c.llm: c for c in problem.classes}
    racks = {n.id: n.rack for n in problem.cluster.nodes}
    metrics = result.metrics
    instances = []
    for inst in result.placement.instances:
        c = classes[inst.llm]
        instances.append({
            "llm": inst.llm, "replica": inst.replica, "node": inst.node,
            "rack": racks[inst.node], "gpus": list(inst.gpus), "tp": c.tp, "gpu": c.gpu,
            "gpu_fraction": inst.gpu_fraction, "compute_share": c.compute_share,
            "memory_gib_per_gpu": c.memory_gib, "mechanism": problem.mechanism,
            "mig_profile": c.mig_profile})
    uses = gpu_uses(problem, result.placement)
    gpus = [{"node": u.node, "gpu": u.gpu,
             "occupants": [{"llm": llm, "replica": r} for llm, r in u.occupants],
             "compute_used": u.compute_used, "memory_used_gib": u.memory_used_gib,
             "memory_gib": u.memory_gib, "fragmented": u.fragmented} for u in uses]
    nodes = []
    for node in problem.cluster.nodes:
        mine = [u for u in uses if u.node == node.id]
        nodes.append({"node": node.id, "rack": node.rack, "gpu": node.gpu,
                      "tp_domains": [list(d) for d in tp_domains(node)],
                      "excluded": node.id in problem.exclude_nodes,
                      "gpus_used": sum(1 for u in mine if u.occupants),
                      "compute_free": sum(u.compute_free for u in mine)})
    weights = objective_weights(problem)
    preset_reports = [dataclasses.asdict(r) for r in result.solves]
    return {
        "schema_version": SCHEMA_VERSION,
        "cluster": problem.cluster.name,
        "source": problem.source,
        "method": result.method,
        "status": result.status,
        "note": result.note,
        "mechanism": problem.mechanism,
        "anti_affinity": problem.anti_affinity,
        "instances": instances,
        "unplaced": [{"llm": llm, "replica": r} for llm, r in result.unplaced],
        "gpus": gpus,
        "nodes": nodes,
        "fragmentation": {
            "fragmented_gpus": metrics.fragmented_gpus,
            "fragmented_free_capacity": metrics.fragmented_free_capacity,
            "partially_used_gpus": metrics.partially_used_gpus,
            "free_capacity_on_used_gpus": metrics.free_capacity_on_used_gpus,
            "smallest_instance": {t.id: dict(zip(("compute_share", "memory_gib"),
                                                 problem.smallest_share(t.id) or (None, None),
                                                 strict=True))
                                  for t in problem.gpu_types},
        },
        "metrics": {
            "instances_placed": metrics.instances_placed,
            "instances_requested": metrics.instances_requested,
            "capacity_placed": metrics.capacity_placed,
            "capacity_requested": metrics.capacity_requested,
            "gpus_used": metrics.gpus_used, "nodes_used": metrics.nodes_used,
            "anti_affinity_excess": metrics.anti_affinity_excess,
            "topology_cost": metrics.topology_cost,
        },
        "objective": {"value": metrics.objective, "bound": result.bound, "gap": result.gap,
                      "weights": dataclasses.asdict(weights)},
        "affinity": [{"llms": [a, b], "weight": w} for a, b, w in problem.affinity],
        "heuristic_incumbent": (dataclasses.asdict(result.heuristic)
                                if result.heuristic is not None else None),
        "solver": {"solves": preset_reports, "elapsed_s": result.elapsed_s},
    }
