"""Settings of simulation runs and of the evaluation harness."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from scepsy_opt.core.settings import check, fraction, positive, run_field
from scepsy_opt.sim.arrivals import ArrivalProcess


@dataclass(frozen=True)
class SustainSettings:
    """When a rate counts as sustained: completed throughput >= ``throughput_ratio`` x the
    arrival rate, latency of the last third of requests <= ``latency_growth`` x the first
    third's, and ``completed_fraction`` of requests complete; the highest such rate is found in
    ``iterations`` bisection steps of ``num_requests`` requests each (more when latencies are
    long: arrivals span ``latency_spans`` mean latencies; a mix: its slowest member's)."""

    throughput_ratio: float = 0.95
    latency_growth: float = 1.5
    completed_fraction: float = 0.99
    iterations: int = 7
    num_requests: int = 300
    latency_spans: float = 10.0

    def __post_init__(self) -> None:
        fraction(self.throughput_ratio, "throughput_ratio", "e.g. 0.95")
        fraction(self.completed_fraction, "completed_fraction", "e.g. 0.99")
        check(self.latency_growth >= 1, "latency_growth", "must be >= 1", self.latency_growth,
              "e.g. 1.5")
        for key in ("iterations", "num_requests"):
            check(getattr(self, key) > 0, key, "must be > 0", getattr(self, key),
                  "use a positive integer")
        positive(self.latency_spans, "latency_spans", "e.g. 10")


Routing = Literal["least_work", "round_robin"]
Baseline = Literal["independent", "user_specified", "pooled_tp1", "exact"]


@dataclass(frozen=True)
class SimulateSettings:
    """The evaluation harness (``evaluate=true``, ``conf/simulate``): each plan simulated at the
    target rate with ``num_requests`` requests (the first ``warmup_fraction`` warm up; latency
    confidence intervals from ``batches`` batch means), calls to an llm with several replicas
    routed by ``routing`` (least_work or round_robin), arrivals by ``arrivals``, and its highest
    sustainable rate found by bisection (``sustain``); the same for each of ``baselines``
    (exhaustive search only for instances of at most ``exact_max_candidates``)."""

    num_requests: int = 600
    warmup_fraction: float = 0.1
    batches: int = 20
    routing: Routing = "least_work"
    arrivals: ArrivalProcess = ArrivalProcess()
    sustain: SustainSettings = SustainSettings()
    baselines: tuple[Baseline, ...] = get_args(Baseline)
    exact_max_candidates: int = 64
    seed: int = run_field("seed", 0)

    def __post_init__(self) -> None:
        for key in ("num_requests", "batches", "exact_max_candidates"):
            check(getattr(self, key) > 0, key, "must be > 0", getattr(self, key),
                  "use a positive integer")
        check(0 <= self.warmup_fraction < 1, "warmup_fraction", "must be in [0, 1)",
              self.warmup_fraction, "e.g. 0.1")
