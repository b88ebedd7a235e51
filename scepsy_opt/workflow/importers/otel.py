"""Import OpenTelemetry traces (OTLP/JSON or OTLP protobuf) that follow the GenAI or the
OpenInference semantic conventions.

Input: a JSON document ``{"resourceSpans": [...]}`` (an OTLP ``TracesData`` /
``ExportTraceServiceRequest``), a JSON Lines file of such documents (as the collector's file
exporter writes, one batch per line), an OTLP protobuf file (``.pb`` or ``.binpb``: one
serialized ``TracesData`` / ``ExportTraceServiceRequest``, or the collector file exporter's
``format: proto`` stream, each message preceded by its length as a 4-byte big-endian integer;
read with the ``opentelemetry-proto`` package), or a folder of such files (directly inside it,
sorted). Spans sit in ``resourceSpans[].scopeSpans[].spans[]`` with ``traceId``, ``spanId``,
``name``, ``startTimeUnixNano`` and ``endTimeUnixNano`` (strings or integers, at most
2^64 - 1 as in OTLP's ``fixed64``) and ``attributes`` as ``[{"key": ..., "value":
{"stringValue" | "intValue" | "doubleValue" | "boolValue": ...}}]`` (``intValue`` may be a
string, as 64-bit integers are in OTLP JSON). Ids are hex strings as the OTLP/JSON encoding
writes them, or base64 as protobuf's generic JSON mapping writes bytes (both read as the same
hex id); other id strings are kept as given.

Which spans become calls. A span with an ``openinference.span.kind`` attribute (the
OpenInference conventions, written by the openinference instrumentations of LangChain and
LangGraph, the OpenAI Agents SDK, LlamaIndex...) is classified by that kind:

* ``LLM``: an llm call whose model is ``llm.model_name`` (else the ``model`` or ``model_name``
  of the JSON ``llm.invocation_parameters``, else the GenAI model attributes below; a span with
  none of them is refused) and whose tokens are ``llm.token_count.prompt`` /
  ``llm.token_count.completion``;
* ``TOOL``: a tool call named ``tool.name``, else the span name;
* an LLM call is named by the LangGraph node it runs in (the ``langgraph_node`` of the JSON
  ``metadata`` attribute the LangChain instrumentation records), else by the agent it runs in
  (the ``agent.name`` of the nearest ancestor span of kind ``AGENT`` that has one, as the
  OpenAI Agents instrumentation writes one such span per agent), else by its span name: span
  names are
  the model class or the call type (``ChatOpenAI``, ``generation``, ``response``), the same for
  every step; a TOOL span without ``tool.name`` is named by its span name (``handoff to
  weather``), else likewise;
* every other kind (``AGENT``, ``CHAIN``, ``RETRIEVER``, ``EMBEDDING``, ``RERANKER``,
  ``GUARDRAIL``, ``EVALUATOR``, ``PROMPT``) only gives structure and is not emitted.

Other spans follow the GenAI conventions:

* a *tool* span has ``gen_ai.operation.name == "execute_tool"``; its name is
  ``gen_ai.tool.name``, else the span name;
* an *llm* span is any other span naming a model in ``gen_ai.request.model`` (else
  ``gen_ai.response.model``), except agent spans (``gen_ai.operation.name`` ``invoke_agent`` or
  ``create_agent``, which may name the agent's model); its name is the span name and its tokens
  are ``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens`` (else the older
  ``gen_ai.usage.prompt_tokens`` / ``gen_ai.usage.completion_tokens``);
* every other span (agent and workflow wrappers, HTTP client spans...) only gives structure and
  is not emitted.

Token counts are read from the first of these keys a span has (0 when none is recorded, which
is logged); a count that is not a whole number >= 0 (NaN, infinite, negative, fractional) is
refused. Model names lose their provider prefix
(:func:`~scepsy_opt.workflow.importers._models.model_name`).

One request per ``traceId`` (in order of first appearance; spans of one trace may be spread over
several batches and files). ``call_id`` is the ``spanId``. Span parent links express containment
(a call inside an agent step), not which output fed which input, so the parents of a call are
inferred from timing (:func:`~scepsy_opt.workflow.importers._timing.infer_dependencies`) among
the emitted calls of its trace. Times are seconds relative to the trace's first span (of any
kind). Span status is not read: failed calls are kept, as they used the llm all the same.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import (
    Call,
    TraceTable,
    input_files,
    table_from_calls,
)
from scepsy_opt.workflow.importers._models import model_name
from scepsy_opt.workflow.importers._text import check_utf8, json_lines
from scepsy_opt.workflow.importers._timing import infer_dependencies

logger = logging.getLogger(__name__)

OPERATION = "gen_ai.operation.name"
TOOL_OPERATION = "execute_tool"
AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model")
TOOL_NAME_KEY = "gen_ai.tool.name"
OI_KIND = "openinference.span.kind"
OI_LLM, OI_TOOL = "LLM", "TOOL"
OI_MODEL_KEY = "llm.model_name"
OI_INVOCATION_KEY = "llm.invocation_parameters"
OI_TOOL_NAME_KEY = "tool.name"
OI_METADATA_KEY = "metadata"
OI_AGENT, OI_AGENT_NAME_KEY = "AGENT", "agent.name"
INPUT_TOKEN_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                    "llm.token_count.prompt")
OUTPUT_TOKEN_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                     "llm.token_count.completion")
PROTOBUF_SUFFIXES = (".pb", ".binpb")
MAX_NANOS = 2**64 - 1  # OTLP times are fixed64
_VALUE_KINDS = ("stringValue", "intValue", "doubleValue", "boolValue")
_DIGITS = re.compile(r"[0-9]+")
_HEX_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class _Span:
    where: str  # "file[:line]: resourceSpans[i].scopeSpans[j].spans[k]"
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]


def import_otel(path: str | os.PathLike[str]) -> TraceTable:
    """Read OTLP/JSON or OTLP protobuf trace exports into one request per trace."""
    path = Path(path)
    source = str(path)
    files = input_files(path, (".json", ".jsonl", *PROTOBUF_SUFFIXES),
                        "an OTLP/JSON or OTLP protobuf export")
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
        by_id = {s.span_id: s for s in spans}
        trace_calls = []
        for span in spans:
            call, tokens_missing = _call(span, origin, _agent(span, by_id))
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
    """``(where, document)`` for a JSON document, each line of a JSON Lines file, or each
    message of a protobuf file."""
    if file.suffix in PROTOBUF_SUFFIXES:
        yield from _protobuf_documents(file)
        return
    text = check_utf8(file)
    try:
        yield str(file), json.loads(text)
        return
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise TraceError(f"malformed JSON ({exc.msg})", source=f"{file}:{exc.lineno}",
                             value=f"column {exc.colno}",
                             fix="write one OTLP/JSON document, or one per line") from None
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        raise TraceError(f"a number cannot be read ({exc})", source=str(file),
                         fix="write times and counts as integers of at most 20 digits"
                         ) from None
    for line_no, document in json_lines(file, fix="write one OTLP/JSON document per line"):
        yield f"{file}:{line_no}", document


def _protobuf_documents(file: Path) -> Iterator[tuple[str, Any]]:
    """Each protobuf message of ``file`` as the dict of its JSON mapping."""
    try:
        from google.protobuf.json_format import MessageToDict
        from google.protobuf.message import DecodeError
        from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
    except ImportError:
        raise TraceError("reading OTLP protobuf files needs the opentelemetry-proto package",
                         source=str(file),
                         fix="pip install opentelemetry-proto, or export the traces as "
                             "OTLP/JSON") from None
    data = file.read_bytes()
    messages = _length_prefixed(data)
    for k, payload in enumerate(messages if messages is not None else [data]):
        where = f"{file}: message {k}" if messages is not None else str(file)
        message = TracesData()
        try:
            message.ParseFromString(payload)
        except DecodeError as exc:
            raise TraceError(f"not an OTLP protobuf trace message ({exc})", source=where,
                             fix="pass a serialized TracesData or ExportTraceServiceRequest, "
                                 "or the collector file exporter's proto output") from None
        document = MessageToDict(message)
        document.setdefault("resourceSpans", [])
        yield where, document


def _length_prefixed(data: bytes) -> list[bytes] | None:
    """The messages of a stream of 4-byte big-endian lengths each followed by that many bytes,
    or None when ``data`` is not such a stream (then it is one message)."""
    messages = []
    offset = 0
    while offset < len(data):
        if offset + 4 > len(data):
            return None
        size = int.from_bytes(data[offset:offset + 4], "big")
        offset += 4
        if offset + size > len(data):
            return None
        messages.append(data[offset:offset + size])
        offset += size
    return messages or None


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
        ids[field] = _span_id(value)
    times = {}
    for field in ("startTimeUnixNano", "endTimeUnixNano"):
        times[field] = _nanos(raw.get(field), field, where)
    if times["endTimeUnixNano"] < times["startTimeUnixNano"]:
        raise TraceError("the span ends before it starts", source=where,
                         field="endTimeUnixNano", value=raw.get("endTimeUnixNano"),
                         fix=f"endTimeUnixNano must be >= {raw.get('startTimeUnixNano')}")
    name = raw.get("name", "")
    parent = raw.get("parentSpanId")
    return _Span(where=where, trace_id=ids["traceId"], span_id=ids["spanId"],
                 parent_id=_span_id(parent) if isinstance(parent, str) and parent else None,
                 name=name if isinstance(name, str) else str(name),
                 start_ns=times["startTimeUnixNano"], end_ns=times["endTimeUnixNano"],
                 attributes=_attributes(raw.get("attributes", []), where))


def _span_id(value: str) -> str:
    """A trace or span id as lower-case hex: hex as given, base64 of 8 or 16 bytes decoded;
    any other string unchanged."""
    if _HEX_ID.fullmatch(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value
    return raw.hex() if len(raw) in (8, 16) else value


def _nanos(value: Any, field: str, where: str) -> int:
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) and len(value.strip()) <= 20:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_NANOS:
        return value
    raise TraceError("the span time is missing or not a whole number of nanoseconds in "
                     "OTLP's range (0 to 2^64 - 1)", source=where, field=field, value=value,
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


def _kind(attrs: dict[str, Any]) -> tuple[str | None, bool]:
    """``("llm" | "tool" | None, whether the span follows OpenInference)``."""
    oi_kind = attrs.get(OI_KIND)
    if oi_kind is not None:
        oi_kind = str(oi_kind).upper()
        return {OI_LLM: "llm", OI_TOOL: "tool"}.get(oi_kind), True
    operation = attrs.get(OPERATION)
    if operation == TOOL_OPERATION:
        return "tool", False
    if operation in AGENT_OPERATIONS or _text(attrs, MODEL_KEYS) is None:
        return None, False
    return "llm", False


def _agent(span: _Span, by_id: dict[str, _Span]) -> str | None:
    """The ``agent.name`` of the nearest ancestor span of OpenInference kind AGENT that has
    one."""
    seen = {span.span_id}
    parent = by_id.get(span.parent_id) if span.parent_id else None
    while parent is not None and parent.span_id not in seen:
        name = _text(parent.attributes, (OI_AGENT_NAME_KEY,))
        if name and str(parent.attributes.get(OI_KIND, "")).upper() == OI_AGENT:
            return name
        seen.add(parent.span_id)
        parent = by_id.get(parent.parent_id) if parent.parent_id else None
    return None


def _call(span: _Span, origin_ns: int, agent: str | None) -> tuple[Call | None, bool]:
    """The call a span stands for (None for structure spans), and whether its tokens are
    missing; ``agent`` names the agent the span runs in."""
    attrs = span.attributes
    kind, openinference = _kind(attrs)
    start_s = (span.start_ns - origin_ns) / 1e9
    end_s = (span.end_ns - origin_ns) / 1e9
    if kind is None:
        return None, False
    node = (_json_text(attrs, OI_METADATA_KEY, ("langgraph_node",)) or agent) \
        if openinference else None
    if kind == "tool":
        tool_name = _text(attrs, (OI_TOOL_NAME_KEY if openinference else TOOL_NAME_KEY,))
        return Call(request_id=span.trace_id, call_id=span.span_id, kind="tool",
                    start_s=start_s, end_s=end_s, name=tool_name or span.name or node), False
    model = _model(attrs, span.where) if openinference else _text(attrs, MODEL_KEYS)
    input_tokens = _tokens(attrs, INPUT_TOKEN_KEYS, span.where)
    output_tokens = _tokens(attrs, OUTPUT_TOKEN_KEYS, span.where)
    call = Call(request_id=span.trace_id, call_id=span.span_id, kind="llm", start_s=start_s,
                end_s=end_s, llm=model_name(model or ""), name=node or span.name or None,
                input_tokens=input_tokens or 0, output_tokens=output_tokens or 0)
    return call, input_tokens is None and output_tokens is None


def _text(attrs: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``keys``."""
    return next((attrs[k] for k in keys if isinstance(attrs.get(k), str) and attrs[k]), None)


def _json_text(attrs: dict[str, Any], key: str, fields: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``fields`` of the JSON object in attribute ``key``."""
    if not isinstance(attrs.get(key), str):
        return None
    try:
        document = json.loads(attrs[key])
    except ValueError:
        return None
    return _text(document, fields) if isinstance(document, dict) else None


def _model(attrs: dict[str, Any], where: str) -> str:
    """The model of an OpenInference LLM span."""
    model = _text(attrs, (OI_MODEL_KEY,)) \
        or _json_text(attrs, OI_INVOCATION_KEY, ("model", "model_name")) \
        or _text(attrs, MODEL_KEYS)
    if model is None:
        raise TraceError("the OpenInference LLM span names no model", source=where,
                         field=f"attributes.{OI_MODEL_KEY}", value=attrs.get(OI_MODEL_KEY),
                         fix=f"record {OI_MODEL_KEY} (or gen_ai.request.model) on LLM spans")
    return model


def _tokens(attrs: dict[str, Any], keys: tuple[str, ...], where: str) -> int | None:
    for key in keys:
        if key not in attrs:
            continue
        value = attrs[key]
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()) \
                and len(value.strip()) <= 20:
            return int(value)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(value) and value >= 0 and value == int(value):
            return int(value)
        raise TraceError("the token count is not a whole number >= 0", source=where,
                         field=f"attributes.{key}", value=value,
                         fix=f"record {key} as an intValue")
    return None
