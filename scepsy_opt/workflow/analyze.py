"""The analyze stage: per-llm workflow statistics from sampled or recorded requests.

For every llm ``l`` of a workflow, over the requests ``r`` of a trace table:

- ``n`` (``calls_per_request.mean``): calls of ``l`` per request.
- ``p`` (``parallelism``): mean number of overlapping calls of ``l`` while any is active:
  ``sum_r busy_l(r) / sum_r active_l(r)``, where ``busy`` sums call durations and ``active`` is
  the length of the union of the calls' intervals.
- ``c`` (``critical_path_weight``): expected number of calls of ``l`` on the request's critical
  path. The critical path is walked back from the call that ends last, each step to the parent
  that ended last (the one that released the call); ties go to the first listed parent.
  ``n_over_p`` reports Scepsy's approximation ``n / p`` next to it.
- ``critical_path_time_share``: the part of end-to-end latency spent in calls of ``l`` on the
  critical path (``sum_r`` critical time / ``sum_r`` latency).
- token distributions (input, output), call durations, busy time per request.
- ``share``: ``l``'s fraction of the total llm busy time (``sum_r busy_l / sum_r busy``), and
  ``share_cv``: the coefficient of variation across requests of the per-request share, next to
  the workflow's ``e2e_latency_s.cv``. The aggregate-pipeline model relies on the first being
  smaller than the second. Per workflow, ``weighted_share_cv`` (the share-weighted mean of the
  llms' share CVs: an llm with a tiny share has a large relative spread that moves little load)
  is compared with the latency CV to give ``shares_stable``; ``max_share_cv`` is reported too.

Everything is vectorised over the table's columns.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from scepsy_opt.core.errors import AnalyzeError
from scepsy_opt.core.stats import LlmStats, Summary, WorkflowStats
from scepsy_opt.core.trace import KIND_LLM, KIND_TOOL, TraceTable

log = logging.getLogger(__name__)


def critical_predecessor(table: TraceTable) -> np.ndarray:
    """Per row, the parent that ended last (first such parent on ties), or -1."""
    n = table.num_calls
    lengths = np.diff(table.parent_ptr)
    pred = np.full(n, -1, dtype=np.int64)
    if table.parent_idx.shape[0] == 0:
        return pred
    has_parents = np.flatnonzero(lengths > 0)
    parent_end = table.end_s[table.parent_idx]
    segment_max = np.maximum.reduceat(parent_end, table.parent_ptr[:-1][has_parents])
    best = np.full(n, np.nan)
    best[has_parents] = segment_max
    child = np.repeat(np.arange(n), lengths)
    hits = np.flatnonzero(parent_end == best[child])
    hit_child = child[hits]
    first = np.ones(hits.shape[0], dtype=bool)
    first[1:] = hit_child[1:] != hit_child[:-1]
    pred[hit_child[first]] = table.parent_idx[hits[first]]
    return pred


def _request_bounds(table: TraceTable) -> tuple[np.ndarray, np.ndarray]:
    num_requests = table.num_requests
    first = np.full(num_requests, np.inf)
    last = np.full(num_requests, -np.inf)
    np.minimum.at(first, table.request, table.start_s)
    np.maximum.at(last, table.request, table.end_s)
    empty = ~np.isfinite(first)  # a request without calls (e.g. a fan-out of 0 copies) takes 0 s
    first[empty], last[empty] = 0.0, 0.0
    return first, last


def _critical_path(table: TraceTable, last_end: np.ndarray, num_llms: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (request, llm): calls and seconds on the critical path; per request: tool seconds."""
    num_requests = table.num_requests
    pred = critical_predecessor(table)
    rows = np.arange(table.num_calls)
    ends_last = np.flatnonzero(table.end_s == last_end[table.request])
    sink = np.full(num_requests, -1, dtype=np.int64)
    np.maximum.at(sink, table.request[ends_last], rows[ends_last])
    counts = np.zeros(num_requests * num_llms)
    seconds = np.zeros(num_requests * num_llms)
    tool_seconds = np.zeros(num_requests)
    duration = table.duration_s
    request_of = np.flatnonzero(sink >= 0)  # requests without calls have no critical path
    current = sink[request_of]
    while current.shape[0]:
        is_llm = table.kind[current] == KIND_LLM
        llm_rows = current[is_llm]
        key = request_of[is_llm] * num_llms + table.llm[llm_rows]
        np.add.at(counts, key, 1.0)
        np.add.at(seconds, key, duration[llm_rows])
        is_tool = table.kind[current] == KIND_TOOL
        np.add.at(tool_seconds, request_of[is_tool], duration[current[is_tool]])
        current = pred[current]
        alive = current >= 0
        current, request_of = current[alive], request_of[alive]
    shape = (num_requests, num_llms)
    return counts.reshape(shape), seconds.reshape(shape), tool_seconds


def _union_seconds(key: np.ndarray, start: np.ndarray, end: np.ndarray, num_keys: int
                   ) -> np.ndarray:
    """Per key, the length of the union of the intervals ``[start, end]`` with that key.

    Times must be relative to their request (small magnitudes) for the offset trick below.
    """
    if key.shape[0] == 0:
        return np.zeros(num_keys)
    span = float(max(end.max(), 0.0) - min(start.min(), 0.0)) + 1.0
    order = np.argsort(key * span + start, kind="stable")
    k, s, e = key[order], start[order], end[order]
    # Running max of ends within each key group: offset groups so they never mix.
    offset = k * (2 * span)
    running = np.maximum.accumulate(e + offset) - offset
    previous = np.empty_like(running)
    previous[0] = -np.inf
    previous[1:] = running[:-1]
    new_group = np.ones(k.shape[0], dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    previous[new_group] = -np.inf
    covered = np.maximum(e - np.maximum(s, previous), 0.0)
    return np.bincount(k, weights=covered, minlength=num_keys)


def analyze_table(table: TraceTable, *, workflow: str, duration_model: str) -> WorkflowStats:
    """Compute :class:`WorkflowStats` of every request in ``table``."""
    num_requests, num_llms = table.num_requests, len(table.llms)
    if num_requests == 0 or num_llms == 0 or not np.any(table.kind == KIND_LLM):
        raise AnalyzeError("the requests hold no llm calls", source=table.source,
                           fix="analyze a workflow whose requests call at least one llm (a "
                               "fan-out or loop whose count is always 0 runs nothing)")
    first_start, last_end = _request_bounds(table)
    latency = last_end - first_start
    is_llm = table.kind == KIND_LLM
    req = table.request[is_llm].astype(np.int64)
    llm = table.llm[is_llm].astype(np.int64)
    key = req * num_llms + llm
    duration = table.duration_s[is_llm]
    size = num_requests * num_llms
    calls = np.bincount(key, minlength=size).reshape(num_requests, num_llms)
    busy = np.bincount(key, weights=duration, minlength=size).reshape(num_requests, num_llms)
    relative_start = table.start_s[is_llm] - first_start[req]
    relative_end = table.end_s[is_llm] - first_start[req]
    active = _union_seconds(key, relative_start, relative_end, size).reshape(
        num_requests, num_llms)
    crit_calls, crit_seconds, crit_tool = _critical_path(table, last_end, num_llms)

    busy_total = busy.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        request_share = np.where(busy_total[:, None] > 0, busy / busy_total[:, None], np.nan)
    valid = busy_total > 0
    latency_summary = Summary.of(latency)
    total_latency = float(latency.sum())
    total_busy = float(busy.sum())

    stats = []
    for index, llm_id in enumerate(table.llms):
        mask = llm == index
        shares = request_share[valid, index]
        share_mean = float(shares.mean()) if shares.size else math.nan
        n = float(calls[:, index].mean())
        p = float(busy[:, index].sum() / active[:, index].sum()) if active[:, index].sum() > 0 \
            else (1.0 if n > 0 else math.nan)
        stats.append(LlmStats(
            llm=llm_id,
            calls_per_request=Summary.of(calls[:, index]),
            parallelism=p,
            critical_path_weight=float(crit_calls[:, index].mean()),
            n_over_p=n / p if p and math.isfinite(p) else math.nan,
            critical_path_time_share=float(crit_seconds[:, index].sum() / total_latency)
            if total_latency > 0 else math.nan,
            input_tokens=Summary.of(table.input_tokens[is_llm][mask]),
            output_tokens=Summary.of(table.output_tokens[is_llm][mask]),
            call_duration_s=Summary.of(duration[mask]),
            busy_s_per_request=float(busy[:, index].mean()),
            share=float(busy[:, index].sum() / total_busy) if total_busy > 0 else math.nan,
            share_cv=float(shares.std() / share_mean) if share_mean > 0 else math.nan,
        ))
    finite = [s for s in stats if math.isfinite(s.share_cv) and math.isfinite(s.share)]
    max_share_cv = max((s.share_cv for s in finite), default=math.nan)
    weighted_share_cv = sum(s.share * s.share_cv for s in finite) if finite else math.nan
    return WorkflowStats(
        workflow=workflow,
        source=table.source,
        duration_model=duration_model,
        num_requests=num_requests,
        num_calls=int(is_llm.sum()),
        e2e_latency_s=latency_summary,
        llm_busy_s_per_request=float(busy_total.mean()),
        tool_s_on_critical_path_per_request=float(crit_tool.mean()),
        max_share_cv=max_share_cv,
        weighted_share_cv=weighted_share_cv,
        shares_stable=bool(weighted_share_cv < latency_summary.cv) if finite else False,
        llms=tuple(stats),
    )
