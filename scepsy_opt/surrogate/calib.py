"""How latency grows with load, learnt from whole-workflow simulations.

The calls of a workflow do not arrive like independent single calls: fan-outs release several
at once, and each request paces its next calls by the completion of the previous ones, so near
saturation an llm inside a workflow queues about twice as long as the same llm fed by a Poisson
stream of its calls, and sustains less than its single-instance capacity (a request in flight
holds only a few calls, so the batch an instance can build is bounded by the requests in the
system). The load parameters of the surrogate (:func:`scepsy_opt.surrogate.model.extra_delay`,
``eta``, ``kappa``) are therefore fitted to runs of the workflow itself in the simulator:

1. random feasible allocations on clusters of ``budgets`` GPUs of the GPU type (every llm a TP
   degree and GPU fraction that hold it, and replicas); a budget too small for the workflow's
   llms is replaced by a larger one (:func:`calibration_budgets`);
2. for each: its highest sustainable rate (the evaluation harness's bisection), then runs at
   ``loads`` of that rate, recording the mean end-to-end latency, each member's and each llm's
   mean call latency;
3. a least-squares fit in log space (optax) of the surrogate's predicted max throughput and
   latency to those measurements.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax

from scepsy_opt.core.memory import MemorySettings
from scepsy_opt.core.packing import PlacementError, first_fit
from scepsy_opt.core.parallel import map_processes
from scepsy_opt.core.problem import AllocationProblem, configurations
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.progress import Progress
from scepsy_opt.core.settings import (
    check,
    check_loads,
    normalise,
    positive,
    positive_ints,
    run_field,
)
from scepsy_opt.core.types import Allocation, Catalog, ClusterSpec, LlmAllocation, NodeSpec
from scepsy_opt.sim.runner import PlanRunner, span_latency_s
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.surrogate import model
from scepsy_opt.surrogate.workflow import WorkflowSurrogate
from scepsy_opt.workflow.spec import WorkflowSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationSettings:
    """How many whole-workflow runs the load parameters are fitted to: ``allocations_per_budget``
    random feasible allocations on clusters of each of ``budgets`` GPUs, each run at its max
    sustainable rate (``bisection_steps`` runs of ``probe_requests``) and at ``loads`` of it
    (``num_requests`` each); the load parameters are then fitted in ``fit_steps`` steps of
    ``learning_rate``."""

    budgets: tuple[int, ...] = (4, 8, 16)
    allocations_per_budget: int = 8
    loads: tuple[float, ...] = (0.15, 0.35, 0.55, 0.7, 0.85)
    num_requests: int = 600
    probe_requests: int = 300
    bisection_steps: int = 6
    fit_steps: int = 4000
    learning_rate: float = 0.05
    seed: int = run_field("seed", 0)
    # a mix whose members share no llm: joint (its load parameters fitted to runs of the whole
    # mix, the default: closer on the mix's max throughput) or members (each member calibrated
    # on its own and its fit reused: no mix runs, closer on latency; see MIX_MODES and
    # benchmarks/RESULTS.md)
    mix: Literal["joint", "members"] = "joint"

    def __post_init__(self) -> None:
        positive_ints(self.budgets, "budgets")
        normalise(self, "budgets", tuple(sorted(set(self.budgets))))
        check_loads(self.loads, "loads")
        for key in ("allocations_per_budget", "num_requests", "probe_requests",
                    "bisection_steps", "fit_steps"):
            check(getattr(self, key) > 0, key, "must be > 0", getattr(self, key),
                  "use a positive integer")
        positive(self.learning_rate, "learning_rate", "e.g. 0.05")


MIX_MODES = {
    "joint": "the mix's load parameters fitted to runs of the whole mix",
    "members": "a mix whose members share no llm calibrated member by member (each member's "
               "own fit, reused from the cache when it was fitted alone)",
}


@dataclass(frozen=True, eq=False)
class WorkflowRuns:
    """Simulated runs of one workflow: per allocation ``A`` and per run ``S``."""

    llms: tuple[str, ...]
    members: tuple[str, ...]
    tp: np.ndarray  # [A, L]
    replicas: np.ndarray  # [A, L]
    fraction: np.ndarray  # [A, L]
    max_rate_rps: np.ndarray  # [A]
    run_allocation: np.ndarray  # [S] allocation index
    rate_rps: np.ndarray  # [S]
    latency_s: np.ndarray  # [S]
    member_latency_s: np.ndarray  # [S, M]
    call_latency_s: np.ndarray  # [S, L] (NaN: no measured call)
    sustained: np.ndarray  # [S]

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in (
            "tp", "replicas", "fraction", "max_rate_rps", "run_allocation", "rate_rps",
            "latency_s", "member_latency_s", "call_latency_s", "sustained")}


def synthetic_cluster(catalog: Catalog, gpu: str, gpus: int,
                      like: NodeSpec | None = None) -> ClusterSpec:
    """``gpus`` GPUs of type ``gpu`` in nodes shaped like ``like`` (its GPUs per node, NVLink
    domains and network: the node of the cluster being planned for, so the calibration packs
    its random allocations under the same TP-domain rules as the place stage); without
    ``like``, nodes of 8 GPUs on one NVLink domain each (single-GPU domains for a GPU without
    NVLink). A budget below one node is one node of the first ``gpus`` GPUs, whose domains
    are the template's cut to them."""
    if like is None:
        per_node = 8
        domains = ((tuple(range(8)),) if catalog.gpus[gpu].has_nvlink
                   else tuple((g,) for g in range(8)))
        network = 400.0
    else:
        per_node, domains, network = like.num_gpus, like.nvlink_domains, like.network_gb_s
    per_node = min(per_node, gpus)
    domains = tuple(cut for d in domains if (cut := tuple(g for g in d if g < per_node)))
    count = math.ceil(gpus / per_node)
    width = max(2, len(str(count - 1)))
    nodes = tuple(NodeSpec(id=f"node-{n:0{width}d}", gpu=gpu, num_gpus=per_node,
                           rack=f"node-rack{n // 4:02d}", nvlink_domains=domains,
                           network_gb_s=network) for n in range(count))
    return ClusterSpec(name=f"calibration-{gpus}x{gpu}", description="fit-stage calibration",
                       nodes=nodes)


def calibration_node(problem: AllocationProblem) -> NodeSpec:
    """The node the calibration clusters are shaped like: the planned cluster's first node
    of the problem's GPU type."""
    return next(n for n in problem.cluster.nodes if n.gpu == problem.gpu)


def random_allocation(problem: AllocationProblem, catalog: Catalog, rng: np.random.Generator,
                      attempts: int = 200, max_replicas: int | None = None
                      ) -> Allocation | None:
    """A random allocation that fits the budget and places by first fit (None if none found).

    Every llm gets a TP degree and GPU fraction that hold it and its longest call, and
    replicas drawn log-uniformly from 1 to what the GPUs left allow (at most
    ``max_replicas`` when given; each doubling of the count about as likely as the next), so
    the fine-grained allocations the search favours on large clusters (dozens of small
    instances of one llm) are covered as well as the few-replica ones. A uniform draw
    capped at 8 replicas left every allocation with more than 8 replicas of an llm outside
    what the surrogate was calibrated and validated on.
    """
    gpu = catalog.gpus[problem.gpu]
    options = {d.llm: configurations(catalog.llms[d.llm], gpu, problem.memory, d.context_tokens,
                                     problem.max_tp)
               for d in problem.demands}
    for _ in range(attempts):
        entries, used = [], 0.0
        order = rng.permutation(len(problem.demands))
        for position, i in enumerate(order):
            llm = problem.demands[i].llm
            # leave every llm still to come its smallest footprint
            reserve = sum(min(t * f for t, f in options[problem.demands[j].llm])
                          for j in order[position + 1:])
            room_gpus = problem.gpus - used - reserve
            choices = [c for c in options[llm] if c[0] * c[1] <= room_gpus + 1e-9]
            if not choices:
                break
            tp, fraction = choices[rng.integers(len(choices))]
            room = max(1, int(room_gpus / (tp * fraction) + 1e-9))
            if max_replicas is not None:
                room = min(room, max_replicas)
            replicas = min(room, int(np.exp(rng.uniform(0.0, np.log(room + 1.0)))))
            entries.append(LlmAllocation(llm, problem.gpu, tp, replicas, fraction))
            used += tp * fraction * replicas
        if len(entries) != len(problem.demands):
            continue
        allocation = Allocation("random", tuple(sorted(entries, key=lambda e: e.llm)))
        try:
            first_fit(allocation, problem.cluster)
        except PlacementError:
            continue
        return allocation
    return None


def allocation_arrays(llms: tuple[str, ...], allocation: Allocation
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    entries = [allocation.llm(llm) for llm in llms]
    return (np.array([e.tp for e in entries], dtype=float),
            np.array([e.replicas for e in entries], dtype=float),
            np.array([e.gpu_fraction for e in entries]))


@dataclass(frozen=True)
class _Task:
    """One allocation to simulate (picklable: runs on a worker process)."""

    spec: WorkflowSpec
    allocation: Allocation
    budget: int
    catalog: Catalog
    gpu: str
    node: NodeSpec
    memory: MemorySettings
    simulate: SimulateSettings
    profiles: Mapping[tuple[str, str], ProfileTable]
    unloaded_latency_s: float
    hint_rps: float
    loads: tuple[float, ...]
    num_requests: int
    llms: tuple[str, ...]


def _simulate(task: _Task) -> tuple[float, list[tuple[float, float, list[float], np.ndarray,
                                                          bool]]]:
    cluster = synthetic_cluster(task.catalog, task.gpu, task.budget, task.node)
    runner = PlanRunner(task.spec, task.allocation, first_fit(task.allocation, cluster),
                        task.catalog, task.memory, task.simulate, task.profiles,
                        task.unloaded_latency_s)
    max_rate = runner.max_sustainable_rate(task.hint_rps)
    runs = []
    hint = None  # the loads ascend: each run is sized by the latency of the one before
    for load in sorted(task.loads):
        rate = load * max_rate
        if rate <= 0:
            continue
        metrics = runner.run_long(rate, task.num_requests, latency_hint_s=hint)
        hint = span_latency_s(metrics)
        calls = np.full(len(task.llms), np.nan)
        for stats in metrics.llms:
            if stats.llm in task.llms and stats.calls > 0:
                calls[task.llms.index(stats.llm)] = stats.call_latency_s
        members = [m.e2e_latency_s.mean for m in metrics.members] or [
            metrics.e2e_latency_s.mean]
        runs.append((rate, metrics.e2e_latency_s.mean, members, calls,
                     runner.sustains(metrics)))
    return max_rate, runs


def calibration_budgets(problem: AllocationProblem, catalog: Catalog,
                        budgets: tuple[int, ...]) -> tuple[int, ...]:
    """The GPU budgets to calibrate on: ``budgets``, with each one too small for one instance
    of every llm (the smallest footprint each, in whole GPUs) replaced by twice the largest
    so far, so a workflow of large llms is calibrated on as many cluster sizes as any other."""
    gpu = catalog.gpus[problem.gpu]
    smallest = sum(min(t * f for t, f in configurations(
        catalog.llms[d.llm], gpu, problem.memory, d.context_tokens, problem.max_tp))
        for d in problem.demands)
    kept = [b for b in sorted(set(budgets)) if b >= smallest]
    top = max(kept or [max(budgets)])
    while len(kept) < len(set(budgets)):
        top *= 2
        if top >= smallest:
            kept.append(top)
    return tuple(kept)


def collect_runs(spec: WorkflowSpec, problem: AllocationProblem, catalog: Catalog,
                 surrogate: WorkflowSurrogate, settings: CalibrationSettings,
                 simulate: SimulateSettings, unloaded_latency_s: float,
                 profiles: Mapping[tuple[str, str], ProfileTable] | None = None, *,
                 workers: int = 1) -> WorkflowRuns:
    """Simulate random allocations of ``spec`` at several loads (see the module text), on up
    to ``workers`` processes."""
    rng = np.random.default_rng([settings.seed, 11])
    simulate = replace(simulate, sustain=replace(
        simulate.sustain, iterations=settings.bisection_steps,
        num_requests=settings.probe_requests))
    llms = surrogate.llms
    tasks: list[_Task] = []
    for budget in calibration_budgets(problem, catalog, settings.budgets):
        sized = replace(problem, cluster=synthetic_cluster(catalog, problem.gpu, budget,
                                                           calibration_node(problem)))
        found = 0
        for _ in range(settings.allocations_per_budget * 4):
            if found == settings.allocations_per_budget:
                break
            allocation = random_allocation(sized, catalog, rng)
            if allocation is None:
                continue
            found += 1
            tp, replicas, fraction = allocation_arrays(llms, allocation)
            hint = float(surrogate.predict(tp, replicas, fraction, 1.0)["throughput_rps"])
            tasks.append(_Task(spec, allocation, budget, catalog, problem.gpu,
                               calibration_node(problem), problem.memory,
                               simulate, dict(profiles or {}), unloaded_latency_s, hint,
                               settings.loads, settings.num_requests, llms))
    if not tasks:
        raise ValueError(f"no allocation of {spec.name} fits {settings.budgets} GPUs")
    progress = Progress(f"fit {spec.name}: simulated allocations", len(tasks), log)
    rows: dict[str, list[Any]] = {k: [] for k in (
        "tp", "replicas", "fraction", "max_rate_rps", "run_allocation", "rate_rps",
        "latency_s", "member_latency_s", "call_latency_s", "sustained")}
    # the allocations predicted to sustain the most first: their runs are the longest, and a
    # long one started last would keep one process busy while the others wait
    order = sorted(range(len(tasks)), key=lambda i: -tasks[i].hint_rps)
    simulated = {}
    for index, result in zip(order, map_processes(_simulate, [tasks[i] for i in order],
                                                  workers), strict=True):
        simulated[index] = result
        progress.advance()
    for index, task in enumerate(tasks):
        max_rate, runs = simulated[index]
        tp, replicas, fraction = allocation_arrays(llms, task.allocation)
        rows["tp"].append(tp)
        rows["replicas"].append(replicas)
        rows["fraction"].append(fraction)
        rows["max_rate_rps"].append(max_rate)
        for rate, latency, members, calls, sustained in runs:
            rows["run_allocation"].append(index)
            rows["rate_rps"].append(rate)
            rows["latency_s"].append(latency)
            rows["member_latency_s"].append(members)
            rows["call_latency_s"].append(calls)
            rows["sustained"].append(sustained)
    return WorkflowRuns(llms=llms, members=surrogate.members,
                        **{k: np.asarray(v) for k, v in rows.items()})


# --------------------------------------------------------------------------- fitting


ETA_PRIOR = 0.01  # weight of the pull of eta's replica weight towards its start
LOAD_PRIOR = 0.01  # weight of the pull of the delay scales and replica thinning towards theirs


def load_loss(load: dict, surrogate: WorkflowSurrogate, data: dict[str, Any]) -> Any:
    """Mean squared log errors of every member's mean latency over the runs, plus twice that
    of the max sustainable throughput over the allocations (fewer points, as important), plus
    two weak pulls towards the starting parameters (ridge priors), on what a few dozen
    allocations do not pin down:

    - ``ETA_PRIOR`` on eta's replica weight: unpulled, it extrapolates to allocations with
      more replicas than any calibration run as a collapse of capacity. Eta's level and
      concurrency-need weights are free: a workflow whose large llms run with little KV cache
      sustains markedly less inside the workflow than alone, and the calibration runs say by
      how much;
    - ``LOAD_PRIOR`` on the delay scales ``s`` and the pole's replica thinning ``g``:
      unpulled, the fit can explain a few runs with an extreme combination (a pole scaled
      250-fold on one replica and thinned as ``r^-11`` on more), which held-out allocations
      of that llm with one replica then pay as a latency several times too high."""
    batch = jax.vmap(surrogate.evaluate, in_axes=(None, 0, 0, 0, 0))
    alloc = data["run_allocation"]
    runs = batch(load, data["tp"][alloc], data["replicas"][alloc], data["fraction"][alloc],
                 data["rate_rps"])
    measured = data["member_latency_s"] > 0
    latency = jnp.sum(jnp.where(measured, jnp.log(runs["member_latency_s"]) - jnp.log(
        jnp.where(measured, data["member_latency_s"], 1.0)), 0.0) ** 2) / jnp.maximum(
        jnp.sum(measured), 1)
    limits = jax.vmap(surrogate.evaluate, in_axes=(None, 0, 0, 0, None))(
        load, data["tp"], data["replicas"], data["fraction"], 1.0)["throughput_rps"]
    valid = data["max_rate_rps"] > 0
    throughput = jnp.sum(jnp.where(valid, jnp.log(limits) - jnp.log(
        jnp.where(valid, data["max_rate_rps"], 1.0)), 0.0) ** 2) / jnp.maximum(
        jnp.sum(valid), 1)
    eta = jnp.sum((load["e"][..., 1] - model.ETA_START[1]) ** 2)
    scales = jnp.sum((load["s"] - jnp.asarray(model.S_START)) ** 2) + jnp.sum(load["g"] ** 2)
    return latency + 2.0 * throughput + ETA_PRIOR * eta + LOAD_PRIOR * scales


def optimiser(settings: CalibrationSettings) -> optax.GradientTransformation:
    """Adam with clipped gradients and a cosine-decaying step."""
    schedule = optax.cosine_decay_schedule(settings.learning_rate, settings.fit_steps, 0.02)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))


def fit_load(surrogate: WorkflowSurrogate, runs: WorkflowRuns, key: jax.Array,
             optimiser: optax.GradientTransformation, steps: int
             ) -> tuple[dict[str, np.ndarray], float]:
    """Load parameters fitted to the runs (pure: data, key and optimiser in); the best
    parameters seen and their loss."""
    # every run counts, sustained or not: the runs follow the evaluation protocol (rates up to
    # 85% of the simulated max), and the latency a run of that length measures is the target.
    # Per-llm call latencies are recorded for diagnostics but not fitted: the end-to-end
    # latency is the target, and a model that matches both at once fits it worse.
    data = {k: jnp.asarray(v) for k, v in runs.arrays().items()}
    params = model.init_load(key, len(surrogate.llms))
    state = optimiser.init(params)
    best = (params, jnp.inf)

    def body(carry: tuple, _: Any) -> tuple:
        params, state, best = carry
        value, grads = jax.value_and_grad(load_loss)(params, surrogate, data)
        # keep the best parameters seen (the loss is not convex; steps can overshoot)
        better = jnp.isfinite(value) & (value < best[1])
        best = (jax.tree_util.tree_map(lambda new, old: jnp.where(better, new, old), params,
                                       best[0]), jnp.where(better, value, best[1]))
        updates, state = optimiser.update(grads, state, params)
        return (optax.apply_updates(params, updates), state, best), value

    (_, _, (params, loss)), _ = jax.lax.scan(body, (params, state, best), None, length=steps)
    return model.to_numpy(params), float(loss)
