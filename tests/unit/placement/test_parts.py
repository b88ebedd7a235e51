"""The place stage's parts: presets, call affinity, heuristics, the verifier, placement.json
and the cluster map."""

import json

import pytest

from scepsy_opt.core.errors import ConfigError, PlacementError
from scepsy_opt.core.heuristics import best_fit_decreasing, complete, first_fit
from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.placement import (
    GpuType,
    InstanceClass,
    PlacementProblem,
    PlacementSettings,
    objective_weights,
    placement_problem,
)
from scepsy_opt.core.presets import SolverPreset, read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.topology import tp_domains
from scepsy_opt.core.trace import Call, table_from_calls
from scepsy_opt.core.types import (
    Allocation,
    ClusterSpec,
    InstancePlacement,
    LlmAllocation,
    NodeSpec,
    Placement,
)
from scepsy_opt.placement.affinity import call_affinity
from scepsy_opt.placement.artifact import placement_to_json
from scepsy_opt.placement.plot import cluster_map
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import measure, violations
from scepsy_opt.testing.placement import GPU, tiny_problem

EXACT = PlaceSettings(SolverPreset("exact", time_limit_s=30, mip_rel_gap=0.0))


def test_shipped_presets_parse_and_malformed_ones_fail(tmp_path):
    for name in ("default", "fast", "thorough"):
        preset = read_preset(data_dir("solvers") / f"{name}.opt")
        assert preset.threads == 2 and preset.random_seed == 0 and preset.time_limit_s > 0
    bad = tmp_path / "bad.opt"
    bad.write_text("time_limit = 5\nmip_rel_gap\n")
    with pytest.raises(ConfigError, match="line 2 is not 'option = value'"):
        read_preset(bad)
    bad.write_text("time_limit = soon\n")
    with pytest.raises(ConfigError, match="must be a number"):
        read_preset(bad)


def test_call_affinity_counts_hand_overs_through_tools():
    calls = [Call("r1", "a", "llm", 0, 1, llm="x"),
             Call("r1", "t", "tool", 1, 2, parents=("a",), name="search"),
             Call("r1", "b", "llm", 2, 3, parents=("t",), llm="y"),
             Call("r1", "c", "llm", 3, 4, parents=("b", "a"), llm="z"),
             Call("r2", "a", "llm", 0, 1, llm="x"),
             Call("r2", "b", "llm", 1, 2, parents=("a",), llm="x")]
    pairs = call_affinity({"w": table_from_calls(calls, "test")})
    assert pairs == (("x", "y", pytest.approx(1 / 3)), ("x", "z", pytest.approx(1 / 3)),
                     ("y", "z", pytest.approx(1 / 3)))


def test_allocation_becomes_classes_with_the_memory_model_and_mig_profiles(catalog):
    cluster = ClusterSpec("c", "", (NodeSpec("n0", GPU, 8, "r", (tuple(range(8)),), 1.0),))
    allocation = Allocation("t", (LlmAllocation("llama-3.1-8b-instruct", GPU, 1, 2, 0.25),
                                  LlmAllocation("llama-3.2-3b-instruct", GPU, 1, 1, 0.125),
                                  LlmAllocation("llama-3.1-70b-instruct", GPU, 4, 1, 1.0)))
    mps = placement_problem(allocation, cluster, catalog, MemorySettings())
    eight = mps.cls("llama-3.1-8b-instruct")
    budget = memory_plan(catalog.llms["llama-3.1-8b-instruct"], catalog.gpus[GPU], 1, 0.25,
                         MemorySettings()).budget_gib_per_gpu
    assert eight.compute_share == 0.25 and eight.memory_gib == pytest.approx(budget)
    assert mps.gpu_type(GPU).memory_gib == pytest.approx(0.95 * 80)
    mig = placement_problem(allocation, cluster, catalog, MemorySettings(),
                            PlacementSettings(fraction_mechanism="mig"))
    assert mig.cls("llama-3.1-8b-instruct").mig_profile == "2g.20gb"
    assert mig.cls("llama-3.2-3b-instruct").mig_profile == "1g.10gb"
    assert mig.cls("llama-3.1-70b-instruct").mig_profile is None
    assert mig.cls("llama-3.1-8b-instruct").compute_share == pytest.approx(2 / 7)
    l40s = ClusterSpec("c", "", (NodeSpec("n0", "L40S-48GB", 8, "r",
                                          tuple((g,) for g in range(8)), 1.0),))
    small = Allocation("t", (LlmAllocation("llama-3.2-3b-instruct", "L40S-48GB", 1, 1, 0.5),))
    with pytest.raises(PlacementError, match="L40S-48GB has no MIG profiles"):
        placement_problem(small, l40s, catalog, MemorySettings(),
                          PlacementSettings(fraction_mechanism="mig"))
    with pytest.raises(PlacementError, match="unknown node"):
        placement_problem(allocation, cluster, catalog, MemorySettings(),
                          PlacementSettings(exclude_nodes=("n9",)))
    assert tp_domains(l40s.nodes[0]) == (tuple(range(8)),)  # PCIe: the node is the domain


def test_heuristics_first_fit_order_and_best_fit():
    node = NodeSpec("n0", GPU, 2, "r", ((0, 1),), 1.0)
    classes = (InstanceClass("a", GPU, 1, 0.5, 0.5, 36.0, 1),
               InstanceClass("b", GPU, 1, 0.75, 0.75, 54.0, 1),
               InstanceClass("c", GPU, 1, 0.25, 0.25, 18.0, 1))
    p = PlacementProblem(ClusterSpec("c", "", (node,)), classes, (GpuType(GPU, 76.0),),
                         anti_affinity=False)
    ff = first_fit(p).placement
    assert [(i.llm, i.gpus) for i in ff.instances] == [("a", (0,)), ("b", (1,)), ("c", (0,))]
    reversed_order = first_fit(p, order=[2, 1, 0]).placement
    assert {i.llm: i.gpus for i in reversed_order.instances} == {"c": (0,), "b": (0,),
                                                                 "a": (1,)}
    bfd = best_fit_decreasing(p).placement  # b first, then a, then c tops up b's GPU
    assert {i.llm: i.gpus for i in bfd.instances} == {"b": (0,), "a": (1,), "c": (0,)}
    partial = complete(p, Placement("x", (InstancePlacement("b", 0, "n0", (0,), 0.75),)),
                       [("a", 0), ("c", 0)])
    assert not violations(p, partial.placement) and len(partial.placement.instances) == 3


def test_the_verifier_finds_every_kind_of_violation():
    p = tiny_problem(3)
    pairs = NodeSpec("n0", GPU, 4, "r", ((0, 1), (2, 3)), 1.0)
    p = PlacementProblem(ClusterSpec("c", "", (pairs,)), (
        InstanceClass("a", GPU, 2, 1.0, 1.0, 72.0, 1),
        InstanceClass("b", GPU, 1, 0.5, 0.5, 36.0, 2, nodes=("n0",)),
        InstanceClass("m", GPU, 1, 0.125, 1 / 7, 10.0, 2, mig_profile="1g.10gb")),
        (GpuType(GPU, 80.0, (("1g.10gb", 1),)),), anti_affinity=False)
    bad = Placement("bad", (
        InstancePlacement("a", 0, "n0", (1, 2), 1.0),      # across two NVLink pairs
        InstancePlacement("b", 0, "n0", (1,), 0.5),        # GPU 1 over-full with a
        InstancePlacement("b", 0, "n0", (3,), 0.5),        # placed twice
        InstancePlacement("m", 0, "n0", (3,), 0.125),
        InstancePlacement("m", 1, "n0", (3,), 0.125),      # MIG limit 1 per GPU
        InstancePlacement("x", 0, "n0", (0,), 0.5),        # unknown llm
    ))
    found = "\n".join(violations(p, bad))
    for needle in ("not in one TP domain", "compute shares sum to 1.5", "placed 2 times",
                   "MIG 1g.10gb", "llm not in the problem", "replicas [1] are not placed"):
        assert needle in found, needle


def test_weights_are_lexicographic():
    p = tiny_problem(5)
    w = objective_weights(p)
    gpus = min(p.cluster.num_gpus, sum(c.tp * c.replicas for c in p.classes))
    nodes = min(len(p.cluster.nodes), p.num_instances)
    topology = 2 * w.topology if p.pair_weights() else 0.0
    assert w.gpus > w.nodes * nodes + topology
    assert w.fragmented > w.gpus * gpus + w.nodes * nodes + topology
    assert w.excess > w.fragmented * gpus + w.gpus * gpus + w.nodes * nodes + topology


def test_placement_json_and_cluster_map(tmp_path):
    p = tiny_problem(7)
    result = place(p, EXACT)
    record = json.loads(json.dumps(placement_to_json(result)))
    assert record["status"] == "optimal" and record["objective"]["gap"] == 0.0
    assert len(record["instances"]) == p.num_instances
    assert len(record["gpus"]) == p.cluster.num_gpus
    assert record["metrics"]["gpus_used"] == measure(p, result.placement).gpus_used
    solve = record["solver"]["solves"][0]
    assert {"objective", "bound", "gap", "build_s", "solve_s", "solver_version"} <= set(solve)
    figure = cluster_map(result)
    path = tmp_path / "map.png"
    figure.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG"
