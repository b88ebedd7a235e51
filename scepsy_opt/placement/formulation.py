r"""The placement MILP (Pyomo): the flat GPU-level model, and the two node-level models of the
hierarchical decomposition (occupancy patterns, or aggregate capacities). Component names below
match the Pyomo models'.

Flat model (:func:`build_flat`)
===============================

Sets
----
- ``L``: instance classes (one per llm: ``r_l`` identical replicas), ``N`` nodes, ``K`` racks.
- ``D``: TP domains ``(n, d)`` (NVLink domains, or the whole node without NVLink); ``G_nd`` the
  GPUs of domain ``(n, d)``; ``G``: every GPU ``(n, g)``; ``d(n, g)`` its domain.
- ``LD`` (``LG``, ``LN``): pairs of a class and a domain (GPU, node) it may use: the node has its
  GPU type, is not excluded, is within its pins, and the domain has at least ``t_l`` GPUs.
- ``P``: affinity pairs ``(a, b)`` of classes whose llms call each other.
- ``I``: isolation pairs ``(a, b)`` of classes whose llms may not share a GPU
  (``placement.isolation``, following ``emit.mps.isolation``); ``LGI``: the pairs of ``LG``
  whose class is in an isolation pair; ``GI``: ``(a, b, n, g)`` for ``(a, b)`` in ``I`` and
  ``(n, g)`` a GPU both may use.

Parameters
----------
- ``t_l`` TP degree, ``c_l`` compute share per GPU (the GPU fraction under MPS, MIG slices over
  total slices under MIG), ``m_l`` memory per GPU (GiB), ``r_l`` replicas.
- ``M_n`` usable memory of a GPU of node ``n`` (after the headroom under MPS).
- ``(c0_n, m0_n)`` the per-GPU share of the plan's smallest instance on node ``n``'s GPU type.
- ``Q_p`` per-GPU instance limit of MIG profile ``p``; ``L_p`` the classes using profile ``p``.
- ``s_l = ceil(r_l / |eligible nodes of l|)`` the anti-affinity spread cap.
- ``w_ab`` affinity weights (sum 1); ``W_*`` objective weights
  (:func:`scepsy_opt.core.placement.objective_weights`).

Variables
---------
- ``x[l,n,d]`` in Z+: instances of ``l`` in domain ``(n, d)`` (counts, not per-instance
  binaries: identical replicas are aggregated).
- ``z[l,n,g]`` in Z+: instances of ``l`` that use GPU ``(n, g)``.
- ``u[n,g]``, ``v[n]`` in {0,1}: GPU used, node used.
- ``full[n,g]``, ``room[n,g]``, ``frag[n,g]`` in {0,1}: GPU compute full, free part hosts the
  smallest instance, GPU fragmented.
- ``excess[l,n]`` >= 0: replicas of ``l`` on ``n`` beyond the spread cap.
- ``w[l,n,g]`` in {0,1} on ``LGI``: GPU ``(n, g)`` hosts an instance of ``l`` (isolation only).
- ``node_overlap[a,b,n]``, ``rack_overlap[a,b,k]`` in [0, 1]: shared share of two llms' replicas.
- (partial problems) the instances left out are ``r_l - sum x``.

Objective
---------
minimise ``W_unplaced sum_l t_l c_l (r_l - sum_nd x[l,n,d]) + W_excess sum excess
+ W_fragmented sum frag + W_gpus sum u + W_nodes sum v
+ W_topology sum_(a,b) w_ab ((1 - sum_n node_overlap[a,b,n]) + (1 - sum_k rack_overlap[a,b,k]))``

The weights make the order lexicographic: unplaced capacity (partial problems only), then
anti-affinity excess, then fragmented GPUs, then GPUs opened, then nodes opened, then topology.

Constraints
-----------
- C1 ``demand[l]``: ``sum_(n,d) x[l,n,d] = r_l`` (``<=`` for partial problems).
- C2 ``group[l,n,d]``: ``sum_(g in G_nd) z[l,n,g] = t_l x[l,n,d]``: a TP group takes ``t_l``
  GPUs of one domain, each with the same share.
- C3 ``distinct[l,n,g]`` (``t_l > 1``): ``z[l,n,g] <= x[l,n,d(n,g)]``: no GPU twice in one
  group. With C2 this is exact: per-GPU counts bounded by the group count always split into
  groups of ``t_l`` distinct GPUs (wrap-around assignment, :func:`extract`).
- C4 ``compute[n,g]``: ``sum_l c_l z[l,n,g] <= u[n,g]``.
- C5 ``memory[n,g]``: ``sum_l m_l z[l,n,g] <= M_n u[n,g]``.
- C6 ``mig[n,g,p]``: ``sum_(l in L_p) z[l,n,g] <= Q_p``.
- C7 ``opened[n,g]``: ``u[n,g] <= v[n]``.
- C8 ``is_full[n,g]``: ``sum_l c_l z[l,n,g] >= (1 - 1e-6) full[n,g]``.
- C9 ``room_compute[n,g]``: ``sum_l c_l z[l,n,g] + c0_n room[n,g] <= 1`` and
  ``room_memory[n,g]``: ``sum_l m_l z[l,n,g] + m0_n room[n,g] <= M_n``.
- C10 ``fragmented[n,g]``: ``frag[n,g] >= u[n,g] - full[n,g] - room[n,g]``.
- C11 ``spread[l,n]``: ``sum_d x[l,n,d] <= s_l + excess[l,n]`` (anti-affinity on).
- C12 ``node_share_a/b[a,b,n]``: ``node_overlap[a,b,n] <= sum_d x[a,n,d] / r_a`` (and for b);
  ``rack_share_a/b[a,b,k]`` likewise over the nodes of rack ``k``.
- C13 ``gpu_order[n,g]``: GPUs of one domain are interchangeable, so their compute loads are
  non-increasing in index order (symmetry breaking).
- C14 ``domain_order[n,d]`` and ``node_order[n]``: domains of equal size in a node, and
  identical nodes (same GPU type, domains, rack and eligibility) consecutive in cluster order,
  have non-increasing compute loads (symmetry breaking).
- C15 ``hosts[l,n,g]`` on ``LGI``: ``z[l,n,g] <= zmax_l w[l,n,g]`` (``zmax_l`` the bound of
  ``z``).
- C16 ``isolate[a,b,n,g]`` on ``GI``: ``w[a,n,g] + w[b,n,g] <= 1``: no GPU hosts two llms of
  an isolation pair.

Node-level model with occupancy patterns (:func:`build_patterns`)
================================================================

First stage of the hierarchical decomposition when the plan has few distinct per-GPU shares
(an allocation's fractions lie on a grid, so its GPUs can hold only a few dozen different
mixes). Identical GPUs are aggregated: instead of GPU-level variables, each domain counts how
many of its GPUs hold each *pattern*.

- ``S``: share classes (distinct ``(c_l, m_l, MIG profile)``, and the llm itself for a class of
  an isolation pair); ``s(l)`` the class of ``l``.
- ``Pat``: patterns of the GPU type, every non-empty multiset of shares that fits one GPU
  (compute, memory, MIG limits, no two share classes of an isolation pair), enumerated by
  :func:`enumerate_patterns`; ``a_ps`` shares of class ``s`` in pattern ``p``; ``frag_p``,
  ``load_p`` its fragmentation and compute load. Isolation is exact here: a pattern never
  holds two llms that may not share a GPU.
- ``y[n,d,p]`` in Z+: GPUs of domain ``(n, d)`` holding pattern ``p``; ``yb[l,n,d]`` in {0,1}.
- P1 ``patterns[n,d]``: ``sum_p y[n,d,p] <= |G_nd| v[n]``.
- P2 ``cover[n,d,s]``: ``sum_(l: s(l) = s) t_l x[l,n,d] = sum_p a_ps y[n,d,p]`` (every share
  slot of the chosen patterns holds exactly one instance's share).
- P3 ``holds[l,n,d]``: ``x[l,n,d] <= r_l yb[l,n,d]`` and ``spans[l,n,d]``
  (``t_l > 1``, ``c_l < 1``): ``t_l yb[l,n,d] <= sum_(p: a_p,s(l) > 0) y[n,d,p]``.
- P4 ``node_order[n]``: identical nodes have non-increasing ``sum_(d,p) load_p y[n,d,p]``.
- Objective: the flat objective with ``sum frag = sum frag_p y`` and ``sum u = sum y``, with
  the flat model's weights. Every flat solution maps to a pattern solution of the same
  objective, so its bound bounds the full problem; the second stage recovers GPU ids per node
  (best-fit decreasing when it meets the node's pattern counts, else the flat model of the
  node), and a node whose TP groups cannot take distinct GPUs gets a no-good cut.

Node-level model with aggregate capacities (:func:`build_nodes`)
===============================================================

The first stage when patterns are too many (arbitrary fractions).

Same ``L, N, D, LD, LN, P, K``, ``x``, ``v``, ``excess``, overlaps and C1, C11, C12; GPUs are
not modelled one by one but counted per domain:

- ``k[n,d]`` in ``{0..|G_nd|}``: GPUs used in domain ``(n, d)``; ``y[l,n,d]`` in {0,1} for TP
  groups with a fractional share (``t_l > 1``, ``c_l < 1``): the domain holds such a group.
- H1 ``capacity[n,d]``: ``sum_l t_l c_l x[l,n,d] <= k[n,d]``.
- H2 ``memory[n,d]``: ``sum_l t_l m_l x[l,n,d] <= M_n k[n,d]``.
- H3 ``large[n,d]``: ``sum_(l: c_l > 1/2 or m_l > M_n/2) t_l x[l,n,d] <= k[n,d]`` (two such
  shares never share a GPU).
- H4 ``holds[l,n,d]``: ``x[l,n,d] <= r_l y[l,n,d]`` and ``spans[l,n,d]``:
  ``t_l y[l,n,d] <= k[n,d]`` (a group needs ``t_l`` distinct used GPUs).
- H5 ``mig[n,d,p]``: ``sum_(l in L_p) t_l x[l,n,d] <= Q_p k[n,d]``.
- H6 ``opened[n,d]``: ``k[n,d] <= |G_nd| v[n]``.
- H7 ``node_order[n]``: identical nodes have non-increasing ``sum_d k``.

Isolation (C15, C16) is GPU-level, so this model leaves it to the second stage (the flat
model of each node, which has C15 and C16, and best-fit decreasing, which honours it); a node
whose instances cannot be kept apart on its GPUs gets a no-good cut like any other that does
not pack.

Objective: the flat objective (same weights) without fragmentation, ``sum u`` replaced by
``sum k``. Every flat solution maps to a node-level solution with the same or lower objective,
so the node-level bound bounds the full problem. The second stage places each node's instances
on its GPUs with the flat model of that node alone (fragmentation, then GPUs); a node whose
instances do not pack adds a no-good cut (``nogood``) forbidding that node's counts or more on
every identical node, and the first stage is solved again.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyomo.environ as pyo

from scepsy_opt.core.placement import (
    EPS,
    InstanceClass,
    ObjectiveWeights,
    PlacementProblem,
    objective_weights,
)
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import InstancePlacement, NodeSpec, Placement

FULL_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Index:
    """The index sets of a problem (shared by both models and by extraction)."""

    nodes: tuple[NodeSpec, ...]
    domains: tuple[tuple[str, int], ...]                 # (node, d)
    domain_gpus: dict[tuple[str, int], tuple[int, ...]]
    gpus: tuple[tuple[str, int], ...]                    # (node, g)
    gpu_domain: dict[tuple[str, int], int]
    ld: tuple[tuple[int, str, int], ...]                 # (l, node, d)
    lg: tuple[tuple[int, str, int], ...]                 # (l, node, g)
    ln: tuple[tuple[int, str], ...]                      # (l, node)
    racks: dict[str, tuple[str, ...]]                    # rack -> nodes
    identical_runs: tuple[tuple[str, ...], ...]          # runs of interchangeable nodes


def index_sets(problem: PlacementProblem) -> Index:
    nodes = tuple(n for n in problem.cluster.nodes if n.id not in problem.exclude_nodes
                  and any(n.gpu == c.gpu for c in problem.classes))
    domains, domain_gpus, gpus, gpu_domain = [], {}, [], {}
    for n in nodes:
        for d, members in enumerate(tp_domains(n)):
            domains.append((n.id, d))
            domain_gpus[(n.id, d)] = members
            for g in members:
                gpu_domain[(n.id, g)] = d
        gpus.extend((n.id, g) for g in range(n.num_gpus))
    eligible = {ci: {n.id for n in problem.eligible_nodes(c)}
                for ci, c in enumerate(problem.classes)}
    ld, lg, ln = [], [], []
    for ci, c in enumerate(problem.classes):
        for n in nodes:
            if n.id not in eligible[ci]:
                continue
            ln.append((ci, n.id))
            for d, members in enumerate(tp_domains(n)):
                if len(members) >= c.tp:
                    ld.append((ci, n.id, d))
                    lg.extend((ci, n.id, g) for g in members)
    racks: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        racks[n.rack].append(n.id)
    runs: list[list[str]] = []
    last = None
    for n in nodes:
        signature = (n.gpu, n.num_gpus, n.nvlink_domains, n.rack,
                     tuple(n.id in eligible[ci] for ci in eligible))
        if runs and signature == last:
            runs[-1].append(n.id)
        else:
            runs.append([n.id])
        last = signature
    return Index(nodes, tuple(domains), domain_gpus, tuple(gpus), gpu_domain, tuple(ld),
                 tuple(lg), tuple(ln), {k: tuple(v) for k, v in racks.items()},
                 tuple(tuple(r) for r in runs if len(r) > 1))


def _safe(rule):
    """A constraint rule whose expression may reduce to a constant (an empty sum): a true one
    is skipped, a false one is kept as infeasible."""
    def wrapped(m, *index):
        expr = rule(m, *index)
        if isinstance(expr, bool):
            return pyo.Constraint.Skip if expr else pyo.Constraint.Infeasible
        return expr
    return wrapped


def _constraint(index, *, rule) -> pyo.Constraint:
    return pyo.Constraint(index, rule=_safe(rule))


def _memory(problem: PlacementProblem, node: NodeSpec) -> float:
    return problem.gpu_type(node.gpu).memory_gib


def _common(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index) -> None:
    """Sets, ``x``, ``v``, C1, C11 and C12 (shared by both models)."""
    classes = problem.classes
    m.L = pyo.Set(initialize=range(len(classes)))
    m.N = pyo.Set(initialize=[n.id for n in ix.nodes])
    m.D = pyo.Set(initialize=ix.domains, dimen=2)
    m.LD = pyo.Set(initialize=ix.ld, dimen=3)
    m.LN = pyo.Set(initialize=ix.ln, dimen=2)
    m.K = pyo.Set(initialize=sorted(ix.racks))
    pairs = problem.pair_weights()
    m.P = pyo.Set(initialize=[(a, b) for a, b, _ in pairs], dimen=2)
    def most(_, l, n, d):  # the replicas, and what the domain's GPUs can hold of them
        c = classes[l]
        per_gpu = int(math.floor(1 / c.compute_share + EPS))
        return 0, min(c.replicas, len(ix.domain_gpus[(n, d)]) * per_gpu // c.tp)
    m.x = pyo.Var(m.LD, domain=pyo.NonNegativeIntegers, bounds=most)
    m.v = pyo.Var(m.N, domain=pyo.Binary)
    by_class: dict[int, list] = defaultdict(list)
    by_class_node: dict[tuple[int, str], list] = defaultdict(list)
    for key in ix.ld:
        by_class[key[0]].append(key)
        by_class_node[(key[0], key[1])].append(key)
    m._by_class_node = by_class_node

    def demand(m, l):
        total = sum(m.x[k] for k in by_class[l])
        if problem.allow_partial:
            return total <= classes[l].replicas
        return total == classes[l].replicas
    m.demand = _constraint(m.L, rule=demand)

    if problem.anti_affinity:
        m.excess = pyo.Var(m.LN, domain=pyo.NonNegativeReals)
        m.spread = _constraint(m.LN, rule=lambda m, l, n: sum(
            m.x[k] for k in by_class_node[(l, n)]) <= problem.spread_cap(classes[l])
            + m.excess[l, n])
    if pairs:
        m.PN = pyo.Set(initialize=[(a, b, n) for a, b in m.P for n in m.N], dimen=3)
        m.PK = pyo.Set(initialize=[(a, b, k) for a, b in m.P for k in m.K], dimen=3)
        m.node_overlap = pyo.Var(m.PN, bounds=(0, 1))
        m.rack_overlap = pyo.Var(m.PK, bounds=(0, 1))

        def on_node(m, l, n):
            return sum(m.x[k] for k in by_class_node.get((l, n), ())) / classes[l].replicas

        def on_rack(m, l, rack):
            return sum(on_node(m, l, n) for n in ix.racks[rack])

        m.node_share_a = _constraint(m.PN, rule=lambda m, a, b, n: m.node_overlap[
            a, b, n] <= on_node(m, a, n))
        m.node_share_b = _constraint(m.PN, rule=lambda m, a, b, n: m.node_overlap[
            a, b, n] <= on_node(m, b, n))
        m.rack_share_a = _constraint(m.PK, rule=lambda m, a, b, k: m.rack_overlap[
            a, b, k] <= on_rack(m, a, k))
        m.rack_share_b = _constraint(m.PK, rule=lambda m, a, b, k: m.rack_overlap[
            a, b, k] <= on_rack(m, b, k))


def _objective_rest(m: pyo.ConcreteModel, problem: PlacementProblem, w: ObjectiveWeights,
                    ix: Index):
    """Unplaced capacity, excess, nodes and topology terms."""
    classes = problem.classes
    expr = w.nodes * sum(m.v[n] for n in m.N)
    if problem.allow_partial:
        expr += w.unplaced * sum(
            classes[l].capacity * (classes[l].replicas - sum(
                m.x[k] for n in m.N for k in m._by_class_node.get((l, n), ())))
            for l in m.L)
    if problem.anti_affinity:
        expr += w.excess * sum(m.excess[k] for k in m.LN)
    pairs = problem.pair_weights()
    if pairs:
        expr += w.topology * sum(
            wt * ((1 - sum(m.node_overlap[a, b, n] for n in m.N))
                  + (1 - sum(m.rack_overlap[a, b, k] for k in m.K)))
            for a, b, wt in pairs)
    return expr


def _flat_variables(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index) -> None:
    """Sets ``G``, ``LG`` and the GPU-level variables ``z``, ``u``, ``full``, ``room``,
    ``frag``."""
    classes = problem.classes
    m.G = pyo.Set(initialize=ix.gpus, dimen=2)
    m.LG = pyo.Set(initialize=ix.lg, dimen=3)

    def z_bounds(_, l, n, g):
        c = classes[l]
        return 0, min(c.replicas, int(math.floor(1 / c.compute_share + EPS)))
    m.z = pyo.Var(m.LG, domain=pyo.NonNegativeIntegers, bounds=z_bounds)
    m.u = pyo.Var(m.G, domain=pyo.Binary)
    m.full = pyo.Var(m.G, domain=pyo.Binary)
    m.room = pyo.Var(m.G, domain=pyo.Binary)
    m.frag = pyo.Var(m.G, domain=pyo.Binary)


def _classes_on_gpu(ix: Index) -> dict[tuple[str, int], list[int]]:
    """Per GPU ``(n, g)``: the classes that may use it (``(l, n, g)`` in ``LG``)."""
    on_gpu: dict[tuple[str, int], list[int]] = defaultdict(list)
    for l, n, g in ix.lg:
        on_gpu[(n, g)].append(l)
    return on_gpu


def _flat_groups(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index) -> None:
    """C2 ``group`` and C3 ``distinct`` (set ``LG_tp``): a TP group takes ``t_l`` distinct GPUs
    of one domain."""
    classes = problem.classes
    m.group = _constraint(m.LD, rule=lambda m, l, n, d: sum(
        m.z[l, n, g] for g in ix.domain_gpus[(n, d)]) == classes[l].tp * m.x[l, n, d])
    m.LG_tp = pyo.Set(initialize=[k for k in ix.lg if classes[k[0]].tp > 1], dimen=3)
    m.distinct = _constraint(m.LG_tp, rule=lambda m, l, n, g: m.z[l, n, g] <= m.x[
        l, n, ix.gpu_domain[(n, g)]])


def _flat_capacity(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index,
                   on_gpu: Mapping[tuple[str, int], list[int]], load: Callable) -> None:
    """C4 ``compute``, C5 ``memory``, C6 ``mig`` (set ``GP``) and C7 ``opened``."""
    classes = problem.classes
    node_of = {n.id: n for n in ix.nodes}
    m.compute = _constraint(m.G, rule=lambda m, n, g: load(m, n, g) <= m.u[n, g])
    m.memory = _constraint(m.G, rule=lambda m, n, g: sum(
        classes[l].memory_gib * m.z[l, n, g] for l in on_gpu.get((n, g), ()))
        <= _memory(problem, node_of[n]) * m.u[n, g])
    profiles = sorted({c.mig_profile for c in classes if c.mig_profile})
    if profiles:
        m.GP = pyo.Set(initialize=[(n, g, p) for n, g in ix.gpus for p in profiles
                                   if any(classes[l].mig_profile == p
                                          for l in on_gpu.get((n, g), ()))], dimen=3)
        m.mig = _constraint(m.GP, rule=lambda m, n, g, p: sum(
            m.z[l, n, g] for l in on_gpu[(n, g)] if classes[l].mig_profile == p)
            <= problem.gpu_type(node_of[n].gpu).mig_limit(p))
    m.opened = _constraint(m.G, rule=lambda m, n, g: m.u[n, g] <= m.v[n])


def _flat_fragmentation(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index,
                        on_gpu: Mapping[tuple[str, int], list[int]], load: Callable) -> None:
    """C8 ``is_full``, C9 ``room_compute`` and ``room_memory``, C10 ``fragmented``."""
    classes = problem.classes
    node_of = {n.id: n for n in ix.nodes}
    m.is_full = _constraint(m.G, rule=lambda m, n, g: load(m, n, g) >= (
        1 - FULL_TOLERANCE) * m.full[n, g])

    def smallest(n):
        return problem.smallest_share(node_of[n].gpu) or (1.0, 0.0)
    m.room_compute = _constraint(m.G, rule=lambda m, n, g: load(m, n, g) + smallest(n)[
        0] * m.room[n, g] <= 1)
    m.room_memory = _constraint(m.G, rule=lambda m, n, g: sum(
        classes[l].memory_gib * m.z[l, n, g] for l in on_gpu.get((n, g), ()))
        + smallest(n)[1] * m.room[n, g] <= _memory(problem, node_of[n]))
    m.fragmented = _constraint(m.G, rule=lambda m, n, g: m.frag[n, g] >= m.u[n, g]
                                  - m.full[n, g] - m.room[n, g])


def _flat_symmetry(m: pyo.ConcreteModel, ix: Index, load: Callable) -> None:
    """C13 ``gpu_order`` (set ``GO``), C14 ``domain_order`` (``DO``) and ``node_order``
    (``NO``): symmetry breaking."""
    gpu_pairs = [(n, a, b) for (n, d), members in ix.domain_gpus.items()
                 for a, b in zip(members, members[1:], strict=False)]
    m.GO = pyo.Set(initialize=gpu_pairs, dimen=3)
    m.gpu_order = _constraint(m.GO, rule=lambda m, n, a, b: load(m, n, a) >= load(m, n, b))
    domain_pairs = []
    for n in ix.nodes:
        doms = tp_domains(n)
        for d in range(len(doms) - 1):
            if len(doms[d]) == len(doms[d + 1]):
                domain_pairs.append((n.id, d))
    m.DO = pyo.Set(initialize=domain_pairs, dimen=2)
    m.domain_order = _constraint(m.DO, rule=lambda m, n, d: sum(
        load(m, n, g) for g in ix.domain_gpus[(n, d)]) >= sum(
        load(m, n, g) for g in ix.domain_gpus[(n, d + 1)]))
    node_pairs = [(a, b) for run in ix.identical_runs
                  for a, b in zip(run, run[1:], strict=False)]
    gpus_of = {n.id: range(n.num_gpus) for n in ix.nodes}
    m.NO = pyo.Set(initialize=node_pairs, dimen=2)
    m.node_order = _constraint(m.NO, rule=lambda m, a, b: sum(
        load(m, a, g) for g in gpus_of[a]) >= sum(load(m, b, g) for g in gpus_of[b]))


def isolation_class_pairs(problem: PlacementProblem) -> tuple[tuple[int, int], ...]:
    """``I``: the pairs ``(a, b)``, ``a < b``, of class indices whose llms may not share a
    GPU."""
    classes = problem.classes
    return tuple((a, b) for a in range(len(classes)) for b in range(a + 1, len(classes))
                 if problem.isolated(classes[a].llm, classes[b].llm))


def _flat_isolation(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index) -> None:
    """C15 ``hosts`` (set ``LGI``, variables ``w``) and C16 ``isolate`` (set ``GI``): no GPU
    hosts two llms of an isolation pair."""
    pairs = isolation_class_pairs(problem)
    m.I = pyo.Set(initialize=pairs, dimen=2)
    isolated = {l for pair in pairs for l in pair}
    allowed = set(ix.lg)
    m.LGI = pyo.Set(initialize=[k for k in ix.lg if k[0] in isolated], dimen=3)
    m.w = pyo.Var(m.LGI, domain=pyo.Binary)
    m.hosts = _constraint(m.LGI, rule=lambda m, l, n, g: m.z[l, n, g]
                          <= m.z[l, n, g].ub * m.w[l, n, g])
    m.GI = pyo.Set(initialize=[(a, b, n, g) for a, b in pairs for n, g in ix.gpus
                               if (a, n, g) in allowed and (b, n, g) in allowed], dimen=4)
    m.isolate = _constraint(m.GI, rule=lambda m, a, b, n, g: m.w[a, n, g] + m.w[b, n, g]
                            <= 1)


def build_flat(problem: PlacementProblem,
               fixed: Mapping[tuple[int, str, int], int] | None = None) -> pyo.ConcreteModel:
    """The flat GPU-level model (C1-C16). ``fixed``: domain counts ``x[l,n,d]`` to fix (the
    second stage of the hierarchical decomposition)."""
    ix = index_sets(problem)
    classes = problem.classes
    w = objective_weights(problem)
    m = pyo.ConcreteModel(name="placement_flat")
    m._index = ix
    _common(m, problem, ix)
    _flat_variables(m, problem, ix)
    on_gpu = _classes_on_gpu(ix)

    def load(m, n, g):  # sum_l c_l z[l,n,g]: the GPU's compute load
        return sum(classes[l].compute_share * m.z[l, n, g] for l in on_gpu.get((n, g), ()))

    _flat_groups(m, problem, ix)
    _flat_capacity(m, problem, ix, on_gpu, load)
    _flat_fragmentation(m, problem, ix, on_gpu, load)
    _flat_symmetry(m, ix, load)
    _flat_isolation(m, problem, ix)

    if fixed is not None:
        for key in ix.ld:
            m.x[key].fix(int(fixed.get(key, 0)))

    m.objective = pyo.Objective(
        expr=_objective_rest(m, problem, w, ix) + w.fragmented * sum(m.frag[k] for k in m.G)
        + w.gpus * sum(m.u[k] for k in m.G), sense=pyo.minimize)
    return m


def build_nodes(problem: PlacementProblem) -> pyo.ConcreteModel:
    """The node-level model (first stage of the hierarchical decomposition: H1-H7)."""
    ix = index_sets(problem)
    classes = problem.classes
    w = objective_weights(problem)
    m = pyo.ConcreteModel(name="placement_nodes")
    m._index = ix
    _common(m, problem, ix)
    node_of = {n.id: n for n in ix.nodes}
    m.k = pyo.Var(m.D, domain=pyo.NonNegativeIntegers,
                  bounds=lambda _, n, d: (0, len(ix.domain_gpus[(n, d)])))
    in_domain: dict[tuple[str, int], list[int]] = defaultdict(list)
    for l, n, d in ix.ld:
        in_domain[(n, d)].append(l)

    m.capacity = _constraint(m.D, rule=lambda m, n, d: sum(
        classes[l].capacity * m.x[l, n, d] for l in in_domain[(n, d)]) <= m.k[n, d])
    m.memory = _constraint(m.D, rule=lambda m, n, d: sum(
        classes[l].tp * classes[l].memory_gib * m.x[l, n, d] for l in in_domain[(n, d)])
        <= _memory(problem, node_of[n]) * m.k[n, d])

    def large(m, n, d):
        memory = _memory(problem, node_of[n])
        big = [l for l in in_domain[(n, d)] if classes[l].compute_share > 0.5 + EPS
               or classes[l].memory_gib > memory / 2 + EPS]
        if not big:
            return pyo.Constraint.Skip
        return sum(classes[l].tp * m.x[l, n, d] for l in big) <= m.k[n, d]
    m.large = _constraint(m.D, rule=large)
    m.LDy = pyo.Set(initialize=[k for k in ix.ld if classes[k[0]].tp > 1
                                and classes[k[0]].compute_share < 1 - EPS], dimen=3)
    m.y = pyo.Var(m.LDy, domain=pyo.Binary)
    m.holds = _constraint(m.LDy, rule=lambda m, l, n, d: m.x[l, n, d]
                             <= classes[l].replicas * m.y[l, n, d])
    m.spans = _constraint(m.LDy, rule=lambda m, l, n, d: classes[l].tp * m.y[l, n, d]
                             <= m.k[n, d])
    profiles = sorted({c.mig_profile for c in classes if c.mig_profile})
    if profiles:
        m.DP = pyo.Set(initialize=[(n, d, p) for n, d in ix.domains for p in profiles
                                   if any(classes[l].mig_profile == p
                                          for l in in_domain[(n, d)])], dimen=3)
        m.mig = _constraint(m.DP, rule=lambda m, n, d, p: sum(
            m.x[l, n, d] for l in in_domain[(n, d)] if classes[l].mig_profile == p)
            <= problem.gpu_type(node_of[n].gpu).mig_limit(p) * m.k[n, d])
    m.opened = _constraint(m.D, rule=lambda m, n, d: m.k[n, d]
                              <= len(ix.domain_gpus[(n, d)]) * m.v[n])
    domains_of: dict[str, list[int]] = defaultdict(list)
    for n, d in ix.domains:
        domains_of[n].append(d)
    node_pairs = [(a, b) for run in ix.identical_runs
                  for a, b in zip(run, run[1:], strict=False)]
    m.NO = pyo.Set(initialize=node_pairs, dimen=2)
    m.node_order = _constraint(m.NO, rule=lambda m, a, b: sum(
        m.k[a, d] for d in domains_of[a]) >= sum(m.k[b, d] for d in domains_of[b]))
    m.nogood = pyo.ConstraintList()
    m.nogood_flag = pyo.VarList(domain=pyo.Binary)
    m._nogoods = []
    m.objective = pyo.Objective(
        expr=_objective_rest(m, problem, w, ix) + w.gpus * sum(m.k[k] for k in m.D),
        sense=pyo.minimize)
    return m


@dataclass(frozen=True)
class Pattern:
    """One GPU's occupancy: how many shares of each share class it holds."""

    counts: tuple[int, ...]          # per share class of its GPU type
    compute: float
    memory_gib: float
    full: bool
    fragmented: bool


def share_key(problem: PlacementProblem, c: InstanceClass) -> tuple:
    """The share class of ``c``: ``(compute, memory, MIG profile, llm)``, the llm only when it
    is in an isolation pair (None otherwise: llms of equal shares are interchangeable)."""
    apart = bool(problem.isolation) and any(problem.isolated(c.llm, o.llm)
                                            for o in problem.classes)
    return c.compute_share, c.memory_gib, c.mig_profile, c.llm if apart else None


def share_classes(problem: PlacementProblem, gpu: str) -> tuple[tuple, ...]:
    """Distinct share classes (:func:`share_key`) of the classes on ``gpu``."""
    return tuple(sorted({share_key(problem, c) for c in problem.classes if c.gpu == gpu},
                        key=lambda s: (s[0], s[1], s[2] or "", s[3] or "")))


def enumerate_patterns(problem: PlacementProblem, gpu: str, limit: int
                       ) -> tuple[Pattern, ...] | None:
    """Every non-empty GPU occupancy of ``gpu`` that fits (compute, memory, MIG limits), or
    None when there are more than ``limit``."""
    shares = share_classes(problem, gpu)
    gpu_type = problem.gpu_type(gpu)
    smallest = problem.smallest_share(gpu) or (1.0, 0.0)
    out: list[Pattern] = []
    counts = [0] * len(shares)

    def fits(i: int, compute: float, memory: float) -> bool:
        c, mem, profile, llm = shares[i]
        if compute + c > 1 + EPS or memory + mem > gpu_type.memory_gib + EPS:
            return False
        if llm is not None and any(counts[j] and shares[j][3] is not None and problem.isolated(
                llm, shares[j][3]) for j in range(len(shares))):
            return False
        if profile is not None:
            same = sum(counts[j] for j, s in enumerate(shares) if s[2] == profile)
            return same + 1 <= gpu_type.mig_limit(profile)
        return True

    def walk(i: int, compute: float, memory: float) -> bool:
        if i == len(shares):
            if any(counts):
                full = compute >= 1 - FULL_TOLERANCE
                room = compute + smallest[0] <= 1 + EPS and \
                    memory + smallest[1] <= gpu_type.memory_gib + EPS
                out.append(Pattern(tuple(counts), compute, memory, full,
                                   not full and not room))
            return len(out) <= limit
        start = counts[i]
        while True:
            if not walk(i + 1, compute, memory):
                return False
            if not fits(i, compute, memory):
                break
            counts[i] += 1
            compute += shares[i][0]
            memory += shares[i][1]
        counts[i] = start
        return True

    return tuple(out) if walk(0, 0.0, 0.0) else None


def build_patterns(problem: PlacementProblem, patterns: Mapping[str, tuple[Pattern, ...]]
                   ) -> pyo.ConcreteModel:
    """The node-level model with GPU occupancy patterns (P1-P4): exact GPU-level loads per
    domain, counted instead of placed GPU by GPU."""
    ix = index_sets(problem)
    classes = problem.classes
    w = objective_weights(problem)
    m = pyo.ConcreteModel(name="placement_patterns")
    m._index = ix
    m._patterns = patterns
    _common(m, problem, ix)
    node_of = {n.id: n for n in ix.nodes}
    shares = {gpu: share_classes(problem, gpu) for gpu in patterns}
    share_of = {l: shares[c.gpu].index(share_key(problem, c)) for l, c in enumerate(classes)}
    m.DPat = pyo.Set(initialize=[(n, d, p) for n, d in ix.domains
                                 for p in range(len(patterns[node_of[n].gpu]))], dimen=3)
    m.y = pyo.Var(m.DPat, domain=pyo.NonNegativeIntegers,
                  bounds=lambda _, n, d, p: (0, len(ix.domain_gpus[(n, d)])))
    in_domain: dict[tuple[str, int], list[int]] = defaultdict(list)
    for l, n, d in ix.ld:
        in_domain[(n, d)].append(l)

    def pats(n):
        return patterns[node_of[n].gpu]

    m.patterns = _constraint(m.D, rule=lambda m, n, d: sum(
        m.y[n, d, p] for p in range(len(pats(n)))) <= len(ix.domain_gpus[(n, d)]) * m.v[n])
    m.DS = pyo.Set(initialize=[(n, d, s) for n, d in ix.domains
                               for s in range(len(shares[node_of[n].gpu]))], dimen=3)
    m.cover = _constraint(m.DS, rule=lambda m, n, d, s: sum(
        classes[l].tp * m.x[l, n, d] for l in in_domain[(n, d)] if share_of[l] == s)
        == sum(pat.counts[s] * m.y[n, d, p] for p, pat in enumerate(pats(n))))
    m.LDy = pyo.Set(initialize=[k for k in ix.ld if classes[k[0]].tp > 1
                                and classes[k[0]].compute_share < 1 - EPS], dimen=3)
    m.yb = pyo.Var(m.LDy, domain=pyo.Binary)
    m.holds = _constraint(m.LDy, rule=lambda m, l, n, d: m.x[l, n, d]
                          <= classes[l].replicas * m.yb[l, n, d])
    m.spans = _constraint(m.LDy, rule=lambda m, l, n, d: classes[l].tp * m.yb[l, n, d]
                          <= sum(m.y[n, d, p] for p, pat in enumerate(pats(n))
                                 if pat.counts[share_of[l]] > 0))
    domains_of: dict[str, list[int]] = defaultdict(list)
    for n, d in ix.domains:
        domains_of[n].append(d)

    def load(m, n):
        return sum(pat.compute * m.y[n, d, p] for d in domains_of[n]
                   for p, pat in enumerate(pats(n)))
    node_pairs = [(a, b) for run in ix.identical_runs
                  for a, b in zip(run, run[1:], strict=False)]
    m.NO = pyo.Set(initialize=node_pairs, dimen=2)
    m.node_order = _constraint(m.NO, rule=lambda m, a, b: load(m, a) >= load(m, b))
    m.nogood = pyo.ConstraintList()
    m.nogood_flag = pyo.VarList(domain=pyo.Binary)
    m._nogoods = []
    m.objective = pyo.Objective(
        expr=_objective_rest(m, problem, w, ix) + sum(
            (w.gpus + (w.fragmented if pats(n)[p].fragmented else 0.0)) * m.y[n, d, p]
            for n, d, p in m.DPat), sense=pyo.minimize)
    return m


def pattern_totals(m: pyo.ConcreteModel) -> dict[str, tuple[int, int]]:
    """Per node of a solved pattern model: (fragmented GPUs, GPUs used)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    node_gpu = {n.id: n.gpu for n in m._index.nodes}
    for n, d, p in m.DPat:
        value = m.y[n, d, p].value
        count = int(round(value)) if value is not None else 0
        if count:
            out[n][0] += count
            out[n][1] += count * m._patterns[node_gpu[n]][p].fragmented
    return {n: (frag, gpus) for n, (gpus, frag) in out.items()}


def add_nogood(m: pyo.ConcreteModel, problem: PlacementProblem, node: str,
               counts: Mapping[int, int]) -> None:
    """Forbid ``counts`` (instances per class) or more on ``node`` and every node identical
    to it: that multiset did not pack onto its GPUs."""
    ix: Index = m._index
    run = next((r for r in ix.identical_runs if node in r), (node,))
    for n in run:
        flags = []
        for l, count in counts.items():
            flag = m.nogood_flag.add()
            flags.append(flag)
            total = sum(m.x[k] for k in m._by_class_node.get((l, n), ()))
            # total >= count forces the flag to 1
            m.nogood.add(total <= count - 1 + problem.classes[l].replicas * flag)
        m.nogood.add(sum(flags) <= len(flags) - 1)
        m._nogoods.append((n, dict(counts), flags))


# ------------------------------------------------------------------------------ extraction

def domain_counts(m: pyo.ConcreteModel) -> dict[tuple[int, str, int], int]:
    """Rounded ``x[l,n,d]`` of a solved model (only the non-zero ones)."""
    out = {}
    for key in m.LD:
        value = m.x[key].value
        count = int(round(value)) if value is not None else 0
        if count:
            out[key] = count
    return out


def extract(m: pyo.ConcreteModel, problem: PlacementProblem, method: str) -> Placement:
    """The placement of a solved flat model: each domain's per-GPU counts split into TP groups
    by wrap-around (GPU copies in order, group ``j`` takes copies ``j, j + x, j + 2x...``)."""
    ix: Index = m._index
    classes = problem.classes
    counts = domain_counts(m)
    replica: dict[int, int] = defaultdict(int)
    placed = []
    position = {n.id: i for i, n in enumerate(ix.nodes)}
    for (l, n, d), x in sorted(counts.items(),
                               key=lambda kv: (kv[0][0], position[kv[0][1]], kv[0][2])):
        copies = []
        for g in ix.domain_gpus[(n, d)]:
            value = m.z[l, n, g].value
            copies.extend([g] * (int(round(value)) if value is not None else 0))
        c = classes[l]
        if len(copies) != c.tp * x:
            raise ValueError(f"solver result breaks C2 for {c.llm} on {n} domain {d}")
        for j in range(x):
            gpus = tuple(sorted(copies[j::x]))
            placed.append(InstancePlacement(c.llm, replica[l], n, gpus, c.gpu_fraction))
            replica[l] += 1
    return Placement(method, tuple(placed))


# ------------------------------------------------------------------------------ MIP start

def canonical(problem: PlacementProblem, placement: Placement, *, by: str) -> Placement:
    """The mirror image of ``placement`` that meets the symmetry-breaking constraints:
    identical nodes sorted by decreasing compute load (``by="load"``, flat model) or GPUs used
    (``by="gpus"``, node-level model), equal-size domains of a node and GPUs of a domain by
    decreasing load."""
    ix = index_sets(problem)
    share = {c.llm: c.compute_share for c in problem.classes}
    load: dict[tuple[str, int], float] = defaultdict(float)
    for inst in placement.instances:
        for g in inst.gpus:
            load[(inst.node, g)] += share[inst.llm]
    nodes = {n.id: n for n in ix.nodes}

    def node_key(n: str) -> float:
        gpus = range(nodes[n].num_gpus)
        if by == "gpus":
            return sum(1 for g in gpus if load[(n, g)] > EPS)
        return sum(load[(n, g)] for g in gpus)

    node_map = {}
    for run in ix.identical_runs:
        ranked = sorted(run, key=lambda n: -node_key(n))
        node_map.update(zip(ranked, run, strict=True))
    gpu_map: dict[tuple[str, int], int] = {}
    for node in ix.nodes:
        domains = tp_domains(node)
        target: dict[int, int] = {}
        by_size: dict[int, list[int]] = defaultdict(list)
        for d, members in enumerate(domains):
            by_size[len(members)].append(d)
        for group in by_size.values():
            ranked = sorted(group, key=lambda d: -sum(load[(node.id, g)] for g in domains[d]))
            for old, new in zip(ranked, group, strict=True):
                gpus = sorted(domains[old], key=lambda g: -load[(node.id, g)])
                target.update(zip(gpus, domains[new], strict=True))
        for g, new in target.items():
            gpu_map[(node.id, g)] = new
    placed = []
    for inst in placement.instances:
        gpus = tuple(sorted(gpu_map.get((inst.node, g), g) for g in inst.gpus))
        placed.append(InstancePlacement(inst.llm, inst.replica, node_map.get(inst.node,
                                                                               inst.node),
                                        gpus, inst.gpu_fraction))
    return Placement(placement.method, tuple(placed))


@dataclass(frozen=True)
class _StartCounts:
    """A placement counted the way the models index it (class position ``l``)."""

    per_domain: dict[tuple[int, str, int], int]   # (l, node, d) -> instances
    per_node: dict[tuple[int, str], int]          # (l, node) -> instances
    per_gpu: dict[tuple[int, str, int], int]      # (l, node, g) -> instances using the GPU
    used_nodes: frozenset[str]


def _start_counts(problem: PlacementProblem, ix: Index, placement: Placement) -> _StartCounts:
    position = {c.llm: i for i, c in enumerate(problem.classes)}
    per_domain: dict[tuple[int, str, int], int] = defaultdict(int)
    per_node: dict[tuple[int, str], int] = defaultdict(int)
    per_gpu: dict[tuple[int, str, int], int] = defaultdict(int)
    used_nodes = set()
    for inst in placement.instances:
        l = position[inst.llm]
        d = ix.gpu_domain[(inst.node, inst.gpus[0])]
        per_domain[(l, inst.node, d)] += 1
        per_node[(l, inst.node)] += 1
        for g in inst.gpus:
            per_gpu[(l, inst.node, g)] += 1
        used_nodes.add(inst.node)
    return _StartCounts(per_domain, per_node, per_gpu, frozenset(used_nodes))


def _start_flat_gpus(m: pyo.ConcreteModel, problem: PlacementProblem, counts: _StartCounts,
                     uses: Mapping) -> None:
    """Flat model: ``z``, ``w``, and ``u``, ``full``, ``room``, ``frag`` of every used GPU."""
    for key, count in counts.per_gpu.items():
        m.z[key].set_value(count, skip_validation=True)
    for key in m.LGI:
        m.w[key].set_value(int(counts.per_gpu.get(key, 0) > 0), skip_validation=True)
    for key in m.G:
        use = uses[key]
        if not use.occupants:
            continue
        node = problem.cluster.node(key[0])
        smallest = problem.smallest_share(node.gpu) or (1.0, 0.0)
        full = use.compute_used >= 1 - FULL_TOLERANCE
        room = (use.compute_used + smallest[0] <= 1 + 1e-9
                and use.memory_used_gib + smallest[1] <= use.memory_gib + 1e-9)
        m.u[key].set_value(1, skip_validation=True)
        m.full[key].set_value(int(full), skip_validation=True)
        m.room[key].set_value(int(room and not full), skip_validation=True)
        m.frag[key].set_value(int(not full and not room), skip_validation=True)


def _start_patterns(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index,
                    counts: _StartCounts, uses: Mapping) -> None:
    """Pattern model: ``y`` (each used GPU's occupancy pattern, counted per domain) and
    ``yb``."""
    index = {gpu: {pat.counts: p for p, pat in enumerate(pats)}
             for gpu, pats in m._patterns.items()}
    share_index = {gpu: share_classes(problem, gpu) for gpu in m._patterns}
    classes = {c.llm: c for c in problem.classes}
    for (n, d), members in ix.domain_gpus.items():
        gpu = problem.cluster.node(n).gpu
        for g in members:
            use = uses[(n, g)]
            if not use.occupants:
                continue
            shares = [0] * len(share_index[gpu])
            for llm, _ in use.occupants:
                shares[share_index[gpu].index(share_key(problem, classes[llm]))] += 1
            key = (n, d, index[gpu][tuple(shares)])
            m.y[key].set_value((m.y[key].value or 0) + 1, skip_validation=True)
    for key in m.LDy:
        m.yb[key].set_value(int(counts.per_domain.get(key, 0) > 0), skip_validation=True)


def _start_domain_gpus(m: pyo.ConcreteModel, ix: Index, counts: _StartCounts,
                       uses: Mapping) -> None:
    """Node-level model: ``k`` (GPUs used per domain) and ``y``."""
    for key in m.D:
        n, d = key
        used = sum(1 for g in ix.domain_gpus[key] if uses[(n, g)].occupants)
        m.k[key].set_value(used, skip_validation=True)
    for key in m.LDy:
        m.y[key].set_value(int(counts.per_domain.get(key, 0) > 0), skip_validation=True)


def _start_nogoods(m: pyo.ConcreteModel, counts: _StartCounts) -> None:
    """The flags of the no-good cuts (node-level models): 1 where the node holds the cut's
    count of the class or more."""
    for n, cut, flags in m._nogoods:
        for (l, count), flag in zip(cut.items(), flags, strict=True):
            flag.set_value(int(counts.per_node.get((l, n), 0) >= count), skip_validation=True)


def _start_topology(m: pyo.ConcreteModel, problem: PlacementProblem, ix: Index,
                    counts: _StartCounts) -> None:
    """``excess`` (anti-affinity) and ``node_overlap``, ``rack_overlap`` (affinity)."""
    per_node = counts.per_node
    if problem.anti_affinity:
        for l, n in m.LN:
            cap = problem.spread_cap(problem.classes[l])
            m.excess[l, n].set_value(max(0, per_node.get((l, n), 0) - cap),
                                     skip_validation=True)
    if problem.pair_weights():
        share_of = {}
        for l, c in enumerate(problem.classes):
            for n in m.N:
                share_of[(l, n)] = per_node.get((l, n), 0) / c.replicas
        for a, b, n in m.PN:
            m.node_overlap[a, b, n].set_value(min(share_of[(a, n)], share_of[(b, n)]),
                                              skip_validation=True)
        for a, b, k in m.PK:
            ra = sum(share_of[(a, n)] for n in ix.racks[k])
            rb = sum(share_of[(b, n)] for n in ix.racks[k])
            m.rack_overlap[a, b, k].set_value(min(ra, rb), skip_validation=True)


def set_start(m: pyo.ConcreteModel, problem: PlacementProblem, placement: Placement) -> None:
    """Set every variable of a model (flat or node-level) to the values of ``placement`` (made
    canonical first), so the solver can start from it."""
    from scepsy_opt.placement.verify import gpu_uses

    flat = m.name == "placement_flat"
    pattern_model = m.name == "placement_patterns"
    placement = canonical(problem, placement,
                          by="load" if flat or pattern_model else "gpus")
    ix: Index = m._index
    for v in m.component_data_objects(pyo.Var):
        if not v.fixed:
            v.set_value(0, skip_validation=True)
    counts = _start_counts(problem, ix, placement)
    for key, count in counts.per_domain.items():
        if not m.x[key].fixed:
            m.x[key].set_value(count, skip_validation=True)
    for n in counts.used_nodes:
        m.v[n].set_value(1, skip_validation=True)
    uses = {(u.node, u.gpu): u for u in gpu_uses(problem, placement)}
    if flat:
        _start_flat_gpus(m, problem, counts, uses)
    elif pattern_model:
        _start_patterns(m, problem, ix, counts, uses)
        _start_nogoods(m, counts)
    else:
        _start_domain_gpus(m, ix, counts, uses)
        _start_nogoods(m, counts)
    _start_topology(m, problem, ix, counts)
