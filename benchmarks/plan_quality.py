"""Plan quality in the simulator: the planned allocation against every baseline, at equal GPUs.

For every workflow and cluster: the surrogate fitted (or reused from the cache), the highest
rate the search predicts achievable (``R``, the workflow and every llm at the utilisation
cap), then

- ``planned``: the search's allocation for the target rate ``--load x R``, simulated at that
  target (mean latency) and pushed to its max sustainable rate;
- ``planned_max``: the search's allocation for target ``R`` itself (what a user asking for the
  most throughput gets), pushed to its max sustainable rate;
- the baselines (independent, user_specified, pooled_tp1 and, on small instances, exact),
  produced for the same target and simulated the same way.

Ratios: throughput = the highest rate the planner sustains when asked for it / the baseline's
max sustainable rate (the planner's: the better of ``planned``'s and ``planned_max``'s max
sustainable rates, or a baseline's max sustainable rate where the plan made for that rate
sustained it there; the ratio of the two bisections alone is kept as ``throughput_bisected``);
latency = the
baseline's mean latency at the target / the plan's (a baseline that does not sustain the target
is marked, its ratio is a lower bound); the same latency ratio at a common rate every baseline
sustains (70% of the lowest baseline max sustainable rate) and at each baseline's own max
sustainable rate, the highest rate both sustain (the baseline's latency there is the one its
bisection measured; the plan for that rate is simulated there with the same protocol; where
that rate is past what the default utilisation cap admits, the plan is made with the cap at
1.0, as the error's fix says). Cells are cached, so a rerun only simulates what changed.

    python benchmarks/plan_quality.py --load 0.5 --markdown plan_quality.md --json plan.json
    python benchmarks/plan_quality.py --workflows beam_search --refine simulate  # re-ranked
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import inspect
import json
import logging
import math
import sys
from pathlib import Path

from scepsy_opt.config import compose_settings
from scepsy_opt.core.artifacts import atomic_write_text, to_jsonable
from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.code import imported_files
from scepsy_opt.core.packing import first_fit_decreasing
from scepsy_opt.core.parallel import default_workers, map_processes
from scepsy_opt.core.problem import AllocationError, problem_from_stats
from scepsy_opt.core.space import search_space
from scepsy_opt.core.types import Allocation
from scepsy_opt.evaluate import baselines
from scepsy_opt.evaluate.harness import EvaluationResult, evaluate
from scepsy_opt.evaluate.simulated import SimulatedEvaluator
from scepsy_opt.search.heuristic import max_achievable_rate
from scepsy_opt.search.stage import describe, plan_allocation, refinement_to_json
from scepsy_opt.sim.runner import PlanRunner, unloaded_latency_s
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate.stage import FitSettings, fit_surrogate
from scepsy_opt.workflow.stage import analyze_workflow

WORKFLOWS = ("rag_reranker", "beam_search", "rag_beam", "map_reduce_summarization",
             "multi_agent_coding", "react_tool_agent")
CLUSTERS = ("hgx_h100_4gpu", "dgx_h100", "dgx_h100_x2")
BASELINES = ("independent", "user_specified", "pooled_tp1", "exact")
COMMON_SHARE = 0.7  # the common rate: this share of the lowest baseline max sustainable rate
RAISED_CAP = 1.0  # the plan's cap at a baseline's max sustainable rate the default cap refuses
log = logging.getLogger("plan_quality")


def run_cell(task: tuple[str, str, float, Path, str]) -> dict:
    """Plan and simulate one workflow on one cluster (a module-level function: it runs in a
    worker process). ``refine``: the search's ``search.refine`` (``simulate``: every plan's
    best candidates re-ranked by the simulator)."""
    workflow, cluster, load, fits, refine = task
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jax").setLevel(logging.WARNING)
    catalog = load_catalog()
    _, settings = compose_settings(workflow, f"cluster={cluster}", catalog=catalog)
    analysis, tables = analyze_workflow(settings.workflow, settings.analyze,
        catalog)
    problem = problem_from_stats(analysis.combined, settings.target.rate_rps, settings.cluster,
                                 settings.profile.memory, settings.target.utilization_cap)
    record: dict = {"workflow": workflow, "cluster": cluster, "gpus": problem.gpus}
    try:
        surrogate, _, _ = fit_surrogate(settings.workflow, analysis, tables, problem, catalog,
                                        simulate=settings.simulate,
                                        settings=FitSettings(cache_dir=fits, workers=1))
    except AllocationError as error:
        record["error"] = str(error)
        return record
    highest, _ = max_achievable_rate(search_space(problem, catalog, surrogate))
    target = load * highest
    record.update(highest_predicted_rps=highest, target_rps=target)
    unloaded = unloaded_latency_s(analysis.combined.e2e_latency_s.mean)
    simulate = dataclasses.replace(settings.simulate, baselines=BASELINES)

    def plan_at(rate: float, name: str, cap: float | None = None) -> Allocation | None:
        try:
            at = dataclasses.replace(problem, rate_rps=rate,
                                     utilization_cap=cap or problem.utilization_cap)
            refiner = SimulatedEvaluator(settings.workflow, at, catalog, simulate,
                                         unloaded) if refine == "simulate" else None
            plan = plan_allocation(at, catalog, surrogate,
                                   starts=baselines.starts(at, catalog), refine=refiner)
        except AllocationError as error:
            record.setdefault("plan_errors", {})[name] = str(error)
            return None
        record.setdefault("predicted", {})[name] = {
            "rate_rps": rate, "latency_s": plan.result.latency_s,
            "throughput_rps": plan.result.throughput_rps,
            "allocation": describe(plan.allocation)}
        if plan.refinement is not None:
            record["predicted"][name]["refine"] = refinement_to_json(plan.refinement)
        return plan.allocation

    plans = {"planned": plan_at(target, "planned")}
    for share in (1.0, 0.98, 0.95, 0.9, 0.85, 0.8):  # the budget bound ignores packing
        plans["planned_max"] = plan_at(share * highest, "planned_max")
        if plans["planned_max"] is not None:
            record.get("plan_errors", {}).pop("planned_max", None)
            break
    record["plans"] = summarise(evaluate(
        settings.workflow, dataclasses.replace(problem, rate_rps=target), catalog, simulate,
        unloaded, plans={k: v for k, v in plans.items() if v is not None}), simulate)
    # latency at a rate every baseline sustains: 70% of the lowest baseline max rate
    rates = [p["max_sustainable_rps"] for name, p in record["plans"].items()
             if name in BASELINES and p.get("max_sustainable_rps", 0) > 0]
    if rates:
        common = COMMON_SHARE * min(rates)
        record["common_rps"] = common
        planned = plan_at(common, "planned_common")
        record["plans_common"] = summarise(evaluate(
            settings.workflow, dataclasses.replace(problem, rate_rps=common), catalog,
            simulate, unloaded, plans={"planned": planned} if planned else None), simulate)
    # latency at the highest rate both sustain: each baseline's own max sustainable rate,
    # where its latency is the one its bisection measured; the plan for that rate is
    # simulated there with the same protocol
    record["ideal"] = ideal_latency(settings, problem, catalog, surrogate, unloaded)
    record["at_baseline_max"] = {}
    for name in BASELINES:
        base = record["plans"].get(name, {})
        rate = base.get("max_sustainable_rps", 0.0)
        if not rate or "latency_at_max_s" not in base:
            continue
        cap = problem.utilization_cap
        allocation = plan_at(rate, f"planned_at_{name}_max")
        if allocation is None:  # past the cap: raised, as the error's fix says
            cap = RAISED_CAP
            allocation = plan_at(rate, f"planned_at_{name}_max_raised_cap", cap)
        if allocation is None:
            continue
        run = PlanRunner(settings.workflow, allocation,
                         first_fit_decreasing(allocation, problem.cluster), catalog,
                         problem.memory, simulate, {}, unloaded)
        metrics = run.run_long(rate, simulate.sustain.num_requests)
        record["at_baseline_max"][name] = {
            "rate_rps": rate, "baseline_latency_s": base["latency_at_max_s"],
            "planned_latency_s": metrics.e2e_latency_s.mean,
            "planned_sustains": run.sustains(metrics),
            "utilization_cap": cap, "allocation": describe(allocation)}
    return record


IDEAL_REQUESTS = 200  # requests of the ideal run (one at a time: its mean settles quickly)


def ideal_latency(settings, problem, catalog, surrogate, unloaded: float) -> dict:
    """A floor under the latency of any plan at any rate: every llm on its fastest
    configuration (the lowest unloaded call latency of any TP degree and fraction that holds
    it, by the fitted instance model) with as many replicas as its calls of one request can
    run at once (twice its mean parallelism, rounded up), on a cluster as large as that
    needs, simulated at a rate where requests almost never overlap. No allocation on the
    benchmark's clusters is faster, so ``baseline latency at its max sustainable rate /
    ideal`` bounds the latency ratio any plan can reach at a rate both sustain."""
    from scepsy_opt.core.types import LlmAllocation
    from scepsy_opt.surrogate import model
    from scepsy_opt.surrogate.calib import synthetic_cluster

    space = search_space(problem, catalog, surrogate)
    entries = []
    for i, llm in enumerate(surrogate.llms):
        inst = {k: v[i] for k, v in surrogate.instance.items()}
        tp, k = min(space.configs[i], key=lambda c: float(model.unloaded(
            inst, float(c[0]), c[1] / model.FRACTION_GRID)))
        replicas = max(1, math.ceil(2 * float(surrogate.parallelism[i])))
        entries.append(LlmAllocation(llm, problem.gpu, tp, replicas, k / model.FRACTION_GRID))
    allocation = Allocation("ideal", tuple(entries))
    cluster = synthetic_cluster(catalog, problem.gpu, 8 * math.ceil(allocation.gpus / 8))
    run = PlanRunner(settings.workflow, allocation, first_fit_decreasing(allocation, cluster),
                     catalog, problem.memory, settings.simulate, {}, unloaded)
    rate = 0.02 / unloaded
    metrics = run.run(rate, IDEAL_REQUESTS)
    return {"latency_s": metrics.e2e_latency_s.mean, "rate_rps": rate,
            "allocation": describe(allocation)}


def summarise(result: EvaluationResult, simulate: SimulateSettings) -> dict:
    plans = {}
    rule = simulate.sustain
    for plan in result.plans:
        entry: dict = {"error": plan.error} if plan.error else {}
        if plan.allocation is not None:
            entry.update(allocation=describe(plan.allocation), gpus=plan.allocation.gpus,
                         max_sustainable_rps=plan.max_sustainable_rate_rps)
            top = [p for p in plan.probes
                   if p.sustained and p.rate_rps == plan.max_sustainable_rate_rps]
            if top:  # the bisection's run at the max sustainable rate
                entry["latency_at_max_s"] = top[-1].mean_latency_s
        if plan.at_target is not None:
            metrics = plan.at_target
            entry.update(latency_s=metrics.e2e_latency_s.mean,
                         p99_latency_s=metrics.e2e_latency_s.p99,
                         sustains_target=bool(
                             metrics.throughput_ratio >= rule.throughput_ratio
                             and metrics.latency_growth <= rule.latency_growth
                             and metrics.completed_fraction >= rule.completed_fraction))
        plans[plan.name] = entry
    return plans


def ratios(record: dict) -> dict[str, dict]:
    """Per baseline: ``throughput``, the better plan's max sustainable rate over the
    baseline's; ``latency``, the baseline's mean latency at the target over the plan's;
    ``latency_common``, the same at the common rate every baseline sustains; ``latency_max``,
    the same at the baseline's own max sustainable rate (the highest rate both sustain when
    the plan for it sustains it too, ``planned_sustains_max``)."""
    plans, common = record.get("plans", {}), record.get("plans_common", {})
    planned = plans.get("planned", {})
    bisected = max((plans.get(n, {}).get("max_sustainable_rps", 0.0)
                    for n in ("planned", "planned_max")), default=0.0)
    # the highest rate the planner sustains when asked for it: its plans' own bisections, or
    # a baseline's max sustainable rate where the plan for that rate sustained it (the same
    # protocol's run at that rate; two separate bisections of allocations this close differ
    # by their noise, about 5% on beam_search)
    best_max = max([bisected] + [knee["rate_rps"] for knee in record.get(
        "at_baseline_max", {}).values() if knee["planned_sustains"]])
    out = {}
    for name in BASELINES:
        base = plans.get(name)
        if not base or "latency_s" not in base or "latency_s" not in planned:
            out[name] = {"note": (base or {}).get("error", "not run")}
            continue
        entry = {
            "throughput": best_max / base["max_sustainable_rps"]
            if base["max_sustainable_rps"] > 0 else math.inf,
            "throughput_bisected": bisected / base["max_sustainable_rps"]
            if base["max_sustainable_rps"] > 0 else math.inf,
            "latency": base["latency_s"] / planned["latency_s"],
            "baseline_sustains": base["sustains_target"],
        }
        there, mine = common.get(name, {}), common.get("planned", {})
        if "latency_s" in there and "latency_s" in mine:
            entry["latency_common"] = there["latency_s"] / mine["latency_s"]
            entry["baseline_sustains_common"] = there["sustains_target"]
        ideal = record.get("ideal", {}).get("latency_s")
        if ideal and base.get("latency_at_max_s"):
            entry["latency_bound"] = base["latency_at_max_s"] / ideal
        knee = record.get("at_baseline_max", {}).get(name)
        if knee:
            entry["latency_max"] = knee["baseline_latency_s"] / knee["planned_latency_s"]
            entry["planned_sustains_max"] = knee["planned_sustains"]
            entry["raised_cap_max"] = knee.get("utilization_cap") == RAISED_CAP
        out[name] = entry
    return out


def markdown(records: list[dict]) -> str:
    """The ratio table: per baseline ``throughput x / latency x at the target / latency x at
    the common rate / latency x at the baseline's max sustainable rate`` (``*``: the baseline
    does not sustain that rate; ``!``: the plan does not sustain the baseline's max; ``^``: the
    default utilisation cap refuses the baseline's max, the plan is made with the cap at
    ``RAISED_CAP``)."""
    lines = ["| workflow | cluster | target / common rps | planned latency s (target / common) "
             "| max rps planned / planned_max | " + " | ".join(BASELINES) + " |",
             "|---|---|---|---|---|" + "---|" * len(BASELINES)]
    for record in records:
        plans = record.get("plans", {})
        if "error" in record or not plans:
            lines.append(f"| {record['workflow']} | {record['cluster']} | - | "
                         f"{record.get('error', 'no plan')[:90]} |" + " |" * (len(BASELINES) + 1))
            continue
        planned, top = plans.get("planned", {}), plans.get("planned_max", {})
        mine = record.get("plans_common", {}).get("planned", {})
        cells = []
        for r in ratios(record).values():
            if "latency" not in r:
                cells.append("n/a: " + _short(r["note"]))
                continue
            star = "" if r["baseline_sustains"] else "*"
            text = f"{r['throughput']:.2f} / {r['latency']:.2f}{star}"
            if "latency_common" in r:
                star = "" if r["baseline_sustains_common"] else "*"
                text += f" / {r['latency_common']:.2f}{star}"
            if "latency_max" in r:
                mark = ("^" if r["raised_cap_max"] else "") + (
                    "" if r["planned_sustains_max"] else "!")
                text += f" / {r['latency_max']:.2f}{mark}"
            cells.append(text)
        lines.append(
            f"| {record['workflow']} | {record['cluster']} | {record['target_rps']:.3g} / "
            f"{record.get('common_rps', math.nan):.3g} | "
            f"{planned.get('latency_s', math.nan):.3g} / {mine.get('latency_s', math.nan):.3g} | "
            f"{planned.get('max_sustainable_rps', math.nan):.3g} / "
            f"{top.get('max_sustainable_rps', math.nan):.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def bound_markdown(records: list[dict]) -> str:
    """Per cell, the latency ratio reached at each baseline's max sustainable rate next to
    the most any plan could reach there (the baseline's latency over the ideal latency,
    :func:`ideal_latency`)."""
    lines = ["| workflow | cluster | ideal latency s | "
             + " | ".join(f"{b}: reached / bound" for b in BASELINES[:3]) + " |",
             "|---|---|---:|" + "---:|" * 3]
    for record in records:
        if "ideal" not in record:
            continue
        cells, cell_ratios = [], ratios(record)
        for name in BASELINES[:3]:
            r = cell_ratios.get(name, {})
            cells.append(f"{r['latency_max']:.2f} / {r['latency_bound']:.2f}"
                         if "latency_max" in r and "latency_bound" in r else "n/a")
        lines.append(f"| {record['workflow']} | {record['cluster']} | "
                     f"{record['ideal']['latency_s']:.3g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _short(error: str) -> str:
    """The gist of a baseline's error (its problem, without source and fix)."""
    text = error.split(": ", 1)[-1].split(" (got")[0].split(". Fix")[0]
    return text[:70]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", nargs="+", default=list(WORKFLOWS))
    parser.add_argument("--clusters", nargs="+", default=list(CLUSTERS))
    parser.add_argument("--load", type=float, default=0.5,
                        help="target rate as a share of the highest predicted achievable rate")
    parser.add_argument("--cache", type=Path, default=Path(".cache/accuracy"),
                        help="fits are read from <cache>/fits, cells kept in <cache>/plans")
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--refine", choices=("none", "simulate"), default="none",
                        help="the search's search.refine for every plan")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    cells = [(w, c) for w in args.workflows for c in args.clusters]
    records: dict[tuple[str, str], dict] = {}
    todo = []
    for workflow, cluster in cells:
        basis = [workflow, cluster, args.load, _source_key()] + (
            [args.refine] if args.refine != "none" else [])
        key = hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:20]
        path = args.cache / "plans" / f"{workflow}__{cluster}__{key}.json"
        if path.is_file():
            records[(workflow, cluster)] = json.loads(path.read_text())
        else:
            todo.append(((workflow, cluster, args.load, args.cache / "fits", args.refine),
                         path))
    for (task, path), record in zip(todo, map_processes(run_cell, [t for t, _ in todo],
                                                        args.workers), strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(to_jsonable(record), indent=1) + "\n")
        records[(task[0], task[1])] = record
    ordered = [records[cell] for cell in cells]
    text = markdown(ordered) + "\n" + bound_markdown(ordered)
    print(text)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    if args.json:
        atomic_write_text(args.json, json.dumps(
            [dict(r, ratios=ratios(r)) for r in ordered], indent=1, default=str) + "\n")
    return 0


def _source_key() -> str:
    """Cells are recomputed when the planner's code changes (search, surrogate, the simulator
    and the evaluation harness, with every module they import) or
    the code of this benchmark that makes a cell (not its ratios and tables, which are
    computed from the cells)."""
    digest = hashlib.sha256()
    for function in (run_cell, ideal_latency, summarise):
        digest.update(inspect.getsource(function).encode())
    digest.update(json.dumps([BASELINES, COMMON_SHARE, RAISED_CAP, IDEAL_REQUESTS]).encode())
    for file in imported_files(("search", "surrogate", "sim", "evaluate")):
        digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


if __name__ == "__main__":
    sys.exit(main())
