"""The search's packing check, the simulator's first fit and the place stage agree, because all
three decide feasibility with the one checker (:mod:`scepsy_opt.core.feasibility`):

- an allocation the search's packing check accepts is placed by the place stage (no refusal),
  and the placement passes the checker;
- every placement the simulator's first-fit placers return passes the checker on the place
  stage's own problem of the same allocation (memory budgets and TP domains included);
- an allocation the place stage refuses is refused by the packing check too.
"""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.feasibility import violations
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import first_fit, first_fit_decreasing
from scepsy_opt.core.placement import PlacementSettings, placement_problem
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.problem import AllocationProblem, LlmDemand
from scepsy_opt.core.space import SearchSpace
from scepsy_opt.core.types import Allocation, ClusterSpec, LlmAllocation, NodeSpec
from scepsy_opt.placement.stage import PlaceSettings, place

GPU = "H100-SXM-80GB"
LLMS = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct")
FAST = PlaceSettings(SolverPreset("test", time_limit_s=10, mip_rel_gap=0.0))
CATALOG = load_catalog()
MEMORY = MemorySettings()


@st.composite
def clusters(draw) -> ClusterSpec:
    count = draw(st.integers(1, 2))
    gpus = draw(st.sampled_from([2, 4]))
    kind = draw(st.sampled_from(["nvswitch", "pairs", "pcie"]))
    domains = {"nvswitch": (tuple(range(gpus)),),
               "pairs": tuple(tuple(range(s, s + 2)) for s in range(0, gpus, 2)),
               "pcie": tuple((g,) for g in range(gpus))}[kind]
    return ClusterSpec("prop", "", tuple(
        NodeSpec(f"n{i}", GPU, gpus, "r0", domains, 100.0) for i in range(count)))


@st.composite
def cases(draw) -> tuple[AllocationProblem, Allocation, SearchSpace]:
    cluster = draw(clusters())
    llms = draw(st.lists(st.sampled_from(LLMS), min_size=1, max_size=3, unique=True))
    entries = tuple(
        LlmAllocation(llm, GPU, draw(st.sampled_from([1, 2, 4])), draw(st.integers(1, 4)),
                      draw(st.integers(1, 8)) / 8) for llm in llms)
    options = PlacementSettings(anti_affinity=draw(st.booleans()))
    problem = AllocationProblem(
        tuple(LlmDemand(llm, 1.0, 256.0, 64.0, 1 / len(llms)) for llm in llms), 1.0, cluster,
        GPU, MEMORY, 0.8, options)
    # packing reads only the llms' order from the evaluator
    space = SearchSpace(problem, SimpleNamespace(llms=tuple(llms)), (), problem.gpus * 8, CATALOG)
    return problem, Allocation("prop", entries), space


def _arrays(allocation: Allocation):
    return ([e.tp for e in allocation.llms], [round(e.gpu_fraction * 8) for e in allocation.llms],
            [e.replicas for e in allocation.llms])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_what_the_search_accepts_the_place_stage_places(case):
    problem, allocation, space = case
    placing = placement_problem(allocation, problem.cluster, CATALOG, MEMORY, problem.placement)
    accepted = space.packs(*_arrays(allocation))
    try:
        result = place(placing, FAST)
    except PlacementError:
        assert not accepted, "the search accepted an allocation the place stage refuses"
        return
    assert violations(placing, result.placement) == []
    if accepted:
        assert len(result.placement.instances) == sum(e.replicas for e in allocation.llms)
    for placer in (first_fit, first_fit_decreasing):
        try:
            simulated = placer(allocation, problem.cluster)
        except PlacementError:
            continue
        assert violations(placing, simulated) == [], placer.__name__


def test_first_fit_keeps_a_tp_group_in_one_domain():
    """Known answer: NVLink-bridged pairs take no TP-4 group (the verifier would reject a group
    spanning two pairs), while the PCIe-only node of the same size does (one TP domain)."""
    pairs = ClusterSpec("pairs", "", (NodeSpec("n0", GPU, 4, "r0", ((0, 1), (2, 3)), 100.0),))
    pcie = ClusterSpec("pcie", "", (
        NodeSpec("n0", GPU, 4, "r0", ((0,), (1,), (2,), (3,)), 100.0),))
    wide = Allocation("a", (LlmAllocation("qwen2.5-7b-instruct", GPU, 4, 1, 1.0),))
    try:
        first_fit(wide, pairs)
    except PlacementError as error:
        assert "no node has 4" in error.problem
    else:
        raise AssertionError("a TP-4 group was placed across two NVLink pairs")
    placed = first_fit(wide, pcie)
    assert placed.instances[0].gpus == (0, 1, 2, 3)


def test_a_placement_that_spreading_strands_is_found_by_the_dense_packer():
    """Known answer (a beam_search plan on two 8-GPU NVSwitch nodes): 6 whole-GPU instances
    and 10 TP-2 instances at 1/2 fill the 16 GPUs exactly. Spreading the whole-GPU replicas
    over both nodes leaves 5 GPUs on each, where the greedy pairing strands one half GPU; the
    dense packer fills one node first and places everything, as the MILP does."""
    from scepsy_opt.core import heuristics

    two = ClusterSpec("two", "", tuple(
        NodeSpec(f"n{i}", GPU, 8, "r0", (tuple(range(8)),), 100.0) for i in range(2)))
    plan = Allocation("a", (LlmAllocation("qwen2.5-7b-instruct", GPU, 2, 10, 0.5),
                            LlmAllocation("qwen2.5-math-prm-7b", GPU, 1, 6, 1.0)))
    placing = placement_problem(plan, two, CATALOG, MEMORY, PlacementSettings())
    for spreading in (heuristics.best_fit_decreasing, heuristics.first_fit_decreasing):
        try:
            spreading(placing)
        except PlacementError:
            continue
        raise AssertionError(f"{spreading.__name__} placed it: the case no longer tests anything")
    dense = heuristics.dense_first_fit_decreasing(placing)
    assert violations(placing, dense.placement) == []
    assert heuristics.packs(placing)
    assert len(place(placing, FAST).placement.instances) == 16
