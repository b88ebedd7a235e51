"""Search quality: the gradient-guided heuristic against the exact oracle on random small
instances (2-4 llms, 4-8 GPUs, synthetic surrogates with known parameters, targets between 10%
and 90% of the highest achievable rate). Both are compared on the budget alone (packing off),
where the oracle is exact.

    python benchmarks/search_quality.py --instances 200 --json search_quality.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from scepsy_opt.core.artifacts import atomic_write_text
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.problem import AllocationError, problem_from_stats
from scepsy_opt.core.space import search_space
from scepsy_opt.search.exact import exact
from scepsy_opt.search.heuristic import max_achievable_rate, search
from scepsy_opt.surrogate.calib import synthetic_cluster
from scepsy_opt.testing import synthetic_surrogate

POOL = ("llama-3.2-3b-instruct", "qwen2.5-7b-instruct", "llama-3.1-8b-instruct",
        "mistral-7b-instruct-v0.3", "qwen2.5-14b-instruct")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    catalog = load_catalog()
    rng = np.random.default_rng(args.seed)
    rows = []
    for trial in range(args.instances):
        llms = tuple(rng.choice(POOL, int(rng.integers(2, 5)), replace=False))
        surrogate, stats = synthetic_surrogate(rng, llms)
        cluster = synthetic_cluster(catalog, "H100-SXM-80GB", int(rng.integers(4, 9)))
        problem = problem_from_stats(stats, 1.0, cluster, MemorySettings(), 0.8)
        top, _ = max_achievable_rate(search_space(problem, catalog, surrogate))
        problem = dataclasses.replace(problem, rate_rps=top * rng.uniform(0.1, 0.9))
        space = search_space(problem, catalog, surrogate)
        started = time.perf_counter()
        oracle = exact(space, packing=False)
        oracle_s = time.perf_counter() - started
        try:
            found = search(space, packing=False)
            gap, heuristic_s = found.latency_s / oracle.latency_s - 1, found.elapsed_s
        except AllocationError:
            gap, heuristic_s = float("inf"), float("nan")
        rows.append({"instance": trial, "llms": len(llms), "gpus": problem.gpus,
                     "separable": surrogate.separable(), "gap": gap,
                     "heuristic_s": heuristic_s, "oracle_s": oracle_s})
        print(f"{trial:3d} llms {len(llms)} gpus {problem.gpus} "
              f"{'separable' if rows[-1]['separable'] else 'paths'} gap {gap:+.3%} "
              f"heuristic {heuristic_s:.2f} s oracle {oracle_s:.2f} s", flush=True)
    gaps = np.array([r["gap"] for r in rows])
    summary = {"instances": len(rows), "within_2pct": float(np.mean(gaps <= 0.02)),
               "exact_match": float(np.mean(gaps <= 1e-9)), "max_gap": float(gaps.max()),
               "infeasible": int(np.sum(~np.isfinite(gaps))),
               "median_heuristic_s": float(np.nanmedian([r["heuristic_s"] for r in rows]))}
    print(json.dumps(summary, indent=1))
    if args.json:
        atomic_write_text(args.json, json.dumps({"summary": summary, "rows": rows}, indent=1)
                          + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
