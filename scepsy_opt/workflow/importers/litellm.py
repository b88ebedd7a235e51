"""Import litellm per-call logs (JSON Lines, one llm call per line).

Layouts (``layout="auto"`` picks one from ``path``):

* ``"file"``: one ``.jsonl`` file is one request (``request_id`` = the file stem) with one role
  (the file stem).
* ``"session"``: a folder holding one or more ``**/*.jsonl`` files is one request
  (``request_id`` = the folder name). Each file belongs to the *role* named by the first
  component of its path inside the folder: ``agent/litellm/trace.jsonl`` is role ``agent``,
  ``user.jsonl`` is role ``user``. Files of one role are read in path order.
* ``"sessions"``: a folder of sessions, one request per entry (sorted by name): each subfolder
  is a session folder as above, and each ``.jsonl`` file directly inside is a session of its
  own, as in layout ``"file"``.

A session folder and a folder of sessions look alike, so ``"auto"`` decides as follows. A
folder with a subfolder holding more than one ``.jsonl`` file (the roles of one session) is a
folder of sessions. Otherwise every entry of the folder (a subfolder or a ``.jsonl`` file) holds
one log, which is either one role of a single session or a whole single-role session (as
exgentic writes ``sessions/<id>/agent/litellm/trace.jsonl`` for AppWorld). The roles of one
session take turns in one conversation, so their logs overlap in time; sessions run one after
another do not. Each log's time span (first to last recorded time) is compared: if no two
overlap, the entries are sessions; if they chain into one overlapping group, they are the roles
of one session; otherwise (some overlap, some not, e.g. sessions run partly in parallel) the
guess is refused and ``layout`` must be given. The choice is logged.

Record styles:

* litellm ``StandardLoggingPayload``: ``startTime`` and ``endTime`` (epoch seconds), ``model``,
  ``prompt_tokens``, ``completion_tokens``, optional ``id`` and ``status``. Calls keep their
  recorded times and their parents are inferred from timing
  (:func:`~scepsy_opt.workflow.importers._timing.infer_dependencies`), across all roles.
* end time only: ``timestamp`` (ISO-8601 time the call *ended*), ``status``, ``model``,
  ``prompt_tokens``, ``completion_tokens`` (plus ``trace_id``, ``request``, ``response``, which
  are not used). The roles of a session take turns in one conversation, so the calls of all
  roles are merged in end-time order into a chain: each call depends on the previous call of
  the session and starts when that call ended (its duration therefore includes whatever the
  application did between the two llm calls). The first call of a session has no known start
  and gets zero duration.

A session must use one style throughout. Records whose ``status`` is present and not
``"success"`` are skipped (their number is logged). Times are seconds relative to the session's
first event (earliest start, or earliest end for end-time-only sessions). ``llm`` is the model
name (``llm_from="model"``) or the role (``llm_from="role"``, for an agent and a user simulator
sharing one model), without its provider prefix
(:func:`~scepsy_opt.workflow.importers._models.model_name`: ``anthropic/claude-haiku-4-5`` and
``claude-haiku-4-5`` are one llm); ``name`` is the role; ``call_id`` is ``<role>-<k>`` with
``k`` counting the role's imported calls from 0 in file order.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import (
    Call,
    TraceTable,
    table_from_calls,
)
from scepsy_opt.workflow.importers._models import model_name
from scepsy_opt.workflow.importers._text import json_lines
from scepsy_opt.workflow.importers._timing import infer_dependencies

logger = logging.getLogger(__name__)

LAYOUTS = ("auto", "file", "session", "sessions")
LLM_FROM = ("model", "role")
_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens")
_MAX_SECONDS = 1e300  # an epoch time beyond this is no time (and an int beyond it no float)


@dataclass(frozen=True)
class _Record:
    """One successful call as read from a log line."""

    role: str
    index: int  # k-th imported call of its role
    where: str  # "file:line"
    model: str
    has_start: bool  # False in end-time-only records
    start: float  # epoch seconds; the end time where has_start is False
    end: float
    input_tokens: int
    output_tokens: int


def import_litellm(
    path: str | os.PathLike[str], *, llm_from: str = "model", layout: str = "auto"
) -> TraceTable:
    """Read litellm per-call logs (a file, a session folder or a folder of sessions)."""
    path = Path(path)
    source = str(path)
    _check_choice(llm_from, LLM_FROM, "llm_from", source)
    _check_choice(layout, LAYOUTS, "layout", source)
    if not path.exists():
        raise TraceError("the litellm log path does not exist", source=source,
                         fix="pass a .jsonl file, a session folder or a folder of sessions")
    if layout == "auto":
        layout = _guess_layout(path)
    sessions = list(_sessions(path, layout))
    calls: list[Call] = []
    zero_first = 0
    for request_id, role_files in sessions:
        records = _read_session(role_files)
        if not records:
            logger.warning("%s: session %s holds no successful llm calls; it is left out",
                           source, request_id)
            continue
        session_calls, end_only = _session_calls(request_id, records, llm_from)
        zero_first += end_only
        calls.extend(session_calls)
    if zero_first:
        logger.info("%s: %d of %d sessions record end times only; the first call of each was "
                    "given zero duration", source, zero_first, len(sessions))
    return table_from_calls(calls, source)


def _check_choice(value: str, choices: tuple[str, ...], field: str, source: str) -> None:
    if value not in choices:
        raise TraceError(f"unknown {field}", source=source, field=field, value=value,
                         fix=f"use one of {', '.join(choices)}")


def _guess_layout(path: Path) -> str:
    if path.is_file():
        return "file"
    entries = _entries(path)
    if any(len(files) > 1 for _, files in entries):
        return "sessions"
    if len(entries) < 2:
        return "session"
    spans = []
    for _, files in entries:
        times = [t for r in _read_session([(f.stem, f) for f in files]) for t in (r.start, r.end)]
        if times:
            spans.append((min(times), max(times)))
    layout = _layout_from_spans(spans)
    if layout is None:
        raise TraceError(
            "cannot tell whether the logs in this folder are sessions or the roles of one "
            "session: some of their time spans overlap and some do not", source=str(path),
            field="layout", value="auto",
            fix="pass layout=sessions (one request per entry) or layout=session (one request), "
                "e.g. +workflow.traces.options.layout=sessions")
    logger.info("%s: %d logs, %s in time: read as layout %r", path, len(spans),
                "none overlapping" if layout == "sessions" else "overlapping", layout)
    return layout


def _layout_from_spans(spans: list[tuple[float, float]]) -> str | None:
    """``"sessions"`` when no two spans overlap, ``"session"`` when they form one overlapping
    group, None otherwise."""
    ordered = sorted(spans)
    groups = 0
    reach = -math.inf
    for lo, hi in ordered:
        if lo > reach:
            groups += 1
        reach = max(reach, hi)
    if groups == len(ordered):
        return "sessions"
    return "session" if groups == 1 else None


def _entries(folder: Path) -> list[tuple[str, list[Path]]]:
    """``(name, files)`` of the subfolders holding ``.jsonl`` files and of the ``.jsonl`` files
    directly inside ``folder``, sorted by path."""
    entries = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            files = _jsonl_files(child)
            if files:
                entries.append((child.name, files))
        elif child.is_file() and child.suffix == ".jsonl":
            entries.append((child.stem, [child]))
    return entries


def _jsonl_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.jsonl") if p.is_file())


def _sessions(path: Path, layout: str) -> Iterator[tuple[str, list[tuple[str, Path]]]]:
    """``(request_id, [(role, file), ...])`` per session."""
    if layout == "file":
        if not path.is_file():
            raise TraceError("layout 'file' needs a file", source=str(path), field="layout",
                             value=layout, fix="pass a .jsonl file or another layout")
        yield path.stem, [(path.stem, path)]
        return
    if not path.is_dir():
        raise TraceError(f"layout {layout!r} needs a folder", source=str(path), field="layout",
                         value=layout, fix="pass a folder or layout 'file'")
    if layout == "session":
        files = _jsonl_files(path)
        if files:
            yield path.name, [(f.relative_to(path).parts[0].removesuffix(".jsonl"), f)
                              for f in files]
            return
    else:
        entries = _entries(path)
        names = [name for name, _ in entries]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise TraceError("a session folder and a session file have the same name",
                             source=str(path), field="layout", value=twice,
                             fix="rename one of them: every session needs its own name")
        for name, files in entries:
            if files[0].parent == path:  # a session file
                yield name, [(name, files[0])]
            else:
                folder = path / name
                yield name, [(f.relative_to(folder).parts[0].removesuffix(".jsonl"), f)
                             for f in files]
        if entries:
            return
    raise TraceError("no .jsonl files found", source=str(path), field="layout", value=layout,
                     fix="point to a folder holding litellm .jsonl logs")


def _read_session(role_files: list[tuple[str, Path]]) -> list[_Record]:
    records: list[_Record] = []
    counts: dict[str, int] = {}
    for role, file in role_files:
        skipped = 0
        for line_no, raw in json_lines(file, fix="write exactly one JSON object per line"):
            where = f"{file}:{line_no}"
            if not isinstance(raw, dict):
                raise TraceError("a litellm log line must be a JSON object", source=where,
                                 value=raw, fix="write one call object per line")
            if raw.get("status", "success") != "success":
                skipped += 1
                continue
            k = counts.get(role, 0)
            records.append(_parse_record(raw, role, k, where))
            counts[role] = k + 1
        if skipped:
            logger.info("%s: skipped %d call(s) whose status is not 'success'", file, skipped)
    return records


def _parse_record(raw: dict[str, Any], role: str, index: int, where: str) -> _Record:
    model = raw.get("model")
    if not isinstance(model, str) or not model:
        raise TraceError("the call names no model", source=where, field="model",
                         value=model, fix="log the model of every call")
    tokens = []
    for field in _TOKEN_FIELDS:
        value = raw.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0 or value != int(value):
            raise TraceError("the token count is missing or not a whole number >= 0",
                             source=where, field=field, value=value,
                             fix=f"log {field} as an integer for every successful call")
        tokens.append(int(value))
    has_start = "startTime" in raw or "endTime" in raw
    if has_start:
        start = _epoch_seconds(raw.get("startTime"), "startTime", where)
        end = _epoch_seconds(raw.get("endTime"), "endTime", where)
        if end < start:
            raise TraceError("the call ends before it starts", source=where, field="endTime",
                             value=raw.get("endTime"),
                             fix=f"endTime must be >= startTime ({raw.get('startTime')})")
    elif "timestamp" in raw:
        end = _epoch_seconds(raw["timestamp"], "timestamp", where)
        start = end
    else:
        raise TraceError("the call records no time", source=where, field="startTime",
                         fix="log startTime and endTime (epoch seconds) or timestamp "
                             "(ISO-8601 end time)")
    return _Record(role=role, index=index, where=where, model=model_name(model),
                   has_start=has_start,
                   start=start, end=end, input_tokens=tokens[0], output_tokens=tokens[1])


def _epoch_seconds(value: Any, field: str, where: str) -> float:
    """Epoch seconds from a number or an ISO-8601 string (naive times are taken as UTC)."""
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) if abs(value) < _MAX_SECONDS else None
    elif isinstance(value, str):
        try:
            seconds = float(value)
        except ValueError:
            try:
                stamp = datetime.fromisoformat(value)
            except ValueError:
                seconds = None
            else:
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=UTC)
                seconds = stamp.timestamp()
    if seconds is None or not math.isfinite(seconds):
        raise TraceError("the time is missing or unreadable", source=where, field=field,
                         value=value,
                         fix="write epoch seconds or an ISO-8601 time such as "
                             "2026-04-23T17:42:22.901430+00:00")
    return seconds


def _session_calls(
    request_id: str, records: list[_Record], llm_from: str
) -> tuple[list[Call], bool]:
    """The calls of one session and whether it recorded end times only."""
    timed = sum(r.has_start for r in records)
    if 0 < timed < len(records):
        first_timed = records[0].has_start
        odd = next(r for r in records if r.has_start != first_timed)
        raise TraceError(
            "the session mixes records with startTime/endTime and records with only a "
            "timestamp", source=odd.where, field="timestamp" if first_timed else "startTime",
            fix="log one record style per session")

    def call(record: _Record, start: float, end: float, parents: tuple[str, ...]) -> Call:
        return Call(
            request_id=request_id, call_id=f"{record.role}-{record.index}", kind="llm",
            start_s=start, end_s=end, parents=parents,
            llm=record.model if llm_from == "model" else record.role, name=record.role,
            input_tokens=record.input_tokens, output_tokens=record.output_tokens,
        )

    if timed:
        origin = min(r.start for r in records)
        calls = [call(r, r.start - origin, r.end - origin, ()) for r in records]
        return infer_dependencies(calls), False
    ordered = sorted(records, key=lambda r: r.end)  # stable: file order breaks ties
    origin = ordered[0].end
    calls = []
    previous: Call | None = None
    for record in ordered:
        end = record.end - origin
        if previous is None:
            current = call(record, end, end, ())
        else:
            current = call(record, previous.end_s, end, (previous.call_id,))
        calls.append(current)
        previous = current
    logger.debug("session %s records end times only: its first call %s gets zero duration",
                 request_id, calls[0].call_id)
    return calls, True
