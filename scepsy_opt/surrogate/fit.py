"""Fitting with a content-addressed cache: per-llm instance models and per-workflow load models.

Fitted parameters persist as ``<key>.npz`` with a ``<key>.json`` sidecar in a cache folder
(:mod:`scepsy_opt.surrogate.cache`: its lock, corrupt entries, an unwritable folder), where
``key`` is a SHA-256 hash of the content of everything the fit depends on, never of where it
was read from (file paths are left out, so an installed package reuses the fits of a checkout):

- an llm's **instance model**: llm and GPU specs, memory settings, the call mix, the profile's
  iteration times, the fit version and a digest of the code that collects and fits it;
- a workflow's **load model**: the instance models' keys, the workflow (spec and sampled
  requests), the simulation and calibration settings, the fit version and a digest of the
  surrogate's and the simulator's code. Its file also keeps the
  candidate critical paths and the simulated runs it was fitted to.

A later run with the same inputs reuses them instead of simulating and fitting again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

from scepsy_opt.core.artifacts import to_jsonable
from scepsy_opt.core.code import imported_files
from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.problem import AllocationProblem
from scepsy_opt.core.profile_table import ProfileTable, to_csv
from scepsy_opt.core.profiling import CallMix
from scepsy_opt.core.roofline import roofline_params
from scepsy_opt.core.trace import TraceTable
from scepsy_opt.core.types import Catalog, GpuSpec, LlmSpec
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate import cache, model
from scepsy_opt.surrogate import data as data_module
from scepsy_opt.surrogate.calib import (
    CalibrationSettings,
    WorkflowRuns,
    calibration_node,
    collect_runs,
    fit_load,
    optimiser,
)
from scepsy_opt.surrogate.data import (
    DEFAULT_INSTANCE_DATA,
    InstanceDataSettings,
    LlmFitData,
    collect,
)
from scepsy_opt.surrogate.paths import PathSet
from scepsy_opt.surrogate.workflow import WorkflowSurrogate
from scepsy_opt.workflow.spec import TraceSource, WorkflowSpec

log = logging.getLogger(__name__)
FIT_VERSION = "10"
STEPS = 2000
LEARNING_RATE = 0.05


@dataclass(frozen=True, eq=False)
class LlmFit:
    """Fitted instance model of one llm on one GPU type, and how well it fits its data."""

    llm: str
    gpu: str
    key: str
    params: dict
    errors: dict
    reused: bool = False


@dataclass(frozen=True, eq=False)
class WorkflowFit:
    """Fitted load model of one workflow, its path sets, and the runs it was fitted to (a mix
    calibrated member by member has no runs of its own: its ``members``' fits hold them)."""

    key: str
    load: dict
    loss: float
    paths: tuple[PathSet, ...]
    mean_call_s: np.ndarray
    runs: WorkflowRuns | None
    errors: dict
    reused: bool = False
    members: tuple[WorkflowFit, ...] = ()

    @property
    def calibration_runs(self) -> int:
        """How many simulated runs the load model was fitted to (over the members for a mix
        calibrated member by member)."""
        own = len(self.runs.rate_rps) if self.runs is not None else 0
        return own + sum(m.calibration_runs for m in self.members)


def _digest(basis: object) -> str:
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:24]


def content(value: object) -> object:
    """``value`` as JSON for a key, without where its parts were read from: every ``source``
    field (a workflow's file, a calibration file's path) and a trace source's ``path`` (the
    traces' rows are hashed instead)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: content(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name != "source" and not (isinstance(value, TraceSource)
                                               and f.name == "path")}
    if isinstance(value, Mapping):
        return {str(k): content(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [content(v) for v in value]
    return to_jsonable(value)


def profile_digest(profile: ProfileTable) -> str:
    """A profile's rows and its environment block, less the folder it was imported from."""
    return hashlib.sha256(to_csv(dataclasses.replace(profile, env=tuple(
        (k, v) for k, v in profile.env if k != "source"))).encode()).hexdigest()


@functools.cache
def code_digest(kind: str) -> str:
    """A digest of the code a fit's result depends on, so that a changed model form or
    simulator never reuses parameters fitted to another (``FIT_VERSION`` alone relied on being
    bumped by hand). ``instance``: the single-instance data collection and the instance model's
    fitting functions; ``workflow``: the surrogate and the simulator packages. Each with every
    module of the project they import, directly or not (the roofline and memory model of
    ``core/`` included)."""
    digest = hashlib.sha256()
    if kind == "instance":
        parts = [inspect.getsource(data_module)] + [inspect.getsource(f) for f in (
            model.features, model.grid_index, model.bilinear, model.queue_basis,
            model.minimise, model.fit_translog, model.fit_queue, model.residual_table,
            model.fit_instance)]
        parts += [path.read_text() for path in imported_files(("sim",))]
    else:
        parts = [path.read_text() for path in imported_files(("surrogate", "sim"))]
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()[:16]


def fit_key(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings, mix: CallMix,
            profile: ProfileTable | None,
            settings: InstanceDataSettings = DEFAULT_INSTANCE_DATA) -> str:
    basis = {
        "version": FIT_VERSION, "code": code_digest("instance"), "llm": content(llm),
        "gpu": content(gpu),
        "memory": content(memory),
        "mix": hashlib.sha256(np.asarray([mix.input_tokens, mix.output_tokens]).tobytes())
        .hexdigest(),
        "timing": profile_digest(profile)
        if profile is not None and profile.backend != "roofline"
        else content(roofline_params(gpu.id)),
    }
    if settings != DEFAULT_INSTANCE_DATA:  # the default keeps the keys of earlier fits
        basis["instance_data"] = to_jsonable(settings)
    return _digest(basis)


def fit_errors(params: dict, data: LlmFitData) -> dict[str, float]:
    """Largest absolute percentage error of capacity and unloaded latency on their data (zero
    up to rounding: the surfaces are exact at measured points), and the load curves' mean."""
    p = model.from_numpy(params)

    def worst(predicted: object, measured: np.ndarray) -> float:
        return float(np.max(np.abs(np.asarray(predicted) / measured - 1)) * 100)

    queue = np.stack([np.asarray(model.surface(p, name, data.tp, data.fraction))
                      for name in ("qa", "qb", "qc")], axis=-1)
    curve = np.sum(queue[:, None, :] * np.asarray(model.queue_basis(data.load_rho)), axis=-1)
    return {
        "capacity_pct": worst(model.capacity(p, data.tp, data.fraction), data.capacity_rps),
        "unloaded_pct": worst(model.unloaded(p, data.tp, data.fraction), data.unloaded_s),
        # the load curve's latency (1 + delta), mean error over every point
        "load_curve_mape_pct": float(np.mean(np.abs((1 + curve) / (1 + data.load_delta) - 1))
                                     * 100),
    }


def fit_llm(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings, mix: CallMix, *,
            profile: ProfileTable | None = None, cache_dir: Path | None = None,
            seed: int = 0, settings: InstanceDataSettings = DEFAULT_INSTANCE_DATA,
            workers: int = 1) -> LlmFit:
    """Fit (or reuse) the instance model of ``llm`` on ``gpu`` for its call mix (its data
    simulated on up to ``workers`` processes)."""
    key = fit_key(llm, gpu, memory, mix, profile, settings)
    with cache.locked(cache_dir, key):  # a process fitting the same key waits for this one
        stored = cache.load(cache_dir, key, lambda arrays, meta: LlmFit(
            llm.id, gpu.id, key, arrays, dict(meta["errors"]), reused=True))
        if stored is not None:
            log.info("fit %s on %s: reusing %s", llm.id, gpu.id, cache_dir / f"{key}.npz")
            return stored
        return _fit_llm(llm, gpu, memory, mix, key, profile=profile, cache_dir=cache_dir,
                        seed=seed, settings=settings, workers=workers)


def _fit_llm(llm: LlmSpec, gpu: GpuSpec, memory: MemorySettings, mix: CallMix, key: str, *,
             profile: ProfileTable | None, cache_dir: Path | None, seed: int,
             settings: InstanceDataSettings, workers: int) -> LlmFit:
    log.info("fit %s on %s: fitting the instance model", llm.id, gpu.id)
    data = collect(llm, gpu, memory, mix, seed=seed, profile=profile, settings=settings,
                   workers=workers)
    params = model.fit_instance(data.tp, data.fraction, data.capacity_rps, data.unloaded_s,
                                data.load_rho, data.load_delta, jax.random.PRNGKey(seed),
                                optax.adam(LEARNING_RATE), STEPS)
    errors = fit_errors(params, data)
    log.info("fit %s on %s: largest errors %s", llm.id, gpu.id,
             {k: round(v, 2) for k, v in errors.items()})
    result = LlmFit(llm.id, gpu.id, key, params, errors)
    if cache_dir is not None:
        meta = {"kind": "instance model", "llm": llm.id, "gpu": gpu.id,
                "fit_version": FIT_VERSION, "errors": errors,
                "data": to_jsonable({k: v for k, v in dataclasses.asdict(data).items()
                                     if k != "meta"}), "call_mix": data.meta}
        cache.save(cache_dir, key, params, meta)
    return result


def workflow_key(spec: WorkflowSpec, tables: Mapping[str, TraceTable],
                 problem: AllocationProblem, fits: Mapping[str, LlmFit],
                 simulate: SimulateSettings, calibration: CalibrationSettings) -> str:
    digest, node = hashlib.sha256(), calibration_node(problem)
    for name in sorted(tables):
        table = tables[name]
        for array in (table.request, table.kind, table.llm, table.start_s, table.end_s,
                      table.input_tokens, table.output_tokens, table.parent_ptr,
                      table.parent_idx):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(repr(table.llms).encode())
    return _digest({
        "version": FIT_VERSION, "code": code_digest("workflow"), "spec": content(spec),
        "tables": digest.hexdigest(),
        "instances": {llm: fit.key for llm, fit in sorted(fits.items())},
        "gpu": problem.gpu, "memory": content(problem.memory),
        "node": [node.num_gpus, content(node.nvlink_domains), node.network_gb_s],
        "simulate": content(dataclasses.replace(simulate, baselines=())),
        "calibration": content(calibration),
    })


def fit_workflow(spec: WorkflowSpec, tables: Mapping[str, TraceTable],
                 problem: AllocationProblem, catalog: Catalog, fits: Mapping[str, LlmFit],
                 paths: Callable[[], tuple[tuple[PathSet, ...], np.ndarray]],
                 initial: Callable[[tuple[PathSet, ...], np.ndarray], WorkflowSurrogate], *,
                 simulate: SimulateSettings, calibration: CalibrationSettings,
                 unloaded_latency_s: float,
                 profiles: Mapping[tuple[str, str], ProfileTable] | None = None,
                 cache_dir: Path | None = None, workers: int = 1) -> WorkflowFit:
    """Fit (or reuse) the load model of a workflow: simulate it on random allocations and fit
    the surrogate's load parameters to the runs."""
    key = workflow_key(spec, tables, problem, fits, simulate, calibration)
    with cache.locked(cache_dir, key):  # a process fitting the same key waits for this one
        stored = cache.load(cache_dir, key,
                            lambda arrays, meta: _workflow_from_arrays(key, arrays, meta))
        if stored is not None:
            log.info("fit %s: reusing the load model %s", spec.name, cache_dir / f"{key}.npz")
            return stored
        return _fit_workflow(spec, problem, catalog, key, paths, initial, simulate=simulate,
                             calibration=calibration, unloaded_latency_s=unloaded_latency_s,
                             profiles=profiles, cache_dir=cache_dir, workers=workers)


def _fit_workflow(spec: WorkflowSpec, problem: AllocationProblem, catalog: Catalog, key: str,
                  paths: Callable[[], tuple[tuple[PathSet, ...], np.ndarray]],
                  initial: Callable[[tuple[PathSet, ...], np.ndarray], WorkflowSurrogate], *,
                  simulate: SimulateSettings, calibration: CalibrationSettings,
                  unloaded_latency_s: float,
                  profiles: Mapping[tuple[str, str], ProfileTable] | None,
                  cache_dir: Path | None, workers: int) -> WorkflowFit:
    log.info("fit %s: calibrating the load model", spec.name)
    sets, mean_call = paths()
    surrogate = initial(sets, mean_call)
    runs = collect_runs(spec, problem, catalog, surrogate, calibration, simulate,
                        unloaded_latency_s, profiles, workers=workers)
    load, loss = fit_load(surrogate, runs, jax.random.PRNGKey(calibration.seed),
                          optimiser(calibration), calibration.fit_steps)
    errors = run_errors(surrogate.with_load(load), runs)
    log.info("fit %s: load model loss %.4f, errors on its runs %s", spec.name, loss,
             {k: round(v, 1) for k, v in errors.items()})
    result = WorkflowFit(key, load, loss, sets, mean_call, runs, errors)
    if cache_dir is not None:
        cache.save(cache_dir, key, _workflow_arrays(result), {
            "kind": "workflow load model", "workflow": spec.name, "gpu": problem.gpu,
            "fit_version": FIT_VERSION, "loss": loss, "errors": errors,
            "members": list(runs.members), "llms": list(runs.llms),
            "path_requests": [p.requests for p in sets],
            "path_tool_s": [p.tau_sum for p in sets]})
    return result


def run_errors(surrogate: WorkflowSurrogate, runs: WorkflowRuns) -> dict[str, float]:
    """Mean absolute percentage errors of the surrogate on the runs it was fitted to."""
    latency, throughput = [], []
    for s in range(len(runs.rate_rps)):
        a = runs.run_allocation[s]
        predicted = surrogate.predict(runs.tp[a], runs.replicas[a], runs.fraction[a],
                                      runs.rate_rps[s])
        latency.append(abs(float(predicted["latency_s"]) / runs.latency_s[s] - 1))
    for a in range(len(runs.max_rate_rps)):
        if runs.max_rate_rps[a] > 0:
            predicted = surrogate.predict(runs.tp[a], runs.replicas[a], runs.fraction[a], 1.0)
            throughput.append(abs(float(predicted["throughput_rps"]) / runs.max_rate_rps[a]
                                  - 1))
    return {"latency_mape_pct": 100 * float(np.mean(latency)) if latency else float("nan"),
            "throughput_mape_pct": 100 * float(np.mean(throughput)) if throughput
            else float("nan")}


# --------------------------------------------------------------------------- storage


def _workflow_arrays(fit: WorkflowFit) -> dict[str, np.ndarray]:
    arrays = {f"load.{k}": v for k, v in fit.load.items()}
    arrays["mean_call_s"] = fit.mean_call_s
    for m, paths in enumerate(fit.paths):
        for name in ("W_sum", "C_sum", "J_sum", "W", "C", "J", "tau", "valid"):
            arrays[f"paths{m}.{name}"] = getattr(paths, name)
    for name, value in fit.runs.arrays().items():
        arrays[f"runs.{name}"] = value
    return arrays


def _workflow_from_arrays(key: str, arrays: dict, meta: dict) -> WorkflowFit:
    llms, members = tuple(meta["llms"]), tuple(meta["members"])
    sets = tuple(PathSet(
        llms=llms, requests=meta["path_requests"][m], tau_sum=meta["path_tool_s"][m],
        **{name: arrays[f"paths{m}.{name}"] for name in (
            "W_sum", "C_sum", "J_sum", "W", "C", "J", "tau", "valid")})
        for m in range(len(meta["path_requests"])))
    runs = WorkflowRuns(llms=llms, members=members, **{
        k.removeprefix("runs."): v for k, v in arrays.items() if k.startswith("runs.")})
    load = {k.removeprefix("load."): v for k, v in arrays.items() if k.startswith("load.")}
    return WorkflowFit(key, load, meta["loss"], sets, arrays["mean_call_s"], runs,
                       meta["errors"], reused=True)
