"""Settings of simulation runs and of the evaluation harness."""

from __future__ import annotations

from dataclasses import dataclass

from scepsy_opt.sim.arrivals import ArrivalProcess


@dataclass(frozen=True)
class SustainSettings:
    """When a rate counts as sustained, and how the highest such rate is searched."""

    throughput_ratio: float = 0.95
    latency_growth: float = 1.5
    completed_fraction: float = 0.99
    iterations: int = 7
    num_requests: int = 300
    latency_spans: float = 10.0  # arrivals span this many mean latencies (a mix: slowest member's)


@dataclass(frozen=True)
class SimulateSettings:
    num_requests: int = 600
    warmup_fraction: float = 0.1
    batches: int = 20
    routing: str = "least_work"
    arrivals: ArrivalProcess = ArrivalProcess()
    sustain: SustainSettings = SustainSettings()
    baselines: tuple[str, ...] = ("independent", "user_specified", "pooled_tp1", "exact")
    exact_max_candidates: int = 64
    seed: int = 0
