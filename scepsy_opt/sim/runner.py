"""Runs of one placed allocation in the simulator, at any rate, and its highest sustainable rate.

For every plan (an allocation placed on the cluster): a simulation at the target rate (metrics
of :mod:`scepsy_opt.sim.metrics`) and the highest sustainable rate, found by bisection: a
rate is sustained when the completed throughput keeps up with the offered load
(``throughput_ratio``), latency does not grow over the run (last third of requests over the
first, ``latency_growth``) and nearly all requests complete. The throughput is counted over the
measurement window shifted by the median latency (departures of a stable system run at the
arrival rate once the first measured requests have had time to finish), and every probe runs
long enough for its arrivals to span ``latency_spans`` of the mean latencies it measures (in a
mix, of its slowest member's: :func:`span_latency_s`), rerun longer when the loaded latency
exceeds the unloaded one it was first sized by.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scepsy_opt.core.artifacts import to_jsonable
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.problem import AllocationProblem
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.types import Allocation, Catalog, Placement
from scepsy_opt.sim.capacity import replica_capacity_rps
from scepsy_opt.sim.metrics import SimulationMetrics, compute_metrics
from scepsy_opt.sim.plan import instance_specs
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.sim.simulator import Simulation
from scepsy_opt.sim.workload import build_workload
from scepsy_opt.workflow.spec import WorkflowSpec

log = logging.getLogger(__name__)
MAX_EXTENSION = 8  # a run is extended to at most this many times its first size
EXTEND_ABOVE_RATIO = 0.9  # runs completing less than this share of their arrivals have failed
MEMBER_MIN_REQUESTS = 30  # a mix's member is judged on its own from this many requests


@dataclass(frozen=True)
class RateProbe:
    """One simulated rate of the search for the highest sustainable rate."""

    rate_rps: float
    throughput_rps: float
    mean_latency_s: float
    p99_latency_s: float
    sustained: bool
    span_latency_s: float = math.nan  # what sized the run (:func:`span_latency_s`)


@dataclass(frozen=True)
class PlanRunner:
    """Simulates one placed allocation for a workflow at any rate."""

    spec: WorkflowSpec
    allocation: Allocation
    placement: Placement
    catalog: Catalog
    memory: MemorySettings
    settings: SimulateSettings
    profiles: Mapping[tuple[str, str], ProfileTable]
    unloaded_latency_s: float
    call_overhead_s: float = 0.0  # the cluster's serving overhead per llm call

    def run(self, rate_rps: float, num_requests: int, progress: Progress | None = None
            ) -> SimulationMetrics:
        workload = build_workload(self.spec, rate_rps, num_requests, self.settings.arrivals,
                                  self.settings.seed)
        specs = instance_specs(self.allocation, self.placement, self.catalog, self.memory,
                               self.profiles)
        horizon = float(workload.arrivals_s.max()) * 4 + 50 * self.unloaded_latency_s
        raw = Simulation(workload.table, workload.arrivals_s, workload.members, specs,
                         routing=self.settings.routing, horizon_s=horizon,
                         call_overhead_s=self.call_overhead_s).run(progress)
        return compute_metrics(raw, rate_rps, warmup_fraction=self.settings.warmup_fraction,
                               batches=self.settings.batches,
                               member_names=workload.member_names)

    def requests_for(self, rate_rps: float, minimum: int, latency_s: float | None = None
                     ) -> int:
        """Enough requests for the arrivals to span ``latency_spans`` mean latencies (the
        unloaded one unless a measured ``latency_s`` is given)."""
        latency = max(self.unloaded_latency_s, latency_s or 0.0)
        spans = self.settings.sustain.latency_spans * latency * rate_rps
        return max(minimum, math.ceil(spans))

    def run_long(self, rate_rps: float, minimum: int, progress: Progress | None = None,
                 latency_hint_s: float | None = None) -> SimulationMetrics:
        """A run whose arrivals span ``latency_spans`` of the latencies it measures: under
        load a request takes longer than unloaded, so a run sized by the unloaded latency is
        rerun longer (at most ``MAX_EXTENSION`` times that size) until it spans enough. A run
        that clearly cannot keep up is not extended.

        ``latency_hint_s``, a latency already measured at a lower rate of the same allocation
        (latency grows with the rate), sizes the first run, which saves the reruns of a run
        sized by the unloaded latency; the protocol is the same."""
        count = self.requests_for(rate_rps, minimum)
        limit = count * MAX_EXTENSION
        if latency_hint_s is not None and math.isfinite(latency_hint_s):
            count = min(limit, self.requests_for(rate_rps, minimum, latency_hint_s))
        metrics = self.run(rate_rps, count, progress)
        while count < limit and metrics.throughput_ratio >= EXTEND_ABOVE_RATIO:
            latency = span_latency_s(metrics)
            needed = self.requests_for(rate_rps, minimum, latency) if math.isfinite(
                latency) else count
            if needed <= count:
                break
            count = min(max(needed, 2 * count), limit)
            metrics = self.run(rate_rps, count)
        return metrics

    def sustains(self, metrics: SimulationMetrics) -> bool:
        """Whether the run keeps up: its throughput ratio, latency growth and completed
        fraction within the rule; for a mix, every member's throughput ratio and completed
        fraction as well (a member that falls behind is not hidden by the others' slack). A
        member's own latency growth is not used: over the hundred-odd requests of a small
        member, heavy-tailed latencies make it swing past the limit even far below capacity.
        A member with fewer than ``MEMBER_MIN_REQUESTS`` measured requests is judged with the
        whole run only."""
        rule = self.settings.sustain
        return (metrics.throughput_ratio >= rule.throughput_ratio
                and metrics.latency_growth <= rule.latency_growth
                and metrics.completed_fraction >= rule.completed_fraction
                and all(m.throughput_ratio >= rule.throughput_ratio
                        and m.completed_fraction >= rule.completed_fraction
                        for m in metrics.members
                        if m.measured_requests >= MEMBER_MIN_REQUESTS))

    def max_sustainable_rate(self, upper_hint_rps: float) -> float:
        """Highest sustained rate by bisection on [0, hi], hi doubled until it fails."""
        return self.sustainable_rate(upper_hint_rps)[0]

    def sustainable_rate(self, upper_hint_rps: float) -> tuple[float, tuple[RateProbe, ...]]:
        """:meth:`max_sustainable_rate` with every rate it simulated on the way (in order):
        the sustained ones are simulated points of the latency-throughput curve."""
        rule = self.settings.sustain
        probes: list[RateProbe] = []

        def ok(rate: float) -> bool:
            # the latency of the fastest sustained rate below sizes the run (see run_long)
            below = [p.span_latency_s for p in probes if p.sustained and p.rate_rps <= rate]
            probes.append(self._probe(rate, max(below, default=None)))
            return probes[-1].sustained

        low, high = 0.0, max(upper_hint_rps, 1e-3)
        for _ in range(6):
            if not ok(high):
                break
            low, high = high, high * 2
        else:
            return low, tuple(probes)
        for _ in range(rule.iterations):
            middle = (low + high) / 2
            if ok(middle):
                low = middle
            else:
                high = middle
        return low, tuple(probes)

    def _probe(self, rate: float, latency_hint_s: float | None = None) -> RateProbe:
        metrics = self.run_long(rate, self.settings.sustain.num_requests,
                                latency_hint_s=latency_hint_s)
        ok = self.sustains(metrics)
        log.debug("%s at %.4g rps: throughput ratio %.3f, growth %.2f -> %s",
                  self.allocation.method, rate, metrics.throughput_ratio,
                  metrics.latency_growth, ok)
        return RateProbe(rate, metrics.completed_throughput_rps, metrics.e2e_latency_s.mean,
                         metrics.e2e_latency_s.p99, ok, span_latency_s(metrics))


def capacity_bound_rps(problem: AllocationProblem, catalog: Catalog,
                       allocation: Allocation) -> float:
    """The analytic bound: the weakest llm's replicas x capacity / calls per request."""
    bounds = []
    for entry in allocation.llms:
        capacity = replica_capacity_rps(problem, catalog, entry.llm, entry.tp,
                                             entry.gpu_fraction)
        bounds.append(entry.replicas * capacity / problem.demand(entry.llm).calls_per_request)
    return min(bounds)


def span_latency_s(metrics: SimulationMetrics) -> float:
    """The latency a run's arrivals must span ``latency_spans`` of: the mean end-to-end
    latency or, in a mix, the slowest member's mean, whichever is larger. Sized by the mix's
    mean alone, a slow member's arrivals spanned only a few of its own latencies (rag_beam:
    the beam_search fifth takes about 3x the mix's mean), so whether it kept up was judged on
    a hundred-odd requests still mostly in flight, and its measured limit came out noisy and
    low."""
    members = [m.e2e_latency_s.mean for m in metrics.members
               if m.measured_requests and math.isfinite(m.e2e_latency_s.mean)]
    return max([metrics.e2e_latency_s.mean, *members])


def unloaded_latency_s(mean_e2e_s: float) -> float:
    """A floor for probe lengths when the analysis reports no latency."""
    return mean_e2e_s if np.isfinite(mean_e2e_s) and mean_e2e_s > 0 else 1.0


def metrics_to_json(metrics: SimulationMetrics) -> dict:
    record = to_jsonable(metrics)
    record["llms"] = {s["llm"]: {k: v for k, v in s.items() if k != "llm"}
                      for s in record["llms"]}
    return record
