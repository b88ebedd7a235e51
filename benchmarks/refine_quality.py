"""What ``search.refine=simulate`` changes and costs, on the plan-quality benchmark's cells.

For every cluster: the workflow's surrogate fitted (or reused from the cache) and ``R``, the
highest rate the search predicts achievable, as in ``plan_quality.py``; then for every
``--loads`` share ``x`` the plan for the target ``x R`` made twice, with ``search.refine=none``
and with ``search.refine=simulate`` (``--candidates`` kept). Recorded per plan: the search's
wall time and the refinement's (the added cost), every refined candidate's predicted and
simulated latency, and which one won. Both chosen allocations are then simulated at the target
by the harness's at-target protocol (``run_long`` with ``simulate.num_requests``) on the seeds
``--seeds``: seeds other than the simulate settings' own (0, the one the refinement chose on)
are fresh samples, so a gain that only fits the sample the refinement saw does not count.
Allocations are placed as the refinement places them (first fit decreasing, else the place
stage's placers).

    python benchmarks/refine_quality.py --workflow beam_search --loads 0.5 0.9 \\
        --json refine.json --markdown refine.md
    python benchmarks/refine_quality.py --workflow beam_search --loads 1.0 1.1 --cap 1.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

from scepsy_opt.config import compose_settings
from scepsy_opt.core.artifacts import atomic_write_text, to_jsonable
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.problem import AllocationError, problem_from_stats
from scepsy_opt.core.space import search_space
from scepsy_opt.evaluate import baselines
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.search.heuristic import max_achievable_rate
from scepsy_opt.search.stage import describe, plan_allocation, refinement_to_json
from scepsy_opt.sim.runner import unloaded_latency_s
from scepsy_opt.surrogate.stage import FitSettings, fit_surrogate
from scepsy_opt.workflow.stage import analyze_workflow

CLUSTERS = ("hgx_h100_4gpu", "dgx_h100", "dgx_h100_x2")
log = logging.getLogger("refine_quality")


def run_cluster(workflow: str, cluster: str, loads: list[float], candidates: int,
                seeds: list[int], fits: Path, cap: float | None = None) -> dict:
    catalog = load_catalog()
    _, settings = compose_settings(workflow, f"cluster={cluster}", catalog=catalog)
    analysis, tables = analyze_workflow(settings.workflow, settings.analyze,
        catalog)
    problem = problem_from_stats(analysis.combined, settings.target.rate_rps, settings.cluster,
                                 settings.profile.memory, settings.target.utilization_cap)
    surrogate, _, _ = fit_surrogate(settings.workflow, analysis, tables, problem, catalog,
                                    simulate=settings.simulate,
                                    settings=FitSettings(cache_dir=fits, workers=1))
    highest, _ = max_achievable_rate(search_space(problem, catalog, surrogate))
    unloaded = unloaded_latency_s(analysis.combined.e2e_latency_s.mean)
    record: dict = {"workflow": workflow, "cluster": cluster, "gpus": problem.gpus,
                    "highest_predicted_rps": highest, "loads": []}
    for load in loads:
        at = dataclasses.replace(problem, rate_rps=load * highest,
                                 utilization_cap=cap or problem.utilization_cap)
        starts = baselines.starts(at, catalog)
        entry: dict = {"load": load, "target_rps": at.rate_rps,
                       "utilization_cap": at.utilization_cap}
        try:
            began = time.perf_counter()
            plain = plan_allocation(at, catalog, surrogate, starts=starts)
            plain_s = time.perf_counter() - began
            simulator = SimulatedEvaluator(settings.workflow, at, catalog, settings.simulate,
                                           unloaded)
            began = time.perf_counter()
            refined = plan_allocation(at, catalog, surrogate, starts=starts, refine=simulator,
                                      refine_candidates=candidates)
            refined_s = time.perf_counter() - began
        except AllocationError as error:
            entry["error"] = str(error)
            record["loads"].append(entry)
            continue
        assert refined.refinement is not None
        entry.update(
            none={"allocation": describe(plain.allocation), "wall_s": plain_s,
                  "predicted_latency_s": plain.result.latency_s},
            simulate={"allocation": describe(refined.allocation), "wall_s": refined_s,
                      "refine_s": refined.refinement.elapsed_s,
                      "predicted_latency_s": refined.result.latency_s},
            refine=refinement_to_json(refined.refinement),
            same=plain.allocation.llms == refined.allocation.llms)
        # both choices at the target, the harness's at-target protocol, on every seed
        for name, plan in (("none", plain), ("simulate", refined)):
            runs = []
            for seed in seeds:
                if name == "simulate" and entry["same"]:
                    runs = entry["none"]["runs"]
                    break
                simulate = dataclasses.replace(settings.simulate, seed=seed)
                # placed as the refinement placed it (first fit decreasing, else the place
                # stage's placers)
                runner = SimulatedEvaluator(settings.workflow, at, catalog, simulate,
                                            unloaded).runner(plan.allocation)
                assert runner is not None
                metrics = runner.run_long(at.rate_rps, simulate.num_requests)
                runs.append({"seed": seed, "latency_s": metrics.e2e_latency_s.mean,
                             "p99_latency_s": metrics.e2e_latency_s.p99,
                             "sustains": runner.sustains(metrics)})
            entry[name]["runs"] = runs
        record["loads"].append(entry)
        log.info("%s %s load %.2f: none %s, simulate %s (candidate %d), refine %.1f s",
                 workflow, cluster, load, entry["none"]["allocation"],
                 entry["simulate"]["allocation"], entry["refine"]["chosen"],
                 entry["simulate"]["refine_s"])
    return record


def fresh_mean(runs: list[dict], own_seed: int) -> float:
    values = [r["latency_s"] for r in runs if r["seed"] != own_seed]
    return float(np.mean(values)) if values else math.nan


def markdown(records: list[dict], own_seed: int) -> str:
    lines = ["| cluster | target rps (load) | refine=none | refine=simulate (candidate) | "
             "candidates: predicted / simulated latency s (sustains) | latency s none -> "
             "simulate, own seed | fresh seeds (mean) | change | search s / refine s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for record in records:
        for entry in record["loads"]:
            if "error" in entry:
                lines.append(f"| {record['cluster']} | ({entry['load']}) | "
                             f"{entry['error'][:80]} |" + " |" * 6)
                continue
            none, simulate, refine = entry["none"], entry["simulate"], entry["refine"]
            own = {n: next((r["latency_s"] for r in entry[n]["runs"] if r["seed"] == own_seed),
                           math.nan) for n in ("none", "simulate")}
            fresh = {n: fresh_mean(entry[n]["runs"], own_seed) for n in ("none", "simulate")}
            cands = "; ".join(
                f"{c['predicted']['latency_s']:.3g} / "
                + (f"{c['refined']['latency_s']:.3g}" if c["refined"]["latency_s"] is not None
                   else "-") + ("" if c["refined"]["sustains"] else "*")
                for c in refine["candidates"])
            lines.append(
                f"| {record['cluster']} | {entry['target_rps']:.3g} ({entry['load']}) | "
                f"{none['allocation']} | "
                + ("same" if entry["same"] else simulate["allocation"])
                + f" ({refine['chosen']}) | {cands} | {own['none']:.4g} -> "
                f"{own['simulate']:.4g} | {fresh['none']:.4g} -> {fresh['simulate']:.4g} | "
                f"{(fresh['simulate'] / fresh['none'] - 1) * 100:+.1f}% | "
                f"{none['wall_s']:.1f} / {simulate['refine_s']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflow", default="beam_search")
    parser.add_argument("--clusters", nargs="+", default=list(CLUSTERS))
    parser.add_argument("--loads", nargs="+", type=float, default=[0.5, 0.9])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cap", type=float, help="plan with this utilisation cap (R is "
                        "computed with the default cap), e.g. 1.0 at or past R")
    parser.add_argument("--cache", type=Path, default=Path(".cache/accuracy"),
                        help="fits are read from (and written to) <cache>/fits")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    records = [run_cluster(args.workflow, cluster, args.loads, args.candidates, args.seeds,
                           args.cache / "fits", args.cap) for cluster in args.clusters]
    _, settings = compose_settings(args.workflow, catalog=load_catalog())
    text = markdown(records, settings.simulate.seed)
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    if args.json:
        atomic_write_text(args.json, json.dumps(to_jsonable(records), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
