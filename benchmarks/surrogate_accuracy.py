"""Surrogate accuracy against the simulator (the fit stage's acceptance table).

For every workflow and cluster: the surrogate fitted (or reused from the cache) on the cluster's
GPU type, then ``--allocations`` random feasible allocations, each simulated for its max
sustainable rate and its mean latency at 16% .. 80% of that rate, against the surrogate's
predictions. Simulated cases are cached (they do not depend on the surrogate), so re-scoring a
changed surrogate costs only the fit.

    python benchmarks/surrogate_accuracy.py --clusters hgx_h100_4gpu dgx_h100 dgx_h100_x2 \
        --allocations 20 --cache .cache/accuracy --markdown accuracy.md

``--mix members`` scores a mix's surrogate calibrated member by member
(``fit.calibration.mix=members``) on the same cases.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from scepsy_opt.config import compose_settings
from scepsy_opt.core.artifacts import atomic_write_text, to_jsonable
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.parallel import default_workers, map_processes
from scepsy_opt.core.problem import problem_from_stats
from scepsy_opt.sim.runner import unloaded_latency_s
from scepsy_opt.surrogate.calib import MIX_MODES, CalibrationSettings, random_allocation
from scepsy_opt.surrogate.stage import FitSettings, fit_surrogate
from scepsy_opt.surrogate.validate import SimulatedCase, compare, errors, simulate_case
from scepsy_opt.workflow.stage import analyze_workflow

WORKFLOWS = ("rag_reranker", "beam_search", "rag_beam", "map_reduce_summarization",
             "multi_agent_coding", "react_tool_agent", "map_reduce_wide", "long_chain")
log = logging.getLogger("accuracy")


def _simulate(task: tuple) -> dict:
    return simulate_case(*task).to_json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", nargs="+", default=list(WORKFLOWS))
    parser.add_argument("--clusters", nargs="+",
                        default=["hgx_h100_4gpu", "dgx_h100", "dgx_h100_x2"])
    parser.add_argument("--allocations", type=int, default=20)
    parser.add_argument("--cache", type=Path, default=Path(".cache/accuracy"))
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--verbose", action="store_true", help="print every case's rows")
    parser.add_argument("--mix", choices=sorted(MIX_MODES), default="joint",
                        help="how a mix of members sharing no llm is calibrated")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    catalog = load_catalog()
    table = []
    all_rows = []
    for workflow in args.workflows:
        for cluster in args.clusters:
            _, settings = compose_settings(workflow, f"cluster={cluster}", catalog=catalog)
            analysis, tables = analyze_workflow(settings.workflow, settings.analyze, catalog)
            problem = problem_from_stats(analysis.combined, settings.target.rate_rps,
                                         settings.cluster, settings.profile.memory,
                                         settings.target.utilization_cap)
            started = time.perf_counter()
            surrogate, _, fitted = fit_surrogate(
                settings.workflow, analysis, tables, problem, catalog,
                simulate=settings.simulate,
                settings=FitSettings(cache_dir=args.cache / "fits", workers=args.workers,
                                     calibration=CalibrationSettings(mix=args.mix)))
            fit_s = time.perf_counter() - started
            unloaded = unloaded_latency_s(analysis.combined.e2e_latency_s.mean)
            rng = np.random.default_rng(
                int(hashlib.sha256(f"{workflow}/{cluster}".encode()).hexdigest()[:8], 16))
            # draw until --allocations distinct ones are found (on a small cluster the
            # sampler repeats itself or comes back empty-handed)
            allocations: list = []
            for _ in range(10 * args.allocations):
                if len(allocations) == args.allocations:
                    break
                drawn = random_allocation(problem, catalog, rng)
                if drawn is not None and drawn not in allocations:
                    allocations.append(drawn)
            cases: list[SimulatedCase | None] = []
            todo = []
            for allocation in allocations:
                identity = [workflow, cluster, to_jsonable(allocation),
                            to_jsonable(settings.simulate)]
                if settings.workflow.is_mix:
                    # protocol 2: a mix is sustained only when every member keeps up; 3: a
                    # member's warm-up requests count in its completed throughput, as the whole
                    # run's do; 4: runs span the slowest member's latencies, not the mix's mean
                    identity.append({"protocol": 4})
                key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()
                                     ).hexdigest()[:20]
                path = args.cache / "cases" / f"{key}.json"
                if path.is_file():
                    cases.append(SimulatedCase.from_json(json.loads(path.read_text())))
                else:
                    cases.append(None)
                    todo.append((len(cases) - 1, path, allocation))
            tasks = [(settings.workflow, problem, catalog, allocation, settings.simulate,
                      unloaded) for _, _, allocation in todo]
            for (index, path, _), record in zip(todo, map_processes(_simulate, tasks,
                                                                   args.workers), strict=True):
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_text(path, json.dumps(record) + "\n")
                cases[index] = SimulatedCase.from_json(record)
            rows = [row for case in cases if case is not None for row in compare(surrogate, case)]
            if args.verbose:
                for row in rows:
                    print(f"{row.allocation} | max sim {row.simulated_max_rps:.4g} pred "
                          f"{row.predicted_max_rps:.4g} | load {row.load:.2f} latency sim "
                          f"{row.simulated_latency_s:.4g} pred {row.predicted_latency_s:.4g} "
                          f"({row.predicted_latency_s / row.simulated_latency_s - 1:+.1%})")
            all_rows.extend(rows)
            result = errors(rows)
            result.update(workflow=workflow, cluster=cluster, fit_s=fit_s,
                          fit_errors=fitted.errors)
            table.append(result)
            log.info("%s on %s: latency MAPE %.1f%%, throughput MAPE %.1f%% (%d cases)",
                     workflow, cluster, result["latency_mape_pct"],
                     result["throughput_mape_pct"], result["cases"])
    overall = errors(all_rows)
    lines = ["| workflow | cluster | allocations | points | latency MAPE | max-throughput MAPE |",
             "|---|---|---:|---:|---:|---:|"]
    for r in table:
        lines.append(f"| {r['workflow']} | {r['cluster']} | {r['cases']} | {r['points']} | "
                     f"{r['latency_mape_pct']:.1f}% | {r['throughput_mape_pct']:.1f}% |")
    lines.append(f"| **all** | | {overall['cases']} | {overall['points']} | "
                 f"**{overall['latency_mape_pct']:.1f}%** | "
                 f"**{overall['throughput_mape_pct']:.1f}%** |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    if args.json:
        atomic_write_text(args.json, json.dumps({"cells": table, "overall": overall},
                                                indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
