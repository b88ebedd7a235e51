"""Workloads: the requests a simulation runs and when they arrive.

A program workflow is sampled (its structure, tokens and tool latencies; the sampled llm call
durations are ignored: the simulated engines produce them); recorded traces are replayed, their
requests repeated in order when more are needed. A mix draws each member's requests at its share
of the rate, with its own arrival process, and merges them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from scepsy_opt.core.trace import TraceTable, concat_tables, rename_llms
from scepsy_opt.sim.arrivals import ArrivalProcess
from scepsy_opt.workflow.sampler import LinearDurations, sample_program
from scepsy_opt.workflow.spec import WorkflowSpec


@dataclass(frozen=True, eq=False)
class Workload:
    """Requests (one table), their arrival times and the member workflow of each."""

    table: TraceTable
    arrivals_s: np.ndarray
    members: np.ndarray
    member_names: tuple[str, ...]
    rate_rps: float


def _member_table(workflow: WorkflowSpec, count: int, seed: list[int], prefix: str
                  ) -> TraceTable:
    if workflow.program is not None:
        return sample_program(workflow.program, count, seed=seed, durations=LinearDurations(),
                              source=workflow.source, request_prefix=f"{prefix}r")
    from scepsy_opt.workflow.importers import load_traces

    source = workflow.traces
    if source is None:
        raise TypeError(f"workflow {workflow.name!r} has neither a program nor traces")
    recorded = rename_llms(load_traces(source.path, source.format, **dict(source.options)),
                           dict(source.llm_map))
    picks = np.arange(count) % recorded.num_requests
    copies = []
    for start in range(0, count, recorded.num_requests):
        chunk = recorded.select_requests(picks[start:start + recorded.num_requests])
        copies.append(replace(chunk, request_ids=tuple(
            f"{prefix}{start // recorded.num_requests}/{r}" for r in chunk.request_ids)))
    return concat_tables(copies, source=recorded.source) if len(copies) > 1 else copies[0]


def build_workload(spec: WorkflowSpec, rate_rps: float, num_requests: int,
                   arrivals: ArrivalProcess, seed: int) -> Workload:
    """``num_requests`` requests of ``spec`` arriving at ``rate_rps`` in total."""
    parts = [(m.workflow, m.weight) for m in spec.members] or [(spec, 1.0)]
    total = sum(weight for _, weight in parts)
    tables, times, members = [], [], []
    for index, (workflow, weight) in enumerate(parts):
        share = weight / total
        count = max(1, round(num_requests * share))
        prefix = f"{workflow.name}/" if len(parts) > 1 else ""
        tables.append(_member_table(workflow, count, [seed, 7, index], prefix))
        rng = np.random.default_rng([seed, 11, index])
        times.append(arrivals.times(rate_rps * share, count, rng))
        members.append(np.full(count, index))
    table = concat_tables(tables, source=spec.name) if len(tables) > 1 else tables[0]
    return Workload(table, np.concatenate(times), np.concatenate(members),
                    tuple(w.name for w, _ in parts), rate_rps)


def single_calls_table(llm: str, input_tokens: np.ndarray, output_tokens: np.ndarray
                       ) -> TraceTable:
    """Requests of one call each (no dependencies): an llm's call mix on its own."""
    n = len(input_tokens)
    zeros = np.zeros(n)
    return TraceTable(
        source=f"call mix of {llm}", request_ids=tuple(f"c{i}" for i in range(n)), llms=(llm,),
        names=(), request=np.arange(n, dtype=np.int32), kind=np.zeros(n, dtype=np.int8),
        llm=np.zeros(n, dtype=np.int16), name=np.full(n, -1, dtype=np.int32), start_s=zeros,
        end_s=zeros.copy(), input_tokens=np.asarray(input_tokens, dtype=np.int64),
        output_tokens=np.asarray(output_tokens, dtype=np.int64),
        parent_ptr=np.zeros(n + 1, dtype=np.int64), parent_idx=np.zeros(0, dtype=np.int64))
