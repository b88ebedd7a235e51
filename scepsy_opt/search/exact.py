"""The exact oracle for small instances: the best allocation under the surrogate.

Every llm's options are its configurations with each replica count that keeps its utilisation
within the cap and fits the budget. An llm's options act on the latency only through its speed
factor ``sigma_l``, the two parts of its per-call delay ``e_l = b_l + p_l / (1 - u)`` and its
utilisation ``rho_l``, which raises the utilisation ``u`` of its pipeline (a soft norm of its
stages' ``rho``; in a mix, its members'; the latency
is a nondecreasing function of all four: a maximum of nonnegative combinations of
``sigma``, ``e``, and ``e`` grows with ``u``). So an option that costs no fewer GPUs and is no
better in any of them than another is dominated and dropped (Pareto fronts in
``(GPUs, sigma, b, p, rho)``), and every combination of the fronts within the budget is scored
in batches (``vmap``), best first. (The pipeline's utilisation couples the llms even when no
request has competing critical paths, so the latency is never a sum of per-llm terms that a
knapsack could take apart.)

Every option raises the workflow's throughput with its llm's capacity (lower ``rho``), so the
workflow's utilisation cap keeps the dominance. The oracle is exact for the budget and
utilisation constraints. With ``packing`` the best allocations are then checked for packing
onto the cluster in order of latency, the first that packs wins (exact unless a dominated
option would have packed where none of the front does).
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from scepsy_opt.core.problem import FRACTION_GRID, AllocationError
from scepsy_opt.core.space import SearchSpace, config_arrays, min_replicas
from scepsy_opt.search.heuristic import Candidate, SearchResult, TraceStep, infeasible

BATCH = 65_536
KEEP = 256  # best budget-feasible allocations kept for the packing check


def replica_options(space: SearchSpace, need: np.ndarray | None = None) -> list[np.ndarray]:
    """Per llm: rows ``[tp, k, r, cost]``, every configuration of the space with every replica
    count from its fewest (``need [C, L]``, 0: not an option; None: one replica, every
    configuration) to what the budget leaves when every other llm takes its cheapest option
    (an llm whose cheapest option does not fit then has no rows). The enumeration of the
    exhaustive searches: the surrogate's oracle (:func:`exact`) and the simulator's
    (:func:`scepsy_opt.evaluate.baselines.exact`)."""
    tp, k, valid = config_arrays(space)
    if need is None:
        need = valid.astype(int)
    cheapest = np.where(need > 0, tp * k * need, space.budget + 1).min(axis=0)
    out = []
    for i in range(len(space.llms)):
        rows = []
        room = space.budget - (cheapest.sum() - cheapest[i])
        for c, (t, kk) in enumerate(space.configs[i]):
            if need[c, i] == 0:
                continue
            for r in range(int(need[c, i]), room // (t * kk) + 1):
                rows.append((t, kk, r))
        table = np.array(rows, dtype=float).reshape(-1, 3)
        out.append(np.column_stack([table, table[:, 0] * table[:, 1] * table[:, 2]]))
    return out


PARETO_TERMS = ("speed", "delay_base_s", "delay_pole_s", "rho")


def options(space: SearchSpace) -> list[np.ndarray]:
    """Per llm: rows ``[tp, k, r, cost, sigma, b, p, rho]`` of its Pareto-optimal options
    (rows ``[tp, k, r, cost]`` of every option when the evaluator gives no such terms)."""
    need = min_replicas(space, space.rate)
    tp, k, _ = config_arrays(space)
    L = len(space.llms)
    # cheapest other llms bound each llm's replicas
    cheapest = np.where(need > 0, tp * k * need, np.iinfo(np.int64).max).min(axis=0)
    if np.any(np.all(need == 0, axis=0)) or cheapest.sum() > space.budget:
        raise infeasible(space)
    fronts = []
    for i, rows_a in enumerate(replica_options(space, need)):
        batch_tp = np.tile(tp[0], (len(rows_a), 1)).astype(float)
        batch_k = np.tile(k[0], (len(rows_a), 1)).astype(float)
        batch_r = np.ones((len(rows_a), L))
        batch_tp[:, i], batch_k[:, i], batch_r[:, i] = rows_a[:, 0], rows_a[:, 1], rows_a[:, 2]
        terms = space.evaluator.terms_batch(batch_tp, batch_r, batch_k / FRACTION_GRID,
                                            space.rate)
        if not all(name in terms for name in PARETO_TERMS):
            fronts.append(rows_a)
            continue
        table = np.column_stack([rows_a] + [np.asarray(terms[name])[:, i]
                                            for name in PARETO_TERMS])
        fronts.append(pareto(table))
    return fronts


def pareto(table: np.ndarray) -> np.ndarray:
    """Rows not dominated in columns 3 onwards (cost, sigma, b, p, rho; all minimised)."""
    order = np.lexsort(table[:, 3:].T[::-1])
    table = table[order]
    values = table[:, 3:]
    keep: list[int] = []
    for index, row in enumerate(values):
        if not keep or not np.any(np.all(values[keep] <= row + 1e-12, axis=1)):
            keep.append(index)
    return table[keep]


def combinations(fronts: list[np.ndarray], budget: int) -> int:
    """How many combinations of one option per llm fit the budget (counted by cost)."""
    counts = np.zeros(budget + 1)
    counts[0] = 1.0
    for front in fronts:
        grown = np.zeros(budget + 1)
        for cost in front[:, 3].astype(int):
            if cost <= budget:
                grown[cost:] += counts[:budget + 1 - cost]
        counts = grown
    return int(counts.sum())


def exact(space: SearchSpace, *, packing: bool = True, max_combinations: int = 20_000_000,
          alternatives: int = 0) -> SearchResult:
    """The best allocation under the surrogate (see the module text); with ``alternatives``,
    also that many of the best that pack, the best first (:attr:`SearchResult.candidates`)."""
    started = time.perf_counter()
    fronts = options(space)
    L = len(space.llms)
    size = combinations(fronts, space.budget)
    if size > max_combinations:
        raise AllocationError(
            f"{size:,} combinations exceed the exact oracle's limit of "
            f"{max_combinations:,}: the instance is too large for it",
            source="search", field="method", value="exact",
            fix="use search.method=gradient_guided for instances of this size")
    kept, evaluated = _enumerate(space, fronts)
    if not kept:  # within the budget, but no combination sustains the workflow's throughput
        raise infeasible(space)
    placing = (state for state in kept if not packing or space.packs(*state.reshape(3, L)))
    chosen = list(itertools.islice(placing, max(1, alternatives)))
    if not chosen:
        raise infeasible(space, packing=True, tried=(
            f" (tried the {len(kept):,} best allocations within the budget)"))
    states = np.array(chosen).reshape(len(chosen), 3, L).astype(int)
    scored = space.score(states[:, 0], states[:, 1], states[:, 2])
    elapsed = time.perf_counter() - started
    step = TraceStep(0, "exact", "best allocation", float(scored["gpus"][0]),
                     float(scored["latency_s"][0]), float(scored["throughput_rps"][0]), elapsed)
    found = tuple(Candidate(space.allocation(*state, "exact"), float(scored["latency_s"][j]),
                            float(scored["throughput_rps"][j]))
                  for j, state in enumerate(states)) if alternatives else ()
    state = states[0]
    return SearchResult(space.allocation(state[0], state[1], state[2], "exact"),
                        float(scored["latency_s"][0]), float(scored["throughput_rps"][0]),
                        evaluated, elapsed, (step,), found)


def budget_combinations(space: SearchSpace, fronts: list[np.ndarray]) -> np.ndarray:
    """Every combination of one option per llm within the budget, as rows ``[tp.., k.., r..]``
    (``[N, 3L]``, llms in the space's order), built llm by llm (vectorised)."""
    L = len(fronts)
    picks = np.zeros((1, 0), dtype=np.int32)
    spent = np.zeros(1, dtype=np.int64)
    for front in fronts:
        costs = front[:, 3].astype(np.int64)
        total = spent[:, None] + costs[None, :]
        rows_i, options_i = np.nonzero(total <= space.budget)
        picks = np.column_stack([picks[rows_i], options_i.astype(np.int32)])
        spent = total[rows_i, options_i]
    if not len(picks):
        return np.zeros((0, 3 * L))
    return np.concatenate([np.stack([fronts[i][picks[:, i], col] for i in range(L)], axis=1)
                           for col in (0, 1, 2)], axis=1)


def _enumerate(space: SearchSpace, fronts: list[np.ndarray]
               ) -> tuple[list[np.ndarray], int]:
    """Every budget-feasible combination of the fronts, scored; the best ``KEEP`` first."""
    L = len(fronts)
    rows = budget_combinations(space, fronts)
    best_rows: list[np.ndarray] = []
    best_latency: list[float] = []
    for start in range(0, len(rows), BATCH):
        chunk = rows[start:start + BATCH]
        scored = space.score(chunk[:, :L], chunk[:, L:2 * L], chunk[:, 2 * L:])
        latency = np.where(scored["feasible"], scored["latency_s"], np.inf)
        best_rows.extend(chunk)
        best_latency.extend(latency)
        if len(best_rows) > KEEP:
            order = np.argsort(best_latency)[:KEEP]
            best_rows = [best_rows[i] for i in order]
            best_latency = [best_latency[i] for i in order]
    order = [i for i in np.argsort(best_latency) if np.isfinite(best_latency[i])]
    return [best_rows[i] for i in order], len(rows)
