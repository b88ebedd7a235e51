"""Placement oracles for tests and benchmarks: seeded tiny problems and a brute-force enumerator.

:func:`brute_force` enumerates every placement of a small problem (up to a few nodes of a few
GPUs and about eight instances) and returns the best by the verifier's objective
(:func:`scepsy_opt.placement.verify.measure`), so it shares no code with the MILP. It skips only
placements that are mirror images of ones it visits: replicas of one llm are taken in
non-decreasing spot order (they are identical), a spot uses the lowest-indexed empty GPUs of its
TP domain (empty GPUs of a domain are interchangeable), and an empty node is skipped when an
identical node before it (same GPU type, domains, rack and eligibility) is empty too.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from scepsy_opt.core.placement import EPS, GpuType, InstanceClass, PlacementProblem
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import ClusterSpec, InstancePlacement, NodeSpec, Placement
from scepsy_opt.placement.verify import measure, violations

GPU = "H100-SXM-80GB"
MEMORY_GIB = 76.0


def _spots(problem: PlacementProblem, c: InstanceClass) -> list[tuple[str, tuple[int, ...]]]:
    out = []
    for node in problem.eligible_nodes(c):
        for domain in tp_domains(node):
            for gpus in itertools.combinations(domain, c.tp):
                out.append((node.id, gpus))
    return out


class _Search:
    """The depth-first walk of :func:`brute_force`: per GPU the compute, memory, occupants and
    MIG instances of the partial placement, the spot chosen per instance so far, the leaves
    visited and the best complete placement found."""

    def __init__(self, problem: PlacementProblem, limit: int) -> None:
        self.problem = problem
        self.limit = limit
        self.instances = [(ci, r) for ci, c in enumerate(problem.classes)
                          for r in range(c.replicas)]
        self.spots = [_spots(problem, c) for c in problem.classes]
        self.nodes = {n.id: n for n in problem.cluster.nodes}
        self.memory = {n.id: problem.gpu_type(n.gpu).memory_gib if any(
            t.id == n.gpu for t in problem.gpu_types) else 0.0 for n in problem.cluster.nodes}
        self.compute: dict[tuple[str, int], float] = {
            (n.id, g): 0.0 for n in problem.cluster.nodes for g in range(n.num_gpus)}
        self.used_memory = dict.fromkeys(self.compute, 0.0)
        self.occupants: dict[tuple[str, int], int] = dict.fromkeys(self.compute, 0)
        self.profiles: dict[tuple[str, int, str], int] = {}
        eligible = [frozenset(n.id for n in problem.eligible_nodes(c)) for c in problem.classes]
        self.signature = {n.id: (n.gpu, n.num_gpus, n.nvlink_domains, n.rack,
                                 tuple(n.id in e for e in eligible))
                          for n in problem.cluster.nodes}
        self.order = [n.id for n in problem.cluster.nodes]
        self.best: Placement | None = None
        self.best_value: float | None = None
        self.visited = 0
        self.chosen: list[tuple[str, tuple[int, ...]] | None] = []

    def node_empty(self, node_id: str) -> bool:
        return all(self.occupants[(node_id, g)] == 0
                   for g in range(self.nodes[node_id].num_gpus))

    def canonical(self, node_id: str, gpus: tuple[int, ...]) -> bool:
        """Whether the spot is not the mirror image of one visited: an empty node only when no
        identical node before it is empty, a domain's lowest-indexed empty GPUs."""
        node = self.nodes[node_id]
        if self.node_empty(node_id):
            index = self.order.index(node_id)
            for before in self.order[:index]:
                if self.signature[before] == self.signature[node_id] and self.node_empty(
                        before):
                    return False
        domain = next(d for d in tp_domains(node) if gpus[0] in d)
        empty = [g for g in domain if self.occupants[(node_id, g)] == 0]
        used_empty = [g for g in gpus if self.occupants[(node_id, g)] == 0]
        return used_empty == empty[:len(used_empty)]

    def fits(self, ci: int, node_id: str, gpus: tuple[int, ...]) -> bool:
        c = self.problem.classes[ci]
        for g in gpus:
            if self.compute[(node_id, g)] + c.compute_share > 1 + EPS:
                return False
            if self.used_memory[(node_id, g)] + c.memory_gib > self.memory[node_id] + EPS:
                return False
            if c.mig_profile is not None:
                limit_ = self.problem.gpu_type(self.nodes[node_id].gpu).mig_limit(
                    c.mig_profile)
                if self.profiles.get((node_id, g, c.mig_profile), 0) + 1 > limit_:
                    return False
        return True

    def apply(self, ci: int, node_id: str, gpus: tuple[int, ...], sign: int) -> None:
        """Add (``sign`` 1) or remove (-1) an instance of class ``ci`` on the spot."""
        c = self.problem.classes[ci]
        for g in gpus:
            self.compute[(node_id, g)] += sign * c.compute_share
            self.used_memory[(node_id, g)] += sign * c.memory_gib
            self.occupants[(node_id, g)] += sign
            if c.mig_profile is not None:
                key = (node_id, g, c.mig_profile)
                self.profiles[key] = self.profiles.get(key, 0) + sign

    def leaf(self) -> None:
        """A complete choice: keep it when its objective beats the best."""
        self.visited += 1
        if self.visited > self.limit:
            raise RuntimeError(f"brute force: more than {self.limit} placements")
        classes = self.problem.classes
        placed = [InstancePlacement(classes[ci].llm, r, spot[0], spot[1],
                                    classes[ci].gpu_fraction)
                  for (ci, r), spot in zip(self.instances, self.chosen, strict=True)
                  if spot is not None]
        placement = Placement("brute_force", tuple(placed))
        value = measure(self.problem, placement).objective
        if self.best_value is None or value < self.best_value - 1e-9:
            self.best, self.best_value = placement, value

    def descend(self, i: int, start: int) -> None:
        """Every choice for instances ``i`` on; replicas of one llm from spot ``start`` on."""
        instances = self.instances
        if i == len(instances):
            self.leaf()
            return
        ci, replica = instances[i]
        first = start if replica > 0 else 0
        for s in range(first, len(self.spots[ci])):
            node_id, gpus = self.spots[ci][s]
            if not self.canonical(node_id, gpus) or not self.fits(ci, node_id, gpus):
                continue
            self.apply(ci, node_id, gpus, +1)
            self.chosen.append((node_id, gpus))
            nxt = s if i + 1 < len(instances) and instances[i + 1][0] == ci else 0
            self.descend(i + 1, nxt)
            self.chosen.pop()
            self.apply(ci, node_id, gpus, -1)
        if self.problem.allow_partial:
            self.leave_unplaced(i, ci)

    def leave_unplaced(self, i: int, ci: int) -> None:
        """Instance ``i`` (of class ``ci``) unplaced: the later replicas of the class stay
        unplaced too (they are identical, so this loses no placement)."""
        instances = self.instances
        self.chosen.append(None)
        if i + 1 < len(instances) and instances[i + 1][0] == ci:
            rest = [j for j in range(i + 1, len(instances)) if instances[j][0] == ci]
            self.chosen.extend([None] * len(rest))
            self.descend(i + 1 + len(rest), 0)
            del self.chosen[-len(rest):]
        else:
            self.descend(i + 1, 0)
        self.chosen.pop()


def brute_force(problem: PlacementProblem, limit: int = 2_000_000
                ) -> tuple[Placement | None, float | None, int]:
    """``(best placement, its objective, leaves visited)``; ``(None, None, n)`` when no
    placement exists. Raises ``RuntimeError`` past ``limit`` leaves (the problem is too big)."""
    search = _Search(problem, limit)
    search.descend(0, 0)
    if search.best is not None and violations(problem, search.best):
        raise RuntimeError("brute force built an invalid placement")
    return search.best, search.best_value, search.visited


# ------------------------------------------------------------------------ tiny problems

def tiny_cluster(rng: np.random.Generator, *, max_nodes: int = 4, max_gpus: int = 4
                 ) -> ClusterSpec:
    """1-``max_nodes`` nodes of 1-``max_gpus`` GPUs with a random topology (full NVLink,
    NVLink pairs, or PCIe only) and one or two racks."""
    count = int(rng.integers(1, max_nodes + 1))
    gpus = int(rng.choice([g for g in (1, 2, 4) if g <= max_gpus]))
    kind = rng.choice(["nvswitch", "pairs", "pcie"]) if gpus > 1 else "nvswitch"
    if kind == "nvswitch":
        domains = (tuple(range(gpus)),)
    elif kind == "pairs":
        domains = tuple(tuple(range(s, s + 2)) for s in range(0, gpus, 2))
    else:
        domains = tuple((g,) for g in range(gpus))
    racks = int(rng.integers(1, 3))
    nodes = tuple(NodeSpec(id=f"n{i}", gpu=GPU, num_gpus=gpus, rack=f"r{i % racks}",
                           nvlink_domains=domains, network_gb_s=100.0) for i in range(count))
    return ClusterSpec(name=f"tiny-{kind}", description="", nodes=nodes)


def tiny_problem(seed: int, *, max_nodes: int = 4, max_gpus: int = 4, max_instances: int = 8,
                 allow_partial: bool = False, mig: bool = False) -> PlacementProblem:
    """A random small problem: 1-3 llms with TP degrees that fit the topology, fractions on
    the 1/8 grid (or MIG profiles), memory proportional to the fraction, random pins and an
    exclusion now and then, anti-affinity on or off, and an affinity pair."""
    rng = np.random.default_rng(seed)
    cluster = tiny_cluster(rng, max_nodes=max_nodes, max_gpus=max_gpus)
    node = cluster.nodes[0]
    largest = max(len(d) for d in tp_domains(node))
    classes = []
    total = 0
    for i in range(int(rng.integers(1, 4))):
        tp = int(rng.choice([t for t in (1, 2, 4) if t <= largest]))
        if mig:
            tp = 1
            options = [("1g.10gb", 1, 10.0), ("2g.20gb", 2, 20.0), ("3g.40gb", 3, 40.0),
                       (None, 7, 72.0)]
            name, slices, memory = options[int(rng.integers(len(options)))]
            share = slices / 7
            fraction = 1.0 if name is None else [0.125, 0.25, 0.375][slices - 1]
        else:
            name = None
            fraction = float(rng.choice([0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0]))
            share, memory = fraction, 0.9 * fraction * 80.0
        replicas = int(rng.integers(1, 4))
        replicas = max(1, min(replicas, max_instances - total))
        if total >= max_instances:
            break
        total += replicas
        pins: tuple[str, ...] = ()
        if rng.random() < 0.2 and len(cluster.nodes) > 1:
            pins = tuple(sorted(rng.choice([n.id for n in cluster.nodes],
                                           size=int(rng.integers(1, len(cluster.nodes))),
                                           replace=False).tolist()))
        classes.append(InstanceClass(llm=f"llm{i}", gpu=GPU, tp=tp, gpu_fraction=fraction,
                                     compute_share=share, memory_gib=memory,
                                     replicas=replicas, mig_profile=name, nodes=pins))
    exclude = frozenset()
    if rng.random() < 0.15 and len(cluster.nodes) > 1:
        exclude = frozenset({cluster.nodes[-1].id})
    affinity = ()
    if len(classes) > 1 and rng.random() < 0.6:
        affinity = (("llm0", "llm1", 1.0),)
    limits = (("1g.10gb", 7), ("2g.20gb", 3), ("3g.40gb", 2)) if mig else ()
    return PlacementProblem(
        cluster=cluster, classes=tuple(classes),
        gpu_types=(GpuType(GPU, 80.0 if mig else MEMORY_GIB, limits),),
        anti_affinity=bool(rng.random() < 0.7), exclude_nodes=exclude, affinity=affinity,
        allow_partial=allow_partial, mechanism="mig" if mig else "mps",
        source=f"tiny problem {seed}")


def all_spots(problem: PlacementProblem) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """Every (llm, node, GPUs) spot a problem's classes may take (for tests)."""
    for c in problem.classes:
        for node_id, gpus in _spots(problem, c):
            yield c.llm, node_id, gpus


def mixed_problem(seed: int, cluster: ClusterSpec, *, llms: int = 20, instances: int = 220,
                  load: float = 0.85) -> PlacementProblem:
    """A large problem on ``cluster`` (one GPU type): ``llms`` classes with mixed TP degrees
    (1-8, within the largest TP domain) and fractions on the 1/8 grid, about ``instances``
    instances taking about ``load`` of the cluster's GPUs, random affinity pairs, anti-affinity
    on. For scale tests and benchmarks."""
    rng = np.random.default_rng(seed)
    gpu = cluster.nodes[0].gpu
    largest = max(len(d) for n in cluster.nodes for d in tp_domains(n))
    capacity = load * sum(n.num_gpus for n in cluster.nodes)
    shapes = []
    for _ in range(llms):
        tp = int(rng.choice([t for t in (1, 1, 1, 2, 2, 4, 8) if t <= largest]))
        fraction = 1.0 if tp >= 4 else float(rng.choice([0.25, 0.375, 0.5, 0.625, 0.75, 1.0]))
        shapes.append((tp, fraction))
    weights = rng.dirichlet(np.ones(llms))
    counts = np.maximum(1, np.round(weights * instances)).astype(int)
    used = sum(c * tp * f for c, (tp, f) in zip(counts, shapes, strict=True))
    scale = capacity / used
    counts = np.maximum(1, np.floor(counts * min(1.0, scale))).astype(int)
    classes = tuple(InstanceClass(
        llm=f"llm{i:02d}", gpu=gpu, tp=tp, gpu_fraction=f, compute_share=f,
        memory_gib=0.9 * f * 80.0, replicas=int(counts[i]))
        for i, (tp, f) in enumerate(shapes))
    pairs = rng.choice(llms, size=(llms // 2, 2))
    affinity = tuple((f"llm{a:02d}", f"llm{b:02d}", float(rng.uniform(0.5, 2)))
                     for a, b in pairs if a != b)
    return PlacementProblem(cluster=cluster, classes=classes,
                            gpu_types=(GpuType(gpu, MEMORY_GIB),), anti_affinity=True,
                            affinity=affinity, source=f"mixed problem {seed}")


def reference_problems() -> dict[str, PlacementProblem]:
    """The small problems behind ``solvers/instances/*.mps`` (regression instances: their
    optimal objectives are recorded in ``solvers/instances/expected.json``)."""

    def cls(llm, tp, fraction, replicas, **kw):
        return InstanceClass(llm=llm, gpu=GPU, tp=tp, gpu_fraction=fraction,
                             compute_share=kw.pop("share", fraction),
                             memory_gib=kw.pop("memory", 72.0 * fraction), replicas=replicas,
                             **kw)

    def nodes(count, gpus, domains, racks=1):
        return ClusterSpec("reference", "", tuple(
            NodeSpec(f"n{i}", GPU, gpus, f"r{i % racks}", domains, 100.0)
            for i in range(count)))

    memory = (GpuType(GPU, MEMORY_GIB),)
    pairs = ((0, 1), (2, 3))
    return {
        "pairs_tp2_fractions": PlacementProblem(
            nodes(2, 4, pairs), (cls("a", 2, 0.5, 3), cls("b", 1, 0.25, 4),
                                 cls("c", 1, 0.75, 2)), memory, anti_affinity=True),
        "pcie_tp2": PlacementProblem(
            nodes(2, 4, ((0,), (1,), (2,), (3,))),
            (cls("a", 2, 1.0, 2), cls("b", 1, 0.375, 5)), memory, anti_affinity=True),
        "mig_profiles": PlacementProblem(
            nodes(2, 2, ((0, 1),)),
            (cls("a", 1, 0.125, 5, share=1 / 7, memory=10.0, mig_profile="1g.10gb"),
             cls("b", 1, 0.375, 3, share=3 / 7, memory=40.0, mig_profile="3g.40gb"),
             cls("c", 1, 1.0, 1)),
            (GpuType(GPU, 80.0, (("1g.10gb", 7), ("3g.40gb", 2))),), anti_affinity=False,
            mechanism="mig"),
        "topology_two_racks": PlacementProblem(
            nodes(4, 2, ((0, 1),), racks=2),
            (cls("a", 1, 0.5, 3), cls("b", 1, 0.5, 3), cls("c", 2, 0.625, 1)), memory,
            anti_affinity=True, affinity=(("a", "b", 2.0), ("b", "c", 1.0))),
        "partial_overfull": PlacementProblem(
            nodes(1, 4, ((0, 1, 2, 3),)),
            (cls("a", 2, 1.0, 2), cls("b", 1, 0.625, 3)), memory, anti_affinity=False,
            allow_partial=True),
        "infeasible_bin_packing": PlacementProblem(
            nodes(1, 2, ((0, 1),)), (cls("a", 1, 0.625, 3),), memory, anti_affinity=False),
    }


def plan_like_problem(seed: int, cluster: ClusterSpec) -> PlacementProblem:
    """A problem shaped like a large allocation (20 llms, about 220 instances using about 75%
    of 512 GPUs): small llms at TP 1 with fractions, mid-size ones at TP 2 (half or whole
    GPUs), large ones at TP 4 and TP 8 on whole GPUs, a few whole-GPU TP-1 llms; fractions on
    the 1/8 grid, the smallest 1/4; random affinity pairs; anti-affinity on. For the scale
    benchmark."""
    rng = np.random.default_rng(seed)
    gpu = cluster.nodes[0].gpu
    scale = sum(n.num_gpus for n in cluster.nodes) / 512
    mix = ([(1, float(rng.choice([0.25, 0.5, 0.75])), (12, 20))] * 6
           + [(2, float(rng.choice([0.5, 1.0])), (8, 12))] * 5
           + [(4, 1.0, (6, 9))] * 5 + [(8, 1.0, (2, 4))] * 2 + [(1, 1.0, (10, 15))] * 2)
    classes = []
    for i, (tp, fraction, (low, high)) in enumerate(mix):
        if tp == 1 and fraction < 1:
            fraction = float(rng.choice([0.25, 0.5, 0.75]))
        elif tp == 2:
            fraction = float(rng.choice([0.5, 1.0]))
        replicas = max(1, int(round(rng.integers(low, high + 1) * scale)))
        classes.append(InstanceClass(llm=f"llm{i:02d}", gpu=gpu, tp=tp, gpu_fraction=fraction,
                                     compute_share=fraction, memory_gib=0.9 * fraction * 80.0,
                                     replicas=replicas))
    pairs = rng.choice(len(classes), size=(8, 2))
    affinity = tuple((f"llm{a:02d}", f"llm{b:02d}", float(rng.uniform(0.5, 2)))
                     for a, b in pairs if a != b)
    return PlacementProblem(cluster=cluster, classes=tuple(classes),
                            gpu_types=(GpuType(gpu, MEMORY_GIB),), anti_affinity=True,
                            affinity=affinity, source=f"plan-like problem {seed}")
