"""Dependencies of one request's calls inferred from their start and end times.

Logs that record when calls ran but not which outputs fed which inputs (litellm payloads,
OpenTelemetry spans, whose parent links express containment) are turned into a DAG by assuming
that a call depends on the calls that had finished when it started, and only on the *latest*
of them: Y is a parent of X when Y *precedes* X and no call Z lies between them (Y precedes Z
and Z precedes X). This rebuilds chains (one call after another), fan-outs (several calls
starting after the same call) and joins (a call starting after several parallel calls ended),
and drops the redundant transitive links.

Y precedes X when ``end_Y <= start_X + TOLERANCE_S`` and Y comes before X in the order
(start, end, position in the input). The second condition breaks ties between zero-duration
calls and calls overlapping by less than the tolerance, so the relation is acyclic.
"""

from __future__ import annotations

import dataclasses

from scepsy_opt.core.trace import Call

TOLERANCE_S = 1e-3


def infer_dependencies(calls: list[Call], tolerance_s: float = TOLERANCE_S) -> list[Call]:
    """The calls of one request, in the given order, with ``parents`` inferred from timing.

    Any ``parents`` already set are replaced. Parents are listed in (start, end) order.
    O(n^2) in the number of calls.
    """
    request_ids = {call.request_id for call in calls}
    if len(request_ids) > 1:
        raise ValueError(f"infer_dependencies takes the calls of one request, got {request_ids}")
    order = sorted(range(len(calls)), key=lambda i: (calls[i].start_s, calls[i].end_s, i))
    result = list(calls)
    for rank, x in enumerate(order):
        limit = calls[x].start_s + tolerance_s
        # Predecessors of X: earlier in the order and ended by the time X started. They are
        # visited in (start, end) order, so the last one has the latest start of all of them.
        preceding = [y for y in order[:rank] if calls[y].end_s <= limit]
        if preceding:
            # Y is blocked by some Z iff end_Y <= start_Z + tol for a predecessor Z after Y in
            # the order; the latest-starting predecessor (the last) blocks whenever any does.
            latest_start = calls[preceding[-1]].start_s + tolerance_s
            parents = [y for y in preceding[:-1] if calls[y].end_s > latest_start]
            parents.append(preceding[-1])
        else:
            parents = []
        result[x] = dataclasses.replace(
            calls[x], parents=tuple(calls[y].call_id for y in parents)
        )
    return result
