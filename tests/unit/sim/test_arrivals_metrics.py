import numpy as np
import pytest

from scepsy_opt.core.errors import ConfigError
from scepsy_opt.sim.arrivals import ArrivalProcess, trace_gaps
from scepsy_opt.sim.metrics import batch_means_ci


@pytest.mark.parametrize("process, cv", [("poisson", 1.0), ("gamma", 3.0), ("gamma", 0.5)])
def test_rates_and_burstiness(process, cv):
    times = ArrivalProcess(process, cv).times(4.0, 200_000, np.random.default_rng(0))
    gaps = np.diff(times)
    assert np.all(gaps >= 0)
    assert 1 / gaps.mean() == pytest.approx(4.0, rel=0.02)
    assert gaps.std() / gaps.mean() == pytest.approx(cv, rel=0.05)


def test_trace_replay_is_rescaled_and_bursty():
    gaps = trace_gaps("azure_code_2023")
    assert gaps.size > 8000
    times = ArrivalProcess("trace").times(2.5, 20_000, np.random.default_rng(0))
    measured = np.diff(times)
    assert 1 / measured.mean() == pytest.approx(2.5, rel=0.01)
    assert measured.std() / measured.mean() > 1.0  # production arrivals are burstier


def test_bad_processes_are_rejected():
    with pytest.raises(ConfigError, match="unknown arrival process"):
        ArrivalProcess("uniform")
    with pytest.raises(ConfigError, match="must be > 0"):
        ArrivalProcess("gamma", cv=0.0)
    with pytest.raises(ConfigError, match="arrival rate must be > 0"):
        ArrivalProcess().times(0.0, 10, np.random.default_rng(0))


def test_batch_means_interval_covers_the_mean():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(200):
        sample = rng.exponential(2.0, 400)
        half = batch_means_ci(sample, 20)
        hits += abs(sample.mean() - 2.0) <= half
    assert 0.88 <= hits / 200 <= 1.0  # about 95% coverage
