"""Batch packing of real GPU request mixes: the pods of the Alibaba GPU cluster trace (v2023,
"openb") onto its 1,213 GPU nodes, by first fit, best-fit decreasing and the placement MILP.

    python benchmarks/alibaba_packing.py [--pods default gpushare40] [--time-limit 120]
                                         [--json results.json]

Each GPU-requesting pod is an instance: ``num_gpu`` GPUs of one node (a multi-GPU pod takes
whole GPUs), or, with one GPU, ``gpu_milli / 1000`` of it (compute and GPU memory alike: the
trace gives one share). The pod lists name no GPU model, so any node takes any pod; the trace
gives no NVLink topology, so a node's GPUs form one domain. CPU and host memory of pods and
nodes are not modelled (the placement models GPUs only). All pods are packed at once; when they
do not all fit, each method places what it can (the MILP maximises the GPU capacity placed,
then minimises fragmented GPUs, GPUs and nodes opened).

Reported per method: the share of requested GPU capacity placed, pods placed, GPUs used,
fragmented GPUs (used, not full, free part smaller than the smallest pod's share), the free
capacity left on used GPUs, and the time. First fit takes pods in the trace's order (creation
order); best-fit decreasing largest first.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import time
from collections import Counter
from pathlib import Path

from scepsy_opt.core.heuristics import best_fit_decreasing, first_fit
from scepsy_opt.core.placement import GpuType, InstanceClass, PlacementProblem
from scepsy_opt.core.presets import SolverPreset, read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.types import ClusterSpec, NodeSpec, Placement
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.placement.verify import measure, verify

DATA = Path(__file__).resolve().parent / "data" / "alibaba_gpu_v2023"
GPU = "gpu"
NODES_PER_RACK = 16


def load_cluster(path: Path = DATA / "openb_node_list_gpu_node.csv") -> ClusterSpec:
    nodes = []
    with path.open(newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            gpus = int(row["gpu"])
            nodes.append(NodeSpec(id=row["sn"], gpu=GPU, num_gpus=gpus,
                                  rack=f"rack{i // NODES_PER_RACK:03d}",
                                  nvlink_domains=tuple((g,) for g in range(gpus)),
                                  network_gb_s=1.0))
    return ClusterSpec(name="alibaba_openb", description="Alibaba GPU cluster trace v2023",
                       nodes=tuple(nodes))


def load_pods(name: str) -> list[tuple[int, int]]:
    """(num_gpu, gpu_milli) of every GPU-requesting pod, in the file's order."""
    pods = []
    with (DATA / f"openb_pod_list_{name}.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            count, milli = int(row["num_gpu"]), int(row["gpu_milli"])
            if count > 0 and milli > 0:
                pods.append((count, milli if count == 1 else 1000))
    return pods


def pod_problem(cluster: ClusterSpec, pods: list[tuple[int, int]]
                ) -> tuple[PlacementProblem, list[int]]:
    """The batch as a partial placement problem (one class per pod shape), and the class of
    every pod in trace order."""
    shapes = sorted(Counter(pods).items(), key=lambda kv: (-kv[0][0], -kv[0][1]))
    classes = tuple(InstanceClass(
        llm=f"pod-{count}x{milli:04d}m", gpu=GPU, tp=count, gpu_fraction=milli / 1000,
        compute_share=milli / 1000, memory_gib=milli / 1000, replicas=number)
        for (count, milli), number in shapes)
    index = {shape: i for i, (shape, _) in enumerate(shapes)}
    problem = PlacementProblem(cluster=cluster, classes=classes,
                               gpu_types=(GpuType(GPU, 1.0),), anti_affinity=False,
                               allow_partial=True, source="alibaba openb pods")
    return problem, [index[p] for p in pods]


def row(problem: PlacementProblem, placement: Placement, seconds: float) -> dict:
    verify(problem, placement)
    m = measure(problem, placement)
    return {"placed_share": m.placed_share, "pods_placed": m.instances_placed,
            "pods": m.instances_requested, "capacity_placed": m.capacity_placed,
            "capacity_requested": m.capacity_requested, "gpus_used": m.gpus_used,
            "nodes_used": m.nodes_used, "fragmented_gpus": m.fragmented_gpus,
            "fragmented_free_capacity": m.fragmented_free_capacity,
            "free_capacity_on_used_gpus": m.free_capacity_on_used_gpus, "seconds": seconds}


def run(name: str, preset: SolverPreset) -> dict:
    cluster = load_cluster()
    problem, order = pod_problem(cluster, load_pods(name))
    out = {"pods": name, "nodes": len(cluster.nodes), "gpus": cluster.num_gpus,
           "shapes": len(problem.classes), "methods": {}}
    started = time.perf_counter()
    ff = first_fit(problem, order).placement
    out["methods"]["first_fit"] = row(problem, ff, time.perf_counter() - started)
    started = time.perf_counter()
    bfd = best_fit_decreasing(problem).placement
    out["methods"]["best_fit_decreasing"] = row(problem, bfd, time.perf_counter() - started)
    started = time.perf_counter()
    result = place(problem, PlaceSettings(preset, hierarchical_threshold=0))
    out["methods"]["milp"] = row(problem, result.placement, time.perf_counter() - started)
    out["methods"]["milp"].update(method=result.method, status=result.status, gap=result.gap,
                                  note=result.note)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", nargs="+", default=["default", "gpushare40"])
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = read_preset(data_dir("solvers") / "default.opt")
    preset = SolverPreset(base.name, time_limit_s=args.time_limit, mip_rel_gap=base.mip_rel_gap,
                          threads=base.threads, random_seed=base.random_seed,
                          options=base.options)
    results = [run(name, preset) for name in args.pods]
    for r in results:
        print(f"\n{r['pods']}: {r['methods']['milp']['pods']} GPU pods "
              f"({r['methods']['milp']['capacity_requested']:.1f} GPUs requested, "
              f"{r['shapes']} shapes) on {r['nodes']} nodes / {r['gpus']} GPUs")
        print(f"  {'method':<20} {'placed':>8} {'pods':>6} {'GPUs':>6} {'fragmented':>10} "
              f"{'free on used':>12} {'seconds':>8}")
        for method, m in r["methods"].items():
            print(f"  {method:<20} {m['placed_share']:>8.2%} {m['pods_placed']:>6} "
                  f"{m['gpus_used']:>6} {m['fragmented_gpus']:>10} "
                  f"{m['free_capacity_on_used_gpus']:>12.2f} {m['seconds']:>8.1f}")
        milp = r["methods"]["milp"]
        gap = "-" if milp["gap"] is None else (
            "> 100%" if milp["gap"] > 1 else f"{milp['gap']:.2%}")
        print(f"  milp: {milp['method']} ({milp['status']}), gap {gap}; {milp['note']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
