"""Known answers of queueing theory, reproduced by the simulator."""

import math

import numpy as np
import pytest

from scepsy_opt.sim.metrics import compute_metrics
from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.testing import LinearDurations
from scepsy_opt.workflow.program import parse_program
from scepsy_opt.workflow.sampler import sample_program


class ConstantSteps:
    """Every iteration with prefill tokens lasts ``prefill_ms``; a decode iteration
    ``decode_ms``: with one sequence at a time, service times are exactly known."""

    def __init__(self, prefill_ms, decode_ms):
        self.prefill_ms, self.decode_ms = prefill_ms, decode_ms

    def step_ms(self, decode_seqs, decode_context, prefill_tokens, pairs, kv, sampled):
        return (self.prefill_ms if prefill_tokens else 0.0) + (
            self.decode_ms if decode_seqs else 0.0)


def simulate(call, rate, n, servers=1, seed=0, model=None):
    model = model or ConstantSteps(100.0, 0.0)
    table = sample_program(parse_program({"call": {"llm": "x", **call}}, source="t"), n,
                           seed=seed, durations=LinearDurations(), source="t")
    arrivals = np.cumsum(np.random.default_rng(seed + 1).exponential(1 / rate, n))
    instances = [InstanceSpec("x", model, 10**9, 1, 10**6) for _ in range(servers)]
    raw = Simulation(table, arrivals, np.zeros(n, dtype=int), instances).run()
    return compute_metrics(raw, rate)


def mmc_latency(rate, mu, c):
    a, rho = rate / mu, rate / (mu * c)
    p0 = 1 / (sum(a**k / math.factorial(k) for k in range(c))
              + a**c / (math.factorial(c) * (1 - rho)))
    waiting = p0 * a**c * rho / (math.factorial(c) * (1 - rho) ** 2) / rate
    return waiting + 1 / mu


def test_md1_mean_latency():
    rate, service = 6.0, 0.1  # rho 0.6
    metrics = simulate({"input_tokens": 100, "output_tokens": 0}, rate, 60_000)
    expected = service + rate * service**2 / (2 * (1 - rate * service))
    assert metrics.e2e_latency_s.mean == pytest.approx(expected, rel=0.05)
    assert metrics.littles_law_error < 0.02


def test_mm1_mean_latency():
    # geometric output tokens x 1 ms per token: an exponential service of mean 0.2 s
    call = {"input_tokens": 1, "output_tokens": {"dist": "geometric", "mean": 200}}
    metrics = simulate(call, 3.0, 60_000, model=ConstantSteps(1.0, 1.0))
    assert metrics.e2e_latency_s.mean == pytest.approx(mmc_latency(3.0, 5.0, 1), rel=0.05)
    assert metrics.littles_law_error < 0.02


def test_mmc_mean_latency_with_least_work_routing():
    # least-work-left routing of known job sizes is the central FCFS queue of M/M/c
    call = {"input_tokens": 1, "output_tokens": {"dist": "geometric", "mean": 200}}
    metrics = simulate(call, 12.0, 60_000, servers=3, model=ConstantSteps(1.0, 1.0))
    assert metrics.e2e_latency_s.mean == pytest.approx(mmc_latency(12.0, 5.0, 3), rel=0.05)
    assert metrics.littles_law_error < 0.02
    assert metrics.throughput_ratio == pytest.approx(1.0, abs=0.03)


def test_same_seed_same_metrics():
    call = {"input_tokens": 1, "output_tokens": {"dist": "geometric", "mean": 50}}
    one = simulate(call, 10.0, 3000, servers=2, model=ConstantSteps(1.0, 1.0), seed=4)
    two = simulate(call, 10.0, 3000, servers=2, model=ConstantSteps(1.0, 1.0), seed=4)
    other = simulate(call, 10.0, 3000, servers=2, model=ConstantSteps(1.0, 1.0), seed=5)
    assert one == two
    assert one.e2e_latency_s != other.e2e_latency_s
