"""The exact oracle for small instances: the best allocation under the surrogate.

Every llm's options are its configurations with each replica count that keeps its utilisation
within the cap and fits the budget. An llm's options act on the latency only through its speed
factor ``sigma_l`` and per-call path delay ``e_l`` (the latency is a nondecreasing function of
both, a maximum of nonnegative combinations), so an option that costs no fewer GPUs and is no
faster nor less delayed than another is dominated and dropped (Pareto fronts in
``(GPUs, sigma, e)``).

- **Separable latency** (no request has competing critical paths, so the latency is a sum of
  per-llm terms): a multiple-choice knapsack over the budget in eighths of a GPU, solved exactly
  by dynamic programming.
- **Otherwise**: every combination of the fronts within the budget, scored in batches
  (``vmap``), best first.

The oracle is exact for the budget and utilisation constraints. With ``packing`` the best
allocations are then checked for packing onto the cluster in order of latency, the first that
packs wins (exact unless a dominated option would have packed where none of the front does).
"""

from __future__ import annotations

import time

import numpy as np

from scepsy_opt.search.heuristic import SearchResult, TraceStep, infeasible
from scepsy_opt.search.problem import FRACTION_GRID, AllocationError
from scepsy_opt.search.space import SearchSpace, config_arrays, min_replicas

BATCH = 65_536
KEEP = 256  # best budget-feasible allocations kept for the packing check


def options(space: SearchSpace) -> list[np.ndarray]:
    """Per llm: rows ``[tp, k, r, cost, sigma, delay]`` of its Pareto-optimal options."""
    need = min_replicas(space, space.rate)
    tp, k, _ = config_arrays(space)
    L = len(space.llms)
    # cheapest other llms bound each llm's replicas
    cheapest = np.where(need > 0, tp * k * need, np.iinfo(np.int64).max).min(axis=0)
    if np.any(np.all(need == 0, axis=0)) or cheapest.sum() > space.budget:
        raise infeasible(space)
    fronts = []
    for i in range(L):
        rows = []
        room = space.budget - (cheapest.sum() - cheapest[i])
        for c, (t, kk) in enumerate(space.configs[i]):
            if need[c, i] == 0:
                continue
            for r in range(int(need[c, i]), room // (t * kk) + 1):
                rows.append((t, kk, r))
        rows_a = np.array(rows, dtype=float)
        batch_tp = np.tile(tp[0], (len(rows_a), 1)).astype(float)
        batch_k = np.tile(k[0], (len(rows_a), 1)).astype(float)
        batch_r = np.ones((len(rows_a), L))
        batch_tp[:, i], batch_k[:, i], batch_r[:, i] = rows_a[:, 0], rows_a[:, 1], rows_a[:, 2]
        terms = space.surrogate.terms_batch(batch_tp, batch_r, batch_k / FRACTION_GRID,
                                            space.rate)
        sigma = np.asarray(terms["speed"])[:, i]
        delay = np.asarray(terms["path_delay_s"])[:, i]
        cost = rows_a[:, 0] * rows_a[:, 1] * rows_a[:, 2]
        table = np.column_stack([rows_a, cost, sigma, delay])
        fronts.append(pareto(table))
    return fronts


def pareto(table: np.ndarray) -> np.ndarray:
    """Rows not dominated in (cost, sigma, delay) (columns 3, 4, 5; all minimised)."""
    order = np.lexsort((table[:, 5], table[:, 4], table[:, 3]))
    table = table[order]
    keep: list[int] = []
    for index, row in enumerate(table):
        dominated = False
        for j in keep:
            other = table[j]
            if other[3] <= row[3] and other[4] <= row[4] + 1e-12 and other[5] <= row[5] + 1e-12:
                dominated = True
                break
        if not dominated:
            keep.append(index)
    return table[keep]


def _dp(space: SearchSpace, fronts: list[np.ndarray]) -> list[int] | None:
    """Multiple-choice knapsack: the option per llm minimising the summed contributions."""
    budget = space.budget
    L = len(fronts)
    values = []
    for i, front in enumerate(fronts):
        speed = np.ones((len(front), L))
        delay = np.zeros((len(front), L))
        speed[:, i], delay[:, i] = front[:, 4], front[:, 5]
        spread = np.asarray(space.surrogate.load["k"])
        spread = np.log1p(np.exp(spread))  # softplus, as model.spread
        contribution = np.array([np.asarray(space.surrogate.contribution(s, d, spread))[i]
                                 for s, d in zip(speed, delay, strict=True)])
        values.append(contribution)
    inf = np.inf
    best = np.full(budget + 1, inf)
    best[0] = 0.0
    choice = np.full((L, budget + 1), -1, dtype=int)
    for i, front in enumerate(fronts):
        new = np.full(budget + 1, inf)
        for o, row in enumerate(front):
            cost = int(row[3])
            if cost > budget:
                continue
            shifted = np.full(budget + 1, inf)
            shifted[cost:] = best[:budget + 1 - cost] + values[i][o]
            better = shifted < new
            new[better] = shifted[better]
            choice[i, better] = o
        # remember the predecessor budget implicitly: cost of the chosen option
        best = new
    end = int(np.argmin(best))
    if not np.isfinite(best[end]):
        return None
    picks = [0] * L
    spent = end
    for i in range(L - 1, -1, -1):
        o = int(choice[i, spent])
        picks[i] = o
        spent -= int(fronts[i][o][3])
    return picks


def exact(space: SearchSpace, *, packing: bool = True, max_combinations: int = 20_000_000
          ) -> SearchResult:
    """The best allocation under the surrogate (see the module text)."""
    started = time.perf_counter()
    fronts = options(space)
    evaluated = 0
    candidates: list[np.ndarray] = []  # rows [tp..., k..., r...]
    L = len(space.llms)
    if space.surrogate.separable():
        picks = _dp(space, fronts)
        if picks is not None:
            choice = np.array([fronts[i][picks[i]] for i in range(L)])
            state = np.concatenate([choice[:, 0], choice[:, 1], choice[:, 2]])
            if not packing or space.packs(choice[:, 0], choice[:, 1], choice[:, 2]):
                candidates.append(state)
            evaluated = sum(len(f) for f in fronts)
    if not candidates:
        size = int(np.prod([len(f) for f in fronts], dtype=float))
        if size > max_combinations:
            raise AllocationError(
                f"{size:,} combinations exceed the exact oracle's limit of "
                f"{max_combinations:,}: the instance is too large for it",
                source="search", field="method", value="exact",
                fix="use search.method=gradient_guided for instances of this size")
        kept = _enumerate(space, fronts)
        evaluated += kept[1]
        for state in kept[0]:
            L3 = state.reshape(3, L)
            if not packing or space.packs(L3[0], L3[1], L3[2]):
                candidates.append(state)
                break
    if not candidates:
        raise infeasible(space, packing=True)
    state = candidates[0].reshape(3, L).astype(int)
    scored = space.score(state[0], state[1], state[2])
    elapsed = time.perf_counter() - started
    step = TraceStep(0, "exact", "best allocation", float(scored["gpus"][0]),
                     float(scored["latency_s"][0]), float(scored["throughput_rps"][0]), elapsed)
    return SearchResult(space.allocation(state[0], state[1], state[2], "exact"),
                        float(scored["latency_s"][0]), float(scored["throughput_rps"][0]),
                        evaluated, elapsed, (step,))


def _enumerate(space: SearchSpace, fronts: list[np.ndarray]
               ) -> tuple[list[np.ndarray], int]:
    """Every budget-feasible combination of the fronts, scored; the best ``KEEP`` first."""
    L = len(fronts)
    # combinations within the budget, built llm by llm
    partial = [((), 0)]
    for front in fronts:
        grown = []
        costs = front[:, 3]
        for picks, spent in partial:
            for o in np.flatnonzero(costs + spent <= space.budget):
                grown.append((picks + (int(o),), spent + int(costs[o])))
        partial = grown
    rows = np.array([[fronts[i][p[i]][col] for col in (0, 1, 2) for i in range(L)]
                     for p, _ in partial]) if partial else np.zeros((0, 3 * L))
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

