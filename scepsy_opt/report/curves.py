"""Predicted latency-throughput curves of the plan and the closed-form baselines.

The surrogate predicts each allocation's mean end-to-end latency at an arrival rate and its
highest throughput (the weakest llm's capacity). A curve samples rates from a small fraction of
that throughput up to :data:`LOAD_CAP` of it, where the queueing latency is still finite. The
result is the JSON-ready ``predicted_curves.json`` document, so the report can be rebuilt from a
run directory without the surrogate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np

from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.types import Allocation
from scepsy_opt.search.stage import Plan

log = logging.getLogger(__name__)
SCHEMA_VERSION = 1
LOAD_CAP = 0.95  # the curves end at this fraction of the predicted highest throughput
POINTS = 24


def _arrays(allocation: Allocation, llms: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    entries = [allocation.llm(llm) for llm in llms]
    return (np.array([e.tp for e in entries], dtype=float),
            np.array([e.replicas for e in entries], dtype=float),
            np.array([e.gpu_fraction for e in entries], dtype=float))


def allocation_curve(allocation: Allocation, surrogate: Evaluator, target_rps: float,
                     points: int = POINTS) -> dict:
    """One allocation's curve: its predicted highest throughput, and (rate, latency) points."""
    tp, replicas, fraction = _arrays(allocation, surrogate.llms)
    at_target = surrogate.predict(tp, replicas, fraction, target_rps)
    top = float(at_target["throughput_rps"])
    rates = np.linspace(LOAD_CAP * top / points, LOAD_CAP * top, points) if top > 0 else []
    curve = []
    for rate in rates:
        latency = float(surrogate.predict(tp, replicas, fraction, float(rate))["latency_s"])
        if math.isfinite(latency):
            curve.append({"rate_rps": float(rate), "latency_s": latency})
    latency_at_target = float(at_target["latency_s"])
    return {
        "gpus": allocation.gpus,
        "allocation": {e.llm: {"tp": e.tp, "replicas": e.replicas,
                               "gpu_fraction": e.gpu_fraction, "gpus": e.gpus}
                       for e in allocation.llms},
        "max_throughput_rps": top,
        "latency_at_target_s": (latency_at_target
                                if top >= target_rps and math.isfinite(latency_at_target)
                                else None),
        "points": curve,
    }


def predicted_curves(plan: Plan, surrogate: Evaluator,
                     baselines: Mapping[str, Allocation | Exception], *, workflow: str,
                     points: int = POINTS) -> dict:
    """The ``predicted_curves.json`` document: the planned allocation and the closed-form
    baselines (each an allocation, or the error saying why the problem has none; the exact
    baseline is chosen by simulation, so it has no predicted curve)."""
    problem = plan.problem
    plans = {"planned": allocation_curve(plan.allocation, surrogate, problem.rate_rps, points)}
    for name, allocation in baselines.items():
        if isinstance(allocation, Exception):
            plans[name] = {"error": str(allocation)}
            continue
        plans[name] = allocation_curve(allocation, surrogate, problem.rate_rps, points)
    log.info("predicted curves: %s", ", ".join(
        f"{name} up to {entry['max_throughput_rps']:.3g} rps" for name, entry in plans.items()
        if "error" not in entry))
    return {"schema_version": SCHEMA_VERSION, "artifact": "predicted_curves",
            "workflow": workflow, "cluster": problem.cluster.name, "gpu": problem.gpu,
            "target_rate_rps": problem.rate_rps, "load_cap": LOAD_CAP, "plans": plans}
