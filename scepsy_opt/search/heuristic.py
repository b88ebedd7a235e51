"""The gradient-guided allocation search.

1. **Target** (replicas first): every llm takes the configuration that meets the target rate
   under the utilisation cap with the fewest GPUs (:func:`scepsy_opt.core.space.min_replicas`),
   and replicas are added where they raise the workflow's throughput most per GPU until it
   meets the target under the cap too; when that exceeds the budget, the target is infeasible
   and the error says which rate is achievable and what limits it. When those instances do not
   pack onto the cluster, the cheapest combination of configurations that does is searched
   best-first.
2. **Relax and round**: with those configurations, replicas are relaxed to real numbers and
   the budget is poured, in small steps, into the llm whose replicas cut the surrogate's latency
   most per GPU (``-dT/dr / GPUs per replica``, from ``jax.grad``); the relaxed replicas are
   rounded down, which starts phase 3 from a feasible point.
3. **Gradient-guided growth**: while GPUs are left, the gradient of the relaxed surrogate with
   respect to every llm's replicas, fraction and TP degree ranks the possible next resource
   quanta (a replica, 1/8 more fraction on every replica, twice the TP degree) by predicted
   latency cut per GPU; the best few are scored exactly in one batch (``vmap``) and the best
   real cut per GPU that fits and packs is taken.
4. **Local moves**: every single-llm change (any configuration, with the fewest replicas that
   meet the target or about the GPUs it has now) is scored in one batch; pairs of changes of
   two llms are ranked by the sum of their single effects and the best few hundred that fit the
   budget scored exactly in a second batch, with the sets of changes of any number of llms
   whose summed effects are best within the budget, one per net change of GPUs (a
   multiple-choice knapsack by dynamic programming: the best set may not pack where one that
   also shrinks a third llm does); the best improvement that fits and packs is taken, until
   none improves.

Phases 2 to 4 run from the phase-1 point and from the "rounded" point, and, when given, from
other allocations (the baselines; also when phase 1 finds no point, as one of them may meet the
target all the same); the best result wins. Every step is recorded in the trace.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from scepsy_opt.core.errors import PlacementError
from scepsy_opt.core.problem import FRACTION_GRID, AllocationError
from scepsy_opt.core.space import (
    SearchSpace,
    config_arrays,
    min_replicas,
    sustaining_replicas,
)
from scepsy_opt.core.types import Allocation

log = logging.getLogger(__name__)
TOP_CANDIDATES = 8
PAIR_CANDIDATES = 256  # pairs of single changes scored exactly per local step
RELAX_STEPS = 64
IMPROVEMENT = 1e-6  # relative latency cut that counts as an improvement
PACKING_TRIES = 2000  # packing checks for a target point that packs (see packing_start)
KNAPSACK_SETS = 16  # multi-llm moves per local step: the best set for each of this many costs


@dataclass(frozen=True)
class TraceStep:
    step: int
    phase: str
    move: str
    gpus: float
    latency_s: float
    throughput_rps: float
    elapsed_s: float


@dataclass(frozen=True)
class Candidate:
    """A feasible allocation the search found that packs, with its predictions."""

    allocation: Allocation
    latency_s: float
    throughput_rps: float


@dataclass(frozen=True)
class SearchResult:
    allocation: Allocation
    latency_s: float
    throughput_rps: float
    evaluated: int
    elapsed_s: float
    trace: tuple[TraceStep, ...] = field(default=())
    # when asked for: the result and the next best feasible allocations that pack, by
    # predicted latency (what a refinement re-ranks; the result first)
    candidates: tuple[Candidate, ...] = field(default=())


@dataclass
class _State:
    tp: np.ndarray
    k: np.ndarray
    r: np.ndarray

    def copy(self) -> _State:
        return _State(self.tp.copy(), self.k.copy(), self.r.copy())

    def key(self) -> tuple:
        return (tuple(self.tp), tuple(self.k), tuple(self.r))


class _Search:
    def __init__(self, space: SearchSpace, max_steps: int, packing: bool) -> None:
        self.space = space
        self.max_steps = max_steps
        self.packing = packing
        self.started = time.perf_counter()
        self.trace: list[TraceStep] = []
        self.evaluated = 0
        self.allowed = [set(c) for c in space.configs]
        self._packs: dict[tuple, bool] = {}

    # ------------------------------------------------------------------ helpers

    def grad(self, tp: np.ndarray, r: np.ndarray, fraction: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.space.evaluator.latency_grad(tp, r, fraction, self.space.rate)

    def score(self, states: list[_State]) -> dict[str, np.ndarray]:
        self.evaluated += len(states)
        return self.space.score(np.array([s.tp for s in states]),
                                np.array([s.k for s in states]),
                                np.array([s.r for s in states]))

    def candidates(self, result: _State, latency: float, throughput: float,
                   others: list[_State], need: np.ndarray, count: int
                   ) -> tuple[Candidate, ...]:
        """The result and, ``count`` in all, the best feasible states that pack, by predicted
        latency, among the other starts' results and the result's neighbours (its local
        moves, phase 4's candidates: the ones predicted better did not pack, or the search
        would have taken them)."""
        found = [Candidate(self.space.allocation(result.tp, result.k, result.r,
                                                 "gradient_guided"), latency, throughput)]
        states = others + [s for _, s in self.local_moves(result, need, latency)]
        if count <= 1 or not states:
            return tuple(found)
        scored = self.score(states)
        ranked = np.where(scored["feasible"], scored["latency_s"], np.inf)
        seen = {result.key()}
        for index in np.argsort(ranked, kind="stable"):
            if len(found) >= count or not np.isfinite(ranked[index]):
                break
            state = states[index]
            if state.key() in seen or not self.packs(state):
                continue
            seen.add(state.key())
            found.append(Candidate(self.space.allocation(state.tp, state.k, state.r,
                                                         "gradient_guided"),
                                   float(scored["latency_s"][index]),
                                   float(scored["throughput_rps"][index])))
        return tuple(found)

    def packs(self, state: _State) -> bool:
        if not self.packing:
            return True
        key = state.key()
        if key not in self._packs:
            self._packs[key] = self.space.packs(state.tp, state.k, state.r)
        return self._packs[key]

    def record(self, phase: str, move: str, state: _State, scored: dict, index: int = 0
               ) -> None:
        self.trace.append(TraceStep(
            step=len(self.trace), phase=phase, move=move,
            gpus=float(scored["gpus"][index]), latency_s=float(scored["latency_s"][index]),
            throughput_rps=float(scored["throughput_rps"][index]),
            elapsed_s=time.perf_counter() - self.started))

    def pick(self, candidates: list[tuple[str, _State]], current: float, *,
             per_gpu: bool, base_gpus: float) -> tuple[str, _State, dict, int] | None:
        """The best feasible, packing candidate that cuts the latency (per GPU added when
        ``per_gpu``)."""
        if not candidates:
            return None
        scored = self.score([s for _, s in candidates])
        cut = current - scored["latency_s"]
        gain = cut / np.maximum(scored["gpus"] - base_gpus, 1 / FRACTION_GRID) if per_gpu \
            else cut
        order = np.argsort(-gain)
        for index in order:
            if not scored["feasible"][index] or cut[index] <= IMPROVEMENT * current:
                continue
            if self.packs(candidates[index][1]):
                return candidates[index][0], candidates[index][1], scored, int(index)
        return None

    def name(self, i: int) -> str:
        return self.space.llms[i]

    # ------------------------------------------------------------------ moves

    def up_moves(self, state: _State) -> list[tuple[str, _State, int]]:
        """Single resource quanta: (description, new state, index of the gradient entry)."""
        moves = []
        for i in range(len(state.tp)):
            s = state.copy()
            s.r[i] += 1
            moves.append((f"{self.name(i)}: replica {state.r[i]} -> {s.r[i]}", s, 0))
            if (state.tp[i], state.k[i] + 1) in self.allowed[i]:
                s = state.copy()
                s.k[i] += 1
                moves.append((f"{self.name(i)}: fraction {state.k[i]}/8 -> {s.k[i]}/8", s, 1))
            if (state.tp[i] * 2, state.k[i]) in self.allowed[i]:
                s = state.copy()
                s.tp[i] *= 2
                moves.append((f"{self.name(i)}: TP {state.tp[i]} -> {s.tp[i]}", s, 2))
        return moves

    def single_changes(self, state: _State, need: np.ndarray) -> list[tuple[int, str, _State]]:
        """Every change of one llm: any configuration, with the fewest replicas that meet the
        target, about as many GPUs as now (one replica fewer to two more), or one replica more
        or fewer than now."""
        changes = []
        for i in range(len(state.tp)):
            now = state.tp[i] * state.k[i] * state.r[i]
            for c, (tp, k) in enumerate(self.space.configs[i]):
                r_min = int(need[c, i])
                if r_min == 0:
                    continue
                iso = now // (tp * k)
                most = self.space.budget // (tp * k)
                counts = {r_min, iso - 1, iso, iso + 1, iso + 2, state.r[i] - 1, state.r[i] + 1}
                for r in sorted(counts):
                    if r < r_min or r > most or (tp, k, r) == (
                            state.tp[i], state.k[i], state.r[i]):
                        continue
                    s = state.copy()
                    s.tp[i], s.k[i], s.r[i] = tp, k, r
                    changes.append((i, f"{self.name(i)}: TP {state.tp[i]} x{state.r[i]} "
                                       f"{state.k[i]}/8 -> TP {tp} x{r} {k}/8", s))
        return changes

    def local_moves(self, state: _State, need: np.ndarray, latency: float
                    ) -> list[tuple[str, _State]]:
        """Single changes within the budget, and the pairs of changes of two llms whose
        summed single effects look best (scored exactly afterwards)."""
        changes = self.single_changes(state, need)
        if not changes:
            return []
        scored = self.score([s for _, _, s in changes])
        effect = np.where(np.all(scored["rho"] <= self.space.cap + 1e-9, axis=1),
                          scored["latency_s"] - latency, np.inf)
        base = self.space.cost(state.tp, state.k, state.r)
        extra = np.array([self.space.cost(s.tp, s.k, s.r) - base for _, _, s in changes])
        left = self.space.budget - base
        moves = [(text, s) for (_, text, s), e, x in zip(changes, effect, extra, strict=True)
                 if np.isfinite(e) and x <= left]
        owner = np.array([i for i, _, _ in changes])
        moves.extend(self.knapsack_moves(state, changes, owner, effect, extra, left))
        estimate = effect[:, None] + effect[None, :]
        allowed = ((owner[:, None] < owner[None, :]) & (extra[:, None] + extra[None, :] <= left)
                   & np.isfinite(estimate) & (estimate < 0))
        picks = np.argwhere(allowed)
        if len(picks):
            best = picks[np.argsort(estimate[allowed])[:PAIR_CANDIDATES]]
            for a, b in best:
                (_, text_a, s_a), (j, text_b, s_b) = changes[a], changes[b]
                s = s_a.copy()
                s.tp[j], s.k[j], s.r[j] = s_b.tp[j], s_b.k[j], s_b.r[j]
                moves.append((f"{text_a}; {text_b}", s))
        return moves

    def knapsack_moves(self, state: _State, changes: list, owner: np.ndarray,
                       effect: np.ndarray, extra: np.ndarray, left: int
                       ) -> list[tuple[str, _State]]:
        """At most one change per llm, the sets whose summed single effects are lowest within
        the GPUs left (a multiple-choice knapsack over the changes, dynamic programming on
        eighths of a GPU): moves several llms at once where pairs cannot, e.g. one llm taking
        GPUs that three others give up. One set per net change of GPUs, the
        ``KNAPSACK_SETS`` best: the best set overall may not pack where one that also shrinks
        a third llm's fraction does."""
        usable = np.isfinite(effect)
        if not np.any(usable & (effect < 0)):
            return []
        L = len(state.tp)
        # net changes from every llm giving up its most to every llm taking its most: a set
        # may pass above the budget on the way to an end within it
        below = int(max(0, -extra[usable].min(initial=0)) * L)
        above = int(max(0, extra[usable].max(initial=0)) * L)
        width = below + above + 1
        shift = below  # index of "no change in cost"
        best = np.full(width, np.inf)
        best[shift] = 0.0
        picks = []
        for i in range(L):
            options = np.flatnonzero(usable & (owner == i))
            new = best.copy()
            choice = np.full(width, -1)
            for o in options:
                d = int(extra[o])
                if abs(d) >= width:
                    continue
                moved = np.full(width, np.inf)
                if d >= 0:
                    moved[d:] = best[:width - d] + effect[o]
                else:
                    moved[:d] = best[-d:] + effect[o]
                better = moved < new
                new = np.where(better, moved, new)
                choice = np.where(better, o, choice)
            picks.append(choice)
            best = new
        moves = []
        best[shift + left + 1:] = np.inf  # ends beyond the GPUs left
        for end in np.argsort(best, kind="stable")[:KNAPSACK_SETS]:
            if not best[end] < 0:
                break
            chosen = []
            position = int(end)
            for i in reversed(range(L)):
                o = int(picks[i][position])
                if o >= 0:
                    chosen.append(o)
                    position -= int(extra[o])
            if len(chosen) < 2:
                continue  # single changes are scored anyway
            combined = state.copy()
            for o in chosen:
                i, _, s = changes[o]
                combined.tp[i], combined.k[i], combined.r[i] = s.tp[i], s.k[i], s.r[i]
            moves.append(("; ".join(changes[o][1] for o in reversed(chosen)), combined))
        return moves

    # ------------------------------------------------------------------ phases

    def packing_start(self, need: np.ndarray, tries: int = PACKING_TRIES) -> _State | None:
        """When the fewest-GPU point does not pack: the cheapest combination of per-llm
        configurations (each with the fewest replicas that meet the target, raised until the
        workflow's throughput does) that fits the budget and packs, searched best-first by GPUs
        over up to ``tries`` packing checks (e.g. whole GPUs for an llm whose fractions leave
        slivers no other llm can use)."""
        tp, k, _ = config_arrays(self.space)
        cost = np.where(need > 0, tp * k * need, np.iinfo(np.int64).max)
        options = [[int(c) for c in np.argsort(cost[:, i], kind="stable") if need[c, i] > 0]
                   for i in range(len(self.space.llms))]
        if any(not o for o in options):
            return None
        columns = np.arange(len(options))

        def total(picks: tuple[int, ...]) -> int:
            return int(sum(cost[options[i][p], i] for i, p in enumerate(picks)))

        start = (0,) * len(options)
        heap, seen = [(total(start), start)], {start}
        while heap and tries > 0:
            spent, picks = heapq.heappop(heap)
            if spent > self.space.budget:
                return None  # every later combination costs more
            rows = np.array([options[i][p] for i, p in enumerate(picks)])
            state = _State(tp[rows, columns].copy(), k[rows, columns].copy(),
                           need[rows, columns].copy())
            tries -= 1
            state.r = sustaining_replicas(self.space, state.tp, state.k, state.r,
                                          self.space.rate)
            if state.r is not None and self.packs(state):
                return state
            for i in range(len(picks)):
                if picks[i] + 1 < len(options[i]):
                    nxt = picks[:i] + (picks[i] + 1,) + picks[i + 1:]
                    if nxt not in seen:
                        seen.add(nxt)
                        heapq.heappush(heap, (total(nxt), nxt))
        return None

    def relax_and_round(self, state: _State) -> _State:
        """Phase 2: replicas relaxed to reals, budget poured by the gradient, rounded down."""
        space = self.space
        r = state.r.astype(float)
        per_replica = state.tp * state.k
        left = space.budget - float(np.dot(per_replica, r))
        if left <= 0:
            return state.copy()
        quantum = left / RELAX_STEPS
        fraction = state.k / FRACTION_GRID
        for _ in range(RELAX_STEPS):
            _, g_r, _ = self.grad(state.tp, r, fraction)
            i = int(np.argmax(-np.asarray(g_r) / per_replica))
            r[i] += quantum / per_replica[i]
        rounded = state.copy()
        rounded.r = np.maximum(np.floor(r + 1e-9).astype(int), state.r)
        while space.cost(rounded.tp, rounded.k, rounded.r) > space.budget:
            i = int(np.argmax(rounded.r - state.r))
            rounded.r[i] -= 1
        return rounded

    def ranked_quanta(self, state: _State, latency: float
                      ) -> tuple[list[tuple[str, _State]], float]:
        """Phase 3's candidates: the single resource quanta with the largest predicted
        latency cut per GPU by the gradient, and the GPUs in use."""
        moves = self.up_moves(state)
        base = float(self.space.cost(state.tp, state.k, state.r)) / FRACTION_GRID
        if not moves:
            return [], base
        grads = self.grad(state.tp, state.r, state.k / FRACTION_GRID)
        predicted = []
        for _, s, which in moves:
            i = int(np.flatnonzero((s.tp != state.tp) | (s.k != state.k)
                                   | (s.r != state.r))[0])
            step = ((s.r[i] - state.r[i]) if which == 0 else
                    (s.k[i] - state.k[i]) / FRACTION_GRID if which == 1 else
                    (s.tp[i] - state.tp[i]))
            gpus = (s.tp[i] * s.k[i] * s.r[i] - state.tp[i] * state.k[i] * state.r[i]
                    ) / FRACTION_GRID
            g = grads[1][i] if which == 0 else grads[2][i] if which == 1 else grads[0][i]
            predicted.append(-g * step / gpus)
        order = np.argsort(-np.array(predicted))[:TOP_CANDIDATES]
        return [(moves[i][0], moves[i][1]) for i in order], base

    def climb(self, state: _State, phase: str, candidates, *, per_gpu: bool) -> _State:
        """Take the best scored candidate (``candidates(state, latency)`` -> moves and the
        GPUs they are measured from) until none improves."""
        latency = float(self.score([state])["latency_s"][0])
        for _ in range(self.max_steps):
            moves, base = candidates(state, latency)
            chosen = self.pick(moves, latency, per_gpu=per_gpu, base_gpus=base)
            if chosen is None:
                break
            text, state, scored, index = chosen
            latency = float(scored["latency_s"][index])
            self.record(phase, text, state, scored, index)
        return state

    def grow(self, state: _State, phase: str) -> _State:
        """Phase 3: gradient-ranked quanta, the best few scored exactly."""
        return self.climb(state, phase, self.ranked_quanta, per_gpu=True)

    def improve(self, state: _State, need: np.ndarray, phase: str) -> _State:
        """Phase 4: batched local moves until none improves."""
        return self.climb(state, phase,
                          lambda s, latency: (self.local_moves(s, need, latency), 0.0),
                          per_gpu=False)

def search(space: SearchSpace, *, max_steps: int = 500, starts: tuple[Allocation, ...] = (),
           packing: bool = True, alternatives: int = 0) -> SearchResult:
    """The gradient-guided heuristic (see the module text). ``packing``: only allocations
    whose instances pack onto the cluster (off: the budget alone, as the exact oracle's
    knapsack). ``alternatives``: also that many candidates, the result and the next best
    feasible allocations that pack among the other starts' results and the result's local
    moves (:attr:`SearchResult.candidates`)."""
    run = _Search(space, max_steps, packing)
    first, need = target_point(space, space.rate)
    packing_error = None
    if first is not None:
        run.record("target", "fewest GPUs that meet the target", first, run.score([first]))
        if not run.packs(first):
            first = run.packing_start(need)
            if first is None:
                packing_error = infeasible(space, packing=True, tried=(
                    f" (tried the {PACKING_TRIES:,} cheapest combinations of configurations "
                    "that meet it within the budget)"))
            else:
                run.record("target", "fewest GPUs that meet the target and pack", first,
                           run.score([first]))
    # a start that meets the target where the target point does not (it adds replicas
    # greedily) is searched from all the same
    candidates = []
    for label, state in (("from the target point", first),
                         ("from the rounded relaxation",
                          None if first is None else run.relax_and_round(first)),
                         *((f"from {a.method}", _state_of(space, a)) for a in starts)):
        if state is None or not run.packs(state):
            continue
        checked = run.score([state])
        if not checked["feasible"][0]:
            continue
        run.record("start", label, state, checked)
        state = run.grow(state, "grow")
        state = run.improve(state, need, "local")
        candidates.append(state)
    if not candidates:
        raise packing_error or infeasible(space)
    final = run.score(candidates)
    best = int(np.argmin(np.where(final["feasible"], final["latency_s"], np.inf)))
    state = candidates[best]
    run.record("result", "best of the starts", state, final, best)
    latency, throughput = float(final["latency_s"][best]), float(final["throughput_rps"][best])
    found = run.candidates(state, latency, throughput,
                           [c for i, c in enumerate(candidates) if i != best], need,
                           alternatives) if alternatives else ()
    elapsed = time.perf_counter() - run.started
    return SearchResult(
        allocation=space.allocation(state.tp, state.k, state.r, "gradient_guided"),
        latency_s=latency, throughput_rps=throughput,
        evaluated=run.evaluated, elapsed_s=elapsed, trace=tuple(run.trace), candidates=found)


def _state_of(space: SearchSpace, allocation: Allocation) -> _State | None:
    """An allocation as a search state (None when one of its llms is outside the space)."""
    tp, k, r = [], [], []
    for i, llm in enumerate(space.llms):
        try:
            entry = allocation.llm(llm)
        except KeyError:
            return None
        eighths = round(entry.gpu_fraction * FRACTION_GRID)
        if (entry.tp, eighths) not in set(space.configs[i]):
            return None
        tp.append(entry.tp)
        k.append(eighths)
        r.append(entry.replicas)
    return _State(np.array(tp), np.array(k), np.array(r))


# --------------------------------------------------------------------------- infeasibility


def target_point(space: SearchSpace, rate: float) -> tuple[_State | None, np.ndarray]:
    """The fewest-GPU point that meets ``rate``: every llm in the configuration that keeps
    its utilisation within the cap with the fewest GPUs, then replicas added where they raise
    the workflow's throughput most until its utilisation is within the cap too (None when
    that exceeds the budget); and the fewest replicas per configuration
    (:func:`~scepsy_opt.core.space.min_replicas`)."""
    need = min_replicas(space, rate)
    if np.any(np.all(need == 0, axis=0)):
        return None, need
    tp, k, _ = config_arrays(space)
    cost = np.where(need > 0, tp * k * need, np.iinfo(np.int64).max)
    best = np.argmin(cost, axis=0)
    columns = np.arange(len(space.llms))
    state = _State(tp[best, columns].copy(), k[best, columns].copy(),
                   need[best, columns].copy())
    state.r = sustaining_replicas(space, state.tp, state.k, state.r, rate)
    return (None if state.r is None else state), need


def max_achievable_rate(space: SearchSpace) -> tuple[float, np.ndarray]:
    """The highest rate whose fewest-GPU point (:func:`target_point`) fits the budget
    (bisection), and the GPUs each llm then needs."""

    def gpus(rate: float) -> np.ndarray | None:
        state, _ = target_point(space, rate)
        return None if state is None else state.tp * state.k * state.r

    low, high = 0.0, max(space.rate, 1e-6)
    while gpus(high) is not None:
        low, high = high, high * 2
        if high > 1e9:
            break
    for _ in range(40):
        middle = (low + high) / 2
        if gpus(middle) is not None:
            low = middle
        else:
            high = middle
    used = gpus(low) if low > 0 else None
    return low, (used if used is not None else np.zeros(len(space.llms))) / FRACTION_GRID


def infeasible(space: SearchSpace, packing: bool = False, tried: str = ""
               ) -> AllocationError | PlacementError:
    problem = space.problem
    rate, gpus = max_achievable_rate(space)
    where = f"cluster '{problem.cluster.name}' ({problem.gpus} {problem.gpu} GPUs)"
    if packing:
        cheapest, _ = target_point(space, space.rate)
        reason = None if cheapest is None else space.placement_error(
            cheapest.tp, cheapest.k, cheapest.r)
        if reason is not None:  # the place stage's own diagnosis, e.g. every node excluded
            return PlacementError(
                f"no allocation that meets {problem.rate_rps:g} requests/s can be placed on "
                f"{where}; the fewest-GPU one fails the place stage's necessary conditions: "
                f"{reason.problem}", source="placement", field=reason.field, fix=reason.fix)
        return AllocationError(
            f"no allocation that meets {problem.rate_rps:g} requests/s packs onto the GPUs of "
            f"{where}{tried}", source="target", field="rate_rps",
            value=problem.rate_rps,
            fix="lower target.rate_rps or use a larger cluster")
    needs = ", ".join(f"{llm} {g:.3g}" for llm, g in sorted(
        zip(space.llms, gpus, strict=True), key=lambda x: -x[1]))
    limit = (f"at most {rate:.4g} requests/s is achievable (predicted), where the GPUs run out "
             f"with {needs} GPUs, the workflow and every llm at utilisation "
             f"{problem.utilization_cap:g}") if rate > 0 else \
        "not even the smallest instance of every llm fits"
    return AllocationError(
        f"target {problem.rate_rps:g} requests/s cannot be sustained on {where}: {limit}",
        source="target", field="rate_rps", value=problem.rate_rps,
        fix=f"lower target.rate_rps to {rate:.4g} or less, raise target.utilization_cap, or "
            "use a larger cluster" if rate > 0 else "use a larger cluster")
