"""The independent verifier: re-checks a placement against its problem in plain Python, and
measures it (fragmentation, GPUs and nodes opened, anti-affinity excess, topology cost, and the
objective value the MILP minimises).

Nothing here uses the formulation or a solver, so a placement that passes :func:`verify` is
valid whatever produced it. The rules are the one feasibility checker's
(:func:`scepsy_opt.core.feasibility.violations`), the isolation of ``emit.mps.isolation``
included: a GPU that hosts two llms the isolation keeps apart is reported as
``node <n> GPU <g>: hosts <a> and <b>, which emit.mps.isolation keeps apart``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.errors import PlacementVerificationError
from scepsy_opt.core.feasibility import exceeds, violations
from scepsy_opt.core.placement import InstanceClass, PlacementProblem, objective_weights
from scepsy_opt.core.types import Placement

__all__ = ["GpuUse", "PlacementMetrics", "gpu_uses", "measure", "topology_cost", "verify",
           "violations"]



@dataclass(frozen=True)
class GpuUse:
    """One GPU's occupants and what is left of it."""

    node: str
    gpu: int
    occupants: tuple[tuple[str, int], ...]  # (llm, replica)
    compute_used: float
    memory_used_gib: float
    memory_gib: float
    fragmented: bool

    @property
    def compute_free(self) -> float:
        return max(0.0, 1.0 - self.compute_used)


@dataclass(frozen=True)
class PlacementMetrics:
    """How good a placement is; ``objective`` is the MILP's objective for it."""

    instances_placed: int
    instances_requested: int
    capacity_placed: float
    capacity_requested: float
    gpus_used: int
    nodes_used: int
    partially_used_gpus: int
    fragmented_gpus: int
    fragmented_free_capacity: float
    free_capacity_on_used_gpus: float
    anti_affinity_excess: int
    topology_cost: float
    objective: float

    @property
    def placed_share(self) -> float:
        return self.capacity_placed / self.capacity_requested if self.capacity_requested else 1.0


def verify(problem: PlacementProblem, placement: Placement) -> None:
    """Raise :class:`PlacementVerificationError` listing every broken constraint."""
    found = violations(problem, placement)
    if found:
        shown = "; ".join(found[:10]) + (f"; and {len(found) - 10} more" if len(found) > 10
                                         else "")
        raise PlacementVerificationError(
            f"placement '{placement.method}' breaks {len(found)} constraint(s): {shown}",
            source=problem.source,
            fix="this is a bug of the placer that produced it; report it with the allocation")


def gpu_uses(problem: PlacementProblem, placement: Placement) -> list[GpuUse]:
    """Every GPU of the cluster with its occupants, in node and index order."""
    classes = {c.llm: c for c in problem.classes}
    occupants: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for inst in placement.instances:
        for g in inst.gpus:
            occupants[(inst.node, g)].append((inst.llm, inst.replica))
    out = []
    for node in problem.cluster.nodes:
        capacity = _usable_memory(problem, node.gpu)
        smallest = problem.smallest_share(node.gpu)
        for g in range(node.num_gpus):
            here = tuple(sorted(occupants.get((node.id, g), ())))
            used = sum(classes[llm].compute_share for llm, _ in here)
            mem = sum(classes[llm].memory_gib for llm, _ in here)
            out.append(GpuUse(node.id, g, here, used, mem, capacity,
                              _fragmented(here, used, mem, capacity, smallest)))
    return out


def _usable_memory(problem: PlacementProblem, gpu: str) -> float:
    try:
        return problem.gpu_type(gpu).memory_gib
    except KeyError:
        return 0.0


def _fragmented(occupants: tuple, used: float, mem: float, capacity: float,
                smallest: tuple[float, float] | None) -> bool:
    if not occupants or used >= 1 - TOLERANCE or smallest is None:
        return False
    share, memory = smallest
    room = not exceeds(used + share, 1.0) and not exceeds(mem + memory, capacity)
    return not room


def topology_cost(problem: PlacementProblem, placement: Placement) -> float:
    """``sum w_ab ((1 - node overlap) + (1 - rack overlap))`` over the affinity pairs."""
    pairs = problem.pair_weights()
    if not pairs:
        return 0.0
    racks = {n.id: n.rack for n in problem.cluster.nodes}
    per_node: dict[str, Counter] = defaultdict(Counter)
    per_rack: dict[str, Counter] = defaultdict(Counter)
    placed: Counter = Counter()
    for inst in placement.instances:
        per_node[inst.llm][inst.node] += 1
        per_rack[inst.llm][racks[inst.node]] += 1
        placed[inst.llm] += 1
    cost = 0.0
    for a, b, w in pairs:
        la, lb = problem.classes[a].llm, problem.classes[b].llm
        ra, rb = problem.classes[a].replicas, problem.classes[b].replicas
        node = sum(min(per_node[la][n] / ra, per_node[lb][n] / rb) for n in per_node[la])
        rack = sum(min(per_rack[la][k] / ra, per_rack[lb][k] / rb) for k in per_rack[la])
        cost += w * ((1 - node) + (1 - rack))
    return cost


def anti_affinity_excess(problem: PlacementProblem, placement: Placement) -> int:
    if not problem.anti_affinity:
        return 0
    counts = Counter((inst.llm, inst.node) for inst in placement.instances)
    caps = {c.llm: problem.spread_cap(c) for c in problem.classes}
    return sum(max(0, count - caps[llm]) for (llm, _), count in counts.items())


def measure(problem: PlacementProblem, placement: Placement) -> PlacementMetrics:
    """The placement's metrics and objective value (see :mod:`scepsy_opt.core.placement`)."""
    classes: dict[str, InstanceClass] = {c.llm: c for c in problem.classes}
    uses = gpu_uses(problem, placement)
    used = [u for u in uses if u.occupants]
    fragmented = [u for u in used if u.fragmented]
    partial = [u for u in used if u.compute_used < 1 - TOLERANCE]
    placed_capacity = sum(classes[i.llm].capacity for i in placement.instances)
    requested = problem.requested_capacity
    gpus = len(used)
    nodes = len({u.node for u in used})
    excess = anti_affinity_excess(problem, placement)
    topology = topology_cost(problem, placement)
    weights = objective_weights(problem)
    unplaced = max(0.0, requested - placed_capacity) if problem.allow_partial else 0.0
    objective = weights.total(unplaced=unplaced, excess=excess, fragmented=len(fragmented),
                              gpus=gpus, nodes=nodes, topology=topology)
    return PlacementMetrics(
        instances_placed=len(placement.instances), instances_requested=problem.num_instances,
        capacity_placed=placed_capacity, capacity_requested=requested,
        gpus_used=gpus, nodes_used=nodes, partially_used_gpus=len(partial),
        fragmented_gpus=len(fragmented),
        fragmented_free_capacity=sum(u.compute_free for u in fragmented),
        free_capacity_on_used_gpus=sum(u.compute_free for u in used),
        anti_affinity_excess=excess, topology_cost=topology, objective=objective)
