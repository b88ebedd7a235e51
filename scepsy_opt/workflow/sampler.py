"""Seeded, vectorised sampling of workflow programs into traces.

All requests are sampled at once: every program node is evaluated for a batch of *instances*
(one per request, or per fan-out copy, loop iteration or chosen branch), so the cost is a few
numpy operations per node visit rather than per call. Each instance carries its ready time and
its *frontier*: the calls the next emitted call depends on (CSR: ``ptr``/``rows``). A call or
tool starts when its frontier has ended (no contention: durations are unloaded) and becomes the
new frontier; ``par`` joins the frontiers of its branches or copies; ``loop`` threads the frontier
through its iterations. The result is a :class:`~scepsy_opt.core.trace.TraceTable` whose
rows are emitted in topological order.

The same ``seed`` and arguments give the same table, bit for bit.

The sampled table is held in memory: a program whose expected calls per request times the
number of requests exceeds :data:`MAX_SAMPLED_CALLS` is refused before sampling, and so is a
sample that grows past it (a fan-out or loop count far above its mean); sampled token counts
must be finite and at most :data:`~scepsy_opt.core.trace.MAX_CALL_TOKENS`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from scepsy_opt.core.errors import WorkflowError
from scepsy_opt.core.trace import (
    KIND_LLM,
    KIND_TOOL,
    LLM_INDEX,
    MAX_CALL_TOKENS,
    MAX_TIME_S,
    TraceTable,
)
from scepsy_opt.workflow.distributions import Distribution
from scepsy_opt.workflow.program import (
    CallNode,
    ChoiceNode,
    LoopNode,
    Node,
    ParNode,
    SeqNode,
    ToolNode,
    expected_calls,
    walk,
)

log = logging.getLogger(__name__)
# The most calls and tool spans one sample may hold (about 100 bytes each while sampling).
MAX_SAMPLED_CALLS = 20_000_000


def too_many_calls(source: str, calls: float, num_requests: int, what: str) -> WorkflowError:
    """The error for a sample above :data:`MAX_SAMPLED_CALLS`."""
    return WorkflowError(
        f"{what} {calls:.3g} calls and tool spans for {num_requests} requests, more than the "
        f"{MAX_SAMPLED_CALLS:,} that are sampled in memory", source=source, field="program",
        value=calls, fix="sample fewer requests (analyze.num_requests), or cap the loops and "
                         "fan-outs of the program (max: on their count, max_iterations)")


class DurationModel(Protocol):
    """How long a call of ``llm`` with the given token counts runs (seconds, vectorised)."""

    def duration_s(self, llm: str, input_tokens: np.ndarray,
                   output_tokens: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class PerLlmDurations:
    """A :class:`DurationModel` from one model object per llm (e.g. ``LlmWorkModel``)."""

    models: Mapping[str, object]

    def duration_s(self, llm: str, input_tokens: np.ndarray,
                   output_tokens: np.ndarray) -> np.ndarray:
        return self.models[llm].duration_s(input_tokens, output_tokens)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ frontiers


@dataclass(frozen=True)
class _Frontier:
    """Per instance, the rows the next call depends on: ``rows[ptr[i]:ptr[i+1]]``."""

    ptr: np.ndarray
    rows: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.ptr)

    @staticmethod
    def empty(k: int) -> _Frontier:
        return _Frontier(np.zeros(k + 1, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @staticmethod
    def single(rows: np.ndarray) -> _Frontier:
        return _Frontier(np.arange(rows.shape[0] + 1, dtype=np.int64), rows)

    def take(self, instances: np.ndarray) -> _Frontier:
        """The frontiers of ``instances`` (any order, repeats allowed)."""
        lengths = self.lengths[instances]
        ptr = _ptr(lengths)
        index = np.repeat(self.ptr[:-1][instances] - ptr[:-1], lengths) + np.arange(ptr[-1])
        return _Frontier(ptr, self.rows[index])


def _ptr(lengths: np.ndarray) -> np.ndarray:
    ptr = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return ptr


def _assemble(k: int, parts: list[tuple[np.ndarray, _Frontier]]) -> _Frontier:
    """Frontiers of ``k`` instances from parts ``(instances, frontier over them)``.

    Instances within a part are distinct; an instance in several parts gets the concatenation.
    """
    lengths = np.zeros(k, dtype=np.int64)
    for instances, part in parts:
        lengths[instances] += part.lengths
    ptr = _ptr(lengths)
    rows = np.empty(ptr[-1], dtype=np.int64)
    cursor = ptr[:-1].copy()
    for instances, part in parts:
        part_lengths = part.lengths
        index = np.repeat(cursor[instances] - part.ptr[:-1], part_lengths) + np.arange(
            part.rows.shape[0])
        rows[index] = part.rows
        cursor[instances] += part_lengths
    return _Frontier(ptr, rows)


# ------------------------------------------------------------------------------ emission


@dataclass
class _Emitter:
    """Collects emitted rows in chunks; rows are numbered in emission order."""

    names: dict[str, int] = field(default_factory=dict)
    llms: dict[str, int] = field(default_factory=dict)
    chunks: dict[str, list[np.ndarray]] = field(default_factory=lambda: {
        key: [] for key in ("request", "kind", "llm", "name", "start", "end", "inp", "out",
                            "edge_child", "edge_parent")})
    num_rows: int = 0
    source: str = ""
    num_requests: int = 0

    def emit(self, *, request: np.ndarray, kind: int, llm: int, name: str, start: np.ndarray,
             end: np.ndarray, inp: np.ndarray | None, out: np.ndarray | None,
             parents: _Frontier) -> np.ndarray:
        k = request.shape[0]
        if self.num_rows + k > MAX_SAMPLED_CALLS:
            raise too_many_calls(self.source, self.num_rows + k, self.num_requests,
                                 "the sample grew past")
        rows = np.arange(self.num_rows, self.num_rows + k, dtype=np.int64)
        self.num_rows += k
        name_index = self.names.setdefault(name, len(self.names))
        c = self.chunks
        c["request"].append(request)
        c["kind"].append(np.full(k, kind, dtype=np.int8))
        c["llm"].append(np.full(k, llm, dtype=LLM_INDEX))
        c["name"].append(np.full(k, name_index, dtype=np.int32))
        c["start"].append(start)
        c["end"].append(end)
        zeros = np.zeros(k, dtype=np.int64)
        c["inp"].append(zeros if inp is None else inp)
        c["out"].append(zeros if out is None else out)
        c["edge_child"].append(np.repeat(rows, parents.lengths))
        c["edge_parent"].append(parents.rows)
        return rows


@dataclass
class _State:
    """The batch of instances a node is evaluated for."""

    request: np.ndarray  # request index per instance
    ready_s: np.ndarray  # when the instance's frontier has ended
    frontier: _Frontier
    iteration: np.ndarray  # iteration index of the innermost enclosing loop

    @property
    def size(self) -> int:
        return int(self.request.shape[0])

    def take(self, instances: np.ndarray) -> _State:
        return _State(self.request[instances], self.ready_s[instances],
                      self.frontier.take(instances), self.iteration[instances])


class _Sampler:
    def __init__(self, rng: np.random.Generator, durations: DurationModel,
                 llm_index: Mapping[str, int], source: str, num_requests: int) -> None:
        self.rng = rng
        self.durations = durations
        self.llm_index = llm_index
        self.out = _Emitter(source=source, num_requests=num_requests)
        self.source = source

    def _draw(self, dist: Distribution, k: int, path: str, limit: float, *,
              integer: bool = True) -> np.ndarray:
        """``k`` samples of ``dist`` (negative ones as 0; int64 when ``integer``), refused when
        one is not finite or above ``limit`` (it would not fit an int64, or not in memory)."""
        values = np.maximum(dist.draw(self.rng, k, integer=integer), 0.0)
        largest = float(values.max(initial=0.0))
        if not largest <= limit:
            raise WorkflowError(
                f"a sampled value ({largest:.3g}) is above {limit:,g}", source=self.source,
                field=path, value=largest,
                fix="lower the distribution's mean or spread, or cap it with max: <value>")
        return values.astype(np.int64) if integer else values

    def eval(self, node: Node, state: _State) -> tuple[np.ndarray, _Frontier]:
        """Evaluate ``node`` for every instance; return end times and end frontiers."""
        if state.size == 0:
            return state.ready_s, state.frontier
        if isinstance(node, CallNode):
            return self._call(node, state)
        if isinstance(node, ToolNode):
            return self._tool(node, state)
        if isinstance(node, SeqNode):
            for step in node.steps:
                ready, frontier = self.eval(step, state)
                state = _State(state.request, ready, frontier, state.iteration)
            return state.ready_s, state.frontier
        if isinstance(node, ParNode):
            return self._par(node, state)
        if isinstance(node, ChoiceNode):
            return self._choice(node, state)
        if isinstance(node, LoopNode):
            return self._loop(node, state)
        raise TypeError(f"not a program node: {node!r}")

    def _call(self, node: CallNode, state: _State) -> tuple[np.ndarray, _Frontier]:
        k = state.size
        inp = self._draw(node.input_tokens, k, f"{node.path}.input_tokens", MAX_CALL_TOKENS)
        if node.input_growth_tokens:
            growth = node.input_growth_tokens * state.iteration.astype(np.float64)
            if not float(growth.max(initial=0.0)) + float(inp.max(initial=0)) <= MAX_CALL_TOKENS:
                raise WorkflowError(
                    f"the prompt grows past {MAX_CALL_TOKENS:,} tokens over the loop's "
                    f"iterations", source=self.source,
                    field=f"{node.path}.input_growth_tokens", value=node.input_growth_tokens,
                    fix="lower input_growth_tokens or the loop's iterations")
            inp = inp + np.rint(growth).astype(np.int64)
        if node.max_input_tokens is not None:
            inp = np.minimum(inp, node.max_input_tokens)
        out = self._draw(node.output_tokens, k, f"{node.path}.output_tokens", MAX_CALL_TOKENS)
        end = state.ready_s + self.durations.duration_s(node.llm, inp, out)
        rows = self.out.emit(request=state.request, kind=KIND_LLM,
                             llm=self.llm_index[node.llm], name=node.name, start=state.ready_s,
                             end=end, inp=inp, out=out, parents=state.frontier)
        return end, _Frontier.single(rows)

    def _tool(self, node: ToolNode, state: _State) -> tuple[np.ndarray, _Frontier]:
        latency = self._draw(node.latency_s, state.size, f"{node.path}.latency_s", MAX_TIME_S,
                             integer=False)
        end = state.ready_s + latency
        rows = self.out.emit(request=state.request, kind=KIND_TOOL, llm=-1, name=node.name,
                             start=state.ready_s, end=end, inp=None, out=None,
                             parents=state.frontier)
        return end, _Frontier.single(rows)

    def _par(self, node: ParNode, state: _State) -> tuple[np.ndarray, _Frontier]:
        k = state.size
        everyone = np.arange(k)
        if node.body is None:
            ends, parts = [], []
            for branch in node.branches:
                end, frontier = self.eval(branch, state)
                ends.append(end)
                parts.append((everyone, frontier))
            return np.maximum.reduce(ends), _assemble(k, parts)
        assert node.count is not None
        counts = self._draw(node.count, k, f"{node.path}.count", MAX_SAMPLED_CALLS)
        if int(counts.sum()) + self.out.num_rows > MAX_SAMPLED_CALLS:
            raise too_many_calls(self.source, int(counts.sum()) + self.out.num_rows,
                                 self.out.num_requests, "the fan-out copies make at least")
        source = np.repeat(everyone, counts)  # expanded copies, grouped by instance
        end, frontier = self.eval(node.body, state.take(source))
        fanned = np.flatnonzero(counts > 0)
        bounds = _ptr(counts[fanned])
        joined_end = state.ready_s.copy()
        if fanned.shape[0]:
            joined_end[fanned] = np.maximum.reduceat(end, bounds[:-1])
        joined = _Frontier(frontier.ptr[bounds], frontier.rows)
        idle = np.flatnonzero(counts == 0)
        return joined_end, _assemble(k, [(fanned, joined), (idle, state.frontier.take(idle))])

    def _choice(self, node: ChoiceNode, state: _State) -> tuple[np.ndarray, _Frontier]:
        k = state.size
        probs = np.array([p for p, _ in node.options])
        picked = self.rng.choice(len(node.options), size=k, p=probs / probs.sum())
        end = state.ready_s.copy()
        parts = []
        for option, (_, body) in enumerate(node.options):
            chosen = np.flatnonzero(picked == option)
            if chosen.shape[0] == 0:
                continue
            sub_end, sub_frontier = self.eval(body, state.take(chosen))
            end[chosen] = sub_end
            parts.append((chosen, sub_frontier))
        return end, _assemble(k, parts)

    def _loop(self, node: LoopNode, state: _State) -> tuple[np.ndarray, _Frontier]:
        k = state.size
        if node.count is not None:
            counts = self._draw(node.count, k, f"{node.path}.count", node.count.upper_bound)
        else:
            assert node.continue_p is not None
            # Successes before the first failure of a coin with P(continue) = continue_p.
            extra = self.rng.geometric(1.0 - node.continue_p, size=k) - 1
            counts = np.minimum(node.min_iterations + extra, node.max_iterations)
        end = state.ready_s.copy()
        frontier = state.frontier
        for iteration in range(int(counts.max(initial=0))):
            active = np.flatnonzero(counts > iteration)
            sub = _State(state.request[active], end[active], frontier.take(active),
                         np.full(active.shape[0], iteration, dtype=np.int64))
            sub_end, sub_frontier = self.eval(node.body, sub)
            end[active] = sub_end
            resting = np.flatnonzero(counts <= iteration)
            frontier = _assemble(k, [(resting, frontier.take(resting)), (active, sub_frontier)])
        return end, frontier


def sample_program(
    program: Node,
    num_requests: int,
    *,
    seed: int | Sequence[int],
    durations: DurationModel,
    source: str,
    request_prefix: str = "r",
) -> TraceTable:
    """Sample ``num_requests`` requests of ``program`` into a trace table (times from 0 each)."""
    if num_requests <= 0:
        raise ValueError(f"num_requests must be > 0, got {num_requests}")
    expected = expected_calls(program) * num_requests
    if not expected <= MAX_SAMPLED_CALLS:  # also NaN (0 x inf)
        raise too_many_calls(source, expected, num_requests, "the program samples about")
    llms = tuple(sorted({n.llm for n in walk(program) if isinstance(n, CallNode)}))
    sampler = _Sampler(np.random.default_rng(seed), durations,
                       {llm: i for i, llm in enumerate(llms)}, source, num_requests)
    state = _State(
        request=np.arange(num_requests, dtype=np.int32),
        ready_s=np.zeros(num_requests),
        frontier=_Frontier.empty(num_requests),
        iteration=np.zeros(num_requests, dtype=np.int64),
    )
    sampler.eval(program, state)
    chunks = sampler.out.chunks
    cat = {key: np.concatenate(parts) if parts else np.zeros(0) for key, parts in chunks.items()}
    num_rows = sampler.out.num_rows
    # Edges were emitted child by child in row order, so they are already grouped by child.
    parent_ptr = np.zeros(num_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(cat["edge_child"].astype(np.int64), minlength=num_rows),
              out=parent_ptr[1:])
    names = tuple(sorted(sampler.out.names, key=sampler.out.names.__getitem__))
    width = len(str(num_requests - 1))
    log.debug("sampled %d requests, %d calls", num_requests, num_rows)
    return TraceTable(
        source=source,
        request_ids=tuple(f"{request_prefix}{i:0{width}d}" for i in range(num_requests)),
        llms=llms,
        names=names,
        request=cat["request"].astype(np.int32),
        kind=cat["kind"].astype(np.int8),
        llm=cat["llm"].astype(LLM_INDEX),
        name=cat["name"].astype(np.int32),
        start_s=cat["start"].astype(np.float64),
        end_s=cat["end"].astype(np.float64),
        input_tokens=cat["inp"].astype(np.int64),
        output_tokens=cat["out"].astype(np.int64),
        parent_ptr=parent_ptr,
        parent_idx=cat["edge_parent"].astype(np.int64),
    )


@dataclass(frozen=True)
class LinearDurations:
    """Duration = ``overhead_s + input_s * input_tokens + output_s * output_tokens`` for every llm.

    With ``output_s=1`` and the rest 0, a call lasts exactly its output tokens in seconds, which
    makes hand-computed expectations easy.
    """

    output_s: float = 1.0
    input_s: float = 0.0
    overhead_s: float = 0.0

    def duration_s(self, llm: str, input_tokens: np.ndarray,
                   output_tokens: np.ndarray) -> np.ndarray:
        return (self.overhead_s + self.input_s * np.asarray(input_tokens, dtype=np.float64)
                + self.output_s * np.asarray(output_tokens, dtype=np.float64))
