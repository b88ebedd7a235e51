"""The independent verifier: re-checks a placement against its problem in plain Python, and
measures it (fragmentation, GPUs and nodes opened, anti-affinity excess, topology cost, and the
objective value the MILP minimises).

Nothing here uses the formulation or a solver, so a placement that passes :func:`verify` is
valid whatever produced it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from scepsy_opt.core.errors import PlacementVerificationError
from scepsy_opt.core.placement import EPS, InstanceClass, PlacementProblem, objective_weights
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import Placement

TOLERANCE = 1e-6


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


def violations(problem: PlacementProblem, placement: Placement) -> list[str]:
    """Every broken constraint of ``placement`` (empty: it is valid)."""
    out: list[str] = []
    classes = {c.llm: c for c in problem.classes}
    nodes = {n.id: n for n in problem.cluster.nodes}
    seen: Counter = Counter()
    compute: dict[tuple[str, int], float] = defaultdict(float)
    memory: dict[tuple[str, int], float] = defaultdict(float)
    profiles: dict[tuple[str, int, str], int] = defaultdict(int)
    for inst in placement.instances:
        where = f"replica {inst.replica} of {inst.llm}"
        c = classes.get(inst.llm)
        if c is None:
            out.append(f"{where}: llm not in the problem")
            continue
        seen[(inst.llm, inst.replica)] += 1
        if not 0 <= inst.replica < c.replicas:
            out.append(f"{where}: replica index outside 0..{c.replicas - 1}")
        node = nodes.get(inst.node)
        if node is None:
            out.append(f"{where}: unknown node {inst.node}")
            continue
        if node.gpu != c.gpu:
            out.append(f"{where}: node {node.id} has {node.gpu} GPUs, not {c.gpu}")
        if node.id in problem.exclude_nodes:
            out.append(f"{where}: node {node.id} is excluded")
        if c.nodes and node.id not in c.nodes:
            out.append(f"{where}: node {node.id} is outside its pins {list(c.nodes)}")
        if abs(inst.gpu_fraction - c.gpu_fraction) > EPS:
            out.append(f"{where}: fraction {inst.gpu_fraction} differs from {c.gpu_fraction}")
        if len(inst.gpus) != c.tp or len(set(inst.gpus)) != c.tp:
            out.append(f"{where}: {len(set(inst.gpus))} distinct GPUs for TP {c.tp}")
        if any(not 0 <= g < node.num_gpus for g in inst.gpus):
            out.append(f"{where}: GPU ids {inst.gpus} outside node {node.id}")
            continue
        if not any(set(inst.gpus) <= set(d) for d in tp_domains(node)):
            out.append(f"{where}: GPUs {list(inst.gpus)} of node {node.id} are not in one "
                       f"TP domain {[list(d) for d in tp_domains(node)]}")
        for g in inst.gpus:
            compute[(node.id, g)] += c.compute_share
            memory[(node.id, g)] += c.memory_gib
            if c.mig_profile is not None:
                profiles[(node.id, g, c.mig_profile)] += 1
    for key, count in seen.items():
        if count > 1:
            out.append(f"replica {key[1]} of {key[0]} is placed {count} times")
    if not problem.allow_partial:
        for c in problem.classes:
            missing = [r for r in range(c.replicas) if seen[(c.llm, r)] == 0]
            if missing:
                out.append(f"{c.llm}: replicas {missing} are not placed")
    for (node_id, g), used in compute.items():
        if used > 1 + TOLERANCE:
            out.append(f"node {node_id} GPU {g}: compute shares sum to {used:.6g} > 1")
        capacity = problem.gpu_type(nodes[node_id].gpu).memory_gib
        if memory[(node_id, g)] > capacity + TOLERANCE:
            out.append(f"node {node_id} GPU {g}: {memory[(node_id, g)]:.6g} GiB > usable "
                       f"{capacity:.6g} GiB")
    for (node_id, g, profile), count in profiles.items():
        limit = problem.gpu_type(nodes[node_id].gpu).mig_limit(profile)
        if count > limit:
            out.append(f"node {node_id} GPU {g}: {count} MIG {profile} instances > {limit}")
    return out


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
    room = used + share <= 1 + TOLERANCE and mem + memory <= capacity + TOLERANCE
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
