"""The placement MILP against brute force on random tiny problems (up to 4 nodes x 4 GPUs, up
to 8 instances): how often the objectives agree.

    python benchmarks/placement_brute_force.py [--seeds 100]

Problems come from :func:`scepsy_opt.testing.placement.tiny_problem` in three modes: MPS
fractions, partial placement (more than fits), and MIG profiles. The MILP runs with a zero gap.
"""

from __future__ import annotations

import argparse
import time

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.presets import SolverPreset
from scepsy_opt.placement.stage import PlaceSettings, place
from scepsy_opt.testing.placement import brute_force, tiny_problem

MODES = {"mps": {}, "partial": {"allow_partial": True}, "mig": {"mig": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    args = parser.parse_args()
    settings = PlaceSettings(SolverPreset("exact", time_limit_s=60, mip_rel_gap=0.0))
    for mode, options in MODES.items():
        agree = infeasible = 0
        bf_s = milp_s = 0.0
        for seed in range(args.seeds):
            problem = tiny_problem(seed, max_instances=8, **options)
            started = time.perf_counter()
            _, best, _ = brute_force(problem)
            bf_s += time.perf_counter() - started
            started = time.perf_counter()
            try:
                value = place(problem, settings).metrics.objective
            except PlacementError:
                value = None
            milp_s += time.perf_counter() - started
            infeasible += best is None
            agree += (best is None and value is None) or (
                best is not None and value is not None and abs(best - value) < 1e-6)
        print(f"{mode}: {agree}/{args.seeds} agree ({infeasible} of the problems have no "
              f"placement); brute force {bf_s:.1f} s, MILP {milp_s:.1f} s in total")


if __name__ == "__main__":
    main()
