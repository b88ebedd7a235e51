"""Properties of the place stage on random problems: every returned placement passes the
independent verifier; infeasible inputs raise the typed error and never return a placement."""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.heuristics import best_fit_decreasing, first_fit
from scepsy_opt.core.placement import GpuType, InstanceClass, PlacementProblem
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import measure, verify

GPU = "H100-SXM-80GB"
FAST = PlaceSettings(SolverPreset("test", time_limit_s=10, mip_rel_gap=0.0))
FRACTIONS = (0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 1.0)


@st.composite
def clusters(draw) -> ClusterSpec:
    count = draw(st.integers(1, 3))
    gpus = draw(st.sampled_from([1, 2, 4]))
    kind = draw(st.sampled_from(["nvswitch", "pairs", "pcie"])) if gpus > 1 else "nvswitch"
    domains = {"nvswitch": (tuple(range(gpus)),),
               "pairs": tuple(tuple(range(s, s + 2)) for s in range(0, gpus, 2)),
               "pcie": tuple((g,) for g in range(gpus))}[kind]
    racks = draw(st.integers(1, 2))
    return ClusterSpec("prop", "", tuple(
        NodeSpec(f"n{i}", GPU, gpus, f"r{i % racks}", domains, 100.0) for i in range(count)))


@st.composite
def problems(draw) -> PlacementProblem:
    cluster = draw(clusters())
    largest = max(len(d) for d in tp_domains(cluster.nodes[0]))
    classes = []
    for i in range(draw(st.integers(1, 3))):
        tp = draw(st.sampled_from([t for t in (1, 2, 4) if t <= largest]))
        fraction = draw(st.sampled_from(FRACTIONS))
        pins = ()
        if len(cluster.nodes) > 1 and draw(st.booleans()):
            pins = (draw(st.sampled_from([n.id for n in cluster.nodes])),)
        classes.append(InstanceClass(f"llm{i}", GPU, tp, fraction, fraction, 72.0 * fraction,
                                     draw(st.integers(1, 3)), nodes=pins))
    pairs = (("llm0", "llm1", 1.0),) if len(classes) > 1 and draw(st.booleans()) else ()
    return PlacementProblem(cluster=cluster, classes=tuple(classes),
                            gpu_types=(GpuType(GPU, 76.0),), anti_affinity=draw(st.booleans()),
                            affinity=pairs, allow_partial=draw(st.booleans()))


def _placed_or_error(problem, run):
    try:
        placement = run(problem)
    except PlacementError as error:
        assert not problem.allow_partial, "partial problems place what fits"
        assert error.fix
        return None
    verify(problem, placement)
    return placement


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_every_returned_placement_verifies(problem):
    milp = _placed_or_error(problem, lambda p: place(p, FAST).placement)
    bfd = _placed_or_error(problem, lambda p: best_fit_decreasing(p).placement)
    _placed_or_error(problem, lambda p: first_fit(p).placement)
    if bfd is not None:
        # the heuristic is the MILP's incumbent: the MILP never returns worse, or nothing
        assert milp is not None
        assert measure(problem, milp).objective <= measure(problem, bfd).objective + 1e-6


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_hierarchical_placements_verify(problem):
    split = dataclasses.replace(FAST, hierarchical_threshold=0)
    _placed_or_error(problem, lambda p: place(p, split).placement)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.integers(1, 4))
def test_over_capacity_inputs_raise_the_typed_error(problem, extra):
    # more whole-GPU capacity than the cluster has: no placement exists
    gpus = problem.cluster.num_gpus
    too_many = InstanceClass("whole", GPU, 1, 1.0, 1.0, 72.0, gpus + extra)
    infeasible = dataclasses.replace(problem, classes=(*problem.classes, too_many),
                                     allow_partial=False)
    for run in (lambda p: place(p, FAST), best_fit_decreasing, first_fit):
        try:
            run(infeasible)
        except PlacementError as error:
            assert "Fix:" in str(error)
        else:
            raise AssertionError("an infeasible problem returned a placement")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_tp_beyond_every_domain_raises_the_typed_error(problem):
    widest = max(len(d) for n in problem.cluster.nodes for d in tp_domains(n))
    big = InstanceClass("wide", GPU, widest * 2, 1.0, 1.0, 72.0, 1)
    infeasible = dataclasses.replace(problem, classes=(*problem.classes, big),
                                     allow_partial=False)
    try:
        place(infeasible, FAST)
    except PlacementError as error:
        assert "TP domain" in str(error)
    else:
        raise AssertionError("a TP group wider than every domain was placed")
