"""The place stage's entry: :func:`place` puts an allocation's instances on GPUs.

Steps: necessary conditions (:func:`~scepsy_opt.core.heuristics.precheck`), the better of
best-fit decreasing and first fit as the incumbent to beat, the MIP start and the fallback, then
the MILP: the flat model when it is
small (GPU x class pairs up to ``hierarchical_threshold``), else the hierarchical decomposition
(node-level model, then each node's GPUs, with no-good cuts for nodes whose instances do not
pack). Pyomo's HiGHS interface takes no MIP start, so the heuristic's placement stays the
incumbent: the better of the two (by the objective the verifier computes) is returned. Every
returned placement passes the independent verifier.

When the solver proves the allocation infeasible, :class:`~scepsy_opt.core.errors.PlacementError`
names the resource that lacks room (the heuristic's diagnosis), or ``emit.mps.isolation`` when
the instances fit without the isolation rule (:func:`isolation_blame`); when the time limit hits
without an incumbent, the heuristic's placement is returned and the result says so. An
isolation group that names an llm the allocation does not have is refused first.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import pyomo.environ as pyo

from scepsy_opt.core.errors import PlacementError, PlacementVerificationError
from scepsy_opt.core.fault_domains import ISOLATION_SETTING, describe_groups, unknown_llms
from scepsy_opt.core.heuristics import (
    PACKERS,
    HeuristicResult,
    best_fit_decreasing,
    complete,
    precheck,
)
from scepsy_opt.core.placement import InstanceClass, PlacementProblem
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.types import ClusterSpec, InstancePlacement, Placement
from scepsy_opt.placement import formulation
from scepsy_opt.placement.solve import FEASIBLE, INFEASIBLE, OPTIMAL, SolveReport, solve
from scepsy_opt.placement.verify import PlacementMetrics, measure, verify

log = logging.getLogger(__name__)
MAX_CUT_ROUNDS = 10
NODE_TIME_LIMIT_S = 5.0
PATTERN_LIMIT = 2000


@dataclass(frozen=True)
class PlaceSettings:
    """How to solve: the HiGHS preset, when to decompose, whether to keep the model as MPS, and
    how many GPU occupancy patterns per GPU type the node-level model may enumerate (beyond
    that it counts aggregate capacities instead)."""

    preset: SolverPreset
    hierarchical_threshold: int = 2_000
    export_mps: bool = False
    pattern_limit: int = PATTERN_LIMIT


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """The place stage's result: the verified placement, its metrics and how it was found."""

    problem: PlacementProblem
    placement: Placement
    metrics: PlacementMetrics
    method: str          # milp | milp_hierarchical | best_fit_decreasing | first_fit
    status: str          # the MILP's status, see scepsy_opt.placement.solve
    solves: tuple[SolveReport, ...]
    note: str
    bound: float | None
    gap: float | None
    heuristic: PlacementMetrics | None
    elapsed_s: float
    unplaced: tuple[tuple[str, int], ...] = ()
    mps: str | None = None


def model_size(problem: PlacementProblem) -> int:
    """GPU x class pairs of the flat model (its ``z`` variables)."""
    return sum(n.num_gpus for c in problem.classes for n in problem.eligible_nodes(c))


def place(problem: PlacementProblem, settings: PlaceSettings) -> PlacementResult:
    """Place ``problem``'s instances (see the module docstring)."""
    started = time.perf_counter()
    check_isolation(problem)
    precheck(problem)
    heuristic: HeuristicResult | None = None
    heuristic_error: PlacementError | None = None
    for placer in PACKERS:
        try:
            found_here = placer(problem)
        except PlacementError as error:
            heuristic_error = heuristic_error or error
            continue
        verify(problem, found_here.placement)
        if heuristic is None or measure(problem, found_here.placement).objective < measure(
                problem, heuristic.placement).objective - 1e-9:
            heuristic = found_here
    incumbent = heuristic.placement if heuristic is not None else None
    size = model_size(problem)
    hierarchical = size > settings.hierarchical_threshold
    log.info("placing %d instances of %d llms on %d GPUs (%d GPU x class pairs): %s model",
             problem.num_instances, len(problem.classes), problem.cluster.num_gpus, size,
             "hierarchical" if hierarchical else "flat")
    if hierarchical:
        found, reports, bound, mps, note = _hierarchical(problem, settings, started, incumbent)
        method = "milp_hierarchical"
    else:
        found, reports, bound, mps, note = _flat(problem, settings, incumbent)
        method = "milp"
    status = reports[0].status if reports else "error"
    base = heuristic.placement if heuristic is not None else None
    base_metrics = measure(problem, base) if base is not None else None
    if found is None:
        if heuristic is None:
            blame = isolation_blame(problem, proved=status == INFEASIBLE)
            if blame is not None:
                raise blame
        if status == INFEASIBLE and heuristic is None:
            raise _infeasible(problem, heuristic_error)
        if status == INFEASIBLE:
            raise PlacementVerificationError(
                "the MILP reports the allocation infeasible, yet a heuristic placed it",
                source=problem.source, fix="report this with the allocation (a formulation bug)")
        if heuristic is None and heuristic_error is not None:
            raise PlacementError(
                f"{heuristic_error.problem}; the MILP found no placement either ({status}"
                f"{': ' + reports[0].message if reports and reports[0].message else ''})",
                source=heuristic_error.source, field=heuristic_error.field,
                fix="raise the solver time limit (placement.solver_preset=thorough) or "
                    + (heuristic_error.fix or "use a larger cluster"))
        if heuristic is None:
            raise _infeasible(problem, None)
        log.warning("the MILP ended %s without a placement: using %s", status,
                    heuristic.placement.method)
        return _result(problem, heuristic.placement, heuristic.placement.method, status,
                       reports, f"the MILP ended '{status}' without a placement; "
                       f"{heuristic.placement.method} placement instead"
                       + (f" ({note})" if note else ""), bound, base_metrics, started,
                       heuristic.unplaced, mps)
    verify(problem, found)
    metrics = measure(problem, found)
    if base_metrics is not None and base_metrics.objective < metrics.objective - 1e-6:
        note = (f"the MILP's incumbent was worse than {base.method}, which is kept"
                + (f"; {note}" if note else ""))
        return _result(problem, base, base.method, status, reports, note, bound,
                       base_metrics, started, heuristic.unplaced, mps)
    return _result(problem, found, method, status, reports, note, bound, base_metrics, started,
                   _unplaced(problem, found), mps)


def _result(problem, placement, method, status, reports, note, bound, heuristic, started,
            unplaced, mps) -> PlacementResult:
    metrics = measure(problem, placement)
    gap = None
    if bound is not None:
        gap = max(0.0, metrics.objective - bound) / max(abs(metrics.objective), 1e-9) \
            if metrics.objective else 0.0
    placement = Placement(method, placement.instances)
    return PlacementResult(problem, placement, metrics, method, status, tuple(reports), note,
                           bound, gap, heuristic, time.perf_counter() - started,
                           tuple(unplaced), mps)


def _unplaced(problem: PlacementProblem, placement: Placement) -> tuple[tuple[str, int], ...]:
    placed = {(i.llm, i.replica) for i in placement.instances}
    return tuple((c.llm, r) for c in problem.classes for r in range(c.replicas)
                 if (c.llm, r) not in placed)


def _infeasible(problem: PlacementProblem, error: PlacementError | None) -> PlacementError:
    text = error.problem if error is not None else "no placement exists"
    return PlacementError(f"the MILP proved that no placement exists: {text}",
                          source=problem.source, field=error.field if error else None,
                          fix=error.fix if error and error.fix else
                          "use fewer replicas, smaller fractions or a larger cluster")


def check_isolation(problem: PlacementProblem) -> None:
    """Every llm the isolation groups name is one of the problem's (:class:`PlacementError`
    naming ``emit.mps.isolation``, the unknown llms and the problem's llms otherwise)."""
    llms = [c.llm for c in problem.classes]
    unknown = unknown_llms(problem.isolation_groups, llms)
    if unknown:
        raise PlacementError(
            f"the isolation names llms that the allocation does not have: "
            f"{', '.join(unknown)}", source="config", field=ISOLATION_SETTING, value=unknown,
            fix=f"name llms of the workflow: {', '.join(sorted(llms))}")


def _isolation_rule(groups) -> str:
    return "; ".join(f"{group[0]} shares no GPU with another llm" if len(group) == 1
                     else f"no GPU hosts two of {', '.join(group)}" for group in groups)


def isolation_blame(problem: PlacementProblem, *, proved: bool) -> PlacementError | None:
    """The error that blames the isolation rule when the problem has one and the placers
    place its instances without it (None otherwise). ``proved``: the MILP proved the problem
    infeasible (else it only found no placement in its time)."""
    if not problem.isolation:
        return None
    relaxed = replace(problem, isolation=())
    for placer in PACKERS:
        try:
            placer(relaxed)
        except PlacementError:
            continue
        groups = problem.isolation_groups
        verdict = "no placement exists" if proved else "the place stage found no placement"
        return PlacementError(
            f"{verdict} that keeps the llms of the isolation apart ({_isolation_rule(groups)})"
            f", though the instances fit when they may share GPUs", source="config",
            field=ISOLATION_SETTING, value=describe_groups(groups),
            fix=f"drop or split a group of {ISOLATION_SETTING}, or give the isolated llms "
                "GPUs of their own: a larger cluster, fewer replicas or smaller fractions of "
                "the llms they would share with"
                + ("" if proved else ", or raise the solver time limit "
                                     "(placement.solver_preset=thorough)"))
    return None


def write_mps(model: pyo.ConcreteModel) -> str:
    """The model as MPS text (names kept)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "placement.mps"
        model.write(str(path), format="mps", io_options={"symbolic_solver_labels": True})
        return path.read_text(encoding="utf-8")


def _flat(problem: PlacementProblem, settings: PlaceSettings, incumbent: Placement | None):
    started = time.perf_counter()
    model = formulation.build_flat(problem)
    build_s = time.perf_counter() - started
    mps = write_mps(model) if settings.export_mps else None
    if incumbent is not None:
        formulation.set_start(model, problem, incumbent)
    report = solve(model, settings.preset, name="flat", build_s=build_s,
                   start=incumbent is not None)
    found = formulation.extract(model, problem, "milp") if report.has_solution else None
    return found, [report], report.bound, mps, ""


# ------------------------------------------------------------------ hierarchical decomposition

def node_problem(problem: PlacementProblem, node_id: str, counts: dict[int, int]
                 ) -> PlacementProblem:
    """The second-stage problem of one node: its assigned instances on its GPUs alone."""
    node = problem.cluster.node(node_id)
    classes = tuple(InstanceClass(
        llm=c.llm, gpu=c.gpu, tp=c.tp, gpu_fraction=c.gpu_fraction,
        compute_share=c.compute_share, memory_gib=c.memory_gib, replicas=counts[ci],
        mig_profile=c.mig_profile) for ci, c in enumerate(problem.classes) if counts.get(ci))
    cluster = ClusterSpec(name=f"{problem.cluster.name}:{node_id}", description="",
                          nodes=(node,))
    smallest = tuple((t.id, *problem.smallest_share(t.id)) for t in problem.gpu_types
                     if problem.smallest_share(t.id) is not None)
    return replace(problem, cluster=cluster, classes=classes, anti_affinity=False,
                   affinity=(), allow_partial=False, exclude_nodes=frozenset(),
                   source=f"{problem.source}, node {node_id}", smallest=smallest)


def _occupancy_patterns(problem: PlacementProblem, limit: int
              ) -> dict[str, tuple[formulation.Pattern, ...]] | None:
    """Per GPU type of the plan its occupancy patterns, or None when one type has more than
    ``limit`` (then the node-level model counts aggregate capacities)."""
    patterns = {}
    for gpu in {c.gpu for c in problem.classes}:
        found = formulation.enumerate_patterns(problem, gpu, limit)
        if found is None:
            return None
        patterns[gpu] = found
    return patterns


def _node_targets(model: pyo.ConcreteModel, patterns: dict | None
                  ) -> tuple[dict[str, dict[int, int]], dict[str, tuple[int, int]]]:
    """A solved node-level model's instances per node and class, and per node the
    (fragmented GPUs, GPUs used) it counted."""
    counts = formulation.domain_counts(model)
    per_node: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for (ci, n, _), count in counts.items():
        per_node[n][ci] += count
    if patterns is not None:
        return per_node, formulation.pattern_totals(model)
    gpus_bound: dict[str, float] = defaultdict(float)
    for key in model.D:
        gpus_bound[key[0]] += round(model.k[key].value or 0.0)
    return per_node, {n: (0, int(b)) for n, b in gpus_bound.items()}


def _pack_nodes(problem: PlacementProblem, per_node: dict[str, dict[int, int]],
                targets: dict[str, tuple[int, int]], cache: dict[tuple, Placement | None],
                settings: PlaceSettings, reports: list[SolveReport], started: float
                ) -> tuple[dict[str, Placement], list[tuple[str, dict[int, int]]]]:
    """Each node's assigned instances on its GPUs (:func:`_pack_node`, once per distinct node
    and assignment across rounds, through ``cache``): the packed nodes' placements and the
    nodes that did not pack, with their assignments."""
    pieces: dict[str, Placement] = {}
    failed = []
    for node_id, assigned in per_node.items():
        node = problem.cluster.node(node_id)
        key = (node.gpu, node.num_gpus, node.nvlink_domains, tuple(sorted(assigned.items())),
               targets.get(node_id, (0, 0)))
        if key not in cache:
            cache[key] = _pack_node(problem, node_id, dict(assigned),
                                    targets.get(node_id, (0, 0)), settings, reports,
                                    started)
        packed = cache[key]
        if packed is None:
            failed.append((node_id, dict(assigned)))
        else:
            pieces[node_id] = Placement("node", tuple(
                replace(i, node=node_id) for i in packed.instances))
    return pieces, failed


def _hierarchical(problem: PlacementProblem, settings: PlaceSettings, started: float,
                  incumbent: Placement | None):
    """The hierarchical decomposition (see the module docstring): the node-level model, then
    each node's GPUs, with no-good cuts for nodes whose instances do not pack. Returns
    ``(placement or None, solve reports, bound, MPS text, note)`` like :func:`_flat`."""
    preset = settings.preset
    t0 = time.perf_counter()
    patterns = _occupancy_patterns(problem, settings.pattern_limit)
    if patterns is not None:
        model = formulation.build_patterns(problem, patterns)
    else:
        model = formulation.build_nodes(problem)
    build_s = time.perf_counter() - t0
    mps = write_mps(model) if settings.export_mps else None
    reports: list[SolveReport] = []
    first: SolveReport | None = None
    best: tuple[Placement, float, int] | None = None
    cache: dict[tuple, Placement | None] = {}
    for round_ in range(MAX_CUT_ROUNDS):
        left = preset.time_limit_s - (time.perf_counter() - started)
        if incumbent is not None:
            formulation.set_start(model, problem, incumbent)
        report = solve(model, preset, name="nodes" if round_ == 0 else f"nodes (cuts {round_})",
                       build_s=build_s if round_ == 0 else 0.0,
                       time_limit_s=max(1.0, 0.8 * left), start=incumbent is not None)
        reports.append(report)
        first = first or report
        if not report.has_solution:
            return None, [report, *reports[1:]], None, mps, ""
        per_node, targets = _node_targets(model, patterns)
        pieces, failed = _pack_nodes(problem, per_node, targets, cache, settings, reports,
                                     started)
        if not failed:
            placement = _combine(problem, pieces)
            kind = (f"GPU occupancy patterns ({sum(len(p) for p in patterns.values())})"
                    if patterns is not None else "aggregate capacities")
            note = (f"hierarchical: node-level model with {kind}, {len(per_node)} nodes packed, "
                    f"{len(cache)} distinct node packings, {round_} no-good round(s)")
            status = report.status
            reports[0] = replace(reports[0], status=status)
            if best is not None and best[1] < measure(problem, placement).objective:
                placement = best[0]
                note += f"; the repair of round {best[2]} was better"
            return placement, reports, report.bound, mps, note
        repaired = _repair(problem, pieces, failed)
        if repaired is not None:
            value = measure(problem, repaired).objective
            if best is None or value < best[1]:
                best = (repaired, value, round_)
        for node_id, assigned in failed:
            log.info("node %s cannot pack %s: no-good cut", node_id, assigned)
            formulation.add_nogood(model, problem, node_id, assigned)
        if preset.time_limit_s - (time.perf_counter() - started) < 1.0:
            break
    if best is not None:
        note = (f"hierarchical: {round_ + 1} no-good round(s) left nodes whose instances did "
                f"not pack; best-fit decreasing re-placed them (repair of round {best[2]})")
        return best[0], reports, first.bound if first else None, mps, note
    return None, reports, None, mps, f"no packing after {round_ + 1} no-good rounds"


def _repair(problem: PlacementProblem, pieces: dict[str, Placement],
            failed: list[tuple[str, dict[int, int]]]) -> Placement | None:
    """The packed nodes as they are, and the instances of nodes that did not pack placed
    around them by best-fit decreasing (None when they do not all fit a complete problem)."""
    combined = _combine(problem, pieces)
    count: dict[str, int] = defaultdict(int)
    for inst in combined.instances:
        count[inst.llm] += 1
    missing = [(c.llm, r) for c in problem.classes for r in range(count[c.llm], c.replicas)]
    try:
        result = complete(problem, combined, missing)
    except PlacementError:
        return None
    return Placement("milp_hierarchical", result.placement.instances)


def _pack_node(problem: PlacementProblem, node_id: str, counts: dict[int, int],
               target: tuple[int, int], settings: PlaceSettings, reports: list[SolveReport],
               started: float) -> Placement | None:
    """One node's instances on its GPUs: best-fit decreasing when it reaches the node-level
    model's (fragmented GPUs, GPUs used) for the node (then it is optimal), else the flat
    model of the node."""
    sub = node_problem(problem, node_id, counts)
    try:
        quick = best_fit_decreasing(sub)
        metrics = measure(sub, quick.placement)
        if (metrics.fragmented_gpus, metrics.gpus_used) <= target:
            return quick.placement
    except PlacementError:
        quick = None
    t0 = time.perf_counter()
    model = formulation.build_flat(sub)
    if quick is not None:
        formulation.set_start(model, sub, quick.placement)
    left = settings.preset.time_limit_s - (time.perf_counter() - started)
    report = solve(model, settings.preset, name=f"gpus of {node_id}",
                   build_s=time.perf_counter() - t0,
                   time_limit_s=max(0.5, min(NODE_TIME_LIMIT_S, left)), start=quick is not None)
    reports.append(report)
    if report.has_solution:
        found = formulation.extract(model, sub, "node")
        if quick is None or measure(sub, found).objective <= measure(
                sub, quick.placement).objective:
            return found
    if quick is not None:
        return quick.placement
    return None


def _combine(problem: PlacementProblem, pieces: dict[str, Placement]) -> Placement:
    order = {n.id: i for i, n in enumerate(problem.cluster.nodes)}
    offset: dict[str, int] = defaultdict(int)
    placed = []
    for node_id in sorted(pieces, key=order.__getitem__):
        for inst in sorted(pieces[node_id].instances, key=lambda i: (i.llm, i.replica)):
            placed.append(InstancePlacement(inst.llm, offset[inst.llm], node_id, inst.gpus,
                                            inst.gpu_fraction))
            offset[inst.llm] += 1
    position = {c.llm: i for i, c in enumerate(problem.classes)}
    placed.sort(key=lambda i: (position[i.llm], i.replica))
    return Placement("milp_hierarchical", tuple(placed))


__all__ = ["FEASIBLE", "OPTIMAL", "PlaceSettings", "PlacementResult", "place"]
