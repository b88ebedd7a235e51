"""Candidate critical paths of sampled requests, as per-llm time and call-count vectors.

A request's end-to-end time is its longest path through the DAG. Under an allocation every llm
``l`` runs its calls at a speed factor ``s_l`` (call durations scaled) plus an extra per-call
delay ``e_l`` (load), so the longest path may change: with parallel branches calling different
llms, the slower branch wins. For each request we collect the paths that are longest under a set
of probes (all llms at reference speed; each llm in turn slowed, sped up, and delayed per call)
and record each as its per-llm reference time ``W[l]``, its per-llm call count ``C[l]`` and its
tool time ``tau``. The surrogate's latency is

    mean_r max_k (W[r, k] . s + C[r, k] . e + tau[r, k])

the expected maximum over the requests' candidate paths: exact at the probes and a lower bound
between them that is tight where few paths compete.

Under load, the delays of parallel branches are random, and a join waits for the slowest: the
expected maximum of ``m`` branches exceeds their mean by about ``e_m`` standard deviations
(``e_m``: the expected maximum of ``m`` standard normals). Each candidate path therefore also
records ``J[l]``: over the joins on the path, ``e_m`` times the llm-``l`` calls of the path's
segment leading into the join, over the square root of the segment's calls (the standard
deviation of a sum of similar delays). The surrogate adds ``nu_l J[l]`` per-call delays of
``l`` (``nu_l`` fitted: a delay's standard deviation over its mean).

Requests with a single candidate contribute linearly and are summed once (``W_sum``, ``C_sum``,
``J_sum``, ``tau_sum``); only the others keep their candidates, which keeps scoring fast for
thousands of sampled requests.

The critical paths of all requests are found at once, level by level of the DAGs (numpy), in
chunks of requests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from scepsy_opt.core.trace import KIND_LLM, TraceTable

SCALES = (0.25, 4.0)  # probe speed factors
DELAYS = (1.0, 4.0)  # probe per-call delays, in mean call durations of the llm
CHUNK_ROWS = 60_000


@dataclass(frozen=True, eq=False)
class PathSet:
    """Candidate critical paths of ``requests`` sampled requests over the llms ``llms``.

    Single-candidate requests are summed: ``W_sum[l]``, ``C_sum[l]``, ``J_sum[l]``,
    ``tau_sum``. The others:
    ``W[r, k, l]``, ``C[r, k, l]``, ``J[r, k, l]``, ``tau[r, k]`` with ``valid[r, k]`` marking
    real entries.
    """

    llms: tuple[str, ...]
    requests: int
    W_sum: np.ndarray
    C_sum: np.ndarray
    J_sum: np.ndarray
    tau_sum: float
    W: np.ndarray
    C: np.ndarray
    J: np.ndarray
    tau: np.ndarray
    valid: np.ndarray

    def latency(self, speed: np.ndarray, delay: np.ndarray,
                spread: np.ndarray | None = None) -> float:
        """Mean longest path at per-llm speed factors, per-call delays and ``spread`` (the
        delays' standard deviation over their mean; 0 by default), in numpy."""
        spread = np.zeros_like(delay) if spread is None else spread
        total = float(self.W_sum @ speed + self.C_sum @ delay + self.J_sum @ (spread * delay)
                      + self.tau_sum)
        if len(self.W):
            paths = self.W @ speed + self.C @ delay + self.J @ (spread * delay) + self.tau
            total += float(np.where(self.valid, paths, -np.inf).max(axis=1).sum())
        return total / self.requests


def row_llm_index(table: TraceTable, llms: tuple[str, ...]) -> np.ndarray:
    """Index into ``llms`` of every row (-1 for tools)."""
    position = {name: i for i, name in enumerate(llms)}
    of_table = np.array([position[name] for name in table.llms] + [-1], dtype=np.int64)
    return np.where(table.kind == KIND_LLM, of_table[table.llm], -1)


def _levels(n: int, child: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Longest hop distance from a root, for every row."""
    level = np.zeros(n, dtype=np.int64)
    while True:
        candidate = np.zeros(n, dtype=np.int64)
        np.maximum.at(candidate, child, level[parent] + 1)
        new = np.maximum(level, candidate)
        if np.array_equal(new, level):
            return level
        level = new


def _probes(num_llms: int, mean_call_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = [np.ones(num_llms)]
    delay = [np.zeros(num_llms)]
    for index in range(num_llms):
        for factor in SCALES:
            s = np.ones(num_llms)
            s[index] = factor
            scale.append(s)
            delay.append(np.zeros(num_llms))
        for factor in DELAYS:
            d = np.zeros(num_llms)
            d[index] = factor * mean_call_s[index]
            scale.append(np.ones(num_llms))
            delay.append(d)
    return np.array(scale), np.array(delay)


def _chunk_candidates(table: TraceTable, llm_of_row: np.ndarray, duration: np.ndarray,
                      scale: np.ndarray, delay: np.ndarray, num_llms: int) -> np.ndarray:
    """Per request and probe, the critical path's vector ``[W (L), C (L), tau]``."""
    n = table.num_calls
    probes = len(scale)
    lengths = np.diff(table.parent_ptr)
    child = np.repeat(np.arange(n), lengths)
    parent = table.parent_idx.astype(np.int64)
    level = _levels(n, child, parent)
    is_llm = llm_of_row >= 0
    safe = np.where(is_llm, llm_of_row, 0)
    # row durations under every probe [n, P]
    dur = np.where(is_llm[:, None], duration[:, None] * scale[:, safe].T + delay[:, safe].T,
                   duration[:, None])
    # path vector: W [0, L), C [L, 2L), tau 2L, J [2L + 1, 3L + 1), segment [3L + 1, 4L + 1)
    L = num_llms
    width = 4 * L + 1
    seg = slice(3 * L + 1, 4 * L + 1)
    contribution = np.zeros((n, width))
    rows = np.flatnonzero(is_llm)
    contribution[rows, llm_of_row[rows]] = duration[rows]
    contribution[rows, L + llm_of_row[rows]] = 1.0
    contribution[rows, 3 * L + 1 + llm_of_row[rows]] = 1.0
    tools = np.flatnonzero(~is_llm)
    contribution[tools, 2 * L] = duration[tools]
    parents_of = np.diff(table.parent_ptr)
    spread = expected_max(parents_of)  # e_m of every row's join (0 for one parent or none)
    finish = np.zeros((n, probes))
    acc = np.zeros((n, probes, width))
    edge_level = level[child]
    order = np.argsort(edge_level, kind="stable")
    edge_bounds = np.searchsorted(edge_level[order], np.arange(level.max() + 2))
    row_order = np.argsort(level, kind="stable")
    row_bounds = np.searchsorted(level[row_order], np.arange(level.max() + 2))
    columns = np.arange(probes)
    for lv in range(level.max() + 1):
        rows = row_order[row_bounds[lv]:row_bounds[lv + 1]]
        edges = order[edge_bounds[lv]:edge_bounds[lv + 1]]
        if len(edges):
            kids, pars = child[edges], parent[edges]
            values = finish[pars]  # [E, P]
            best = np.full((n, probes), -np.inf)
            np.maximum.at(best, kids, values)
            # the critical parent: the last edge that reaches the maximum
            hit = values >= best[kids]
            via = np.full((n, probes), -1, dtype=np.int64)
            np.maximum.at(via, kids, np.where(hit, pars[:, None], -1))
            has = via[rows] >= 0
            start_rows = np.where(has, best[rows], 0.0)
            base = np.where(has[:, :, None], acc[np.maximum(via[rows], 0), columns], 0.0)
        else:
            start_rows = np.zeros((len(rows), probes))
            base = np.zeros((len(rows), probes, width))
        # a join closes the segments leading into it
        joins = spread[rows] > 0
        if np.any(joins):
            segment = base[joins][:, :, seg]
            size = np.sqrt(np.maximum(segment.sum(axis=-1, keepdims=True), 1.0))
            closed = base[joins]
            closed[:, :, 2 * L + 1:3 * L + 1] += spread[rows][joins][:, None, None] * (
                segment / size)
            closed[:, :, seg] = 0.0
            base[joins] = closed
        finish[rows] = start_rows + dur[rows]
        acc[rows] = base + contribution[rows][:, None, :]
    # per request and probe: the row that finishes last
    request = table.request.astype(np.int64)
    end = np.full((table.num_requests, probes), -np.inf)
    np.maximum.at(end, request, finish)
    last = np.full((table.num_requests, probes), -1, dtype=np.int64)
    np.maximum.at(last, request, np.where(finish >= end[request], np.arange(n)[:, None], -1))
    return acc[last, columns][:, :, :3 * L + 1]  # [R, P, 3L + 1]: W, C, tau, J


def expected_max(m: np.ndarray) -> np.ndarray:
    """``e_m``: the expected maximum of ``m`` independent standard normals (0 for ``m <= 1``),
    by numerical integration of ``m x phi(x) Phi(x)^(m - 1)``."""
    m = np.asarray(m)
    out = np.zeros(m.shape)
    x = np.linspace(-10, 10, 4001)
    pdf = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    cdf = ndtr(x)
    for value in np.unique(m[m > 1]):
        out[m == value] = float(np.trapezoid(value * x * pdf * cdf ** (value - 1), x))
    return out


def path_set(table: TraceTable, llms: tuple[str, ...], duration_s: np.ndarray,
             requests: np.ndarray | None = None) -> PathSet:
    """Candidate critical paths of the given requests of ``table`` (all by default).

    ``duration_s``: every row's reference duration (llm calls at the reference configuration,
    tools as recorded or sampled).
    """
    if requests is not None:
        keep = np.isin(table.request, requests)
        duration_s = np.asarray(duration_s)[keep]
        table = table.select_requests(np.asarray(requests))
    num_llms = len(llms)
    llm_of_row = row_llm_index(table, llms)
    duration = np.asarray(duration_s, dtype=np.float64)
    mean_call = np.array([duration[llm_of_row == i].mean() if np.any(llm_of_row == i) else 1.0
                          for i in range(num_llms)])
    scale, delay = _probes(num_llms, mean_call)
    # chunks of whole requests
    by_request = np.bincount(table.request, minlength=table.num_requests)
    cuts = [0]
    total = 0
    for r, count in enumerate(by_request):
        total += count
        if total >= CHUNK_ROWS:
            cuts.append(r + 1)
            total = 0
    if cuts[-1] != table.num_requests:
        cuts.append(table.num_requests)
    vectors = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        chunk = table.select_requests(np.arange(a, b))
        rows = np.flatnonzero((table.request >= a) & (table.request < b))
        vectors.append(_chunk_candidates(chunk, llm_of_row[rows], duration[rows], scale, delay,
                                         num_llms))
    candidates = np.concatenate(vectors)  # [R, P, 3L + 1]
    L = num_llms
    single, multi = [], []
    for r in range(len(candidates)):
        unique = np.unique(np.round(candidates[r], 9), axis=0)
        (single if len(unique) == 1 else multi).append(unique)
    summed = np.sum([u[0] for u in single], axis=0) if single else np.zeros(3 * L + 1)
    width = max((len(u) for u in multi), default=0)
    padded = np.zeros((len(multi), width, 3 * L + 1))
    valid = np.zeros((len(multi), width), dtype=bool)
    for r, unique in enumerate(multi):
        padded[r, :len(unique)] = unique
        valid[r, :len(unique)] = True
    return PathSet(
        llms=llms, requests=len(candidates), W_sum=summed[:L], C_sum=summed[L:2 * L],
        J_sum=summed[2 * L + 1:], tau_sum=float(summed[2 * L]),
        W=padded[:, :, :L], C=padded[:, :, L:2 * L], J=padded[:, :, 2 * L + 1:],
        tau=padded[:, :, 2 * L], valid=valid)
