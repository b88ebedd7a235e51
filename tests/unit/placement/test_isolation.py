"""Isolation (``emit.mps.isolation``, followed by ``placement.isolation``) in the place stage:
the MILP's optimum against an exhaustive enumeration of every isolation-respecting placement,
every heuristic and the hierarchical decomposition honour it, the verifier reports a GPU that
breaks it, an isolation that makes the plan unplaceable is blamed by name, and unknown llms
are refused."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from scepsy_opt.core.errors import ConfigError, PlacementError
from scepsy_opt.core.fault_domains import isolation_groups, isolation_pairs
from scepsy_opt.core.heuristics import PACKERS
from scepsy_opt.core.placement import GpuType, InstanceClass, PlacementProblem, PlacementSettings
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.types import ClusterSpec, InstancePlacement, NodeSpec, Placement
from scepsy_opt.placement import formulation
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import measure, verify, violations
from scepsy_opt.testing.placement import GPU

EXACT = PlaceSettings(SolverPreset("exact", time_limit_s=30, mip_rel_gap=0.0, threads=2))


def node(i, gpus=4, domains=None, rack="r0"):
    return NodeSpec(id=f"n{i}", gpu=GPU, num_gpus=gpus, rack=rack,
                    nvlink_domains=domains or (tuple(range(gpus)),), network_gb_s=100.0)


def llm(name, tp=1, fraction=1.0, replicas=1):
    return InstanceClass(llm=name, gpu=GPU, tp=tp, gpu_fraction=fraction,
                         compute_share=fraction, memory_gib=72.0 * fraction, replicas=replicas)


def isolate(problem: PlacementProblem, *groups: tuple[str, ...]) -> PlacementProblem:
    """``problem`` with the isolation groups, as :func:`placement_problem` sets them."""
    normalised = isolation_groups([list(g) for g in groups], "isolation")
    return replace(problem, isolation_groups=normalised,
                   isolation=isolation_pairs(normalised, [c.llm for c in problem.classes]))


def problem(nodes, *classes, **kwargs):
    kwargs.setdefault("anti_affinity", False)
    return PlacementProblem(cluster=ClusterSpec("test", "", tuple(nodes)), classes=classes,
                            gpu_types=(GpuType(GPU, 76.0),), **kwargs)


def exhaustive(p: PlacementProblem) -> float | None:
    """The best objective over every assignment of every instance to every spot (node and
    ``tp`` GPUs of one TP domain) that the verifier accepts, isolation included (None: none
    is accepted). Shares nothing with the MILP or the heuristics."""
    slots = []
    for c in p.classes:
        spots = [(n.id, gpus) for n in p.eligible_nodes(c) for d in tp_domains(n)
                 for gpus in itertools.combinations(d, c.tp)]
        # replicas are identical: a non-decreasing choice of spots covers every placement
        slots.append([(c, combo) for combo in itertools.combinations_with_replacement(
            range(len(spots)), c.replicas)])
        slots[-1] = [(c, [spots[k] for k in combo]) for c, combo in slots[-1]]
    best = None
    for choice in itertools.product(*slots):
        placed = tuple(InstancePlacement(c.llm, r, node_id, gpus, c.gpu_fraction)
                       for c, spots in choice for r, (node_id, gpus) in enumerate(spots))
        placement = Placement("exhaustive", placed)
        if violations(p, placement):
            continue
        value = measure(p, placement).objective
        best = value if best is None else min(best, value)
    return best


def solved(p: PlacementProblem) -> float | None:
    try:
        result = place(p, EXACT)
    except PlacementError:
        return None
    verify(p, result.placement)
    assert result.status == "optimal"
    return result.metrics.objective


# ----------------------------------------------------------------------- MILP vs exhaustive

def test_the_milp_optimum_is_the_best_isolation_respecting_placement():
    # 2 GPUs: a (1/2) and b (1/2) would share GPU 0 and leave GPU 1 to c (1/2) and d (1/2);
    # with a and b isolated, each pairs with c or d instead: same GPUs, other mates
    p = problem([node(0, gpus=2)], llm("a", fraction=0.5), llm("b", fraction=0.5),
                llm("c", fraction=0.5), llm("d", fraction=0.5))
    free, kept = exhaustive(p), exhaustive(isolate(p, ("a", "b")))
    assert solved(isolate(p, ("a", "b"))) == pytest.approx(kept) == pytest.approx(free)
    result = place(isolate(p, ("a", "b")), EXACT)
    gpus = {i.llm: i.gpus for i in result.placement.instances}
    assert gpus["a"] != gpus["b"]
    # a alone ([[a]]): a shares no GPU, so it takes GPU 0 alone and the other three do not fit
    # the remaining GPU: infeasible, as the enumeration says
    assert exhaustive(isolate(p, ("a",))) is None and solved(isolate(p, ("a",))) is None


def test_isolation_that_binds_costs_a_gpu_and_the_milp_finds_the_optimum():
    # TP-2 groups of a (1/2) on a 4-GPU node and b (1/2) twice: a's group can share its GPUs
    # with b's replicas (2 GPUs used); with a and b isolated, b needs a GPU of its own
    p = problem([node(0)], llm("a", tp=2, fraction=0.5), llm("b", fraction=0.5, replicas=2))
    free = exhaustive(p)
    kept = exhaustive(isolate(p, ("a", "b")))
    assert kept is not None and kept > free  # the oracle says the rule binds
    assert solved(p) == pytest.approx(free)
    assert solved(isolate(p, ("a", "b"))) == pytest.approx(kept)
    result = place(isolate(p, ("a", "b")), EXACT)
    assert result.metrics.gpus_used == 3


def random_problem(seed: int) -> tuple[PlacementProblem, tuple[str, ...]]:
    """1-2 nodes of 2 or 4 GPUs (one NVLink domain or pairs), 2-3 llms of TP 1 or 2 and
    fractions 1/4, 1/2 or 3/4, at most 5 instances, and an isolation group of one or two of
    them."""
    rng = np.random.default_rng(seed)
    gpus = int(rng.choice([2, 4]))
    domains = (tuple(range(gpus)),) if rng.random() < 0.5 or gpus == 2 else ((0, 1), (2, 3))
    nodes = [node(i, gpus=gpus, domains=domains, rack=f"r{i}")
             for i in range(int(rng.integers(1, 3)))]
    classes, total = [], 0
    for i in range(int(rng.integers(2, 4))):
        replicas = int(min(rng.integers(1, 3), 5 - total))
        if replicas < 1:
            break
        total += replicas
        classes.append(llm(f"l{i}", tp=int(rng.choice([1, 1, 2])),
                           fraction=float(rng.choice([0.25, 0.5, 0.75])), replicas=replicas))
    names = [c.llm for c in classes]
    group = tuple(rng.choice(names, size=int(rng.integers(1, 3)), replace=False).tolist())
    return problem(nodes, *classes, anti_affinity=bool(rng.random() < 0.5)), group


def test_milp_equals_exhaustive_enumeration_on_random_isolated_problems():
    binding = infeasible = 0
    for seed in range(24):
        base, group = random_problem(seed)
        p = isolate(base, group)
        free, kept = exhaustive(base), exhaustive(p)
        got = solved(p)
        assert got == (None if kept is None else pytest.approx(kept)), (seed, group, kept, got)
        if kept is not None and got is not None:
            assert not _shared_pairs(place(p, EXACT).placement) & set(p.isolation)
        binding += kept is not None and kept > free + 1e-9
        infeasible += kept is None and free is not None
    assert binding >= 5 and infeasible >= 1  # the rule changes the optimum, or rules it out


# ----------------------------------------------------------------------- every placer

def _shared_pairs(placement: Placement) -> set[tuple[str, str]]:
    on: dict[tuple[str, int], set[str]] = {}
    for inst in placement.instances:
        for g in inst.gpus:
            on.setdefault((inst.node, g), set()).add(inst.llm)
    return {(a, b) for llms in on.values() for a in llms for b in llms if a < b}


def test_every_heuristic_keeps_isolated_llms_apart():
    p = isolate(problem([node(0), node(1)], llm("a", fraction=0.25, replicas=3),
                        llm("b", fraction=0.25, replicas=3), llm("c", tp=2, fraction=0.5),
                        llm("d", fraction=0.5, replicas=2)), ("a", "b"), ("c",))
    for placer in PACKERS:
        found = placer(replace(p, isolation=())).placement
        assert violations(replace(p, isolation=()), found) == []
        result = placer(p).placement
        assert violations(p, result) == [], placer.__name__
        shared = _shared_pairs(result)
        assert ("a", "b") not in shared
        assert not any("c" in pair for pair in shared), placer.__name__


def test_the_hierarchical_decomposition_keeps_isolated_llms_apart():
    p = isolate(problem([node(i, rack=f"r{i % 2}") for i in range(3)],
                        llm("a", fraction=0.25, replicas=4), llm("b", fraction=0.25, replicas=4),
                        llm("c", tp=2, fraction=0.5, replicas=2)), ("a", "b"))
    flat = place(p, EXACT)
    hierarchical = place(p, replace(EXACT, hierarchical_threshold=0))
    assert hierarchical.solves[0].model == "nodes"  # the node-level model ran first
    for result in (flat, hierarchical):
        verify(p, result.placement)
        assert ("a", "b") not in _shared_pairs(result.placement)
    assert hierarchical.metrics.objective == pytest.approx(flat.metrics.objective)


def test_patterns_never_mix_isolated_llms():
    p = isolate(problem([node(0)], llm("a", fraction=0.25), llm("b", fraction=0.25),
                        llm("c", fraction=0.25)), ("a", "b"))
    found = formulation.enumerate_patterns(p, GPU, 1000)
    keys = formulation.share_classes(p, GPU)
    # llms of an isolation pair get share classes of their own; c shares its class
    assert [k[3] for k in keys] == [None, "a", "b"]
    c, a, b = 0, 1, 2
    assert found and all(not (pat.counts[a] and pat.counts[b]) for pat in found)
    assert any(pat.counts[a] and pat.counts[c] for pat in found)  # a may still share with c
    assert max(pat.counts[c] for pat in found) == 4
    free = formulation.enumerate_patterns(replace(p, isolation=()), GPU, 1000)
    assert len(formulation.share_classes(replace(p, isolation=()), GPU)) == 1 and free


def test_the_flat_model_has_the_isolation_constraints():
    p = isolate(problem([node(0, gpus=2)], llm("a", fraction=0.5), llm("b", fraction=0.5),
                        llm("c", fraction=0.5)), ("a", "b"))
    m = formulation.build_flat(p)
    assert list(m.I) == [(0, 1)]
    assert sorted(m.LGI) == [(0, "n0", 0), (0, "n0", 1), (1, "n0", 0), (1, "n0", 1)]
    assert len(m.GI) == 2 and hasattr(m, "hosts") and hasattr(m, "isolate")
    # the MIP start sets w, and HiGHS accepts it
    start = PACKERS[0](p).placement
    formulation.set_start(m, p, start)
    for key in m.LGI:
        hosts = any(i.llm == p.classes[key[0]].llm and i.node == key[1] and key[2] in i.gpus
                    for i in formulation.canonical(p, start, by="load").instances)
        assert m.w[key].value == int(hosts)


# ----------------------------------------------------------------------- verifier, errors

def test_the_verifier_reports_a_gpu_that_hosts_isolated_llms():
    p = isolate(problem([node(0, gpus=2)], llm("a", fraction=0.5), llm("b", fraction=0.5)),
                ("a", "b"))
    shared = Placement("hand", (InstancePlacement("a", 0, "n0", (0,), 0.5),
                                InstancePlacement("b", 0, "n0", (0,), 0.5)))
    assert violations(p, shared) == [
        "node n0 GPU 0: hosts a and b, which emit.mps.isolation keeps apart"]
    with pytest.raises(Exception, match="hosts a and b, which emit.mps.isolation keeps"):
        verify(p, shared)
    apart = Placement("hand", (InstancePlacement("a", 0, "n0", (0,), 0.5),
                               InstancePlacement("b", 0, "n0", (1,), 0.5)))
    assert violations(p, apart) == []


def test_an_isolation_that_leaves_no_placement_is_blamed_by_name():
    # a TP-4 group of 3/4 on every GPU leaves a quarter of each, which b (TP 4, 1/4) fills;
    # isolating a from everything else leaves b nowhere
    p = problem([node(0)], llm("a", tp=4, fraction=0.75), llm("b", tp=4, fraction=0.25))
    assert place(p, EXACT).metrics.gpus_used == 4
    with pytest.raises(PlacementError) as caught:
        place(isolate(p, ("a",)), EXACT)
    error = caught.value
    assert error.field == "emit.mps.isolation"
    text = str(error)
    assert "no placement exists that keeps the llms of the isolation apart" in text
    assert "a shares no GPU with another llm" in text and "[[a]]" in text
    assert "Fix: drop or split a group of emit.mps.isolation" in text


def test_isolation_naming_an_llm_the_allocation_lacks_is_refused():
    p = isolate(problem([node(0)], llm("a", fraction=0.5), llm("b", fraction=0.5)),
                ("a", "nope"), ("ghost",))
    with pytest.raises(PlacementError) as caught:
        place(p, EXACT)
    assert caught.value.field == "emit.mps.isolation"
    assert "does not have: nope, ghost" in str(caught.value)
    assert "Fix: name llms of the workflow: a, b" in str(caught.value)


def test_placement_settings_check_the_isolation_groups():
    assert PlacementSettings(isolation=[["a", "b", "a"], ["a", "b"], ["c"]]).isolation == (
        ("a", "b"), ("c",))
    for bad, needle in [("a", "must be a list of groups"), ([["a"], []], "isolation\\[1\\]"),
                        ([[1]], "non-empty string")]:
        with pytest.raises(ConfigError, match=needle):
            PlacementSettings(isolation=bad)


def test_isolation_pairs_of_groups():
    llms = ["a", "b", "c", "d"]
    assert isolation_pairs((("a", "b", "c"),), llms) == (("a", "b"), ("a", "c"), ("b", "c"))
    assert isolation_pairs((("d",),), llms) == (("a", "d"), ("b", "d"), ("c", "d"))
    assert isolation_pairs((("a", "x"), ("y",)), llms) == ()  # absent llms drop out
    assert isolation_pairs((), llms) == ()


def test_the_problem_of_an_allocation_carries_the_isolation_and_the_search_check_sees_it(
        catalog):
    from scepsy_opt.core.heuristics import packs
    from scepsy_opt.core.memory import MemorySettings
    from scepsy_opt.core.placement import placement_problem
    from scepsy_opt.core.types import Allocation, LlmAllocation
    from scepsy_opt.testing.emit import h100_cluster

    gpu = "H100-SXM-80GB"
    allocation = Allocation("test", (LlmAllocation("llama-3.1-70b-instruct", gpu, 8, 1, 0.75),
                                     LlmAllocation("llama-3.2-3b-instruct", gpu, 4, 1, 0.25)))
    plain = placement_problem(allocation, h100_cluster(), catalog, MemorySettings())
    assert plain.isolation == () and packs(plain)
    settings = PlacementSettings(isolation=[["llama-3.1-70b-instruct"]])
    kept = placement_problem(allocation, h100_cluster(), catalog, MemorySettings(), settings)
    assert kept.isolation_groups == (("llama-3.1-70b-instruct",),)
    assert kept.isolation == (("llama-3.1-70b-instruct", "llama-3.2-3b-instruct"),)
    assert not packs(kept)  # the search's packing check refuses what the place stage would
    assert packs(placement_problem(allocation, h100_cluster(2), catalog, MemorySettings(),
                                   settings))
