"""First-fit placement: each instance on the first GPUs that can take it.

Instances are placed in the order given (llm by llm, replica by replica). An instance of TP
degree ``t`` and GPU fraction ``f`` needs ``t`` GPUs of its GPU type in one TP domain
(:func:`scepsy_opt.core.topology.tp_domains`: the NVLink domain, or a whole PCIe-only node),
each with at least ``f`` of its capacity free (compute share and memory share are the same
fraction; under MPS an instance's memory budget is ``memory_utilization x f`` of the GPU, below
its usable part), by the one feasibility checker's rule
(:func:`scepsy_opt.core.feasibility.has_room`). It takes the first such node, domain and GPUs
in index order. This is the
simple placer the baselines use; the MILP placement minimises fragmentation instead.
"""

from __future__ import annotations

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.feasibility import has_room
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import Allocation, ClusterSpec, InstancePlacement, Placement

__all__ = ["PlacementError", "first_fit", "first_fit_decreasing"]



def first_fit(allocation: Allocation, cluster: ClusterSpec) -> Placement:
    free = {(node.id, g): 1.0 for node in cluster.nodes for g in range(node.num_gpus)}
    skip: dict[tuple, int] = {}
    placed: list[InstancePlacement] = []
    for entry in allocation.llms:
        for replica in range(entry.replicas):
            spot = _find(cluster, free, entry.gpu, entry.tp, entry.gpu_fraction, skip)
            if spot is None:
                used = sum(1.0 - v for v in free.values())
                raise PlacementError(
                    f"no node has {entry.tp} {entry.gpu} GPUs with "
                    f"{entry.gpu_fraction:g} free each for replica {replica} of {entry.llm} "
                    f"({used:.2f} of {cluster.num_gpus} GPUs already taken)",
                    source=f"allocation '{allocation.method}'", field=entry.llm,
                    value={"tp": entry.tp, "replicas": entry.replicas,
                           "gpu_fraction": entry.gpu_fraction},
                    fix="use fewer replicas, a smaller TP degree or fraction, or a larger "
                        "cluster")
            node, gpus = spot
            for g in gpus:
                free[(node, g)] -= entry.gpu_fraction
            placed.append(InstancePlacement(entry.llm, replica, node, gpus, entry.gpu_fraction))
    return Placement(method="first_fit", instances=tuple(placed))


def first_fit_decreasing(allocation: Allocation, cluster: ClusterSpec) -> Placement:
    """:func:`first_fit` with the llms' instances ordered largest first (TP degree, then
    fraction), which packs mixed TP degrees and fractions that the given order may not."""
    ordered = sorted(allocation.llms, key=lambda e: (-e.tp, -e.gpu_fraction))
    return first_fit(Allocation(allocation.method, tuple(ordered), note=allocation.note),
                     cluster)


def _find(cluster: ClusterSpec, free: dict[tuple[str, int], float], gpu: str, tp: int,
          fraction: float, skip: dict[tuple, int] | None = None
          ) -> tuple[str, tuple[int, ...]] | None:
    """The first node (and GPUs) that takes the instance. ``skip`` remembers, per instance
    shape, how many leading nodes had no room: free capacity only shrinks, so they never will
    (the answer is the same, found without rescanning them)."""
    skip = {} if skip is None else skip
    nodes = cluster.nodes
    key = (gpu, tp, fraction)
    for index in range(skip.get(key, 0), len(nodes)):
        node = nodes[index]
        if node.gpu == gpu:
            for domain in tp_domains(node):
                fits = [g for g in domain if has_room(free[(node.id, g)], fraction)]
                if len(fits) >= tp:
                    skip[key] = index
                    return node.id, tuple(fits[:tp])
    skip[key] = len(nodes)
    return None
