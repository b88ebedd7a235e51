"""The place stage on 512 GPUs (h100_x64) over several seeds: instances, time, status, gap.

    python benchmarks/placement_scale.py --problem plan_like --seeds 5
    python benchmarks/placement_scale.py --problem mixed --seeds 4

``plan_like``: :func:`scepsy_opt.testing.placement.plan_like_problem` (about 220 instances,
quarter fractions). ``mixed``: :func:`scepsy_opt.testing.placement.mixed_problem` at 75% load
(fractions with eighths, random TP degrees). Default preset (``solvers/default.opt``).
"""

from __future__ import annotations

import argparse
import logging
import time

from scepsy_opt.core.catalog import expand_cluster, load_catalog, load_yaml
from scepsy_opt.core.presets import read_preset
from scepsy_opt.core.resources import data_dir
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.testing.placement import mixed_problem, plan_like_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", choices=("plan_like", "mixed"), default="plan_like")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    cluster = expand_cluster(load_yaml(data_dir("conf") / "cluster" / "h100_x64.yaml"),
                             load_catalog(), source="h100_x64")
    settings = PlaceSettings(read_preset(data_dir("solvers") / "default.opt"))
    print("seed instances gpus_requested seconds method status gap fragmented excess "
          "gpus_used incumbent_fragmented")
    for seed in range(args.seeds):
        problem = (plan_like_problem(seed, cluster) if args.problem == "plan_like"
                   else mixed_problem(seed, cluster, load=0.75, instances=260))
        started = time.perf_counter()
        result = place(problem, settings)
        gap = "-" if result.gap is None else f"{result.gap:.4%}"
        m = result.metrics
        print(seed, problem.num_instances, f"{problem.requested_capacity:g}",
              f"{time.perf_counter() - started:.1f}", result.method, result.status, gap,
              m.fragmented_gpus, m.anti_affinity_excess, m.gpus_used,
              result.heuristic.fragmented_gpus if result.heuristic else "-")


if __name__ == "__main__":
    main()
