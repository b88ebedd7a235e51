"""The one feasibility checker: does a set of instances fit on these GPUs?

Every rule of where instances may run is decided here, with one tolerance
(:data:`~scepsy_opt.core.constants.TOLERANCE`), and called from everywhere that needs it: the
placement verifier (:mod:`scepsy_opt.placement.verify`), emit's plan check
(:mod:`scepsy_opt.emit.record`), the placement heuristics and the search's packing check
(:mod:`scepsy_opt.core.heuristics`), the simulator's first-fit placers
(:mod:`scepsy_opt.core.packing`); the MILP (:mod:`scepsy_opt.placement.formulation`) encodes
the same rules as constraints, and its placements are checked with :func:`violations`.

- per GPU, compute shares sum to at most 1 and memory to at most the usable memory
  (:func:`exceeds`, :func:`has_room`);
- a TP group takes ``tp`` distinct GPUs of one TP domain (:func:`in_one_tp_domain`, with the
  domains of :func:`scepsy_opt.core.topology.tp_domains`);
- MIG profiles within their per-GPU instance limits; nodes of the instance's GPU type, not
  excluded, within its pins; every replica placed once;
- no GPU hosts two llms that isolation keeps apart
  (:func:`scepsy_opt.core.fault_domains.isolation_conflicts`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.fault_domains import ISOLATION_SETTING, isolation_conflicts
from scepsy_opt.core.placement import PlacementProblem
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import NodeSpec, Placement


def exceeds(used: Any, capacity: Any) -> Any:
    """Whether ``used`` is over ``capacity`` (beyond the tolerance); arrays element-wise."""
    return used > capacity + TOLERANCE


def has_room(free: Any, need: Any) -> Any:
    """Whether ``need`` fits in ``free`` (within the tolerance); arrays element-wise."""
    return free >= need - TOLERANCE


def in_one_tp_domain(node: NodeSpec, gpus: Iterable[int]) -> bool:
    """Whether the GPUs of a TP group lie in one TP domain of ``node``."""
    wanted = set(gpus)
    return any(wanted <= set(domain) for domain in tp_domains(node))


def violations(problem: PlacementProblem, placement: Placement) -> list[str]:
    """Every broken constraint of ``placement`` (empty: it is valid)."""
    out: list[str] = []
    classes = {c.llm: c for c in problem.classes}
    nodes = {n.id: n for n in problem.cluster.nodes}
    seen: Counter = Counter()
    compute: dict[tuple[str, int], float] = defaultdict(float)
    memory: dict[tuple[str, int], float] = defaultdict(float)
    profiles: dict[tuple[str, int, str], int] = defaultdict(int)
    hosted: dict[tuple[str, int], set[str]] = defaultdict(set)
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
        if abs(inst.gpu_fraction - c.gpu_fraction) > TOLERANCE:
            out.append(f"{where}: fraction {inst.gpu_fraction} differs from {c.gpu_fraction}")
        if len(inst.gpus) != c.tp or len(set(inst.gpus)) != c.tp:
            out.append(f"{where}: {len(set(inst.gpus))} distinct GPUs for TP {c.tp}")
        if any(not 0 <= g < node.num_gpus for g in inst.gpus):
            out.append(f"{where}: GPU ids {inst.gpus} outside node {node.id}")
            continue
        if not in_one_tp_domain(node, inst.gpus):
            out.append(f"{where}: GPUs {list(inst.gpus)} of node {node.id} are not in one "
                       f"TP domain {[list(d) for d in tp_domains(node)]}")
        for g in inst.gpus:
            compute[(node.id, g)] += c.compute_share
            memory[(node.id, g)] += c.memory_gib
            if c.mig_profile is not None:
                profiles[(node.id, g, c.mig_profile)] += 1
            hosted[(node.id, g)].add(inst.llm)
    for key, count in seen.items():
        if count > 1:
            out.append(f"replica {key[1]} of {key[0]} is placed {count} times")
    if not problem.allow_partial:
        for c in problem.classes:
            missing = [r for r in range(c.replicas) if seen[(c.llm, r)] == 0]
            if missing:
                out.append(f"{c.llm}: replicas {missing} are not placed")
    for (node_id, g), used in compute.items():
        if exceeds(used, 1.0):
            out.append(f"node {node_id} GPU {g}: compute shares sum to {used:.6g} > 1")
        capacity = problem.gpu_type(nodes[node_id].gpu).memory_gib
        if exceeds(memory[(node_id, g)], capacity):
            out.append(f"node {node_id} GPU {g}: {memory[(node_id, g)]:.6g} GiB > usable "
                       f"{capacity:.6g} GiB")
    for (node_id, g, profile), count in profiles.items():
        limit = problem.gpu_type(nodes[node_id].gpu).mig_limit(profile)
        if count > limit:
            out.append(f"node {node_id} GPU {g}: {count} MIG {profile} instances > {limit}")
    for (node_id, g), a, b in isolation_conflicts(problem.isolation, hosted):
        out.append(f"node {node_id} GPU {g}: hosts {a} and {b}, which {ISOLATION_SETTING} "
                   "keeps apart")
    return out
