"""Traces: the calls of workflow requests with their dependencies, and their JSON Lines format.

A *call* is one request to one llm (``kind="llm"``) or one tool span (``kind="tool"``). A *trace*
is the calls of one workflow request; ``parents`` makes it a DAG. Many requests are held in one
columnar :class:`TraceTable` (numpy arrays), which both the sampler and the importers produce and
the analyze stage consumes, so tens of thousands of requests fit in memory and analyse quickly.

JSON Lines format (one call per line, UTF-8)::

    {"request_id": "r1", "call_id": "c3", "parents": ["c1", "c2"], "kind": "llm",
     "llm": "llama-3.1-8b-instruct", "name": "answer", "start_s": 1.25, "end_s": 3.5,
     "input_tokens": 812, "output_tokens": 140}

``kind`` defaults to ``"llm"``; tool spans carry ``"kind": "tool"`` and a ``name`` instead of an
``llm`` and no tokens. ``name`` is optional for llm calls (the program node or agent role).

Every call of every format is range-checked where the table is built (:func:`table_from_calls`,
which all importers feed): times are finite seconds in ``[0, MAX_TIME_S]``, token counts whole
numbers in ``[0, MAX_CALL_TOKENS]``. The context window of a known llm is checked by
:func:`check_context`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scepsy_opt.core.errors import ScepsyError, TraceError, not_utf8

KIND_LLM = 0
KIND_TOOL = 1
KINDS = ("llm", "tool")
_REQUIRED = ("request_id", "call_id", "start_s", "end_s")
# The largest token count of one call: above every llm's context window, and small enough that
# sums over millions of calls stay exact in int64 and float64.
MAX_CALL_TOKENS = 10**9
# The latest time of a call, in seconds (about 31,700 years: a larger time is not in seconds).
MAX_TIME_S = 1e12
LLM_INDEX = np.int32  # the dtype of TraceTable.llm (any number of distinct llm names)


@dataclass(frozen=True)
class Call:
    """One llm call or tool span of one request."""

    request_id: str
    call_id: str
    kind: str
    start_s: float
    end_s: float
    parents: tuple[str, ...] = ()
    llm: str | None = None
    name: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "request_id": self.request_id,
            "call_id": self.call_id,
            "parents": list(self.parents),
            "kind": self.kind,
        }
        if self.llm is not None:
            record["llm"] = self.llm
        if self.name is not None:
            record["name"] = self.name
        record["start_s"] = self.start_s
        record["end_s"] = self.end_s
        if self.kind == "llm":
            record["input_tokens"] = self.input_tokens
            record["output_tokens"] = self.output_tokens
        return record


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class TraceTable:
    """Calls of many requests, column by column.

    Row ``i`` is one call. ``request[i]`` indexes :attr:`request_ids`, ``llm[i]`` indexes
    :attr:`llms` (``-1`` for tool spans), ``name[i]`` indexes :attr:`names` (``-1`` when unnamed).
    Dependencies are CSR: the parents of row ``i`` are
    ``parent_idx[parent_ptr[i]:parent_ptr[i + 1]]`` (row numbers). Every parent is a row of the
    same request and the dependency graph of each request is acyclic.
    """

    source: str
    request_ids: tuple[str, ...]
    llms: tuple[str, ...]
    names: tuple[str, ...]
    request: np.ndarray
    kind: np.ndarray
    llm: np.ndarray
    name: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    parent_ptr: np.ndarray
    parent_idx: np.ndarray
    call_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for column in (
            "request", "kind", "llm", "name", "start_s", "end_s",
            "input_tokens", "output_tokens", "parent_ptr", "parent_idx",
        ):
            _frozen(getattr(self, column))

    @property
    def num_calls(self) -> int:
        return int(self.request.shape[0])

    @property
    def num_requests(self) -> int:
        return len(self.request_ids)

    @property
    def duration_s(self) -> np.ndarray:
        return self.end_s - self.start_s

    def call_id(self, row: int, local_index: int) -> str:
        """The id of a row: the recorded one, or ``c<k>`` (k-th call of its request)."""
        if self.call_ids is not None:
            return self.call_ids[row]
        return f"c{local_index}"

    def iter_requests(self) -> Iterator[tuple[str, list[Call]]]:
        """Yield ``(request_id, calls)`` per request, calls in row order."""
        order = np.argsort(self.request, kind="stable")
        bounds = np.searchsorted(self.request[order], np.arange(self.num_requests + 1))
        for r, request_id in enumerate(self.request_ids):
            rows = order[bounds[r] : bounds[r + 1]]
            local = {int(row): k for k, row in enumerate(rows)}
            ids = {row: self.call_id(row, k) for row, k in local.items()}
            calls = []
            for row in rows.tolist():
                parents = self.parent_idx[self.parent_ptr[row] : self.parent_ptr[row + 1]]
                is_llm = self.kind[row] == KIND_LLM
                name_index = int(self.name[row])
                calls.append(
                    Call(
                        request_id=request_id,
                        call_id=ids[row],
                        kind=KINDS[int(self.kind[row])],
                        start_s=float(self.start_s[row]),
                        end_s=float(self.end_s[row]),
                        parents=tuple(ids[int(p)] for p in parents),
                        llm=self.llms[int(self.llm[row])] if is_llm else None,
                        name=self.names[name_index] if name_index >= 0 else None,
                        input_tokens=int(self.input_tokens[row]),
                        output_tokens=int(self.output_tokens[row]),
                    )
                )
            yield request_id, calls

    def select_requests(self, request_indices: np.ndarray) -> TraceTable:
        """A table holding only the given requests (re-indexed in the given order)."""
        request_indices = np.asarray(request_indices, dtype=np.int64)
        new_index = np.full(self.num_requests, -1, dtype=np.int64)
        new_index[request_indices] = np.arange(request_indices.shape[0])
        keep = np.flatnonzero(new_index[self.request] >= 0)
        ids = tuple(self.request_ids[i] for i in request_indices)
        return _take_rows(self, keep, new_index, ids)


def _take_rows(
    table: TraceTable, keep: np.ndarray, new_request_index: np.ndarray, request_ids: tuple[str, ...]
) -> TraceTable:
    new_row = np.full(table.num_calls, -1, dtype=np.int64)
    new_row[keep] = np.arange(keep.shape[0])
    lengths = np.diff(table.parent_ptr)[keep]
    ptr = np.zeros(keep.shape[0] + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    edge_rows = np.repeat(table.parent_ptr[:-1][keep], lengths) + (
        np.arange(ptr[-1]) - np.repeat(ptr[:-1], lengths)
    )
    return TraceTable(
        source=table.source,
        request_ids=request_ids,
        llms=table.llms,
        names=table.names,
        request=new_request_index[table.request[keep]].astype(np.int32),
        kind=table.kind[keep].copy(),
        llm=table.llm[keep].copy(),
        name=table.name[keep].copy(),
        start_s=table.start_s[keep].copy(),
        end_s=table.end_s[keep].copy(),
        input_tokens=table.input_tokens[keep].copy(),
        output_tokens=table.output_tokens[keep].copy(),
        parent_ptr=ptr,
        parent_idx=new_row[table.parent_idx[edge_rows]],
        call_ids=None if table.call_ids is None else tuple(table.call_ids[i] for i in keep),
    )


def concat_tables(tables: list[TraceTable], source: str) -> TraceTable:
    """One table with the requests of all ``tables`` (request ids must be distinct)."""
    llms = tuple(sorted({llm for t in tables for llm in t.llms}))
    names = tuple(sorted({name for t in tables for name in t.names}))
    llm_pos = {llm: i for i, llm in enumerate(llms)}
    name_pos = {name: i for i, name in enumerate(names)}
    request_ids: list[str] = []
    columns: dict[str, list[np.ndarray]] = {key: [] for key in (
        "request", "kind", "llm", "name", "start_s", "end_s", "input_tokens", "output_tokens",
        "parent_idx")}
    lengths = []
    row_offset = 0
    for t in tables:
        llm_map = np.array([llm_pos[x] for x in t.llms] + [-1], dtype=LLM_INDEX)
        name_map = np.array([name_pos[x] for x in t.names] + [-1], dtype=np.int32)
        columns["request"].append((t.request + len(request_ids)).astype(np.int32))
        columns["kind"].append(t.kind)
        columns["llm"].append(llm_map[t.llm])  # -1 indexes the trailing -1
        columns["name"].append(name_map[t.name])
        for key in ("start_s", "end_s", "input_tokens", "output_tokens"):
            columns[key].append(getattr(t, key))
        columns["parent_idx"].append(t.parent_idx + row_offset)
        lengths.append(np.diff(t.parent_ptr))
        request_ids.extend(t.request_ids)
        row_offset += t.num_calls
    if len(set(request_ids)) != len(request_ids):
        raise TraceError("request ids repeat across the combined traces", source=source,
                         fix="give every request a distinct request_id")
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    ptr = np.zeros(all_lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(all_lengths, out=ptr[1:])
    call_ids = None
    if all(t.call_ids is not None for t in tables):
        call_ids = tuple(c for t in tables for c in t.call_ids)  # type: ignore[union-attr]
    joined = {key: np.concatenate(parts) if parts else np.zeros(0)
              for key, parts in columns.items()}
    return TraceTable(
        source=source, request_ids=tuple(request_ids), llms=llms, names=names,
        request=joined["request"].astype(np.int32), kind=joined["kind"].astype(np.int8),
        llm=joined["llm"].astype(LLM_INDEX), name=joined["name"].astype(np.int32),
        start_s=joined["start_s"].astype(np.float64), end_s=joined["end_s"].astype(np.float64),
        input_tokens=joined["input_tokens"].astype(np.int64),
        output_tokens=joined["output_tokens"].astype(np.int64),
        parent_ptr=ptr, parent_idx=joined["parent_idx"].astype(np.int64), call_ids=call_ids,
    )


def table_from_calls(calls: Iterable[Call], source: str) -> TraceTable:
    """Validate recorded calls and build a :class:`TraceTable`.

    Raises :class:`TraceError` naming ``source`` on duplicate call ids, unknown parents, negative
    durations or tokens, llm calls without an llm, and dependency cycles.
    """
    calls = list(calls)
    if not calls:
        raise TraceError("the trace holds no calls", source=source,
                         fix="point to a file with at least one call")
    request_pos: dict[str, int] = {}
    row_of: dict[tuple[str, str], int] = {}
    for row, call in enumerate(calls):
        request_pos.setdefault(call.request_id, len(request_pos))
        key = (call.request_id, call.call_id)
        if key in row_of:
            raise TraceError(
                f"call id {call.call_id!r} appears twice in request {call.request_id!r}",
                source=source, field="call_id", value=call.call_id,
                fix="give every call of a request a distinct call_id",
            )
        row_of[key] = row
        _check_call(call, source)
    llms = tuple(sorted({c.llm for c in calls if c.kind == "llm" and c.llm is not None}))
    names = tuple(sorted({c.name for c in calls if c.name is not None}))
    llm_pos = {llm: i for i, llm in enumerate(llms)}
    name_pos = {name: i for i, name in enumerate(names)}
    parent_lists: list[list[int]] = []
    for call in calls:
        parents = []
        for parent in call.parents:
            parent_row = row_of.get((call.request_id, parent))
            if parent_row is None:
                raise TraceError(
                    f"call {call.call_id!r} of request {call.request_id!r} depends on unknown "
                    f"call {parent!r}",
                    source=source, field="parents", value=list(call.parents),
                    fix="list only call ids of the same request in parents",
                )
            parents.append(parent_row)
        parent_lists.append(parents)
    _check_acyclic(calls, parent_lists, source)
    lengths = np.array([len(p) for p in parent_lists], dtype=np.int64)
    ptr = np.zeros(len(calls) + 1, dtype=np.int64)
    np.cumsum(lengths, out=ptr[1:])
    return TraceTable(
        source=source,
        request_ids=tuple(request_pos),
        llms=llms,
        names=names,
        request=np.array([request_pos[c.request_id] for c in calls], dtype=np.int32),
        kind=np.array([KINDS.index(c.kind) for c in calls], dtype=np.int8),
        llm=np.array([llm_pos[c.llm] if c.kind == "llm" else -1 for c in calls],
                     dtype=LLM_INDEX),
        name=np.array([name_pos[c.name] if c.name is not None else -1 for c in calls],
                      dtype=np.int32),
        start_s=np.array([c.start_s for c in calls], dtype=np.float64),
        end_s=np.array([c.end_s for c in calls], dtype=np.float64),
        input_tokens=np.array([c.input_tokens for c in calls], dtype=np.int64),
        output_tokens=np.array([c.output_tokens for c in calls], dtype=np.int64),
        parent_ptr=ptr,
        parent_idx=np.array([p for ps in parent_lists for p in ps], dtype=np.int64),
        call_ids=tuple(c.call_id for c in calls),
    )


def _check_call(call: Call, source: str) -> None:
    where = f"request {call.request_id!r} call {call.call_id!r}"
    if call.kind not in KINDS:
        raise TraceError(f"{where} has an unknown kind", source=source, field="kind",
                         value=call.kind, fix="use kind 'llm' or 'tool'")
    if call.kind == "llm" and not call.llm:
        raise TraceError(f"{where} is an llm call without an llm", source=source, field="llm",
                         value=call.llm, fix="name the llm that served the call")
    for field_name in ("start_s", "end_s"):
        value = getattr(call, field_name)
        if not _is_number(value) or not 0 <= value <= MAX_TIME_S:
            raise TraceError(f"{where} has a time that is not finite seconds in [0, "
                             f"{MAX_TIME_S:g}]", source=source, field=field_name, value=value,
                             fix="record times as seconds >= 0 (relative to the trace's start "
                                 "or since the epoch)")
    if call.end_s < call.start_s:
        raise TraceError(f"{where} ends before it starts", source=source, field="end_s",
                         value=call.end_s, fix=f"end_s must be >= start_s ({call.start_s})")
    for field_name in ("input_tokens", "output_tokens"):
        value = getattr(call, field_name)
        if not _is_number(value) or not float(value).is_integer() \
                or not 0 <= value <= MAX_CALL_TOKENS:
            raise TraceError(f"{where} has a token count that is not a whole number in [0, "
                             f"{MAX_CALL_TOKENS:,}]", source=source, field=field_name,
                             value=value, fix="record the call's token counts as integers >= 0")


def _is_number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool) and math.isfinite(value))


def check_context(table: TraceTable, context_tokens: dict[str, int], source: str, *,
                  error: type[ScepsyError] = TraceError, fix: str | None = None) -> None:
    """Refuse a call of a known llm (``context_tokens``: llm id -> context window) whose input
    and output tokens do not fit that llm's context window (``fix``: what to do, by default
    for recorded calls)."""
    total = table.input_tokens + table.output_tokens
    for index, llm in enumerate(table.llms):
        limit = context_tokens.get(llm)
        if limit is None:
            continue
        rows = np.flatnonzero((table.kind == KIND_LLM) & (table.llm == index) & (total > limit))
        if rows.shape[0]:
            row = int(rows[0])
            raise error(
                f"{rows.shape[0]} call(s) of {llm} do not fit its context window of {limit:,} "
                f"tokens, e.g. request {table.request_ids[int(table.request[row])]!r} with "
                f"{int(table.input_tokens[row]):,} input and {int(table.output_tokens[row]):,} "
                f"output tokens", source=source, field="input_tokens",
                value=int(table.input_tokens[row]),
                fix=fix or f"keep input_tokens + output_tokens of {llm} within {limit:,}, or "
                           f"map the calls to an llm with a longer context (llm_map)")


def _check_acyclic(calls: list[Call], parent_lists: list[list[int]], source: str) -> None:
    """Kahn's algorithm over all rows; on a cycle, name the calls on it."""
    children: list[list[int]] = [[] for _ in calls]
    indegree = [len(p) for p in parent_lists]
    for child, parents in enumerate(parent_lists):
        for parent in parents:
            children[parent].append(child)
    ready = [row for row, d in enumerate(indegree) if d == 0]
    seen = 0
    while ready:
        row = ready.pop()
        seen += 1
        for child in children[row]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if seen == len(calls):
        return
    # Walk parents from a row left on a cycle until a row repeats.
    row = next(r for r, d in enumerate(indegree) if d > 0)
    path: list[int] = []
    while row not in path:
        path.append(row)
        row = next(p for p in parent_lists[row] if indegree[p] > 0)
    cycle = path[path.index(row):] + [row]
    names = " <- ".join(calls[r].call_id for r in cycle)
    raise TraceError(
        f"request {calls[row].request_id!r} has a dependency cycle: {names}",
        source=source, field="parents",
        fix="remove one of these parent links so every request is a DAG",
    )


# ---------------------------------------------------------------- JSON Lines reader and writer


def call_from_record(record: Any, source: str, line: int) -> Call:
    """Parse one JSON object of the trace format; errors name the file and line."""
    where = f"{source}:{line}"
    if not isinstance(record, dict):
        raise TraceError("a trace line must be a JSON object", source=where,
                         value=record, fix="write one call object per line")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise TraceError(f"missing field(s) {', '.join(missing)}", source=where, value=record,
                         fix=f"every call needs {', '.join(_REQUIRED)}")
    kind = record.get("kind", "llm")
    parents = record.get("parents", [])
    if not isinstance(parents, list) or not all(isinstance(p, str | int) for p in parents):
        raise TraceError("parents must be a list of call ids", source=where, field="parents",
                         value=parents, fix='write e.g. "parents": ["c1", "c2"]')
    try:
        return Call(
            request_id=str(record["request_id"]),
            call_id=str(record["call_id"]),
            kind=str(kind),
            start_s=float(record["start_s"]),
            end_s=float(record["end_s"]),
            parents=tuple(str(p) for p in parents),
            llm=None if record.get("llm") is None else str(record["llm"]),
            name=None if record.get("name") is None else str(record["name"]),
            input_tokens=_as_int(record.get("input_tokens", 0), "input_tokens", where),
            output_tokens=_as_int(record.get("output_tokens", 0), "output_tokens", where),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise TraceError(f"a field has the wrong type ({exc})", source=where, value=record,
                         fix="times are numbers of seconds, tokens are integers") from None


def _as_int(value: Any, field_name: str, where: str) -> int:
    if not _is_number(value) or not float(value).is_integer() \
            or not 0 <= value <= MAX_CALL_TOKENS:
        raise TraceError(f"token counts must be integers in [0, {MAX_CALL_TOKENS:,}]",
                         source=where, field=field_name, value=value,
                         fix="write the call's whole number of tokens")
    return int(value)


def iter_json_lines(path: Path, *, fix: str = "write exactly one JSON object per line"
                    ) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of every non-blank line of a JSON Lines file.

    Malformed JSON raises :class:`TraceError` naming ``path:line`` with ``fix``.
    """
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise not_utf8(exc, f"{path}:{line_no}", TraceError) from None
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                raise TraceError(f"malformed JSON ({exc.msg} at column {exc.colno})",
                                 source=f"{path}:{line_no}", fix=fix) from None
            except RecursionError:
                raise TraceError("the JSON is nested too deeply to read",
                                 source=f"{path}:{line_no}", fix=fix) from None


def input_files(path: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    """The files to import: ``path`` itself, or the files of folder ``path`` with ``suffixes``.

    ``what`` describes the expected input in messages (e.g. "an OTLP/JSON export").
    """
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in suffixes)
        if files:
            return files
        raise TraceError(f"the folder holds no {' or '.join(suffixes)} files", source=str(path),
                         fix=f"point to {what} or a folder of them")
    raise TraceError("the path does not exist", source=str(path),
                     fix=f"point to {what} or a folder of them")


def read_jsonl(path: str | os.PathLike[str]) -> TraceTable:
    """Read a JSON Lines trace file into a validated :class:`TraceTable`."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise TraceError("the trace file does not exist", source=source,
                         fix="pass the path of a .jsonl trace file")
    calls = [call_from_record(record, source, line_no)
             for line_no, record in iter_json_lines(path)]
    return table_from_calls(calls, source)


def write_jsonl(table: TraceTable, path: str | os.PathLike[str]) -> None:
    """Write ``table`` in the JSON Lines trace format, atomically (temporary file, then rename)."""
    from scepsy_opt.core.artifacts import atomic_write_lines

    def lines() -> Iterator[str]:
        for _, calls in table.iter_requests():
            for call in calls:
                yield json.dumps(call.to_json(), separators=(",", ":")) + "\n"

    atomic_write_lines(Path(path), lines())


def rename_llms(table: TraceTable, mapping: dict[str, str]) -> TraceTable:
    """The same table with llm names replaced by ``mapping`` (names may merge)."""
    if not mapping:
        return table
    renamed = [mapping.get(llm, llm) for llm in table.llms]
    llms = tuple(sorted(set(renamed)))
    position = {name: i for i, name in enumerate(llms)}
    index = np.array([position[name] for name in renamed] + [-1], dtype=LLM_INDEX)
    return TraceTable(
        source=table.source, request_ids=table.request_ids, llms=llms, names=table.names,
        request=table.request, kind=table.kind, llm=index[table.llm], name=table.name,
        start_s=table.start_s, end_s=table.end_s, input_tokens=table.input_tokens,
        output_tokens=table.output_tokens, parent_ptr=table.parent_ptr,
        parent_idx=table.parent_idx, call_ids=table.call_ids,
    )
