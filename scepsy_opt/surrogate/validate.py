"""Surrogate accuracy against the simulator: random feasible allocations, several loads.

For each random allocation (every llm a feasible TP degree, GPU fraction and replica count
within the GPU budget, placed by first fit) the simulator gives its highest sustainable rate
(bisection from the analytic capacity bound) and, at loads of 16% to 80% of that rate, the mean
end-to-end latency. The simulated cases do not depend on the surrogate, so they are computed
once and any surrogate is scored against them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scepsy_opt.core.packing import first_fit
from scepsy_opt.core.problem import AllocationProblem
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.types import Allocation, Catalog, LlmAllocation
from scepsy_opt.sim.runner import PlanRunner, capacity_bound_rps, span_latency_s
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate.calib import allocation_arrays
from scepsy_opt.surrogate.workflow import WorkflowSurrogate
from scepsy_opt.workflow.spec import WorkflowSpec

log = logging.getLogger(__name__)
LOADS = (0.16, 0.32, 0.48, 0.64, 0.8)


@dataclass(frozen=True)
class SimulatedCase:
    """One allocation in the simulator: its max sustainable rate and latency at loads."""

    allocation: Allocation
    max_rate_rps: float
    rates_rps: tuple[float, ...]
    latencies_s: tuple[float, ...]

    def to_json(self) -> dict:
        return {"allocation": [[e.llm, e.gpu, e.tp, e.replicas, e.gpu_fraction]
                               for e in self.allocation.llms],
                "max_rate_rps": self.max_rate_rps, "rates_rps": list(self.rates_rps),
                "latencies_s": list(self.latencies_s)}

    @staticmethod
    def from_json(record: dict) -> SimulatedCase:
        entries = tuple(LlmAllocation(llm, gpu, int(tp), int(r), float(f))
                        for llm, gpu, tp, r, f in record["allocation"])
        return SimulatedCase(Allocation("random", entries), record["max_rate_rps"],
                             tuple(record["rates_rps"]), tuple(record["latencies_s"]))


@dataclass(frozen=True)
class AccuracyRow:
    allocation: str
    load: float
    rate_rps: float
    simulated_latency_s: float
    predicted_latency_s: float
    simulated_max_rps: float
    predicted_max_rps: float


def describe(allocation: Allocation) -> str:
    return "; ".join(f"{e.llm} tp{e.tp} x{e.replicas} f{e.gpu_fraction:g}"
                     for e in allocation.llms)


def simulate_case(spec: WorkflowSpec, problem: AllocationProblem, catalog: Catalog,
                  allocation: Allocation, settings: SimulateSettings,
                  unloaded_latency_s: float,
                  profiles: Mapping[tuple[str, str], ProfileTable] | None = None,
                  loads: tuple[float, ...] = LOADS) -> SimulatedCase:
    runner = PlanRunner(spec, allocation, first_fit(allocation, problem.cluster), catalog,
                        problem.memory, settings, profiles or {}, unloaded_latency_s,
                        problem.call_overhead_s)
    max_rate = runner.max_sustainable_rate(capacity_bound_rps(problem, catalog, allocation))
    rates, latencies, spans = [], [], []
    for load in loads:
        rate = load * max_rate
        below = [span for r, span in zip(rates, spans, strict=True) if r <= rate]
        metrics = runner.run_long(rate, settings.num_requests,
                                  latency_hint_s=max(below, default=None))
        rates.append(rate)
        latencies.append(metrics.e2e_latency_s.mean)
        spans.append(span_latency_s(metrics))
    return SimulatedCase(allocation, max_rate, tuple(rates), tuple(latencies))


def compare(surrogate: WorkflowSurrogate, case: SimulatedCase) -> list[AccuracyRow]:
    """The surrogate's predictions against one simulated case."""
    tp, replicas, fraction = allocation_arrays(surrogate.llms, case.allocation)
    predicted_max = float(surrogate.predict(tp, replicas, fraction, 1.0)["throughput_rps"])
    rows = []
    for rate, latency in zip(case.rates_rps, case.latencies_s, strict=True):
        predicted = float(surrogate.predict(tp, replicas, fraction, rate)["latency_s"])
        rows.append(AccuracyRow(describe(case.allocation), rate / case.max_rate_rps, rate,
                                latency, predicted, case.max_rate_rps, predicted_max))
    return rows


def errors(rows: list[AccuracyRow]) -> dict[str, float]:
    """Mean absolute percentage errors of latency (every row) and max throughput (per case)."""
    latency = [abs(r.predicted_latency_s / r.simulated_latency_s - 1) for r in rows]
    cases = {r.allocation: r for r in rows}
    throughput = [abs(r.predicted_max_rps / r.simulated_max_rps - 1) for r in cases.values()]
    return {"latency_mape_pct": 100 * float(np.mean(latency)),
            "throughput_mape_pct": 100 * float(np.mean(throughput)),
            "cases": len(cases), "points": len(rows)}
