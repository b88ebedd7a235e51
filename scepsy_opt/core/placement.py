"""The placement problem: instance classes of an allocation, the cluster and the rules.

An *instance class* is one llm's replicas: identical instances (TP degree, GPU type, per-GPU
compute share and memory), placed as counts rather than one by one. The per-GPU memory of an
instance is its memory budget from :func:`scepsy_opt.core.memory.memory_plan` (weights per GPU,
reserve and KV cache: the same numbers ``allocation.json`` reports).

Rules shared by the MILP (:mod:`scepsy_opt.placement.formulation`), the heuristics
(:mod:`scepsy_opt.core.heuristics`), the verifier (:mod:`scepsy_opt.placement.verify`) and
the brute-force enumerator (:mod:`scepsy_opt.testing.placement`):

- *TP domains* of a node: its NVLink domains when one of them links two or more GPUs (full
  NVSwitch nodes: one domain of all GPUs; NVLink-bridged pairs: the pairs); on a PCIe-only node
  (every NVLink domain a single GPU) the whole node, whose GPUs talk over PCIe. A TP group takes
  ``tp`` distinct GPUs of one TP domain, each with the same share. This matches the largest TP
  degree the search stage offers (:attr:`scepsy_opt.core.problem.AllocationProblem.max_tp`).
- *Compute share* per GPU: the GPU fraction under MPS (``fraction_mechanism=mps``); under MIG the
  smallest MIG profile of the GPU type whose compute slices and memory hold the instance, as
  ``slices / total slices``. Whole-GPU instances take the whole GPU either way.
- *Usable memory* per GPU: ``(1 - memory_headroom) x memory`` under MPS; under MIG the profiles
  carve the memory, so the whole memory counts and each profile also has a per-GPU instance
  limit.
- *Isolation* (hard): no GPU hosts instances of two llms of a pair of
  :attr:`PlacementProblem.isolation` (from ``placement.isolation``, which follows
  ``emit.mps.isolation``: :mod:`scepsy_opt.core.fault_domains`), whatever their shares.
- *Anti-affinity* (soft): an llm wants at most ``ceil(replicas / eligible nodes)`` replicas per
  node; replicas beyond that count as *excess*, the objective's first priority.
- *Fragmentation*: a GPU is fragmented when it is used, not full, and its free part cannot host
  the smallest instance (per-GPU share: compute and memory) of the plan on its GPU type.
- *Topology cost*: for llms that call each other (pair weights ``w`` summing to 1, from the
  workflow's call dependencies), ``sum w_ab ((1 - node overlap) + (1 - rack overlap))`` where the
  overlap of two llms over nodes (racks) is ``sum_n min(p_an, p_bn)`` with ``p_an`` the share of
  llm ``a``'s placed replicas on node ``n``: the traffic that locality-aware routing keeps inside
  a node (rack). In [0, 2]; 0 when every pair shares its nodes.

Objective (lexicographic through weights, see :func:`objective_weights`): unplaced capacity
(only when partial placement is allowed), then anti-affinity excess, then fragmented GPUs, then
GPUs opened, then nodes opened, then topology cost.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.fault_domains import Groups, isolation_groups, isolation_pairs
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.presets import SolverPreset, read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.settings import check, normalise
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import Allocation, Catalog, ClusterSpec, GpuSpec, MigProfile, NodeSpec

EPS = TOLERANCE  # the one tolerance (scepsy_opt.core.constants)
Mechanism = Literal["mps", "mig"]
MECHANISMS = get_args(Mechanism)


@dataclass(frozen=True)
class InstanceClass:
    """``replicas`` identical instances of ``llm``: ``tp`` GPUs of type ``gpu`` each, taking
    ``compute_share`` of each GPU's compute and ``memory_gib`` of its memory. ``nodes``: the
    nodes it is pinned to (empty: any)."""

    llm: str
    gpu: str
    tp: int
    gpu_fraction: float
    compute_share: float
    memory_gib: float
    replicas: int
    mig_profile: str | None = None
    nodes: tuple[str, ...] = ()

    @property
    def capacity(self) -> float:
        """GPU compute one instance takes (over its ``tp`` GPUs)."""
        return self.tp * self.compute_share


@dataclass(frozen=True)
class GpuType:
    """What the placement knows of a GPU type: usable memory and MIG profile limits."""

    id: str
    memory_gib: float
    mig_limits: tuple[tuple[str, int], ...] = ()

    def mig_limit(self, profile: str) -> int:
        for name, limit in self.mig_limits:
            if name == profile:
                return limit
        raise KeyError(profile)


@dataclass(frozen=True)
class Pin:
    """Instances of ``llm`` only on ``nodes`` (node ids of the expanded cluster,
    ``<node group name>-<index>``, e.g. ``dgx-h100-01``)."""

    llm: str
    nodes: tuple[str, ...]

    def __post_init__(self) -> None:
        check(bool(self.nodes), "nodes", "a pin needs at least one node", list(self.nodes),
              "list node ids, e.g. nodes: [dgx-h100-00]")


@dataclass(frozen=True)
class PlacementSettings:
    """The place stage (``conf/placement``).

    - ``solver_preset``: a HiGHS options file ``solvers/<preset>.opt`` (default, fast,
      thorough: time limit, relative gap, threads, seed), read once into ``preset``.
    - ``memory_headroom``: the part of each GPU's memory kept free (MPS sharing; MIG profiles
      carve the memory).
    - ``anti_affinity``: spread replicas of one llm over distinct nodes where the cluster
      allows (soft: replicas beyond ceil(replicas / eligible nodes) on one node are the
      objective's first priority).
    - ``fraction_mechanism``: how GPU fractions are enforced: ``mps`` (compute share, any GPU)
      or ``mig`` (the smallest MIG profile that holds the instance; GPUs without MIG profiles
      cannot take fractions). ``conf/placement/default.yaml`` makes it follow
      ``emit.fraction_mechanism``.
    - ``pin``: instances of an llm only on the listed nodes; ``exclude_nodes``: nodes that take
      no instance.
    - ``hierarchical_threshold``: above this many GPU x llm pairs, decompose: instances to
      nodes, then each node's GPUs. ``export_mps``: also write the MILP as placement.mps.
    - ``isolation``: groups of llms that must not share a GPU (a group of one llm: it shares
      no GPU with another llm; :mod:`scepsy_opt.core.fault_domains`).
      ``conf/placement/default.yaml`` makes it follow ``emit.mps.isolation``, the setting a
      user writes (the run refuses the two when they differ).
    """

    solver_preset: str = "default"
    memory_headroom: float = 0.05
    anti_affinity: bool = True
    fraction_mechanism: Mechanism = "mps"
    pin: tuple[Pin, ...] = ()
    exclude_nodes: tuple[str, ...] = ()
    hierarchical_threshold: int = 2000
    export_mps: bool = False
    isolation: tuple[Any, ...] = ()  # lists of llm ids, normalised to Groups
    preset: SolverPreset = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        check(0 <= self.memory_headroom < 1, "memory_headroom", "must be in [0, 1)",
              self.memory_headroom, "reserve e.g. 0.05 of GPU memory")
        check(self.hierarchical_threshold >= 0, "hierarchical_threshold", "must be >= 0",
              self.hierarchical_threshold,
              "use 0 to always decompose, or a count of GPU x llm pairs")
        presets = sorted(p.stem for p in data_dir("solvers").glob("*.opt"))
        check(self.solver_preset in presets, "solver_preset", "unknown solver preset",
              self.solver_preset,
              f"use one of {', '.join(presets)} (HiGHS options files in solvers/)")
        normalise(self, "preset",
                  read_preset(data_dir("solvers") / f"{self.solver_preset}.opt"))
        normalise(self, "isolation", isolation_groups(self.isolation, "isolation"))

    @property
    def pins(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((pin.llm, pin.nodes) for pin in self.pin)

    def check_nodes(self, cluster: ClusterSpec) -> None:
        """Every node this names is a node of ``cluster``."""
        node_ids = {n.id for n in cluster.nodes}
        for key, nodes in [("exclude_nodes", self.exclude_nodes)] + [
                (f"pin[{i}].nodes", pin.nodes) for i, pin in enumerate(self.pin)]:
            for node in nodes:
                check(node in node_ids, f"placement.{key}", "unknown node", node,
                      f"use node ids of cluster '{cluster.name}': {_some(sorted(node_ids))}")


@dataclass(frozen=True)
class PlacementProblem:
    """Everything the placers, the verifier and the formulation need."""

    cluster: ClusterSpec
    classes: tuple[InstanceClass, ...]
    gpu_types: tuple[GpuType, ...]
    anti_affinity: bool = True
    exclude_nodes: frozenset[str] = frozenset()
    affinity: tuple[tuple[str, str, float], ...] = ()
    allow_partial: bool = False
    mechanism: str = "mps"
    source: str = "allocation"
    # the smallest instance per GPU type when it is not among ``classes`` (a part of a
    # larger problem keeps the whole plan's smallest instance): (gpu, compute, memory)
    smallest: tuple[tuple[str, float, float], ...] = ()
    # the isolation groups as the setting gives them, and the llm pairs (a < b) that may not
    # share a GPU (scepsy_opt.core.fault_domains.isolation_pairs of the groups)
    isolation_groups: Groups = ()
    isolation: tuple[tuple[str, str], ...] = ()

    # ---------------------------------------------------------------- lookups
    def gpu_type(self, gpu: str) -> GpuType:
        for entry in self.gpu_types:
            if entry.id == gpu:
                return entry
        raise KeyError(gpu)

    def cls(self, llm: str) -> InstanceClass:
        for c in self.classes:
            if c.llm == llm:
                return c
        raise KeyError(llm)

    def isolated(self, a: str, b: str) -> bool:
        """Whether llms ``a`` and ``b`` may not share a GPU."""
        return (min(a, b), max(a, b)) in self._isolated

    @functools.cached_property
    def _isolated(self) -> frozenset[tuple[str, str]]:
        return frozenset(self.isolation)

    @property
    def num_instances(self) -> int:
        return sum(c.replicas for c in self.classes)

    @property
    def requested_capacity(self) -> float:
        """GPU compute all instances take together."""
        return sum(c.capacity * c.replicas for c in self.classes)

    def eligible_nodes(self, c: InstanceClass) -> tuple[NodeSpec, ...]:
        """Nodes of the class's GPU type, not excluded, within its pins, with a TP domain of at
        least ``tp`` GPUs."""
        return self._eligible[c.llm]

    @functools.cached_property
    def _eligible(self) -> dict[str, tuple[NodeSpec, ...]]:
        return {c.llm: tuple(
            n for n in self.cluster.nodes
            if n.gpu == c.gpu and n.id not in self.exclude_nodes
            and (not c.nodes or n.id in c.nodes)
            and any(len(d) >= c.tp for d in tp_domains(n))) for c in self.classes}

    def spread_cap(self, c: InstanceClass) -> int:
        """Replicas of ``c`` per node that anti-affinity allows without excess."""
        nodes = len(self.eligible_nodes(c))
        return max(1, math.ceil(c.replicas / nodes)) if nodes else c.replicas

    def smallest_share(self, gpu: str) -> tuple[float, float] | None:
        """The per-GPU share (compute, memory) of the plan's smallest instance on ``gpu``
        (smallest compute, then memory), or None when no class uses the GPU type."""
        for name, compute, memory in self.smallest:
            if name == gpu:
                return compute, memory
        shares = sorted((c.compute_share, c.memory_gib) for c in self.classes if c.gpu == gpu)
        return shares[0] if shares else None

    def pair_weights(self) -> tuple[tuple[int, int, float], ...]:
        """Affinity pairs as class indices (pairs of llms not in the plan are dropped and the
        rest renormalised to sum 1)."""
        index = {c.llm: i for i, c in enumerate(self.classes)}
        pairs = [(index[a], index[b], w) for a, b, w in self.affinity
                 if a in index and b in index and a != b and w > 0]
        total = sum(w for _, _, w in pairs)
        return tuple((a, b, w / total) for a, b, w in pairs) if total > 0 else ()


# -------------------------------------------------------------------- objective weights

@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of the objective's terms. Each weight exceeds the largest total the terms below
    it can reach, so the weighted sum orders placements lexicographically: unplaced capacity,
    anti-affinity excess, fragmented GPUs, GPUs opened, nodes opened, topology cost."""

    unplaced: float
    excess: float
    fragmented: float
    gpus: float
    nodes: float
    topology: float

    def total(self, *, unplaced: float, excess: float, fragmented: float, gpus: float,
              nodes: float, topology: float) -> float:
        return (self.unplaced * unplaced + self.excess * excess
                + self.fragmented * fragmented + self.gpus * gpus + self.nodes * nodes
                + self.topology * topology)


MAX_DYNAMIC_RANGE = 1e9
CAPPED_FACTOR = 1e2


def objective_weights(problem: PlacementProblem) -> ObjectiveWeights:
    """Weights from the ranges of the terms: topology cost is in [0, 2]; at most
    ``min(nodes, instances)`` nodes and ``min(GPUs, sum tp x replicas)`` GPUs can be opened or
    fragmented; excess is at most the number of instances; unplaced capacity changes in steps of
    at least the smallest instance's capacity. Each weight exceeds what all terms below it can
    add up to, so the order is lexicographic.

    On very large problems (thousands of nodes and GPUs) these weights would span more than
    ``MAX_DYNAMIC_RANGE``, which the solver cannot resolve numerically; there each present
    term's weight is instead ``CAPPED_FACTOR`` (100) times the next present one's (unplaced
    capacity counted in GPUs): still lexicographic unless a lower term changes by 100 units
    or more."""
    exact = _weights(problem)
    top = max(exact.unplaced, exact.excess, exact.fragmented, exact.gpus)
    if top <= MAX_DYNAMIC_RANGE:
        return exact
    present = ["nodes", "gpus", "fragmented"]
    if problem.pair_weights():
        present.insert(0, "topology")
    if problem.anti_affinity:
        present.append("excess")
    if problem.allow_partial:
        present.append("unplaced")
    weights = dict.fromkeys(("unplaced", "excess", "fragmented", "gpus", "nodes", "topology"),
                            0.0)
    for k, name in enumerate(present):
        weights[name] = CAPPED_FACTOR ** k
    return ObjectiveWeights(**weights)


def _weights(problem: PlacementProblem) -> ObjectiveWeights:
    eligible_gpus = sum(n.num_gpus for n in problem.cluster.nodes
                        if n.id not in problem.exclude_nodes)
    instances = problem.num_instances
    max_nodes = min(len(problem.cluster.nodes), instances)
    max_gpus = min(eligible_gpus, sum(c.tp * c.replicas for c in problem.classes))
    topology_range = 2.0 if problem.pair_weights() else 0.0

    w_topology = 1.0
    below = w_topology * topology_range
    w_nodes = below + 1.0
    below += w_nodes * max_nodes
    w_gpus = below + 1.0
    below += w_gpus * max_gpus
    w_fragmented = below + 1.0
    below += w_fragmented * max_gpus
    w_excess = below + 1.0 if problem.anti_affinity else 0.0
    below += w_excess * instances
    w_unplaced = 0.0
    if problem.allow_partial and problem.classes:
        w_unplaced = (below + 1.0) / min(c.capacity for c in problem.classes)
    return ObjectiveWeights(w_unplaced, w_excess, w_fragmented, w_gpus, w_nodes, w_topology)


# -------------------------------------------------------------------- from an allocation

def _mig_profile(gpu: GpuSpec, fraction: float, memory_gib: float) -> MigProfile | None:
    fitting = [p for p in gpu.mig_profiles
               if p.compute_fraction >= fraction - EPS and p.memory_gib >= memory_gib - EPS]
    return min(fitting, key=lambda p: (p.compute_slices, p.memory_gib)) if fitting else None


def placement_problem(allocation: Allocation, cluster: ClusterSpec, catalog: Catalog,
                      memory: MemorySettings, options: PlacementSettings = PlacementSettings(),
                      affinity: tuple[tuple[str, str, float], ...] = ()) -> PlacementProblem:
    """The problem of placing ``allocation``'s instances on ``cluster``. Errors name the input
    that cannot work (an unknown node in a pin, a GPU without MIG...) and the fix."""
    if options.fraction_mechanism not in MECHANISMS:
        raise PlacementError("unknown fraction mechanism", source="config",
                             field="placement.fraction_mechanism",
                             value=options.fraction_mechanism, fix="use mps or mig")
    node_ids = {n.id for n in cluster.nodes}
    for node in options.exclude_nodes:
        if node not in node_ids:
            raise PlacementError("unknown node", source="config",
                                 field="placement.exclude_nodes", value=node,
                                 fix=f"use node ids of cluster '{cluster.name}': "
                                     f"{_some(sorted(node_ids))}")
    pins = dict(options.pins)
    llms = {entry.llm for entry in allocation.llms}
    for llm, nodes in pins.items():
        if llm not in llms:
            raise PlacementError("pinned llm is not in the allocation", source="config",
                                 field="placement.pin", value=llm,
                                 fix=f"pin one of {', '.join(sorted(llms))}")
        for node in nodes:
            if node not in node_ids:
                raise PlacementError(f"unknown node in the pin of {llm}", source="config",
                                     field="placement.pin", value=node,
                                     fix=f"use node ids of cluster '{cluster.name}': "
                                         f"{_some(sorted(node_ids))}")
    mig = options.fraction_mechanism == "mig"
    classes = []
    types: dict[str, GpuType] = {}
    for entry in allocation.llms:
        gpu = catalog.gpus[entry.gpu]
        plan = memory_plan(catalog.llms[entry.llm], gpu, entry.tp, entry.gpu_fraction, memory)
        share, memory_gib, profile = entry.gpu_fraction, plan.budget_gib_per_gpu, None
        if entry.gpu_fraction >= 1 - EPS:
            share = 1.0
        elif mig:
            where = f"{entry.llm} (TP {entry.tp}, fraction {entry.gpu_fraction:g})"
            if not gpu.mig_profiles:
                raise PlacementError(f"{gpu.id} has no MIG profiles, so {where} cannot get a "
                                     "MIG slice", source="config",
                                     field="placement.fraction_mechanism", value="mig",
                                     fix="use fraction_mechanism=mps, or a MIG-capable GPU")
            if entry.tp > 1:
                raise PlacementError(f"{where}: MIG instances have no peer-to-peer path "
                                     "(MIG disables NVLink and PCIe P2P), so a TP group cannot "
                                     "use MIG slices", source="config",
                                     field="placement.fraction_mechanism", value="mig",
                                     fix="use fraction_mechanism=mps, or whole GPUs for "
                                         "TP groups")
            chosen = _mig_profile(gpu, entry.gpu_fraction, memory_gib)
            if chosen is None:
                raise PlacementError(f"no MIG profile of {gpu.id} holds {where}: it needs "
                                     f"{entry.gpu_fraction:g} of the compute and "
                                     f"{memory_gib:.1f} GiB", source="config",
                                     field="placement.fraction_mechanism", value="mig",
                                     fix="use fraction_mechanism=mps, or whole GPUs")
            share, memory_gib = chosen.compute_fraction, chosen.memory_gib
            profile = chosen.name
        classes.append(InstanceClass(
            llm=entry.llm, gpu=entry.gpu, tp=entry.tp, gpu_fraction=entry.gpu_fraction,
            compute_share=share, memory_gib=memory_gib, replicas=entry.replicas,
            mig_profile=profile, nodes=tuple(pins.get(entry.llm, ()))))
        if entry.gpu not in types:
            usable = gpu.memory_gib if mig else (1 - options.memory_headroom) * gpu.memory_gib
            types[entry.gpu] = GpuType(
                gpu.id, usable, tuple((p.name, p.max_instances) for p in gpu.mig_profiles)
                if mig else ())
    return PlacementProblem(
        cluster=cluster, classes=tuple(classes), gpu_types=tuple(types.values()),
        anti_affinity=options.anti_affinity, exclude_nodes=frozenset(options.exclude_nodes),
        affinity=affinity, mechanism=options.fraction_mechanism,
        source=f"allocation '{allocation.method}'", isolation_groups=options.isolation,
        isolation=isolation_pairs(options.isolation, (c.llm for c in classes)))


def _some(items: list[str], limit: int = 6) -> str:
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")
