"""Co-located instances on one GPU: SMs partitioned, HBM bandwidth one shared pool.

MPS caps each client's share of the SMs (``gpu_fraction``) but does not partition memory
bandwidth: a memory-bound instance slows its neighbours however the SMs are divided. The model
(after the fluid model of the research notes, calibrated in
``models/calibration/contention/``):

**A step in three parts.** An engine step of one instance alone takes ``host + compute +
memory`` ms, read off the calibrated roofline at three settings (:func:`step_parts`):

- ``host``: what does not touch the GPU's SMs or HBM: the per-step scheduling and sampling
  overhead, per-sequence CPU work, kernel launch gaps, all-reduce latency and traffic (NVLink);
- ``compute``: the step with unlimited bandwidth, minus ``host`` (tensor-core bound time);
- ``memory``: the extra time finite HBM bandwidth costs it (weight, KV-cache and activation
  traffic beyond what overlaps with compute).

**Bandwidth demand.** While its GPU work runs, an instance alone pulls
``demand = ceiling * memory / (compute + memory)`` of the GPU's bandwidth, ``ceiling`` being its
isolated bandwidth share (``min(1, f / f_sat)``, :func:`scepsy_opt.core.roofline.shares`);
its step moves ``ceiling * memory`` (bandwidth share x ms) of bytes.
Demands are in units of the bandwidth one instance holding the whole GPU reaches on its weight
reads (``1.0`` = ``gemm_memory_eff`` x the spec bandwidth); the pool is ``pool_fraction`` of
the spec bandwidth (:attr:`ContentionParams.pool`), so the bandwidth granted on a GPU never
exceeds what the GPU has.

**Sharing.** The instances whose steps are active on a GPU at a moment share the pool by
demand-capped water-filling (max-min fair, :func:`water_fill`): when the demands fit, each gets
its demand; otherwise the small demands are met and the rest split what remains equally. An
instance granted ``x < demand`` moves its bytes at ``x`` over its GPU work: ``compute +
memory' = ceiling * memory / x`` (its memory-bound part grows; it never shrinks). Any
active neighbour costs memory-bound work a further factor ``1 + kappa`` (L2 and memory-
controller interference measured even on disjoint SMs). Compute is capped by the fraction; when
the active fractions sum past 1 (MPS oversubscription) the SMs are shared too and compute slows
by that sum. ``host`` never contends. A tensor-parallel step ends when its slowest GPU does:
its time is the largest over the GPUs it spans (:mod:`scepsy_opt.sim.contention`).

With one active instance everything reduces to the isolated roofline, and the bandwidth granted
on a GPU never exceeds its pool.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

from scepsy_opt.core.errors import CatalogError
from scepsy_opt.core.resources import data_dir
from scepsy_opt.core.roofline import load_roofline_params, of_gpu

PARAMS_FILE = "contention_params.yaml"
# Shares passed to the roofline to make a resource unlimited (see :func:`step_parts`).
UNLIMITED = 1e12


@dataclass(frozen=True)
class ContentionParams:
    """How co-located instances interfere on one GPU type (``contention_params.yaml``):
    ``pool_fraction`` of the spec HBM bandwidth is shared by all clients (at most 1),
    ``kappa`` the extra memory-bound time next to any active neighbour, ``memory_eff`` the
    roofline's GEMM memory efficiency (the share of the spec bandwidth a whole-GPU instance
    reaches on its weight reads: bandwidth share 1)."""

    gpu: str
    pool_fraction: float
    kappa: float
    memory_eff: float
    source: str = ""

    @property
    def pool(self) -> float:
        """The pool in bandwidth shares (1 = what a whole-GPU instance reaches)."""
        return self.pool_fraction / self.memory_eff

    def gb_s(self, share: float, spec_gb_s: float) -> float:
        """A bandwidth share in GB/s of a GPU whose spec bandwidth is ``spec_gb_s``."""
        return share * self.memory_eff * spec_gb_s


class StepParts(NamedTuple):
    """One engine step of one instance alone, split for contention (ms), and its isolated
    bandwidth ceiling and SM fraction (a named tuple: the simulator makes one per phase)."""

    host_ms: float
    compute_ms: float
    memory_ms: float
    ceiling: float  # isolated bandwidth share (1 = a whole GPU's)
    gpu_fraction: float

    @property
    def alone_ms(self) -> float:
        return self.host_ms + self.compute_ms + self.memory_ms

    @property
    def demand(self) -> float:
        """Bandwidth share pulled while the step's GPU work runs, alone."""
        gpu = self.compute_ms + self.memory_ms
        return self.ceiling * self.memory_ms / gpu if gpu > 0 else 0.0

    def together_ms(self, granted: float, kappa: float, neighbours: bool,
                    sm_load: float, demand: float | None = None) -> float:
        """The step's time when granted ``granted`` bandwidth share, next to active
        neighbours or not, on a GPU whose active fractions sum to ``sm_load`` (``demand``:
        :attr:`demand`, when the caller has it)."""
        memory = self.memory_ms
        if memory > 0:
            if granted < (self.demand if demand is None else demand):
                # the step's bytes (ceiling x memory) at ``granted`` over its GPU time
                memory = max(memory, self.ceiling * memory / max(granted, 1e-12)
                             - self.compute_ms)
            if neighbours:
                memory *= 1.0 + kappa
        compute = self.compute_ms * max(1.0, sm_load)
        return self.host_ms + compute + memory

    def used(self, together_ms: float) -> float:
        """Bandwidth share actually pulled over the GPU work of a step lasting
        ``together_ms``: its bytes over its GPU time (at most the share granted)."""
        gpu = together_ms - self.host_ms
        return self.ceiling * self.memory_ms / gpu if gpu > 0 else 0.0


def step_parts(time_ms: Callable[..., float], ceiling: float, gpu_fraction: float
               ) -> StepParts:
    """Split a step timed by ``time_ms(compute_scale=..., bandwidth_scale=...)`` (the roofline
    with its shares multiplied): ``host`` with both resources unlimited, ``compute`` with
    bandwidth unlimited minus ``host``, ``memory`` the rest."""
    total = float(time_ms(compute_scale=1.0, bandwidth_scale=1.0))
    no_memory = float(time_ms(compute_scale=1.0, bandwidth_scale=UNLIMITED))
    host = float(time_ms(compute_scale=UNLIMITED, bandwidth_scale=UNLIMITED))
    return StepParts(host_ms=host, compute_ms=max(no_memory - host, 0.0),
                     memory_ms=max(total - no_memory, 0.0), ceiling=ceiling,
                     gpu_fraction=gpu_fraction)


def water_fill(demands: Sequence[float], pool: float) -> list[float]:
    """Demand-capped max-min fair shares of ``pool``: every demand met when they fit, else the
    smallest met in turn and the rest split equally. The shares never sum past ``pool``."""
    shares = [0.0] * len(demands)
    left, remaining = pool, len(demands)
    for i in sorted(range(len(demands)), key=demands.__getitem__):
        share = min(demands[i], left / remaining)
        shares[i] = share
        left -= share
        remaining -= 1
    return shares


def gpu_times(steps: Sequence[StepParts | None], params: ContentionParams
              ) -> tuple[list[float], list[float]]:
    """(time in ms, granted bandwidth share) of each step active on one GPU; ``None`` marks an
    idle instance (time and share 0)."""
    active = [i for i, step in enumerate(steps) if step is not None]
    times = [0.0] * len(steps)
    granted = [0.0] * len(steps)
    if not active:
        return times, granted
    demands = [steps[i].demand for i in active]  # type: ignore[union-attr]
    shares = water_fill(demands, params.pool)
    load = sum(steps[i].gpu_fraction for i in active)  # type: ignore[union-attr]
    neighbours = len(active) > 1
    for i, share, demand in zip(active, shares, demands, strict=True):
        step = steps[i]
        assert step is not None
        times[i] = step.together_ms(share, params.kappa, neighbours, load, demand)
        granted[i] = share
    return times, granted


def contention_dir() -> Path:
    return data_dir("models") / "calibration"


@functools.lru_cache(maxsize=4)
def load_contention_params(path: Path | None = None) -> dict[str, ContentionParams]:
    """The contention parameters of every GPU type (``models/calibration/{PARAMS_FILE}``)."""
    path = path or contention_dir() / PARAMS_FILE
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CatalogError(f"cannot read the contention parameters ({exc.strerror})",
                           source=str(path),
                           fix="run python -m scepsy_opt.profile.contention") from None
    roofline = load_roofline_params()
    out = {}
    for gpu, entry in raw["gpus"].items():
        if gpu not in roofline:
            raise CatalogError("a GPU type without roofline parameters", source=str(path),
                               field=f"gpus.{gpu}", value=gpu,
                               fix="calibrate its roofline first (scepsy_opt.profile.calibrate)")
        pool, kappa = float(entry["pool_fraction"]), float(entry["kappa"])
        if not (0 < pool <= 1 and 0 <= kappa < 1):
            raise CatalogError("pool_fraction must be in (0, 1] and kappa in [0, 1)",
                               source=str(path), field=f"gpus.{gpu}", value=(pool, kappa),
                               fix="refit with python -m scepsy_opt.profile.contention")
        out[gpu] = ContentionParams(gpu=gpu, pool_fraction=pool, kappa=kappa,
                                    memory_eff=roofline[gpu].gemm_memory_eff,
                                    source=str(entry["source"]))
    return out


def contention_params(gpu: str) -> ContentionParams:
    """The contention parameters of one GPU type; an unknown type is a :class:`CatalogError`."""
    return of_gpu(load_contention_params(), gpu, "contention parameters",
                  "add the type to a kappa measurement in models/calibration/contention/"
                  "measurements.yaml and refit (python -m scepsy_opt.profile.contention)")
