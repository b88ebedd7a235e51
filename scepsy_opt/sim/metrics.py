"""Metrics of a simulation run, with warm-up excluded and batch-means confidence intervals.

The first ``warmup_fraction`` of requests (in arrival order) warm the system up and are not
measured. Over the measurement window ``[t0, t1]`` (first measured arrival to last arrival):

- completed throughput: requests completed in the window shifted by the measured requests'
  median latency, over its length (a stable system's departures run at the arrival rate once
  the first measured requests have had time to finish; an overloaded one's at its capacity),
  and its ratio to the arrival rate the sample actually had in the window;
- end-to-end latency of the measured requests (mean, p50, p90, p99), with a 95% confidence
  interval of the mean from ``batches`` batch means (Student t);
- latency growth: mean latency of the last third of measured requests over the middle third
  (about 1 when the system keeps up, growing when a queue builds; the first third may still
  be filling the system);
- per llm: utilisation (busy share of its instances' time), queueing delay (call ready to
  first scheduled), call latency, and realised share of execution time (sum of scheduled-to-
  finished spans of its calls over all llms');
- Little's law check over the whole run (empty at both ends when every request completes):
  the time-average number of requests in the system, integrated from the arrival and
  completion events, against arrival rate x mean latency. The two come from different
  bookkeeping, so any lost or double-counted request shows as a difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scepsy_opt.core.stats import Summary
from scepsy_opt.sim.simulator import RawResult

# two-sided 95% Student t quantiles by degrees of freedom (batch means)
_T95 = {4: 2.776, 9: 2.262, 14: 2.145, 19: 2.093, 29: 2.045, 39: 2.023, 49: 2.010}


@dataclass(frozen=True)
class LlmSimStats:
    llm: str
    instances: int
    calls: int
    utilization: float
    queueing_delay_s: float
    call_latency_s: float
    ttft_s: float
    realised_share: float


@dataclass(frozen=True)
class MemberSimStats:
    """One workflow of a mix, measured on its own requests over the run's window: its
    latency, and whether it keeps up (throughput ratio, completed fraction and latency growth
    as for the whole run): a mix is sustained only when every member is."""

    workflow: str
    measured_requests: int
    e2e_latency_s: Summary
    throughput_ratio: float = math.nan
    completed_fraction: float = math.nan
    latency_growth: float = math.nan


@dataclass(frozen=True)
class SimulationMetrics:
    offered_rate_rps: float
    arrival_rate_rps: float
    completed_throughput_rps: float
    throughput_ratio: float
    measured_requests: int
    completed_fraction: float
    e2e_latency_s: Summary
    latency_mean_ci95_s: float
    latency_growth: float
    littles_law_error: float
    simulated_s: float
    events: int
    preempted_calls: int
    rejected_calls: int
    llms: tuple[LlmSimStats, ...]
    members: tuple[MemberSimStats, ...] = ()

    def llm(self, llm_id: str) -> LlmSimStats:
        for stats in self.llms:
            if stats.llm == llm_id:
                return stats
        raise KeyError(llm_id)


def batch_means_ci(values: np.ndarray, batches: int = 20) -> float:
    """Half-width of the 95% confidence interval of the mean by batch means."""
    values = np.asarray(values, dtype=np.float64)
    batches = min(batches, values.size // 2)
    if batches < 5:
        return math.nan
    usable = values[: values.size - values.size % batches].reshape(batches, -1).mean(axis=1)
    t = _T95.get(batches - 1, 2.0)
    return float(t * usable.std(ddof=1) / math.sqrt(batches))


def _time_average(times: np.ndarray, counts: np.ndarray, t0: float, t1: float) -> float:
    """Average of the step function (value ``counts[i]`` from ``times[i]``) over [t0, t1]."""
    if t1 <= t0:
        return math.nan
    edges = np.clip(np.append(times, t1), t0, t1)
    return float(np.sum(counts * np.diff(edges)) / (t1 - t0))


def compute_metrics(raw: RawResult, offered_rate_rps: float, *,
                    warmup_fraction: float = 0.1, batches: int = 20,
                    member_names: tuple[str, ...] = ()) -> SimulationMetrics:
    order = np.argsort(raw.request_arrival, kind="stable")
    arrival = raw.request_arrival[order]
    done = raw.request_done[order]
    n = arrival.size
    first = min(int(n * warmup_fraction), n - 1)
    t0, t1 = float(arrival[first]), float(arrival[-1])
    measured = np.arange(n) >= first
    flow = _flow(arrival, done, measured, n - first - 1, t0, t1)
    latency = flow.latency
    # Little's law over the whole run
    end = raw.end_s
    average_in_system = _time_average(raw.in_system_times, raw.in_system_counts, 0.0, end)
    finished = np.isfinite(done)
    little_rate = finished.sum() / end if end > 0 else math.nan
    little_latency = float((done[finished] - arrival[finished]).mean()) if finished.any() \
        else math.nan
    expected = little_rate * little_latency
    littles = abs(average_in_system - expected) / expected if expected > 0 else math.nan

    measured_requests = order[first:]
    is_measured = np.zeros(raw.request_arrival.size, dtype=bool)
    is_measured[measured_requests] = True
    call_measured = is_measured[raw.call_request] & (raw.call_llm >= 0)
    span_s = raw.call_finished - raw.call_scheduled
    total_span = float(np.nansum(span_s[call_measured]))
    llms = []
    for index, llm in enumerate(raw.llms):
        mask = call_measured & (raw.call_llm == index)
        instances = raw.instance_llm == index
        busy = float(raw.instance_busy_s[instances].sum())
        capacity = float(instances.sum()) * raw.end_s
        llms.append(LlmSimStats(
            llm=llm,
            instances=int(instances.sum()),
            calls=int(mask.sum()),
            utilization=busy / capacity if capacity > 0 else math.nan,
            queueing_delay_s=_nanmean(raw.call_scheduled[mask] - raw.call_submitted[mask]),
            call_latency_s=_nanmean(raw.call_finished[mask] - raw.call_submitted[mask]),
            ttft_s=_nanmean(raw.call_first_token[mask] - raw.call_submitted[mask]),
            realised_share=float(np.nansum(span_s[mask]) / total_span) if total_span > 0
            else math.nan,
        ))
    members = []
    if len(member_names) > 1:
        member = raw.request_member[order]
        for index, name in enumerate(member_names):
            mine = member == index
            part = _flow(arrival, np.where(mine, done, np.nan), measured & mine,
                         int(np.count_nonzero(mine[first + 1:])), t0, t1)
            members.append(MemberSimStats(
                name, int(np.count_nonzero(measured & mine)), Summary.of(part.latency),
                part.throughput_ratio, part.completed_fraction, part.latency_growth))
    return SimulationMetrics(
        offered_rate_rps=offered_rate_rps,
        completed_throughput_rps=flow.throughput_rps,
        arrival_rate_rps=flow.arrival_rate_rps,
        throughput_ratio=flow.throughput_ratio,
        measured_requests=int(n - first),
        completed_fraction=flow.completed_fraction,
        e2e_latency_s=Summary.of(latency),
        latency_mean_ci95_s=batch_means_ci(latency, batches),
        latency_growth=flow.latency_growth,
        littles_law_error=float(littles),
        simulated_s=raw.end_s,
        events=raw.events,
        preempted_calls=raw.preempted_calls,
        rejected_calls=raw.rejected_calls,
        llms=tuple(llms),
        members=tuple(members),
    )


@dataclass(frozen=True)
class _Flow:
    throughput_rps: float
    arrival_rate_rps: float
    throughput_ratio: float
    completed_fraction: float
    latency_growth: float
    latency: np.ndarray  # of the measured requests that completed, in arrival order


def _flow(arrival: np.ndarray, done: np.ndarray, measured: np.ndarray, arrived: int,
          t0: float, t1: float) -> _Flow:
    """Whether a set of requests keeps up over the window ``[t0, t1]`` (first measured arrival
    to last arrival). ``arrival``, ``done``: every request in arrival order (NaN ``done``: not
    completed, or not in the set); ``measured``: the set's measured requests; ``arrived``: how
    many of them arrive after ``t0``.

    Completed throughput: the set's requests (warm-up ones included) completed in the window
    shifted by the measured requests' median latency, over its length (a stable system's
    departures run at the arrival rate once the first measured requests have had time to
    finish; an overloaded one's at its capacity), against the rate the sample actually had.
    Latency growth: the mean latency of the last third of the measured requests over the middle
    third (about 1 when the system keeps up; the first third may still be filling it)."""
    finished = np.isfinite(done[measured])
    latency = (done - arrival)[measured][finished]
    shift = float(np.median(latency)) if latency.size else 0.0
    in_window = np.isfinite(done) & (done >= t0 + shift) & (done <= t1 + shift)
    span = t1 - t0
    throughput = float(in_window.sum() / span) if span > 0 else math.nan
    # the rate this sample of arrivals actually had (a finite Poisson sample deviates)
    rate = float(arrived / span) if span > 0 else math.nan
    third = latency.size // 3
    growth = float(latency[-third:].mean() / latency[third:2 * third].mean()) \
        if third else math.nan
    return _Flow(throughput, rate, throughput / rate if rate > 0 else math.nan,
                 float(finished.mean()) if finished.size else math.nan, growth, latency)


def _nanmean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else math.nan
