"""Placement heuristics on a :class:`~scepsy_opt.core.placement.PlacementProblem`:
first fit and best-fit decreasing. They honour every rule of the problem (TP domains, memory,
MIG profile limits, pins, exclusions, isolation) and, when anti-affinity is on, prefer nodes
where the llm has fewer replicas than its spread cap.

- :func:`first_fit`: instances in the given order (class by class, replica by replica, or an
  explicit ``order``); each takes the first node (cluster order) with room, and there the first
  GPUs by index.
- :func:`first_fit_decreasing`: first fit with the classes largest first (TP degree, then
  share).
- :func:`best_fit_decreasing`: instances largest first (GPU capacity ``tp x share``, then share,
  then memory); each takes the spot that leaves the least free compute on its GPUs, ties broken
  by the least free capacity on the node (fills opened nodes first), then cluster order.

With ``problem.allow_partial`` an instance without room is skipped (the result lists it);
otherwise :class:`~scepsy_opt.core.errors.PlacementError` names the resource that lacked room.
The MILP uses best-fit decreasing as its fallback when the solver finds no solution in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scepsy_opt.core.constants import TOLERANCE
from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.fault_domains import ISOLATION_SETTING
from scepsy_opt.core.feasibility import exceeds, has_room
from scepsy_opt.core.placement import InstanceClass, PlacementProblem
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import InstancePlacement, Placement


@dataclass(frozen=True)
class HeuristicResult:
    placement: Placement
    unplaced: tuple[tuple[str, int], ...]  # (llm, replica) without room (partial problems)


class ClusterState:
    """Free compute, memory and MIG slots of every GPU, vectorised over the cluster's GPUs."""

    def __init__(self, problem: PlacementProblem) -> None:
        self.problem = problem
        nodes = problem.cluster.nodes
        self.node_index = {n.id: i for i, n in enumerate(nodes)}
        self.gpu_node = np.array([i for i, n in enumerate(nodes) for _ in range(n.num_gpus)],
                                 dtype=np.int64)
        self.gpu_local = np.array([g for n in nodes for g in range(n.num_gpus)], dtype=np.int64)
        self.first_gpu = np.cumsum([0] + [n.num_gpus for n in nodes])[:-1]
        memory = []
        for n in nodes:
            try:
                memory.append(problem.gpu_type(n.gpu).memory_gib)
            except KeyError:
                memory.append(0.0)
        self.free_compute = np.ones(len(self.gpu_node))
        self.free_memory = np.array([memory[i] for i in self.gpu_node], dtype=float)
        self.node_free = np.array([float(n.num_gpus) for n in nodes])
        profiles = sorted({c.mig_profile for c in problem.classes if c.mig_profile})
        self.profile_index = {p: k for k, p in enumerate(profiles)}
        self.profile_left = np.zeros((len(self.gpu_node), len(profiles)), dtype=np.int64)
        for k, p in enumerate(profiles):
            for i, node in enumerate(nodes):
                try:
                    limit = problem.gpu_type(node.gpu).mig_limit(p)
                except KeyError:
                    limit = 0
                self.profile_left[self.gpu_node == i, k] = limit
        self.counts = np.zeros((len(problem.classes), len(nodes)), dtype=np.int64)
        # isolation: which classes each GPU hosts, and which classes may not join each one
        classes = problem.classes
        self.hosts = np.zeros((len(classes), len(self.gpu_node)), dtype=bool)
        self.conflicts = np.zeros((len(classes), len(classes)), dtype=bool)
        if problem.isolation:
            for a, ca in enumerate(classes):
                for b, cb in enumerate(classes):
                    self.conflicts[a, b] = problem.isolated(ca.llm, cb.llm)
        self.eligible = np.zeros((len(problem.classes), len(nodes)), dtype=bool)
        for ci, c in enumerate(problem.classes):
            for node in problem.eligible_nodes(c):
                self.eligible[ci, self.node_index[node.id]] = True

    def fits(self, ci: int) -> np.ndarray:
        """GPUs with room for one share of class ``ci`` (bool per GPU)."""
        c = self.problem.classes[ci]
        ok = has_room(self.free_compute, c.compute_share) & has_room(
            self.free_memory, c.memory_gib) & self.eligible[ci][self.gpu_node]
        if c.mig_profile is not None:
            ok &= self.profile_left[:, self.profile_index[c.mig_profile]] > 0
        if self.conflicts[ci].any():
            ok &= ~self.hosts[self.conflicts[ci]].any(axis=0)
        return ok

    def take(self, ci: int, node: int, gpus: Sequence[int]) -> None:
        c = self.problem.classes[ci]
        for g in gpus:
            k = self.first_gpu[node] + g
            self.free_compute[k] -= c.compute_share
            self.free_memory[k] -= c.memory_gib
            if c.mig_profile is not None:
                self.profile_left[k, self.profile_index[c.mig_profile]] -= 1
            self.hosts[ci, k] = True
        self.node_free[node] -= c.capacity
        self.counts[ci, node] += 1


def _spots(state: ClusterState, ci: int, fits: np.ndarray, preferred: np.ndarray | None,
           best: bool) -> tuple[int, tuple[int, ...]] | None:
    """The spot (node, local GPU ids) for one instance of class ``ci``, or None."""
    problem = state.problem
    c = problem.classes[ci]
    mask = fits if preferred is None else fits & preferred[state.gpu_node]
    if not mask.any():
        return None
    if c.tp == 1:
        candidates = np.flatnonzero(mask)
        if best:
            leftover = state.free_compute[candidates] - c.compute_share
            order = np.lexsort((candidates, state.node_free[state.gpu_node[candidates]],
                                np.round(leftover, 9)))
            k = candidates[order[0]]
        else:
            k = candidates[0]
        return int(state.gpu_node[k]), (int(state.gpu_local[k]),)
    chosen, chosen_key = None, None
    for node_i in np.unique(state.gpu_node[mask]):
        node = problem.cluster.nodes[node_i]
        base = state.first_gpu[node_i]
        fitting = mask[base:base + node.num_gpus].tolist()
        free = state.free_compute[base:base + node.num_gpus].tolist()
        for domain in tp_domains(node):
            if len(domain) < c.tp:
                continue
            ok = [g for g in domain if fitting[g]]
            if len(ok) < c.tp:
                continue
            if not best:
                return int(node_i), tuple(ok[:c.tp])
            ok.sort(key=lambda g: (free[g], g))
            gpus = tuple(sorted(ok[:c.tp]))
            leftover = sum(free[g] for g in gpus) - c.capacity
            key = (round(leftover, 9), state.node_free[node_i], node_i, gpus)
            if chosen_key is None or key < chosen_key:
                chosen, chosen_key = (int(node_i), gpus), key
    return chosen


def _place(problem: PlacementProblem, order: Sequence[tuple[int, int]], method: str,
           best: bool, existing: Placement | None = None, spread: bool = True
           ) -> HeuristicResult:
    state = ClusterState(problem)
    placed: list[InstancePlacement] = []
    if existing is not None:
        position = {c.llm: i for i, c in enumerate(problem.classes)}
        for inst in existing.instances:
            state.take(position[inst.llm], state.node_index[inst.node], inst.gpus)
            placed.append(inst)
    caps = np.array([problem.spread_cap(c) for c in problem.classes], dtype=np.int64)
    unplaced: list[tuple[str, int]] = []
    for ci, replica in order:
        c = problem.classes[ci]
        fits = state.fits(ci)
        spot = None
        if problem.anti_affinity and spread:
            spot = _spots(state, ci, fits, state.counts[ci] < caps[ci], best)
        if spot is None:
            spot = _spots(state, ci, fits, None, best)
        if spot is None:
            if problem.allow_partial:
                unplaced.append((c.llm, replica))
                continue
            raise no_room_error(problem, state, ci, replica, method)
        node_i, gpus = spot
        state.take(ci, node_i, gpus)
        placed.append(InstancePlacement(c.llm, replica, problem.cluster.nodes[node_i].id,
                                        gpus, c.gpu_fraction))
    placed.sort(key=lambda i: (_class_position(problem, i.llm), i.replica))
    return HeuristicResult(Placement(method, tuple(placed)), tuple(unplaced))


def _class_position(problem: PlacementProblem, llm: str) -> int:
    for i, c in enumerate(problem.classes):
        if c.llm == llm:
            return i
    raise KeyError(llm)


def first_fit(problem: PlacementProblem, order: Sequence[int] | None = None
              ) -> HeuristicResult:
    """First fit in class order (or ``order``: one class index per instance, in placing
    order; replica numbers count up per class)."""
    return _place(problem, _instances(problem, order), "first_fit", best=False)


def _by_capacity(c: InstanceClass) -> tuple[float, float, float]:
    """Largest first: GPU capacity (``tp x share``), then share, then memory."""
    return -c.capacity, -c.compute_share, -c.memory_gib


def _by_tp(c: InstanceClass) -> tuple[float, float, float]:
    """Largest first: TP degree, then share, then memory."""
    return -c.tp, -c.compute_share, -c.memory_gib


def _largest_first(problem: PlacementProblem, key) -> list[tuple[int, int]]:
    """Every instance, its class ranked by ``key`` (ties in class order)."""
    ranked = sorted(range(len(problem.classes)), key=lambda i: (key(problem.classes[i]), i))
    return [(ci, r) for ci in ranked for r in range(problem.classes[ci].replicas)]


def best_fit_decreasing(problem: PlacementProblem) -> HeuristicResult:
    """Best fit, largest instances first."""
    return _place(problem, _largest_first(problem, _by_capacity), "best_fit_decreasing",
                  best=True)


def first_fit_decreasing(problem: PlacementProblem) -> HeuristicResult:
    """First fit, classes largest first (TP degree, then share, then memory; stable)."""
    return _place(problem, _largest_first(problem, _by_tp), "first_fit_decreasing",
                  best=False)


def dense_first_fit_decreasing(problem: PlacementProblem) -> HeuristicResult:
    """First fit decreasing that fills each node before the next, replicas not spread.
    Anti-affinity is soft (the MILP's objective weighs it), and spreading can strand GPUs:
    with whole-GPU instances spread over two nodes, each node keeps an odd number of GPUs
    that TP-2 half-GPU instances cannot all pair up on, where filling one node first leaves
    an even number."""
    return _place(problem, _largest_first(problem, _by_tp), "dense_first_fit_decreasing",
                  best=False, spread=False)


# The placers the place stage starts from (and falls back to) and the search's packing check
# tries: an allocation :func:`packs` accepts is one the place stage places.
PACKERS = (best_fit_decreasing, first_fit_decreasing, first_fit, dense_first_fit_decreasing)


def packs(problem: PlacementProblem) -> bool:
    """Whether one of :data:`PACKERS` places every instance of ``problem`` (the search's
    packing check)."""
    if not problem.classes:
        return True
    for placer in PACKERS:
        try:
            placer(problem)
        except PlacementError:
            continue
        return True
    return False


def complete(problem: PlacementProblem, existing: Placement,
             missing: Sequence[tuple[str, int]]) -> HeuristicResult:
    """Best-fit decreasing of the ``missing`` (llm, replica) instances around an ``existing``
    placement (the repair step of the hierarchical decomposition)."""
    position = {c.llm: i for i, c in enumerate(problem.classes)}
    order = sorted(((position[llm], r) for llm, r in missing),
                   key=lambda item: (_by_capacity(problem.classes[item[0]]), item))
    return _place(problem, order, "best_fit_decreasing", best=True, existing=existing)


def _instances(problem: PlacementProblem, order: Sequence[int] | None
               ) -> list[tuple[int, int]]:
    if order is None:
        return [(ci, r) for ci, c in enumerate(problem.classes) for r in range(c.replicas)]
    seen = [0] * len(problem.classes)
    out = []
    for ci in order:
        out.append((ci, seen[ci]))
        seen[ci] += 1
    if any(s != c.replicas for s, c in zip(seen, problem.classes, strict=True)):
        raise ValueError("order must name every class exactly `replicas` times")
    return out


# ------------------------------------------------------------------------ diagnosis

def precheck(problem: PlacementProblem) -> None:
    """Necessary conditions, checked before any solving: every class has eligible nodes, its
    per-GPU share fits one GPU, and each GPU type has the capacity the plan asks of it. Raises
    :class:`PlacementError` naming the resource and the fix. A partial problem places what
    fits, so it has no necessary conditions."""
    if problem.allow_partial:
        return
    for c in problem.classes:
        where = f"{c.llm} (TP {c.tp}, share {c.compute_share:g}, {c.memory_gib:.1f} GiB/GPU)"
        try:
            usable = problem.gpu_type(c.gpu).memory_gib
        except KeyError:
            usable = 0.0
        of_type = [n for n in problem.cluster.nodes if n.gpu == c.gpu]
        if not of_type:
            raise PlacementError(f"the cluster has no {c.gpu} GPUs for {where}",
                                 source=problem.source, field=c.llm,
                                 fix=f"plan for the cluster's GPU types "
                                     f"({', '.join(problem.cluster.gpu_types)})")
        if exceeds(c.memory_gib, usable):
            raise PlacementError(
                f"{c.gpu} GPUs have {usable:.1f} GiB usable, but each GPU of {where} needs "
                f"{c.memory_gib:.1f} GiB", source=problem.source, field=c.llm,
                fix="lower placement.memory_headroom, or use a larger TP degree or fraction")
        if not problem.eligible_nodes(c):
            largest = max(max(len(d) for d in tp_domains(n)) for n in of_type)
            if largest < c.tp:
                problem_text = (f"no {c.gpu} node has a TP domain (NVLink domain, or a whole "
                                f"PCIe node) of {c.tp} GPUs for {where}; the largest has "
                                f"{largest}")
                fix = f"use TP {largest} or less, or nodes with larger NVLink domains"
            else:
                problem_text = f"every {c.gpu} node that could take {where} is excluded or " \
                               "outside its pins"
                fix = "relax placement.exclude_nodes or placement.pin"
            raise PlacementError(problem_text, source=problem.source, field=c.llm, fix=fix)
    for gpu in problem.cluster.gpu_types:
        need = sum(c.capacity * c.replicas for c in problem.classes if c.gpu == gpu)
        have = sum(n.num_gpus for n in problem.cluster.nodes
                   if n.gpu == gpu and n.id not in problem.exclude_nodes)
        if exceeds(need, have):
            raise PlacementError(
                f"the plan needs {need:g} {gpu} GPUs of compute, the cluster has {have} "
                f"(not excluded)", source=problem.source, field=gpu,
                fix="use fewer replicas or smaller fractions, or a larger cluster")
        whole = sum(c.tp * c.replicas for c in problem.classes
                    if c.gpu == gpu and c.compute_share >= 1 - TOLERANCE)
        if whole > have:
            raise PlacementError(
                f"the plan needs {whole} whole {gpu} GPUs, the cluster has {have}",
                source=problem.source, field=gpu,
                fix="use fewer replicas or a larger cluster")


def no_room_error(problem: PlacementProblem, state: ClusterState, ci: int, replica: int,
                  method: str) -> PlacementError:
    """The error for an instance that found no room: the domain that came closest and what
    it lacks."""
    c = problem.classes[ci]
    apart = [o.llm for o in problem.classes if problem.isolated(c.llm, o.llm)]
    need = (f"{c.tp} GPU(s) in one TP domain with {c.compute_share:g} compute and "
            f"{c.memory_gib:.1f} GiB free each"
            + (f" and a free MIG {c.mig_profile} slot" if c.mig_profile else "")
            + (f", hosting no instance of {', '.join(apart)} ({ISOLATION_SETTING})"
               if apart else ""))
    fits = state.fits(ci)
    best = None
    for node in problem.eligible_nodes(c):
        node_i = state.node_index[node.id]
        base = state.first_gpu[node_i]
        for domain in tp_domains(node):
            ok = sum(bool(fits[base + g]) for g in domain)
            most = max(domain, key=lambda g: (state.free_compute[base + g], -g))
            key = (ok, state.free_compute[base + most])
            if best is None or key > best[0]:
                best = (key, node, domain, ok, most)
    placed = sum(int(v) for v in state.counts.sum(axis=1))
    if best is None:
        closest = "no node is eligible"
    else:
        _, node, domain, ok, most = best
        base = state.first_gpu[state.node_index[node.id]]
        closest = (f"the closest is node {node.id} TP domain {list(domain)} with {ok} such "
                   f"GPU(s); its freest GPU {most} has {state.free_compute[base + most]:.3g} "
                   f"compute and {state.free_memory[base + most]:.1f} GiB free")
    return PlacementError(
        f"no room for replica {replica} of {c.llm}: it needs {need}; {closest} "
        f"({placed} of {problem.num_instances} instances placed by {method})",
        source=problem.source, field=c.llm,
        value={"tp": c.tp, "replicas": c.replicas, "gpu_fraction": c.gpu_fraction},
        fix="use fewer replicas, a smaller TP degree or fraction, fewer pins or exclusions, "
            "or a larger cluster")
