"""The single-instance measurements the instance model is fitted to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.surrogate import data
from scepsy_opt.surrogate.data import InstanceDataSettings, collect

LLM, GPU = "llama-3.2-3b-instruct", "H100-SXM-80GB"


@dataclass(frozen=True)
class _Scaled:
    """An iteration model ``scale`` times slower than ``base`` in every iteration."""

    base: object
    scale: float

    def step_ms(self, *args: object) -> float:
        return self.scale * self.base.step_ms(*args)


def _time_scaled_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every configuration runs the (TP 1, whole GPU) engine slowed by ``1 / (tp fraction)``:
    where that is a power of two, a configuration is an exact time-scaled copy of the others
    (the batch is bounded by max_num_seqs, never by the KV cache, with these short calls)."""
    real = data.iteration_model

    def scaled(llm, gpu, tp, fraction, memory, profile=None):
        return _Scaled(real(llm, gpu, 1, 1.0, memory, profile), 1.0 / (tp * fraction))

    monkeypatch.setattr(data, "iteration_model", scaled)


def _short_calls(seed: int, calls: int) -> CallMix:
    """``calls`` calls of 32-95 prompt and 8-47 output tokens."""
    rng = np.random.default_rng(seed)
    return CallMix(tuple(int(x) for x in rng.integers(32, 96, calls)),
                   tuple(int(x) for x in rng.integers(8, 48, calls)))


def test_configurations_that_are_time_scaled_copies_measure_the_same_load_curve(monkeypatch):
    """Common random numbers: each configuration sees the same arrivals in units of its own
    capacity, so a configuration that is an exact time-scaled copy of another measures exactly
    its load curve (independent arrivals per configuration would differ by sampling noise,
    tens of percent near saturation), and a capacity exactly in proportion to its speed."""
    _time_scaled_copies(monkeypatch)
    catalog = load_catalog()
    mix = _short_calls(7, 256)
    memory = MemorySettings(max_num_seqs=8)
    measured = collect(catalog.llms[LLM], catalog.gpus[GPU], memory, mix, seed=3,
                       settings=InstanceDataSettings(mix_calls=256, saturation_calls=400,
                                                     load_calls=256, loads=(0.3, 0.85)))
    size = measured.tp * measured.fraction
    copies = np.isclose(np.log2(size), np.round(np.log2(size)))
    assert copies.sum() >= 8  # TP 1..8 at 1/8, 1/4, 1/2 and whole GPUs
    np.testing.assert_allclose(measured.load_delta[copies],
                               np.broadcast_to(measured.load_delta[copies][0],
                                               measured.load_delta[copies].shape), rtol=1e-6)
    np.testing.assert_allclose(measured.capacity_rps[copies] / size[copies],
                               measured.capacity_rps[copies][0] / size[copies][0], rtol=1e-6)
    # the curve is a real queue's: it rises with the load
    assert 0 < measured.load_delta[copies][0, 0] < measured.load_delta[copies][0, 1]


def test_load_points_replay_calls_in_proportion_to_how_slowly_their_queue_settles():
    """``load_calls`` at the highest load; at a lighter one ``(1 - top)^2 / (1 - rho)^2`` of
    it (a queue's samples are correlated over about ``1 / (1 - rho)^2`` calls), at least 1,000
    (or ``load_calls`` when smaller), at most the mix."""
    assert data.load_sizes(4000, (0.1, 0.3, 0.5, 0.7, 0.85), 4096) == [1000] * 4 + [4000]
    assert data.load_sizes(4000, (0.5, 0.8, 0.9), 4096) == [1000, 1000, 4000]
    assert data.load_sizes(20000, (0.7, 0.85), 4096) == [4096, 4096]  # 5,000 > the mix
    assert data.load_sizes(200, (0.2, 0.5, 0.8), 1024) == [200, 200, 200]  # the fast fit



def test_the_configurations_measured_on_two_processes_are_the_ones_measured_on_one():
    """The configurations are independent runs (their random numbers are drawn before any of
    them): spreading them over worker processes changes no number, in the order they come."""
    catalog = load_catalog()
    mix = _short_calls(5, 128)
    settings = InstanceDataSettings(mix_calls=128, saturation_calls=200, load_calls=128,
                                    loads=(0.3, 0.85))
    one, two = (collect(catalog.llms[LLM], catalog.gpus[GPU], MemorySettings(), mix, seed=2,
                        settings=settings, workers=workers) for workers in (1, 2))
    for name in ("tp", "fraction", "capacity_rps", "unloaded_s", "load_rho", "load_delta"):
        np.testing.assert_array_equal(getattr(two, name), getattr(one, name), err_msg=name)
    assert len(one.tp) > 8 and one.meta == two.meta
