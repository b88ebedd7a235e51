"""The decision space of the allocation search, and its feasibility rules.

Per llm: a configuration (TP degree ``tp`` within one NVLink domain, GPU fraction ``k / 8``)
that holds the llm's weights and a KV cache for its longest call, and a replica count ``r``.
An allocation is feasible when

- its GPUs ``sum_l tp_l k_l r_l / 8`` fit the cluster's GPUs of the problem's GPU type;
- every llm's utilisation at the target rate is at most the cap:
  ``rho_l = lambda / X_l <= cap`` with ``X_l = eta_l r_l mu_l / n_l`` the requests/s the llm's
  replicas sustain (the evaluator's stage throughput);
- so is the workflow's: ``lambda / X <= cap`` with ``X`` the evaluator's workflow throughput,
  the soft minimum of the stages', which falls below the weakest stage where several are close
  to it (two stages each at the cap can together be past their pipeline's limit);
- its instances pack onto the GPUs: one of the place stage's own placers
  (:data:`scepsy_opt.core.heuristics.PACKERS`) places them under the problem's placement rules,
  so the place stage never refuses an allocation the search chose.

Costs are counted in eighths of a GPU (integers), so budgets compare exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.evaluator import Evaluator
from scepsy_opt.core.heuristics import packs, precheck
from scepsy_opt.core.placement import PlacementProblem, placement_problem
from scepsy_opt.core.problem import (
    FRACTION_GRID,
    AllocationProblem,
    servable_configurations,
)
from scepsy_opt.core.types import Allocation, Catalog, LlmAllocation


@dataclass(frozen=True, eq=False)
class SearchSpace:
    """Per llm (in the evaluator's order) its configurations as ``(tp, k)`` pairs."""

    problem: AllocationProblem
    evaluator: Evaluator
    configs: tuple[tuple[tuple[int, int], ...], ...]
    budget: int  # eighths of a GPU
    catalog: Catalog

    @property
    def llms(self) -> tuple[str, ...]:
        return self.evaluator.llms

    @property
    def rate(self) -> float:
        return self.problem.rate_rps

    @property
    def cap(self) -> float:
        return self.problem.utilization_cap

    def cost(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Eighths of a GPU (last axis: llms)."""
        return np.sum(np.asarray(tp) * np.asarray(k) * np.asarray(r), axis=-1)

    def allocation(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray, method: str,
                   note: str = "") -> Allocation:
        return Allocation(method, tuple(
            LlmAllocation(llm, self.problem.gpu, int(tp[i]), int(r[i]),
                          float(k[i]) / FRACTION_GRID)
            for i, llm in enumerate(self.llms)), note=note)

    def placing(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray) -> PlacementProblem:
        """The place stage's problem for these instances, with the run's placement options
        (raises :class:`PlacementError`, e.g. for a fraction no MIG profile holds)."""
        problem = self.problem
        return placement_problem(self.allocation(tp, k, r, "check"), problem.cluster,
                                 self.catalog, problem.memory, problem.placement)

    def packs(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray) -> bool:
        """Whether the place stage's placers place the instances (:func:`packs`)."""
        try:
            return packs(self.placing(tp, k, r))
        except PlacementError:
            return False

    def placement_error(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray
                        ) -> PlacementError | None:
        """The place stage's own reason, from its necessary conditions
        (:func:`precheck`), why these instances cannot be placed; None when they pass them."""
        try:
            precheck(self.placing(tp, k, r))
        except PlacementError as error:
            return error
        return None

    def score(self, tp: np.ndarray, k: np.ndarray, r: np.ndarray, rate: float | None = None
              ) -> dict[str, np.ndarray]:
        """The evaluator's predictions for a batch ``[B, L]`` of allocations, plus
        ``feasible``: within the budget and, where the evaluator says itself whether the rate
        is sustained (``sustains``, the simulator), sustained; otherwise every llm's and the
        workflow's utilisation within the cap. Packing is checked separately."""
        tp, k, r = (np.atleast_2d(np.asarray(x)) for x in (tp, k, r))
        rate = self.rate if rate is None else rate
        out = self.evaluator.predict_batch(tp, r, k / FRACTION_GRID, rate)
        result: dict[str, Any] = {name: np.asarray(v) for name, v in out.items()}
        cost = self.cost(tp, k, r)
        result["gpus"] = cost / FRACTION_GRID
        if "sustains" in result:
            result["feasible"] = (cost <= self.budget) & result["sustains"].astype(bool)
        else:
            result["feasible"] = ((cost <= self.budget)
                                  & np.all(result["rho"] <= self.cap + 1e-9, axis=-1)
                                  & self.sustains(result["throughput_rps"], rate))
        return result

    def sustains(self, throughput: np.ndarray, rate: float) -> np.ndarray:
        """Whether the workflow's utilisation ``rate / throughput`` is within the cap."""
        return rate <= (self.cap + 1e-9) * np.asarray(throughput)


def search_space(problem: AllocationProblem, catalog: Catalog, evaluator: Evaluator
                 ) -> SearchSpace:
    """Every llm's configurations; an llm that nothing holds is an error naming it."""
    configs = []
    for llm in evaluator.llms:
        found = servable_configurations(problem, catalog, llm)
        configs.append(tuple((tp, round(f * FRACTION_GRID)) for tp, f in found))
    return SearchSpace(problem, evaluator, tuple(configs), problem.gpus * FRACTION_GRID,
                       catalog)


def config_arrays(space: SearchSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``tp, k [C, L]`` with every llm's configurations (padded by repeating its last one)
    and ``valid [C, L]``."""
    L = len(space.llms)
    widest = max(len(c) for c in space.configs)
    tp = np.ones((widest, L), dtype=int)
    k = np.full((widest, L), FRACTION_GRID, dtype=int)
    valid = np.zeros((widest, L), dtype=bool)
    for i, configs in enumerate(space.configs):
        for c in range(widest):
            tp[c, i], k[c, i] = configs[min(c, len(configs) - 1)]
            valid[c, i] = c < len(configs)
    return tp, k, valid


def min_replicas(space: SearchSpace, rate: float) -> np.ndarray:
    """``[C, L]``: the fewest replicas of each configuration that keep the llm's utilisation
    at ``rate`` within the cap (0: not within the budget); a lower bound, as the workflow's
    throughput may need more (:func:`sustaining_replicas`). Bisection on the replica count,
    vectorised over all configurations (a stage's throughput grows with its replicas)."""
    tp, k, valid = config_arrays(space)
    most = np.maximum(space.budget // (tp * k), 1)
    need = rate / space.cap

    def enough(r: np.ndarray) -> np.ndarray:
        terms = space.evaluator.terms_batch(tp, r, k / FRACTION_GRID, rate)
        return np.asarray(terms["capacity_rps"]) >= need * (1 - 1e-12)

    low = np.zeros_like(most)  # not enough (0 replicas)
    high = most.copy()
    ok_high = enough(high.astype(float))
    while np.any(high - low > 1):
        middle = (low + high) // 2
        ok = enough(np.maximum(middle, 1).astype(float))
        move = high - low > 1
        high = np.where(move & ok, middle, high)
        low = np.where(move & ~ok, middle, low)
    return np.where(valid & ok_high & (space.budget >= tp * k), high, 0)


def sustaining_replicas(space: SearchSpace, tp: np.ndarray, k: np.ndarray, r: np.ndarray,
                        rate: float) -> np.ndarray | None:
    """``r`` raised until the workflow's utilisation at ``rate`` is within the cap: one replica
    at a time, to the llm whose replica raises the predicted workflow throughput most per GPU
    (None when the budget runs out first). Every llm's utilisation is assumed within the cap
    already (``r`` at least :func:`min_replicas`)."""
    r = np.array(r, dtype=int)
    tp = np.asarray(tp)
    per_replica = tp * np.asarray(k)
    fraction = np.asarray(k) / FRACTION_GRID

    def throughput(replicas: np.ndarray) -> np.ndarray:  # [B, L] -> [B]
        return np.asarray(space.evaluator.predict_batch(
            np.broadcast_to(tp, replicas.shape), replicas,
            np.broadcast_to(fraction, replicas.shape), rate)["throughput_rps"])

    cost = int(np.dot(per_replica, r))
    if cost > space.budget:
        return None
    now = float(throughput(r[None])[0])
    while not space.sustains(now, rate):
        grown = np.flatnonzero(cost + per_replica <= space.budget)
        if not len(grown):
            return None
        options = r[None] + np.eye(len(r), dtype=int)[grown]
        after = throughput(options)
        best = int(np.argmax((after - now) / per_replica[grown]))
        r, now, cost = options[best], float(after[best]), cost + int(per_replica[grown[best]])
    return r
