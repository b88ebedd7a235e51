"""What the instance model is fitted to: measurements of single instances of one llm.

For every configuration (TP degree, GPU fraction) that holds the llm on the GPU type and, in its
KV cache, the llm's longest call, with the llm's own call mix (token pairs of its calls in the
workflow):

- **capacity**: calls/s one instance completes when overloaded (simulated: 3,000 calls arriving
  at twice the analytic capacity, then at 1.25x the rate that measured; departures between the
  25% and 75% finish quantiles, when a queue keeps the batch full in steady state);
- **unloaded latency**: mean latency of the mix's first 4,000 calls each running alone;
- **load curve**: mean latency of the first of those calls arriving as a Poisson stream at
  utilisation ``rho`` = 0.1 .. 0.85 of the capacity (first 10% excluded), as the extra delay
  over their unloaded latency in units of it: 4,000 calls at 0.85, 1,000 at the lighter loads
  (a queue's samples are correlated over about ``1 / (1 - rho)^2`` calls, so its mean settles
  16x faster at 0.7 than at 0.85; :func:`load_sizes`).

Every configuration is driven by the same random arrival pattern, in units of its own capacity
(common random numbers). A queue's mean delay near saturation varies by tens of percent from
one sample of 1,000 arrivals to the next; with independent samples per configuration that noise
made neighbouring fractions look up to 2x apart at ``rho`` = 0.85, and the search preferred
whichever fraction had drawn the calm sample. With a shared pattern the differences between
configurations are the configurations' own; what noise remains is common to all of them and
the workflow calibration's delay scales absorb it. 4,000 calls at the highest load (the
default) keep the common part within about 10% between seeds.

Every simulation runs the same engine model as the evaluation harness (:mod:`scepsy_opt.sim`)
with the iteration times of the llm's profile, so the surrogate learns the simulator's physics.
Inside a workflow calls arrive in correlated bursts paced by the requests' own progress, which
these Poisson load curves miss by up to a factor of two near saturation; the workflow calibration
(:mod:`scepsy_opt.surrogate.calib`) scales them.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from scepsy_opt.core.memory import MemorySettings, memory_plan
from scepsy_opt.core.parallel import map_processes
from scepsy_opt.core.problem import configurations
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.settings import check, check_loads
from scepsy_opt.core.types import GpuSpec, LlmSpec
from scepsy_opt.sim.capacity import instance_capacity_rps
from scepsy_opt.sim.plan import iteration_model
from scepsy_opt.sim.simulator import InstanceSpec, Simulation
from scepsy_opt.sim.workload import single_calls_table

log = logging.getLogger(__name__)

FRACTION_GRID = 8
LOADS = (0.1, 0.3, 0.5, 0.7, 0.85)
LOAD_CALLS_FLOOR = 1000  # calls at the lighter loads (where a queue's mean settles quickly)


@dataclass(frozen=True)
class InstanceDataSettings:
    """How much each configuration is simulated (see the module text): ``mix_calls`` calls
    drawn from the workflow, ``saturation_calls`` per overload run, ``load_calls`` for the
    unloaded latency and at the highest of the load curve's utilisations ``loads`` (fewer at
    the lighter ones: :func:`load_sizes`)."""

    mix_calls: int = 4096
    saturation_calls: int = 3000
    load_calls: int = 4000  # at most mix_calls are used
    loads: tuple[float, ...] = LOADS

    def __post_init__(self) -> None:
        for key in ("mix_calls", "saturation_calls", "load_calls"):
            check(getattr(self, key) >= 16, key, "must be >= 16", getattr(self, key),
                  "simulate at least 16 calls, e.g. 1000")
        check_loads(self.loads, "loads")


DEFAULT_INSTANCE_DATA = InstanceDataSettings()


@dataclass(frozen=True, eq=False)
class LlmFitData:
    """Per-configuration measurements of one llm on one GPU type (arrays aligned by config)."""

    llm: str
    gpu: str
    tp: np.ndarray
    fraction: np.ndarray
    capacity_rps: np.ndarray
    unloaded_s: np.ndarray
    load_rho: np.ndarray  # [C, K] utilisation of each load-curve point
    load_delta: np.ndarray  # [C, K] mean extra latency over the unloaded, in units of it
    meta: dict = field(default_factory=dict)


def load_sizes(load_calls: int, loads: tuple[float, ...], calls: int) -> list[int]:
    """Calls replayed at each utilisation of ``loads``: ``load_calls`` at the highest and, at
    lower ones, as many as give its precision (a queue's samples are correlated over about
    ``1 / (1 - rho)^2`` calls), at least ``LOAD_CALLS_FLOOR``; never more than the mix."""
    top = max(loads)
    return [min(calls, max(math.ceil(load_calls * ((1 - top) / (1 - rho)) ** 2),
                           min(load_calls, LOAD_CALLS_FLOOR))) for rho in loads]


def _run(spec: InstanceSpec, inputs: np.ndarray, outputs: np.ndarray, arrivals: np.ndarray):
    table = single_calls_table(spec.llm, inputs, outputs)
    n = len(inputs)
    return Simulation(table, arrivals, np.zeros(n, dtype=int), [spec]).run()


@dataclass(frozen=True, eq=False)
class _Config:
    """One configuration of an llm to simulate (picklable: runs on a worker process), with
    the calls and the arrival patterns every configuration shares."""

    llm: LlmSpec
    gpu: GpuSpec
    tp: int
    fraction: float
    memory: MemorySettings
    profile: ProfileTable | None
    inputs: np.ndarray
    outputs: np.ndarray
    saturation_gaps: np.ndarray  # [2, saturation calls]
    load_gaps: tuple[np.ndarray, ...]  # per load
    loads: tuple[float, ...]


def _measure(c: _Config) -> tuple[float, float, list[float]]:
    """Capacity (calls/s), unloaded latency (s) and the load curve's extra latencies of one
    configuration."""
    memory, inputs, outputs = c.memory, c.inputs, c.outputs
    calls, saturation_calls = len(inputs), c.saturation_gaps.shape[1]
    model = iteration_model(c.llm, c.gpu, c.tp, c.fraction, memory, c.profile)
    plan = memory_plan(c.llm, c.gpu, c.tp, c.fraction, memory)
    spec = InstanceSpec(c.llm.id, model, plan.kv_capacity_tokens, memory.max_num_seqs,
                        memory.max_num_batched_tokens)
    # unloaded: calls one at a time, far apart
    head = slice(0, max(len(g) for g in c.load_gaps))
    alone = _run(spec, inputs[head], outputs[head], np.arange(head.stop) * 1e4)
    alone_s = alone.call_finished - alone.call_submitted
    single = float(np.mean(alone_s))
    # saturation capacity: Poisson arrivals at twice the analytic capacity, then at 1.25x
    # the rate that measured, keep a queue; the departure rate between the 25% and 75%
    # finish quantiles is the steady maximum
    mu = instance_capacity_rps(model, plan.kv_capacity_tokens, memory.max_num_seqs,
                               memory.max_num_batched_tokens, float(inputs.mean()),
                               float(outputs.mean())) * 2
    many = np.resize(np.arange(calls), saturation_calls)
    for overload, gaps in zip((1.0, 1.25), c.saturation_gaps, strict=True):
        arrivals = np.cumsum(gaps / (overload * mu))
        finished = np.sort(_run(spec, inputs[many], outputs[many], arrivals).call_finished)
        low = finished[int(0.25 * saturation_calls)]
        high = finished[int(0.75 * saturation_calls)]
        if high > low:
            mu = 0.5 * saturation_calls / (high - low)
    # load curve: the same calls as a Poisson stream at utilisation rho
    deltas = []
    for rho, gaps in zip(c.loads, c.load_gaps, strict=True):
        n = len(gaps)
        warm = n // 10
        arrivals = np.cumsum(gaps / (rho * mu))
        raw = _run(spec, inputs[:n], outputs[:n], arrivals)
        latency = float(np.mean((raw.call_finished - raw.call_submitted)[warm:]))
        deltas.append(max(latency / float(np.mean(alone_s[warm:n])) - 1.0, 0.0))
    return mu, single, deltas


def collect(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings, mix: CallMix, *,
            profile: ProfileTable | None = None, seed: int = 0,
            settings: InstanceDataSettings = DEFAULT_INSTANCE_DATA,
            workers: int = 1) -> LlmFitData:
    """Simulate single instances of ``llm`` in every configuration (see the module text), on
    up to ``workers`` processes."""
    saturation_calls, loads = settings.saturation_calls, settings.loads
    rng = np.random.default_rng(seed)
    context = int(max(np.add(mix.input_tokens, mix.output_tokens)))
    configs = configurations(llm, gpu, memory, context)
    if not configs:
        raise ValueError(f"no configuration holds {llm.id} on {gpu.id}")
    inputs = np.array(mix.input_tokens)
    outputs = np.array(mix.output_tokens)
    calls = len(inputs)
    mean_in, mean_out = float(inputs.mean()), float(outputs.mean())
    # common random numbers (see the module text): one arrival pattern in units of capacity
    saturation_gaps = rng.exponential(1.0, (2, saturation_calls))
    load_gaps = tuple(rng.exponential(1.0, n)
                      for n in load_sizes(settings.load_calls, loads, calls))
    tasks = [_Config(llm, gpu, tp, fraction, memory, profile, inputs, outputs, saturation_gaps,
                     load_gaps, tuple(loads)) for tp, fraction in configs]
    capacity, unloaded, load_delta = [], [], []
    progress = Progress(f"fit data {llm.id} on {gpu.id}", len(configs), log)
    for mu, single, deltas in map_processes(_measure, tasks, workers):
        capacity.append(mu)
        unloaded.append(single)
        load_delta.append(deltas)
        progress.advance()
    array = np.asarray
    return LlmFitData(
        llm=llm.id, gpu=gpu.id, tp=array([c[0] for c in configs], dtype=np.float64),
        fraction=array([c[1] for c in configs]), capacity_rps=array(capacity),
        unloaded_s=array(unloaded), load_rho=np.tile(np.array(loads), (len(configs), 1)),
        load_delta=array(load_delta),
        meta={"mean_input_tokens": mean_in, "mean_output_tokens": mean_out, "calls": calls},
    )
