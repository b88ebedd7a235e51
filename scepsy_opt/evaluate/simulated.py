"""The simulator as an :class:`~scepsy_opt.core.evaluator.Evaluator`: every allocation placed
by first fit decreasing (where it finds no room, by the place stage's placers, as the search's
packing check) and run in the discrete-event simulator at the rate, by the harness's own
protocol (:meth:`scepsy_opt.sim.runner.PlanRunner.run_long` with the sustain rule's probe
length, judged by :meth:`~scepsy_opt.sim.runner.PlanRunner.sustains`).

It scores the same allocation space as the surrogate, so the exhaustive search
(:mod:`scepsy_opt.search.exact`) enumerates for it as for the surrogate (the ``exact``
baseline), and the search re-ranks its best candidates with it (``search.refine=simulate``).

``predict_batch`` gives, per allocation: ``latency_s`` (simulated mean end-to-end latency),
``throughput_rps`` (the throughput it completes at the rate, not its highest), ``sustains``
(the sustain rule), ``placed`` (False: no placer found room, every other value then infinite
latency and zero throughput), per llm ``rho`` (simulated utilisation),
``call_latency_s`` (simulated) and ``capacity_rps`` (the requests/s its replicas sustain, from
the llm's profiled capacity, as :func:`scepsy_opt.sim.runner.capacity_bound_rps`), per member
``member_latency_s``. Runs are deterministic (the settings' seed), so each allocation is
simulated once per rate and remembered. ``breakdown`` apportions the simulated latency over
the llms by their realised shares of execution time (``tool_s`` 0): a run keeps no record of
its critical paths, so this is not the surrogate's critical-path split.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scepsy_opt.core.heuristics import PACKERS
from scepsy_opt.core.packing import PlacementError, first_fit_decreasing
from scepsy_opt.core.placement import placement_problem
from scepsy_opt.core.problem import AllocationProblem
from scepsy_opt.core.profile_table import ProfileTable
from scepsy_opt.core.types import Allocation, Catalog, LlmAllocation, Placement
from scepsy_opt.sim.capacity import replica_capacity_rps
from scepsy_opt.sim.runner import PlanRunner
from scepsy_opt.sim.settings import SimulateSettings
from scepsy_opt.workflow.spec import WorkflowSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class SimulatedEvaluator:
    """Scores allocations of ``problem``'s llms (in its order) by simulating ``spec``."""

    spec: WorkflowSpec
    problem: AllocationProblem
    catalog: Catalog
    settings: SimulateSettings
    unloaded_latency_s: float
    profiles: Mapping[tuple[str, str], ProfileTable] = field(default_factory=dict)
    # where first fit decreasing finds no room, the place stage's placers (off: first fit
    # decreasing only, as the harness places the plans it compares)
    fallback: bool = True
    _runs: dict = field(default_factory=dict, repr=False)

    @property
    def llms(self) -> tuple[str, ...]:
        return tuple(d.llm for d in self.problem.demands)

    @property
    def members(self) -> tuple[str, ...]:
        return tuple(m.workflow.name for m in self.spec.members) or (self.spec.name,)

    @property
    def calls_per_request(self) -> np.ndarray:
        return np.array([d.calls_per_request for d in self.problem.demands])

    @property
    def simulations(self) -> int:
        """Allocations simulated so far (each once per rate)."""
        return len(self._runs)

    def allocation(self, tp: Any, replicas: Any, fraction: Any, method: str = "simulated"
                   ) -> Allocation:
        return Allocation(method, tuple(
            LlmAllocation(llm, self.problem.gpu, int(round(float(tp[i]))),
                          int(round(float(replicas[i]))), float(fraction[i]))
            for i, llm in enumerate(self.llms)))

    def placement(self, allocation: Allocation) -> Placement | None:
        """First fit decreasing, as the harness places; where it finds no room (and with
        ``fallback``), the first of the place stage's placers that places the instances (the
        search's packing check: every allocation the search takes places so); None when none
        does."""
        try:
            return first_fit_decreasing(allocation, self.problem.cluster)
        except PlacementError:
            if not self.fallback:
                return None
        try:
            problem = placement_problem(allocation, self.problem.cluster, self.catalog,
                                        self.problem.memory, self.problem.placement)
        except PlacementError:
            return None
        for placer in PACKERS:
            try:
                return placer(problem).placement
            except PlacementError:
                continue
        return None

    def runner(self, allocation: Allocation) -> PlanRunner | None:
        """The harness's runner of the allocation (:meth:`placement`; None: it does not
        place)."""
        placement = self.placement(allocation)
        if placement is None:
            return None
        return PlanRunner(self.spec, allocation, placement, self.catalog, self.problem.memory,
                          self.settings, self.profiles, self.unloaded_latency_s,
                          self.problem.call_overhead_s)

    def _capacity(self, allocation: Allocation) -> np.ndarray:
        return np.array([
            e.replicas * replica_capacity_rps(self.problem, self.catalog, e.llm, e.tp,
                                              e.gpu_fraction)
            / self.problem.demand(e.llm).calls_per_request for e in allocation.llms])

    def _simulate(self, allocation: Allocation, rate: float) -> dict[str, Any]:
        key = (tuple((e.tp, e.replicas, e.gpu_fraction) for e in allocation.llms), rate)
        if key in self._runs:
            return self._runs[key]
        L, M = len(self.llms), len(self.members)
        run = self.runner(allocation)
        if run is None:
            out: dict[str, Any] = {
                "latency_s": math.inf, "throughput_rps": 0.0, "sustains": False,
                "placed": False, "rho": np.full(L, math.inf),
                "call_latency_s": np.full(L, math.inf), "share": np.full(L, 1 / L),
                "member_latency_s": np.full(M, math.inf)}
        else:
            metrics = run.run_long(rate, self.settings.sustain.num_requests)
            by_llm = {s.llm: s for s in metrics.llms}
            members = {m.workflow: m.e2e_latency_s.mean for m in metrics.members}
            mean = metrics.e2e_latency_s.mean
            out = {
                "latency_s": mean, "throughput_rps": metrics.completed_throughput_rps,
                "sustains": run.sustains(metrics), "placed": True,
                "rho": np.array([by_llm[llm].utilization if llm in by_llm else 0.0
                                 for llm in self.llms]),
                "call_latency_s": np.array([by_llm[llm].call_latency_s if llm in by_llm
                                            else math.nan for llm in self.llms]),
                "share": np.array([by_llm[llm].realised_share if llm in by_llm else 0.0
                                   for llm in self.llms]),
                "member_latency_s": np.array([members.get(m, mean) for m in self.members])}
            log.debug("simulated %s at %.4g rps: %.4g s, %.4g rps, sustains %s",
                      allocation.llms, rate, mean, out["throughput_rps"], out["sustains"])
        out["capacity_rps"] = self._capacity(allocation)
        self._runs[key] = out
        return out

    def predict_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                      ) -> Mapping[str, Any]:
        tp, replicas, fraction = (np.atleast_2d(np.asarray(x, dtype=float))
                                  for x in (tp, replicas, fraction))
        runs = [self._simulate(self.allocation(tp[b], replicas[b], fraction[b]), rate)
                for b in range(tp.shape[0])]
        return {name: np.array([run[name] for run in runs]) for name in (
            "latency_s", "throughput_rps", "sustains", "placed", "rho", "capacity_rps",
            "call_latency_s", "member_latency_s")}

    def predict(self, tp: Any, replicas: Any, fraction: Any, rate: float
                ) -> Mapping[str, Any]:
        out = self.predict_batch(np.asarray(tp)[None], np.asarray(replicas)[None],
                                 np.asarray(fraction)[None], rate)
        return {name: value[0] for name, value in out.items()}

    def breakdown(self, tp: Any, replicas: Any, fraction: Any, rate: float
                  ) -> Mapping[str, Any]:
        run = self._simulate(self.allocation(np.asarray(tp), np.asarray(replicas),
                                             np.asarray(fraction)), rate)
        return {"llm_s": run["latency_s"] * run["share"], "tool_s": 0.0}

    def terms_batch(self, tp: Any, replicas: Any, fraction: Any, rate: float
                    ) -> Mapping[str, Any]:
        """``capacity_rps [B, L]`` from the profiles (nothing is simulated)."""
        tp, replicas, fraction = (np.atleast_2d(np.asarray(x, dtype=float))
                                  for x in (tp, replicas, fraction))
        return {"capacity_rps": np.array([
            self._capacity(self.allocation(tp[b], replicas[b], fraction[b]))
            for b in range(tp.shape[0])])}
