"""Hostile values in every field the importers read: each generated log either imports or is
refused with a TraceError, never another exception."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scepsy_opt.core.errors import TraceError
from scepsy_opt.workflow.importers.litellm import import_litellm
from scepsy_opt.workflow.importers.metagpt import import_metagpt
from scepsy_opt.workflow.importers.otel import import_otel

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))
# Token counts that overflow int64 are refused by the trace table's range checks; these stay
# below them so that only the importers' own parsing is under test here.
SPECIAL = st.sampled_from([
    float("nan"), float("inf"), float("-inf"), 10**400, 2**64, -1, 0, 1, 0.5, True, None, "",
    "NaN", "Infinity", "1e999", "123", "-5", "2026-04-23T17:42:22+00:00", "\u0661\u0662",
    "9" * 30, "gpt-4o", "anthropic/claude-haiku-4-5", [], {}])
SCALARS = st.one_of(
    SPECIAL, st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=5)


def _import(importer, tmp_path: Path, name: str, data: bytes) -> None:
    file = tmp_path / name
    file.write_bytes(data)
    logging.disable(logging.WARNING)
    try:
        importer(file)
    except TraceError:
        pass
    finally:
        logging.disable(logging.NOTSET)


LITELLM_FIELDS = ("startTime", "endTime", "timestamp", "model", "prompt_tokens",
                  "completion_tokens", "status")
GOOD_LITELLM = {"startTime": 1.7e9, "endTime": 1.7e9 + 1, "model": "m", "prompt_tokens": 1,
                "completion_tokens": 1}


@SETTINGS
@given(st.lists(st.dictionaries(st.sampled_from(LITELLM_FIELDS), VALUES, max_size=3),
                min_size=1, max_size=3))
def test_litellm_hostile_fields(tmp_path_factory, changes) -> None:
    # Valid records with a few fields replaced (or removed, as None).
    records = [{**GOOD_LITELLM, **change} for change in changes]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    _import(import_litellm, tmp_path_factory.mktemp("l"), "log.jsonl", text.encode())


ATTRIBUTE_KEYS = ("openinference.span.kind", "llm.model_name", "llm.token_count.prompt",
                  "llm.token_count.completion", "llm.invocation_parameters", "metadata",
                  "tool.name", "gen_ai.operation.name", "gen_ai.request.model",
                  "gen_ai.usage.input_tokens", "gen_ai.tool.name")
ATTRIBUTE_VALUES = st.one_of(
    st.fixed_dictionaries({"stringValue": st.sampled_from(
        ["LLM", "TOOL", "CHAIN", "llm", "execute_tool", "chat", "gpt", '{"model": 1}',
         '{"langgraph_node": "n"}', '{"langgraph_node": 3}', "[1]", "{"]) | st.text(max_size=4)}),
    st.fixed_dictionaries({"intValue": VALUES}), st.fixed_dictionaries({"doubleValue": VALUES}),
    VALUES)
SPANS = st.fixed_dictionaries(
    {"traceId": st.sampled_from(["0af7651916cd43dd8448eb211c80319c",
                                 "AAECAwQFBgcICQoLDA0ODw=="]) | VALUES,
     "spanId": st.sampled_from(["b7ad6b7169203331", "AAECAwQFBgc="]) | VALUES,
     "startTimeUnixNano": st.sampled_from(["1", 5, str(2**64 - 1)]) | VALUES,
     "endTimeUnixNano": st.sampled_from(["2", 9, str(2**64 - 1)]) | VALUES},
    optional={"attributes": st.lists(st.fixed_dictionaries(
        {"key": st.sampled_from(ATTRIBUTE_KEYS), "value": ATTRIBUTE_VALUES}), max_size=4)
        | VALUES, "name": VALUES})


GOOD_SPAN = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
             "startTimeUnixNano": "1", "endTimeUnixNano": "2", "name": "chat"}
GOOD_ATTRIBUTES = st.sampled_from([
    {"openinference.span.kind": {"stringValue": "LLM"}, "llm.model_name": {"stringValue": "m"},
     "llm.token_count.prompt": {"intValue": "3"}},
    {"gen_ai.operation.name": {"stringValue": "chat"}, "gen_ai.request.model": {"stringValue": "m"},
     "gen_ai.usage.input_tokens": {"intValue": "3"}}])


@SETTINGS
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(sorted(GOOD_SPAN)), VALUES,
                                          max_size=2),
                          st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), ATTRIBUTE_VALUES,
                                          max_size=3)),
                min_size=1, max_size=3), GOOD_ATTRIBUTES, st.lists(SPANS, max_size=2))
def test_otel_hostile_spans(tmp_path_factory, changes, good, other_spans) -> None:
    # Valid OpenInference or GenAI LLM spans with a few fields and attributes replaced, and
    # spans made of hostile values throughout.
    spans = []
    for k, (fields, attributes) in enumerate(changes):
        attributes = {**good, **attributes}
        spans.append({**GOOD_SPAN, "spanId": f"{k:016x}", **fields,
                      "attributes": [{"key": key, "value": value}
                                     for key, value in attributes.items()]})
    document = {"resourceSpans": [{"scopeSpans": [{"spans": spans + other_spans}]}]}
    _import(import_otel, tmp_path_factory.mktemp("o"), "t.json", json.dumps(document).encode())


@SETTINGS
@given(st.binary(max_size=80))
def test_otel_hostile_protobuf_bytes(tmp_path_factory, data) -> None:
    _import(import_otel, tmp_path_factory.mktemp("p"), "t.pb", data)


RESPONSES = st.fixed_dictionaries({}, optional={
    "created": VALUES, "model": VALUES,
    "usage": st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens"]), VALUES)
    | VALUES})
QUERIES = st.fixed_dictionaries({}, optional={"system": VALUES, "user_msg": VALUES}) | VALUES


@SETTINGS
@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(["a", "b"]), QUERIES, min_size=1),
                          st.dictionaries(st.sampled_from(["a", "b"]), RESPONSES | VALUES,
                                          min_size=1)),
                min_size=1, max_size=3), st.integers(0, 5))
def test_metagpt_hostile_rounds(tmp_path_factory, rounds, first) -> None:
    lines = [json.dumps({f"r{first + k}_queries": q, f"r{first + k}_responses": r})
             for k, (q, r) in enumerate(rounds)]
    _import(import_metagpt, tmp_path_factory.mktemp("m"), "log.jsonl",
            ("\n".join(lines) + "\n").encode())
