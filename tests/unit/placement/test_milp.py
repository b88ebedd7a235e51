"""The placement MILP against brute force, known answers, infeasible inputs and solver
failures."""

import dataclasses

import pyomo.environ as pyo
import pytest

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.placement import GpuType, InstanceClass, PlacementProblem
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.types import ClusterSpec, NodeSpec
from scepsy_opt.placement import solve as solve_module
from scepsy_opt.placement import stage
from scepsy_opt.placement.formulation import build_flat
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import verify
from scepsy_opt.testing.placement import GPU, brute_force, tiny_problem

EXACT = PlaceSettings(SolverPreset("exact", time_limit_s=30, mip_rel_gap=0.0, threads=2))
MODES = {"mps": {}, "partial": {"allow_partial": True}, "mig": {"mig": True}}


def agreement(seeds, max_instances: int, mode: str) -> tuple[int, int, list]:
    """(agreeing, infeasible, disagreements) of MILP and brute force over ``seeds``."""
    agree, infeasible, bad = 0, 0, []
    for seed in seeds:
        problem = tiny_problem(seed, max_instances=max_instances, **MODES[mode])
        _, best, _ = brute_force(problem)
        try:
            result = place(problem, EXACT)
        except PlacementError:
            result = None
        if best is None:
            infeasible += 1
            ok = result is None
        else:
            ok = result is not None and result.metrics.objective == pytest.approx(best)
            if result is not None:
                verify(problem, result.placement)
                assert result.status == "optimal"
        agree += ok
        if not ok:
            bad.append((seed, best, None if result is None else result.metrics.objective))
    return agree, infeasible, bad


@pytest.mark.parametrize("mode", sorted(MODES))
def test_milp_objective_equals_brute_force(mode):
    agree, infeasible, bad = agreement(range(30), 6, mode)
    assert not bad and agree == 30
    if mode != "partial":
        assert 0 < infeasible < 30  # both verdicts occur


@pytest.mark.parametrize("mode", sorted(MODES))
def test_milp_objective_equals_brute_force_up_to_8_instances(mode):
    agree, _, bad = agreement(range(100, 160), 8, mode)
    assert not bad and agree == 60


# ----------------------------------------------------------------------- known answers

def node(i, gpus=4, domains=None, rack="r0"):
    return NodeSpec(id=f"n{i}", gpu=GPU, num_gpus=gpus, rack=rack,
                    nvlink_domains=domains or (tuple(range(gpus)),), network_gb_s=100.0)


def problem(nodes, *classes, **kwargs):
    kwargs.setdefault("anti_affinity", False)
    return PlacementProblem(cluster=ClusterSpec("test", "", tuple(nodes)), classes=classes,
                            gpu_types=(GpuType(GPU, 76.0),), **kwargs)


def llm(name, tp=1, fraction=1.0, replicas=1, nodes=()):
    return InstanceClass(llm=name, gpu=GPU, tp=tp, gpu_fraction=fraction,
                         compute_share=fraction, memory_gib=72.0 * fraction,
                         replicas=replicas, nodes=nodes)


def spots(result):
    return sorted((i.llm, i.node, i.gpus) for i in result.placement.instances)


def test_tp_groups_stay_in_nvlink_pairs_and_pack_without_fragments():
    pairs = node(0, domains=((0, 1), (2, 3)))
    p = problem([pairs], llm("a", tp=2, fraction=0.5, replicas=2), llm("b", fraction=0.5,
                                                                       replicas=2))
    result = place(p, EXACT)
    for inst in result.placement.instances:
        if inst.llm == "a":
            assert set(inst.gpus) in ({0, 1}, {2, 3})
    assert result.metrics.gpus_used == 3 or result.metrics.gpus_used == 4
    assert result.metrics.gpus_used == 3  # a's two groups share one pair; b fills half of ...
    assert result.metrics.fragmented_gpus == 0


def test_pcie_node_is_one_tp_domain_and_nvlink_pairs_refuse_tp4():
    pcie = node(0, domains=((0,), (1,), (2,), (3,)))
    result = place(problem([pcie], llm("a", tp=4)), EXACT)
    assert spots(result) == [("a", "n0", (0, 1, 2, 3))]
    pairs = node(0, domains=((0, 1), (2, 3)))
    with pytest.raises(PlacementError, match="TP domain .* of 4 GPUs.*largest has 2"):
        place(problem([pairs], llm("a", tp=4)), EXACT)


def test_fragmentation_is_avoided_where_first_fit_fragments():
    # 3/8 + 3/8 + 1/4 + 3/4 on 2 GPUs: pairing 3/8+3/8 leaves 1/4 free, which the smallest
    # instance (1/4) fits, so no GPU is fragmented; first fit in the given order puts 3/8, 3/8
    # and 1/4 on GPU 0 (full) and 3/4 on GPU 1 -- also unfragmented; a 5/8 instance instead
    # of 3/4 makes the MILP put it with the 3/8s' leftovers where it can.
    p = problem([node(0, gpus=2)], llm("a", fraction=0.375, replicas=2),
                llm("b", fraction=0.25), llm("c", fraction=0.625))
    result = place(p, EXACT)
    best = brute_force(p)[1]
    assert result.metrics.objective == pytest.approx(best)
    assert result.metrics.fragmented_gpus == 0 and result.metrics.gpus_used == 2


def test_anti_affinity_spreads_replicas_and_topology_keeps_callers_together():
    nodes = [node(0, rack="r0"), node(1, rack="r0"), node(2, rack="r1"), node(3, rack="r1")]
    together = problem(nodes, llm("a", fraction=0.5, replicas=2))
    assert len({i.node for i in place(together, EXACT).placement.instances}) == 1
    spread = dataclasses.replace(together, anti_affinity=True)
    result = place(spread, EXACT)
    assert len({i.node for i in result.placement.instances}) == 2
    assert result.metrics.anti_affinity_excess == 0
    # a calls b: b's replicas follow a's nodes
    calls = problem(nodes, llm("a", fraction=0.5, replicas=2), llm("b", fraction=0.5,
                                                                   replicas=2),
                    anti_affinity=True, affinity=(("a", "b", 1.0),))
    result = place(calls, EXACT)
    on = {llm_: sorted(i.node for i in result.placement.instances if i.llm == llm_)
          for llm_ in "ab"}
    assert on["a"] == on["b"] and result.metrics.topology_cost == pytest.approx(0.0)


def test_anti_affinity_is_soft_when_nodes_run_out():
    # the TP-4 group fills n0, so both replicas of a must share n1: one replica of excess
    p = problem([node(0), node(1, gpus=2)], llm("big", tp=4), llm("a", replicas=2),
                anti_affinity=True)
    result = place(p, EXACT)
    assert result.metrics.anti_affinity_excess == 1
    assert {i.node for i in result.placement.instances if i.llm == "a"} == {"n1"}
    p = problem([node(0)], llm("a", replicas=3), anti_affinity=True)
    result = place(p, EXACT)
    assert len(result.placement.instances) == 3  # one node: the cap is 3 per node


def test_pins_and_exclusions():
    nodes = [node(0), node(1), node(2)]
    p = problem(nodes, llm("a", replicas=2, nodes=("n2",)), exclude_nodes=frozenset({"n0"}))
    result = place(p, EXACT)
    assert {i.node for i in result.placement.instances} == {"n2"}
    q = problem(nodes, llm("b", replicas=2), exclude_nodes=frozenset({"n0"}))
    assert "n0" not in {i.node for i in place(q, EXACT).placement.instances}
    with pytest.raises(PlacementError, match="excluded or outside its pins"):
        place(problem(nodes, llm("a", nodes=("n0",)), exclude_nodes=frozenset({"n0"})), EXACT)


def test_mig_profile_limits_bind():
    mig = InstanceClass(llm="m", gpu=GPU, tp=1, gpu_fraction=0.375, compute_share=3 / 7,
                        memory_gib=40.0, replicas=3, mig_profile="3g.40gb")
    p = PlacementProblem(cluster=ClusterSpec("t", "", (node(0, gpus=2),)), classes=(mig,),
                         gpu_types=(GpuType(GPU, 80.0, (("3g.40gb", 2),)),),
                         anti_affinity=False, mechanism="mig")
    result = place(p, EXACT)
    assert result.metrics.gpus_used == 2
    p4 = dataclasses.replace(p, classes=(dataclasses.replace(mig, replicas=5),))
    with pytest.raises(PlacementError):
        place(p4, EXACT)


# ----------------------------------------------------------------------- infeasible inputs

def test_bin_packing_infeasible_allocation_names_the_resource():
    # 3 x 5/8 on 2 GPUs: 15/8 of compute fits the total, not the GPUs
    p = problem([node(0, gpus=2)], llm("a", fraction=0.625, replicas=3))
    with pytest.raises(PlacementError) as caught:
        place(p, EXACT)
    text = str(caught.value)
    assert "MILP proved that no placement exists" in text
    assert "node n0" in text and "replica 2 of a" in text and "Fix:" in text


def test_capacity_precheck_names_the_gpu_type():
    p = problem([node(0, gpus=2)], llm("a", replicas=3))
    with pytest.raises(PlacementError, match="needs 3 H100-SXM-80GB GPUs of compute"):
        place(p, EXACT)


def test_solver_runtime_error_is_handled(monkeypatch):
    class Broken:
        def set_instance(self, model):
            pass

        def solve(self, *args, **kwargs):
            raise RuntimeError("A feasible solution was not found, so no solution can be "
                               "loaded")

    monkeypatch.setattr(solve_module, "SolverFactory", lambda name: Broken())
    feasible = problem([node(0, gpus=2)], llm("a", fraction=0.5, replicas=3))
    result = place(feasible, EXACT)
    assert result.method in ("best_fit_decreasing", "first_fit") and result.status == "error"
    assert "without a placement" in result.note
    verify(feasible, result.placement)
    infeasible = problem([node(0, gpus=2)], llm("a", fraction=0.625, replicas=3))
    with pytest.raises(PlacementError, match="the MILP found no placement either"):
        place(infeasible, EXACT)


def test_infeasible_model_maps_to_our_status_without_raising():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.o = pyo.Objective(expr=m.x)
    report = solve_module.solve(m, EXACT.preset, name="broken", build_s=0.0)
    assert report.status == "infeasible" and report.objective is None
    assert m.x.value is None  # nothing was loaded


def test_time_limit_without_incumbent_falls_back_to_best_fit(monkeypatch):
    real = stage.solve

    def no_solution(model, preset, **kwargs):
        report = real(model, dataclasses.replace(preset, time_limit_s=0.0), **kwargs)
        return dataclasses.replace(report, status=solve_module.NO_SOLUTION, objective=None)

    monkeypatch.setattr(stage, "solve", no_solution)
    p = problem([node(0), node(1)], llm("a", fraction=0.5, replicas=5))
    result = place(p, EXACT)
    assert result.method in ("best_fit_decreasing", "first_fit")
    assert result.status == "no_solution"
    assert "without a placement" in result.note
    verify(p, result.placement)


def test_time_limit_reports_feasible_and_the_gap():
    p = tiny_problem(50)
    fast = PlaceSettings(SolverPreset("tiny", time_limit_s=0.001, mip_rel_gap=0.0))
    result = place(p, fast)
    verify(p, result.placement)
    assert result.status in ("feasible", "no_solution", "optimal")


def test_hierarchical_decomposition_cuts_unpackable_nodes():
    # three 3/8 and one 3/4 instance: 15/8 of compute fits one 2-GPU node, but the 3/4 shares
    # its GPU with no 3/8, so the aggregate node-level model's first answer (everything on one
    # node) needs a no-good cut.
    p = problem([node(0, gpus=2), node(1, gpus=2)], llm("a", fraction=0.375, replicas=3),
                llm("b", fraction=0.75))
    flat = place(p, EXACT)
    aggregate = place(p, dataclasses.replace(EXACT, hierarchical_threshold=0, pattern_limit=0))
    verify(p, aggregate.placement)
    assert aggregate.method == "milp_hierarchical" and "1 no-good round" in aggregate.note
    # aggregate capacities do not see fragmentation: never better than the flat optimum
    assert aggregate.metrics.objective >= flat.metrics.objective - 1e-9
    # occupancy patterns count each GPU's load exactly: no cut needed
    patterns = place(p, dataclasses.replace(EXACT, hierarchical_threshold=0))
    assert "patterns" in patterns.note and "0 no-good round" in patterns.note
    assert patterns.metrics.objective == pytest.approx(flat.metrics.objective)


def test_hierarchical_matches_flat_on_random_problems():
    for seed in range(40):
        p = tiny_problem(seed, max_instances=6)
        try:
            flat = place(p, EXACT)
        except PlacementError:
            with pytest.raises(PlacementError):
                place(p, dataclasses.replace(EXACT, hierarchical_threshold=0))
            continue
        split = place(p, dataclasses.replace(EXACT, hierarchical_threshold=0))
        verify(p, split.placement)
        assert split.metrics.objective == pytest.approx(flat.metrics.objective)


def test_mps_export_solves_to_the_same_objective(tmp_path):
    import highspy

    p = tiny_problem(7)
    result = place(p, dataclasses.replace(EXACT, export_mps=True))
    assert "ROWS" in result.mps and "COLUMNS" in result.mps
    path = tmp_path / "model.mps"
    path.write_text(result.mps)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.readModel(str(path))
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(result.metrics.objective)


def test_flat_model_components_match_the_docstring():
    m = build_flat(tiny_problem(3))
    for name in ("x", "z", "u", "v", "full", "room", "frag", "demand", "group", "compute",
                 "memory", "opened", "is_full", "room_compute", "room_memory", "fragmented",
                 "gpu_order", "domain_order", "node_order", "objective"):
        assert hasattr(m, name), name
    from scepsy_opt.placement.formulation import build_nodes, build_patterns, enumerate_patterns

    p = tiny_problem(3)
    patterns = {GPU: enumerate_patterns(p, GPU, 1000)}
    m = build_patterns(p, patterns)
    for name in ("x", "v", "y", "yb", "demand", "patterns", "cover", "holds", "spans",
                 "node_order", "nogood", "objective"):
        assert hasattr(m, name), name
    m = build_nodes(p)
    for name in ("x", "v", "k", "y", "capacity", "memory", "large", "holds", "spans",
                 "opened", "node_order", "nogood", "objective"):
        assert hasattr(m, name), name


def test_patterns_are_every_fitting_mix():
    p = problem([node(0)], llm("a", fraction=0.25), llm("b", fraction=0.5))
    from scepsy_opt.placement.formulation import enumerate_patterns

    found = enumerate_patterns(p, GPU, 100)
    # shares 1/4 and 1/2: (a, b) counts with a/4 + b/2 <= 1, not both 0
    assert sorted(pat.counts for pat in found) == sorted(
        (a, b) for a in range(5) for b in range(3) if (a, b) != (0, 0) and a + 2 * b <= 4)
    assert all(not pat.fragmented for pat in found)  # a quarter is always free or full
    assert enumerate_patterns(p, GPU, 3) is None
