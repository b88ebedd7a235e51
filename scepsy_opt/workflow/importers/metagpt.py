"""Import MetaGPT-style multi-agent round logs (as published with the Parrot serving artifact).

A log is a JSON Lines file with one round per line (blank lines aside)::

    {"r<k>_queries":   {key: {"system": ..., "user_msg": ...}, ...},
     "r<k>_responses": {key: <OpenAI chat.completion object>, ...}}

Rounds are numbered consecutively from the first line's ``k``, which may be any number >= 0: the
Parrot artifact's ``log_3_round.jsonl`` holds rounds r0 to r3, and its ``log_new_rounds.jsonl``
continues the same project from r4.

where each response has ``created`` (epoch seconds), ``model`` and ``usage`` with
``prompt_tokens`` and ``completion_tokens``; ``key`` names the work item (a source file, or
``noname``). One log is one request (``request_id`` = the file stem); a folder of logs
(``*.jsonl`` directly inside it, sorted) is one request per file.

**Roles.** Each call's role is read from its query, in this order:

1. ``reviewer`` when the system prompt contains "review" (any case);
2. ``architect`` when the system prompt or the user message declares the role, i.e. contains
   "you are a ... architect" within one sentence (any case, "architect" as a whole word);
3. ``engineer`` otherwise.

A bare substring test for "architect" is not enough: the engineers' revision prompts quote the
reviewers' comments, which speak of the code's "architecture".

**Logical workflow.** The published log was *replayed sequentially*: within a round, ``created``
stamps are the start times of calls made one after another, and rounds may lie hours apart. The
importer rebuilds the workflow the log stands for: the calls of a round run in parallel, and
every call of round ``k`` depends on every call of round ``k - 1`` (a barrier).

**Durations.** Within a round, calls are ordered by ``created`` (ties keep the log order). A call
followed by another call of its round lasts until that call's ``created`` (whole seconds, the
resolution of ``created``). The others (the last call of each round, a round's only call) get
``a + b * completion_tokens`` from an ordinary least-squares fit over all measured calls of the
logs imported together, clamped at 0 (on the Parrot log: about 4.6 s + 0.040 s per token over 21
measured calls). With fewer than two distinct completion-token counts among the measured calls
the fit is proportional (``a = 0``; a constant mean when they all produced no tokens); with no
measured call at all durations cannot be estimated and a
:class:`~scepsy_opt.core.errors.TraceError` is raised.

**Schedule.** The first round of a log starts at 0 s; all calls of round ``k`` start when the
last call of round ``k - 1`` ends. ``call_id`` is ``r<k>-<key>``, ``name`` is ``<role>:<key>``,
``llm`` is the response's model without a provider prefix
(:func:`~scepsy_opt.workflow.importers._models.model_name`; ``llm_from="model"``) or the role
(``llm_from="role"``), tokens come from ``usage``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import (
    Call,
    TraceTable,
    input_files,
    table_from_calls,
)
from scepsy_opt.workflow.importers._models import model_name
from scepsy_opt.workflow.importers._text import json_lines

logger = logging.getLogger(__name__)

LLM_FROM = ("model", "role")
_QUERIES_KEY = re.compile(r"r(\d+)_queries")
_ARCHITECT = re.compile(r"\byou are an? [^.\n]*\barchitect\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Entry:
    """One call of one round, as logged."""

    round: int
    key: str
    role: str
    model: str
    created: float
    input_tokens: int
    output_tokens: int
    measured_s: float | None  # gap to the next call of the round; None for the last one


@dataclass(frozen=True)
class DurationFit:
    """``duration_s = intercept_s + slope_s_per_token * completion_tokens``."""

    intercept_s: float
    slope_s_per_token: float
    num_measured: int

    def __call__(self, completion_tokens: int) -> float:
        return max(0.0, self.intercept_s + self.slope_s_per_token * completion_tokens)


def detect_role(system: str, user_msg: str) -> str:
    """``reviewer``, ``architect`` or ``engineer`` for a query (see the module docstring)."""
    if "review" in system.lower():
        return "reviewer"
    if _ARCHITECT.search(system) or _ARCHITECT.search(user_msg):
        return "architect"
    return "engineer"


def import_metagpt(path: str | os.PathLike[str], *, llm_from: str = "model") -> TraceTable:
    """Read one MetaGPT round log, or a folder of them, as the logical parallel workflow."""
    path = Path(path)
    source = str(path)
    if llm_from not in LLM_FROM:
        raise TraceError("unknown llm_from", source=source, field="llm_from", value=llm_from,
                         fix=f"use one of {', '.join(LLM_FROM)}")
    files = input_files(path, (".jsonl",), "a MetaGPT .jsonl log")
    logs = [(f.stem, _read_log(f)) for f in files]
    fit = _fit_durations([e for _, rounds in logs for r in rounds for e in r], source)
    calls: list[Call] = []
    for request_id, rounds in logs:
        calls.extend(_schedule(request_id, rounds, fit, llm_from))
    return table_from_calls(calls, source)


def _fit_durations(entries: list[_Entry], source: str) -> DurationFit:
    """Least-squares duration model over the calls whose duration was measured."""
    measured = [(e.output_tokens, e.measured_s) for e in entries if e.measured_s is not None]
    if not measured:
        raise TraceError(
            "no round holds two or more calls, so no call duration can be measured",
            source=source,
            fix="import these logs together with logs whose rounds hold several calls")
    tokens = np.array([m[0] for m in measured], dtype=np.float64)
    seconds = np.array([m[1] for m in measured], dtype=np.float64)
    if np.unique(tokens).size >= 2:
        slope, intercept = np.polyfit(tokens, seconds, 1)
    elif tokens.sum() > 0:
        intercept, slope = 0.0, seconds.sum() / tokens.sum()
    else:  # every measured call produced no tokens
        intercept, slope = float(seconds.mean()), 0.0
    fit = DurationFit(float(intercept), float(slope), len(measured))
    logger.info("%s: duration of unmeasured calls = %.3f s + %.4f s/token x completion tokens "
                "(least squares over %d measured calls)", source, fit.intercept_s,
                fit.slope_s_per_token, fit.num_measured)
    return fit


def _schedule(
    request_id: str, rounds: list[list[_Entry]], fit: DurationFit, llm_from: str
) -> list[Call]:
    calls: list[Call] = []
    previous_ids: tuple[str, ...] = ()
    start = 0.0
    for entries in rounds:
        round_end = start
        ids = []
        for e in entries:
            duration = e.measured_s if e.measured_s is not None else fit(e.output_tokens)
            call_id = f"r{e.round}-{e.key}"
            calls.append(Call(
                request_id=request_id, call_id=call_id, kind="llm", start_s=start,
                end_s=start + duration, parents=previous_ids,
                llm=e.model if llm_from == "model" else e.role, name=f"{e.role}:{e.key}",
                input_tokens=e.input_tokens, output_tokens=e.output_tokens,
            ))
            ids.append(call_id)
            round_end = max(round_end, start + duration)
        previous_ids = tuple(ids)
        start = round_end
    return calls


def _read_log(file: Path) -> list[list[_Entry]]:
    rounds: list[list[_Entry]] = []
    first = 0
    for line_no, raw in json_lines(file, fix="write one round object per line"):
        where = f"{file}:{line_no}"
        if not rounds:
            first = _first_round(raw, where)
        rounds.append(_read_round(raw, first + len(rounds), where))
    if not rounds:
        raise TraceError("the log holds no rounds", source=str(file),
                         fix="point to a MetaGPT log with one round per line")
    return rounds


def _first_round(raw: Any, where: str) -> int:
    """The number ``k`` of the log's first round, from its ``r<k>_queries`` key."""
    found = [int(m.group(1)) for key in (raw if isinstance(raw, dict) else ())
             if (m := _QUERIES_KEY.fullmatch(key))]
    if len(found) != 1:
        keys = list(raw) if isinstance(raw, dict) else raw
        raise TraceError("the first line must hold one round: r<k>_queries and r<k>_responses",
                         source=where, value=keys,
                         fix="write one round object per line, e.g. r0_queries and r0_responses")
    return found[0]


def _read_round(raw: Any, k: int, where: str) -> list[_Entry]:
    queries_key, responses_key = f"r{k}_queries", f"r{k}_responses"
    if not isinstance(raw, dict) or queries_key not in raw or responses_key not in raw:
        keys = list(raw) if isinstance(raw, dict) else raw
        raise TraceError(f"round {k} must hold {queries_key} and {responses_key}", source=where,
                         value=keys,
                         fix="number the rounds of a log consecutively, one round per line")
    queries, responses = raw[queries_key], raw[responses_key]
    for field, value in ((queries_key, queries), (responses_key, responses)):
        if not isinstance(value, dict) or not value:
            raise TraceError("expected a non-empty object keyed by work item", source=where,
                             field=field, value=value,
                             fix="map every work item of the round to its query/response")
    if set(queries) != set(responses):
        raise TraceError("queries and responses name different work items", source=where,
                         field=responses_key,
                         value=sorted(set(queries) ^ set(responses)),
                         fix="log one response per query, under the same key")
    logged = [
        _parse_response(response, key, _role(queries[key], f"{queries_key}.{key}", where), k,
                        f"{responses_key}.{key}", where)
        for key, response in responses.items()
    ]
    ordered = sorted(logged, key=lambda e: e.created)  # stable: log order breaks ties
    return [
        dataclasses.replace(e, measured_s=nxt.created - e.created)
        for e, nxt in zip(ordered, ordered[1:], strict=False)
    ] + [ordered[-1]]


def _role(query: Any, field: str, where: str) -> str:
    if not isinstance(query, dict):
        raise TraceError("a query must be an object", source=where, field=field, value=query,
                         fix='log {"system": ..., "user_msg": ...}')
    system, user_msg = query.get("system", ""), query.get("user_msg", "")
    if not isinstance(system, str) or not isinstance(user_msg, str):
        raise TraceError("the query's system and user_msg must be text", source=where,
                         field=field, value={"system": system, "user_msg": user_msg},
                         fix="log the prompts as strings")
    return detect_role(system, user_msg)


def _parse_response(
    response: Any, key: str, role: str, k: int, field: str, where: str
) -> _Entry:
    """The logged call, its duration not yet measured."""
    if not isinstance(response, dict):
        raise TraceError("a response must be a chat.completion object", source=where,
                         field=field, value=response, fix="log the llm's response object")
    created = response.get("created")
    if isinstance(created, bool) or not isinstance(created, int | float) \
            or not math.isfinite(created):
        raise TraceError("the response has no numeric created time", source=where,
                         field=f"{field}.created", value=created,
                         fix="log the response's created epoch seconds")
    model = response.get("model")
    if not isinstance(model, str) or not model:
        raise TraceError("the response names no model", source=where, field=f"{field}.model",
                         value=model, fix="log the response's model")
    usage = response.get("usage")
    if not isinstance(usage, dict):
        raise TraceError("the response has no usage", source=where, field=f"{field}.usage",
                         value=usage,
                         fix="log usage with prompt_tokens and completion_tokens")
    tokens = []
    for name in ("prompt_tokens", "completion_tokens"):
        value = usage.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TraceError("the token count is missing or not an integer >= 0", source=where,
                             field=f"{field}.usage.{name}", value=value,
                             fix=f"log usage.{name} as an integer")
        tokens.append(value)
    return _Entry(round=k, key=key, role=role, model=model_name(model), created=float(created),
                  input_tokens=tokens[0], output_tokens=tokens[1], measured_s=None)
