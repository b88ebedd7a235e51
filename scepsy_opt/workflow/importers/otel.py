"""Import OpenTelemetry traces (OTLP/JSON) that follow the GenAI semantic conventions.

Input: a JSON document ``{"resourceSpans": [...]}`` (an OTLP ``TracesData`` /
``ExportTraceServiceRequest``), a JSON Lines file of such documents (as the collector's file
exporter writes, one batch per line), or a folder of such files (``*.json`` and ``*.jsonl``
directly inside it, sorted). Spans sit in ``resourceSpans[].scopeSpans[].spans[]`` with
``traceId``, ``spanId``, ``name``, ``startTimeUnixNano`` and ``endTimeUnixNano`` (strings or
integers) and ``attributes`` as ``[{"key": ..., "value": {"stringValue" | "intValue" |
"doubleValue" | "boolValue": ...}}]`` (``intValue`` may be a string, as 64-bit integers are in
OTLP JSON).

Which spans become calls:

* a *tool* span has ``gen_ai.operation.name == "execute_tool"``; its name is
  ``gen_ai.tool.name``, else the span name;
* an *llm* span is any other span naming a model in ``gen_ai.request.model`` (else
  ``gen_ai.response.model``), except agent spans (``gen_ai.operation.name`` ``invoke_agent`` or
  ``create_agent``, which may name the agent's model); its name is the span name and its tokens
  are ``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens`` (else the older
  ``gen_ai.usage.prompt_tokens`` / ``gen_ai.usage.completion_tokens``; 0 when neither is
  recorded, which is logged);
* every other span (agent and workflow wrappers, HTTP client spans...) only gives structure and
  is not emitted.

One request per ``traceId`` (in order of first appearance; spans of one trace may be spread over
several batches and files). ``call_id`` is the ``spanId``. Span parent links express containment
(a call inside an agent step), not which output fed which input, so the parents of a call are
inferred from timing (:func:`~scepsy_opt.workflow.importers._timing.infer_dependencies`) among
the emitted calls of its trace. Times are seconds relative to the trace's first span (of any
kind). Span status is not read: failed calls are kept, as they used the llm all the same.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import (
    Call,
    TraceTable,
    input_files,
    iter_json_lines,
    table_from_calls,
)
from scepsy_opt.workflow.importers._timing import infer_dependencies

logger = logging.getLogger(__name__)

OPERATION = "gen_ai.operation.name"
TOOL_OPERATION = "execute_tool"
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
TOOL_NAME_KEY = "gen_ai.tool.name"
_VALUE_KINDS = ("stringValue", "intValue", "doubleValue", "boolValue")


@dataclass(frozen=True)
class _Span:
    where: str  # "file[:line]: resourceSpans[i].scopeSpans[j].spans[k]"
    trace_id: str
    span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]


def import_otel(path: str | os.PathLike[str]) -> TraceTable:
    """Read OTLP/JSON trace exports into one request per trace."""
    path = Path(path)
    source = str(path)
    files = input_files(path, (".json", ".jsonl"), "an OTLP/JSON export")
    traces: dict[str, list[_Span]] = {}
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        for where, document in _documents(file):
            for span in _spans(document, where):
                key = (span.trace_id, span.span_id)
                if key in seen:
                    raise TraceError(
                        f"span {span.span_id!r} of trace {span.trace_id!r} appears twice "
                        f"(first at {seen[key]})", source=span.where, field="spanId",
                        value=span.span_id, fix="export every span once")
                seen[key] = span.where
                traces.setdefault(span.trace_id, []).append(span)
    calls: list[Call] = []
    no_tokens = 0
    for trace_id, spans in traces.items():
        origin = min(s.start_ns for s in spans)
        trace_calls = []
        for span in spans:
            call, tokens_missing = _call(span, origin)
            if call is not None:
                trace_calls.append(call)
                no_tokens += tokens_missing
        if not trace_calls:
            logger.info("%s: trace %s holds no llm or tool span; it is left out", source,
                        trace_id)
            continue
        trace_calls.sort(key=lambda c: (c.start_s, c.end_s))
        calls.extend(infer_dependencies(trace_calls))
    if no_tokens:
        logger.warning("%s: %d llm span(s) record no token usage; their tokens are set to 0",
                       source, no_tokens)
    return table_from_calls(calls, source)


def _documents(file: Path) -> Iterator[tuple[str, Any]]:
    """``(where, document)`` for a JSON document or each line of a JSON Lines file."""
    text = file.read_text(encoding="utf-8")
    try:
        yield str(file), json.loads(text)
        return
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise TraceError(f"malformed JSON ({exc.msg})", source=f"{file}:{exc.lineno}",
                             value=f"column {exc.colno}",
                             fix="write one OTLP/JSON document, or one per line") from None
    for line_no, document in iter_json_lines(file, fix="write one OTLP/JSON document per line"):
        yield f"{file}:{line_no}", document


def _spans(document: Any, where: str) -> Iterator[_Span]:
    if not isinstance(document, dict) or not isinstance(document.get("resourceSpans"), list):
        value = sorted(document) if isinstance(document, dict) else document
        raise TraceError("the document holds no resourceSpans list", source=where,
                         field="resourceSpans", value=value,
                         fix='export traces as OTLP/JSON: {"resourceSpans": [...]}')
    for i, resource in enumerate(document["resourceSpans"]):
        scopes = resource.get("scopeSpans", []) if isinstance(resource, dict) else None
        if not isinstance(scopes, list):
            raise TraceError("resourceSpans entries must hold a scopeSpans list", source=where,
                             field=f"resourceSpans[{i}].scopeSpans", value=scopes,
                             fix="follow the OTLP/JSON trace layout")
        for j, scope in enumerate(scopes):
            spans = scope.get("spans", []) if isinstance(scope, dict) else None
            if not isinstance(spans, list):
                raise TraceError("scopeSpans entries must hold a spans list", source=where,
                                 field=f"resourceSpans[{i}].scopeSpans[{j}].spans",
                                 value=spans, fix="follow the OTLP/JSON trace layout")
            for k, span in enumerate(spans):
                yield _parse_span(span, f"{where}: resourceSpans[{i}].scopeSpans[{j}].spans[{k}]")


def _parse_span(raw: Any, where: str) -> _Span:
    if not isinstance(raw, dict):
        raise TraceError("a span must be an object", source=where, value=raw,
                         fix="follow the OTLP/JSON span layout")
    ids = {}
    for field in ("traceId", "spanId"):
        value = raw.get(field)
        if not isinstance(value, str) or not value:
            raise TraceError("the span has no id", source=where, field=field, value=value,
                             fix="export traceId and spanId as hex strings")
        ids[field] = value.lower()
    times = {}
    for field in ("startTimeUnixNano", "endTimeUnixNano"):
        times[field] = _nanos(raw.get(field), field, where)
    if times["endTimeUnixNano"] < times["startTimeUnixNano"]:
        raise TraceError("the span ends before it starts", source=where,
                         field="endTimeUnixNano", value=raw.get("endTimeUnixNano"),
                         fix=f"endTimeUnixNano must be >= {raw.get('startTimeUnixNano')}")
    name = raw.get("name", "")
    return _Span(where=where, trace_id=ids["traceId"], span_id=ids["spanId"],
                 name=name if isinstance(name, str) else str(name),
                 start_ns=times["startTimeUnixNano"], end_ns=times["endTimeUnixNano"],
                 attributes=_attributes(raw.get("attributes", []), where))


def _nanos(value: Any, field: str, where: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise TraceError("the span time is missing or not a whole number of nanoseconds",
                     source=where, field=field, value=value,
                     fix="export times as Unix epoch nanoseconds, e.g. \"1718000000000000000\"")


def _attributes(raw: Any, where: str) -> dict[str, Any]:
    """Key/value list to a dict; values of other kinds (arrays, bytes...) are kept as given."""
    if not isinstance(raw, list):
        raise TraceError("span attributes must be a list of key/value objects", source=where,
                         field="attributes", value=raw,
                         fix='write [{"key": ..., "value": {"stringValue": ...}}, ...]')
    attributes: dict[str, Any] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise TraceError("a span attribute must have a key", source=where,
                             field="attributes", value=item,
                             fix='write {"key": ..., "value": {...}}')
        value = item.get("value")
        if isinstance(value, dict):
            kind = next((k for k in _VALUE_KINDS if k in value), None)
            value = value[kind] if kind is not None else value
        attributes[item["key"]] = value
    return attributes


def _call(span: _Span, origin_ns: int) -> tuple[Call | None, bool]:
    """The call a span stands for (None for structure spans), and whether its tokens are
    missing."""
    attrs = span.attributes
    operation = attrs.get(OPERATION)
    start_s = (span.start_ns - origin_ns) / 1e9
    end_s = (span.end_ns - origin_ns) / 1e9
    if operation == TOOL_OPERATION:
        tool_name = attrs.get(TOOL_NAME_KEY)
        name = tool_name if isinstance(tool_name, str) and tool_name else span.name
        return Call(request_id=span.trace_id, call_id=span.span_id, kind="tool",
                    start_s=start_s, end_s=end_s, name=name), False
    model = next((attrs[k] for k in MODEL_KEYS if isinstance(attrs.get(k), str) and attrs[k]),
                 None)
    if model is None or operation in AGENT_OPERATIONS:
        return None, False
    input_tokens = _tokens(attrs, INPUT_TOKEN_KEYS, span.where)
    output_tokens = _tokens(attrs, OUTPUT_TOKEN_KEYS, span.where)
    call = Call(request_id=span.trace_id, call_id=span.span_id, kind="llm", start_s=start_s,
                end_s=end_s, llm=model, name=span.name or None,
                input_tokens=input_tokens or 0, output_tokens=output_tokens or 0)
    return call, input_tokens is None and output_tokens is None


def _tokens(attrs: dict[str, Any], keys: tuple[str, ...], where: str) -> int | None:
    for key in keys:
        if key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 \
                and value == int(value):
            return int(value)
        raise TraceError("the token count is not a whole number >= 0", source=where,
                         field=f"attributes.{key}", value=value,
                         fix=f"record {key} as an intValue")
    return None
