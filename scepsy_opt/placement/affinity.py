"""Which llms call each other: affinity weights for the placement's topology cost.

A call of llm ``b`` that depends on a call of llm ``a`` (directly, or through tool spans between
them) is one hand-over from ``a`` to ``b``. The weight of the unordered pair ``{a, b}`` is its
hand-overs per request, over all requests of all analysed tables; weights are normalised to sum
to 1. Calls of one llm depending on calls of the same llm add nothing (no pair).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from scepsy_opt.core.trace import KIND_LLM, TraceTable

MAX_TOOL_HOPS = 8


def _edges(table: TraceTable) -> tuple[np.ndarray, np.ndarray]:
    """(child row, parent row) of every dependency."""
    counts = np.diff(table.parent_ptr)
    child = np.repeat(np.arange(table.num_calls), counts)
    return child, np.asarray(table.parent_idx)


def call_affinity(tables: dict[str, TraceTable]) -> tuple[tuple[str, str, float], ...]:
    """``(a, b, weight)`` with ``a < b``, weights summing to 1 (empty: no llm hands over to
    another)."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    requests = 0
    for table in tables.values():
        requests += table.num_requests
        child, parent = _edges(table)
        is_llm = table.kind == KIND_LLM
        keep = is_llm[child]
        child, parent = child[keep], parent[keep]
        pairs_child, pairs_parent = [], []
        for _ in range(MAX_TOOL_HOPS):
            direct = is_llm[parent]
            pairs_child.append(child[direct])
            pairs_parent.append(parent[direct])
            child, parent = child[~direct], parent[~direct]
            if not child.size:
                break
            # replace a tool parent by its own parents
            counts = np.diff(table.parent_ptr)[parent]
            starts = table.parent_ptr[parent]
            child = np.repeat(child, counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            parent = np.asarray(table.parent_idx)[np.repeat(starts, counts) + offsets]
        c = np.concatenate(pairs_child) if pairs_child else np.zeros(0, dtype=int)
        p = np.concatenate(pairs_parent) if pairs_parent else np.zeros(0, dtype=int)
        a, b = table.llm[c], table.llm[p]
        differ = a != b
        if not differ.any():
            continue
        low, high = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
        keys, counts = np.unique(np.stack([low, high]), axis=1, return_counts=True)
        for (i, j), count in zip(keys.T, counts, strict=True):
            names = sorted((table.llms[i], table.llms[j]))
            totals[(names[0], names[1])] += float(count)
    total = sum(totals.values())
    if not total or not requests:
        return ()
    return tuple((a, b, w / total) for (a, b), w in sorted(totals.items()))
