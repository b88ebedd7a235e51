"""Importers on logs laid out as published tools write them: MetaGPT logs that start at a later
round, litellm folders of single-role sessions, provider-prefixed model names, OpenInference
attributes and OTLP protobuf files, and malformed values that must be refused, not crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import Call, TraceTable
from scepsy_opt.workflow.importers._models import model_name
from scepsy_opt.workflow.importers.litellm import import_litellm
from scepsy_opt.workflow.importers.metagpt import import_metagpt
from scepsy_opt.workflow.importers.otel import import_otel

DATA = Path(__file__).resolve().parents[2] / "data"
TAU2 = DATA / "litellm" / "tau2_retail"
SESSIONS = ("0e1f2eca", "2473490a", "b8eae4da")
METAGPT_LOG = DATA / "metagpt" / "metagpt_log_3_round.jsonl"
METAGPT_R4 = DATA / "metagpt" / "log_new_rounds_r4.jsonl"
APPWORLD_HEAD = DATA / "litellm" / "appworld_17b6ecba" / "trace_head.jsonl"


def calls_of(table: TraceTable) -> dict[str, list[Call]]:
    return dict(table.iter_requests())


# ------------------------------------------------------------------------------ metagpt


def _renumbered_log(tmp_path: Path, first: int, drop: int) -> Path:
    """The Parrot log without its first ``drop`` rounds, renumbered from ``first``: the layout of
    the artifact's ``log_new_rounds.jsonl``, which continues the same project from r4."""
    lines = [json.loads(line) for line in METAGPT_LOG.read_text().splitlines() if line.strip()]
    out = []
    for k, raw in enumerate(lines[drop:], start=drop):
        new = first + k - drop
        out.append(json.dumps({key.replace(f"r{k}_", f"r{new}_", 1): value
                               for key, value in raw.items()}))
    file = tmp_path / "log_new_rounds.jsonl"
    file.write_text("\n".join(out) + "\n")
    return file


def test_metagpt_published_log_starting_at_round_4() -> None:
    (raw,) = [json.loads(line) for line in METAGPT_R4.read_text().splitlines()]
    assert sorted(raw) == ["r4_queries", "r4_responses"]
    calls = calls_of(import_metagpt(METAGPT_R4))["log_new_rounds_r4"]
    responses = raw["r4_responses"]
    assert [c.call_id for c in calls] == [f"r4-{key}" for key in responses]
    assert {c.name.split(":")[0] for c in calls} == {"reviewer"}
    assert all(c.parents == () and c.start_s == 0.0 for c in calls)
    for call, response in zip(calls, responses.values(), strict=True):
        assert (call.llm, call.input_tokens, call.output_tokens) == (
            response["model"], response["usage"]["prompt_tokens"],
            response["usage"]["completion_tokens"])
    # Durations: the gap to the next created stamp (the log was replayed one call at a time, in
    # log order), and for the last call the token fit over the other seven.
    created = [r["created"] for r in responses.values()]
    assert created == sorted(created)
    assert [c.end_s for c in calls[:-1]] == [b - a for a, b in zip(created, created[1:],
                                                                   strict=False)]
    assert 0 < calls[-1].end_s < 60


def test_metagpt_folder_with_the_published_logs_before_and_after_round_4(tmp_path: Path) -> None:
    for log in (METAGPT_LOG, METAGPT_R4):
        shutil.copy(log, tmp_path / log.name)
    table = import_metagpt(tmp_path)
    assert table.request_ids == ("log_new_rounds_r4", "metagpt_log_3_round")
    rounds = {rid: sorted({c.call_id.split("-")[0] for c in calls})
              for rid, calls in table.iter_requests()}
    assert rounds == {"log_new_rounds_r4": ["r4"],
                      "metagpt_log_3_round": ["r0", "r1", "r2", "r3"]}


@pytest.mark.parametrize("first", [4, 17])
def test_metagpt_log_may_start_at_any_round(tmp_path: Path, first: int) -> None:
    original = calls_of(import_metagpt(METAGPT_LOG))["metagpt_log_3_round"]
    # Rounds r1..r3 of the published log (8 parallel calls each) renumbered from r<first>.
    table = import_metagpt(_renumbered_log(tmp_path, first, drop=1))
    calls = calls_of(table)["log_new_rounds"]
    assert len(calls) == 24
    assert {c.call_id.split("-")[0] for c in calls} == {f"r{first + i}" for i in range(3)}
    first_round = [c for c in calls if c.call_id.startswith(f"r{first}-")]
    assert len(first_round) == 8 and all(c.parents == () for c in first_round)
    assert {c.start_s for c in first_round} == {0.0}
    # Every call of a later round depends on every call of the round before it.
    later = [c for c in calls if c.call_id.startswith(f"r{first + 1}-")]
    assert all(set(c.parents) == {p.call_id for p in first_round} for c in later)
    # Measured durations (gaps between created stamps) are those of the same calls in the
    # original numbering.
    by_key = {c.call_id.split("-", 1)[1] + c.call_id.split("-")[0][1:]: c for c in original}
    for call in calls:
        k = int(call.call_id.split("-")[0][1:]) - first + 1
        twin = by_key[call.call_id.split("-", 1)[1] + str(k)]
        assert (call.input_tokens, call.output_tokens, call.name) == \
            (twin.input_tokens, twin.output_tokens, twin.name)


def test_metagpt_rounds_with_a_gap_are_refused(tmp_path: Path) -> None:
    file = _renumbered_log(tmp_path, 4, drop=1)
    lines = file.read_text().splitlines()
    lines[1] = lines[1].replace('"r5_', '"r6_')
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(TraceError, match=r"log_new_rounds.jsonl:2: round 5 must hold "
                                         r"r5_queries and r5_responses.*consecutively"):
        import_metagpt(file)


def test_metagpt_first_line_without_a_round_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "log.jsonl"
    file.write_text('{"queries": {}, "responses": {}}\n')
    with pytest.raises(TraceError, match=r"log.jsonl:1: the first line must hold one round"):
        import_metagpt(file)


# ------------------------------------------------------------------------------ litellm


def _agent_log(session: str) -> Path:
    return TAU2 / session / "agent" / "litellm" / "trace.jsonl"


def _num_lines(file: Path) -> int:
    return sum(1 for line in file.read_text().splitlines() if line.strip())


def test_litellm_folder_of_single_role_sessions_is_one_request_per_session(
        tmp_path: Path) -> None:
    # exgentic's AppWorld layout: sessions/<id>/agent/litellm/trace.jsonl, one log per session.
    for session in SESSIONS:
        target = tmp_path / session / "agent" / "litellm" / "trace.jsonl"
        target.parent.mkdir(parents=True)
        shutil.copy(_agent_log(session), target)
    table = import_litellm(tmp_path)
    assert table.request_ids == SESSIONS
    calls = calls_of(table)
    for session in SESSIONS:
        assert len(calls[session]) == _num_lines(_agent_log(session))
        assert {c.name for c in calls[session]} == {"agent"}
        # Each session alone, as layout "session" reads it.
        alone = calls_of(import_litellm(tmp_path / session, layout="session"))[session]
        assert [(c.call_id, c.start_s, c.end_s, c.parents) for c in calls[session]] == \
            [(c.call_id, c.start_s, c.end_s, c.parents) for c in alone]
    assert import_litellm(tmp_path, layout="sessions").request_ids == SESSIONS


def test_litellm_folder_of_session_files_is_one_request_per_file(tmp_path: Path) -> None:
    for session in SESSIONS:
        shutil.copy(_agent_log(session), tmp_path / f"{session}.jsonl")
    table = import_litellm(tmp_path)
    assert table.request_ids == SESSIONS
    for session, calls in calls_of(table).items():
        assert len(calls) == _num_lines(_agent_log(session))


def test_litellm_session_folder_with_one_log_per_role_is_still_one_request() -> None:
    # agent/ and benchmark/ hold one log each, overlapping in time: the roles of one session.
    table = import_litellm(TAU2 / SESSIONS[0])
    assert table.request_ids == (SESSIONS[0],)
    assert set(table.names) == {"agent", "benchmark"}


def test_litellm_auto_layout_refuses_partly_overlapping_logs(tmp_path: Path) -> None:
    shutil.copy(_agent_log(SESSIONS[0]), tmp_path / "a.jsonl")
    shutil.copy(TAU2 / SESSIONS[0] / "benchmark" / "litellm" / "trace.jsonl",
                tmp_path / "b.jsonl")  # overlaps a.jsonl
    shutil.copy(_agent_log(SESSIONS[2]), tmp_path / "c.jsonl")  # minutes earlier
    with pytest.raises(TraceError, match=r"cannot tell.*layout=sessions.*layout=session"):
        import_litellm(tmp_path)
    assert import_litellm(tmp_path, layout="sessions").request_ids == ("a", "b", "c")


def test_litellm_provider_prefix_names_one_llm() -> None:
    # The published AppWorld log names its model both ways.
    models = {json.loads(line)["model"] for line in APPWORLD_HEAD.read_text().splitlines()}
    assert models == {"claude-haiku-4-5", "anthropic/claude-haiku-4-5"}
    table = import_litellm(APPWORLD_HEAD)
    assert table.llms == ("claude-haiku-4-5",)
    assert table.num_calls == 4


_GOOD_RECORD = ('{"startTime": 1700000000.0, "endTime": 1700000001.5, "model": "m", '
                '"prompt_tokens": 10, "completion_tokens": 2}')


@pytest.mark.parametrize("field, raw, shown", [
    ("prompt_tokens", "NaN", "nan"),
    ("completion_tokens", "Infinity", "inf"),
    ("prompt_tokens", "-Infinity", "-inf"),
    ("startTime", "NaN", "nan"),
    ("endTime", "1" + "0" * 400, "1000"),
    ("startTime", "1e400", "inf"),
])
def test_litellm_non_finite_or_huge_values_are_refused(
        tmp_path: Path, field: str, raw: str, shown: str) -> None:
    record = json.loads(_GOOD_RECORD)
    record[field] = "@"
    file = tmp_path / "log.jsonl"
    file.write_text(_GOOD_RECORD + "\n" + json.dumps(record).replace('"@"', raw) + "\n")
    with pytest.raises(TraceError) as info:
        import_litellm(file)
    message = str(info.value)
    assert message.startswith(f"{file}:2: {field}: ") and f"(got {shown}" in message
    assert "Fix:" in message


def test_litellm_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "log.jsonl"
    file.write_bytes(_GOOD_RECORD.encode() + b"\n" + _GOOD_RECORD.encode()[:-1]
                     + b', "x": "\xff"}\n')
    with pytest.raises(TraceError, match=rf"{file}:2: encoding: not UTF-8 text: the byte\(s\) "
                                         r"ff cannot be decoded\. Fix: save the file as UTF-8"):
        import_litellm(file)


# ------------------------------------------------------------------------------ otel

MS = 1_000_000  # nanoseconds
T0 = 1_747_000_000_000_000_000


def _sdk_spans() -> list:
    """Spans of an agent run as the OpenInference instrumentations record them (AGENT root,
    LLM, TOOL, CHAIN and LLM children), made and ended by the OpenTelemetry SDK itself."""
    sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    from opentelemetry import trace

    exporter = memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("openinference.instrumentation.openai_agents")
    root = tracer.start_span("Agent workflow", start_time=T0,
                             attributes={"openinference.span.kind": "AGENT"})
    context = trace.set_span_in_context(root)
    children = [
        ("response", 10, 900, {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                               "llm.token_count.prompt": 812, "llm.token_count.completion": 40,
                               "llm.token_count.total": 852}),
        ("get_weather", 905, 1300, {"openinference.span.kind": "TOOL",
                                    "tool.name": "get_weather"}),
        ("format", 1301, 1302, {"openinference.span.kind": "CHAIN"}),
        ("response", 1310, 2500, {"openinference.span.kind": "LLM",
                                  "llm.model_name": "openai/gpt-4o-mini",
                                  "llm.token_count.prompt": 901,
                                  "llm.token_count.completion": 120}),
    ]
    for name, start, end, attributes in children:
        span = tracer.start_span(name, context=context, start_time=T0 + start * MS,
                                 attributes=attributes)
        span.end(end_time=T0 + end * MS)
    root.end(end_time=T0 + 2600 * MS)
    return list(exporter.get_finished_spans())


def _encode(spans: list) -> Any:
    common = pytest.importorskip("opentelemetry.exporter.otlp.proto.common.trace_encoder")
    return common.encode_spans(spans)  # the ExportTraceServiceRequest an OTLP exporter sends


def _expected(spans: list) -> tuple[str, list[tuple]]:
    """``(trace id, [(call id, kind, llm, name, start, end, in, out, parents)])``."""
    by_name = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    llm1, llm2 = sorted(by_name["response"], key=lambda s: s.start_time)
    tool = by_name["get_weather"][0]
    ids = {s: format(s.context.span_id, "016x") for s in (llm1, tool, llm2)}
    trace_id = format(llm1.context.trace_id, "032x")
    return trace_id, [
        (ids[llm1], "llm", "gpt-4o-mini", "response", 0.010, 0.900, 812, 40, ()),
        (ids[tool], "tool", None, "get_weather", 0.905, 1.300, 0, 0, (ids[llm1],)),
        (ids[llm2], "llm", "gpt-4o-mini", "response", 1.310, 2.500, 901, 120, (ids[tool],)),
    ]


def _rows(table: TraceTable) -> dict[str, list[tuple]]:
    return {rid: [(c.call_id, c.kind, c.llm, c.name, round(c.start_s, 9), round(c.end_s, 9),
                   c.input_tokens, c.output_tokens, c.parents) for c in calls]
            for rid, calls in table.iter_requests()}


def test_otel_openinference_spans_from_an_otlp_protobuf_file(tmp_path: Path) -> None:
    spans = _sdk_spans()
    file = tmp_path / "agent.pb"
    file.write_bytes(_encode(spans).SerializeToString())
    trace_id, expected = _expected(spans)
    table = import_otel(file)
    assert _rows(table) == {trace_id: expected}
    assert table.llms == ("gpt-4o-mini",)  # the provider prefix is not part of the name


def test_otel_protobuf_json_mapping_gives_the_same_calls(tmp_path: Path) -> None:
    # protobuf's own JSON mapping of the same request writes ids in base64.
    json_format = pytest.importorskip("google.protobuf.json_format")
    spans = _sdk_spans()
    file = tmp_path / "agent.json"
    file.write_text(json_format.MessageToJson(_encode(spans)))
    assert "==" in file.read_text()  # base64 trace ids
    trace_id, expected = _expected(spans)
    assert _rows(import_otel(file)) == {trace_id: expected}


def test_otel_collector_file_exporter_proto_stream(tmp_path: Path) -> None:
    # format: proto of the collector's file exporter: each message after its 4-byte length.
    spans = _sdk_spans()
    stream = b""
    for batch in (spans[:2], spans[2:]):
        payload = _encode(batch).SerializeToString()
        stream += len(payload).to_bytes(4, "big") + payload
    file = tmp_path / "collector.binpb"
    file.write_bytes(stream)
    trace_id, expected = _expected(spans)
    assert _rows(import_otel(file)) == {trace_id: expected}


OPENAI_AGENTS = DATA / "otel" / "openai_agents_handoff"


def _raw_calls(document: dict) -> dict[str, list[tuple]]:
    """The calls of an OTLP/JSON document read straight from its spans (the oracle): spans of
    OpenInference kind LLM or TOOL, ids from base64 to hex, times relative to the trace start,
    LLM calls named by the agent.name of their nearest AGENT ancestor."""
    import base64

    spans = [span for resource in document["resourceSpans"]
             for scope in resource["scopeSpans"] for span in scope["spans"]]
    attrs = {s["spanId"]: {a["key"]: next(iter(a["value"].values())) for a in s["attributes"]}
             for s in spans}
    parent = {s["spanId"]: s.get("parentSpanId") for s in spans}

    def agent(span_id: str) -> str:
        while "agent.name" not in attrs[span_id]:
            span_id = parent[span_id]
        return attrs[span_id]["agent.name"]

    origin = min(int(s["startTimeUnixNano"]) for s in spans)
    rows = {}
    for span in spans:
        kind = attrs[span["spanId"]]["openinference.span.kind"]
        if kind not in ("LLM", "TOOL"):
            continue
        a = attrs[span["spanId"]]
        trace_id, span_id = (base64.b64decode(span[k]).hex() for k in ("traceId", "spanId"))
        rows.setdefault(trace_id, []).append((
            span_id, kind.lower(), a.get("llm.model_name"),
            a.get("tool.name", span["name"]) if kind == "TOOL" else agent(span["spanId"]),
            round((int(span["startTimeUnixNano"]) - origin) / 1e9, 9),
            round((int(span["endTimeUnixNano"]) - origin) / 1e9, 9),
            int(a.get("llm.token_count.prompt", 0)), int(a.get("llm.token_count.completion", 0))))
    return {t: sorted(r, key=lambda row: row[4]) for t, r in rows.items()}


def test_otel_reads_a_recorded_openai_agents_handoff_in_protobuf_and_json() -> None:
    pytest.importorskip("opentelemetry.proto.trace.v1.trace_pb2")
    from_pb = _rows(import_otel(OPENAI_AGENTS.with_suffix(".pb")))
    from_json = _rows(import_otel(OPENAI_AGENTS.with_suffix(".json")))
    assert from_pb == from_json
    expected = _raw_calls(json.loads(OPENAI_AGENTS.with_suffix(".json").read_text()))
    assert {t: [row[:8] for row in rows] for t, rows in from_pb.items()} == expected
    ((trace, calls),) = from_pb.items()
    # triage's llm call and handoff, then the weather agent's llm, tool and llm: a chain.
    assert [(c[1], c[2], c[3], c[6], c[7]) for c in calls] == [
        ("llm", "gpt-4o", "triage", 64, 11), ("tool", None, "handoff to weather", 0, 0),
        ("llm", "gpt-4o-mini", "weather", 81, 15), ("tool", None, "get_weather", 0, 0),
        ("llm", "gpt-4o-mini", "weather", 110, 9)]
    assert [c[8] for c in calls] == [()] + [(calls[k][0],) for k in range(4)]


LANGGRAPH = DATA / "otel" / "langgraph_research.pb"


def test_otel_reads_a_recorded_langgraph_run_with_parallel_nodes() -> None:
    trace_pb2 = pytest.importorskip("opentelemetry.proto.trace.v1.trace_pb2")
    message = trace_pb2.TracesData()
    message.ParseFromString(LANGGRAPH.read_bytes())
    spans = [s for r in message.resource_spans for sc in r.scope_spans for s in sc.spans]
    origin = min(s.start_time_unix_nano for s in spans)
    expected = {}
    for span in spans:
        attrs = {a.key: a.value for a in span.attributes}
        if attrs["openinference.span.kind"].string_value != "LLM":
            continue
        node = json.loads(attrs["metadata"].string_value)["langgraph_node"]
        expected[node] = (span.span_id.hex(), attrs["llm.model_name"].string_value,
                          round((span.start_time_unix_nano - origin) / 1e9, 9),
                          round((span.end_time_unix_nano - origin) / 1e9, 9),
                          attrs["llm.token_count.prompt"].int_value,
                          attrs["llm.token_count.completion"].int_value)
    assert sorted(expected) == ["answer", "plan", "research_a", "research_b"]
    ((trace, calls),) = _rows(import_otel(LANGGRAPH)).items()
    assert trace == spans[0].trace_id.hex()
    got = {c[3]: (c[0], c[2], c[4], c[5], c[6], c[7]) for c in calls}
    assert got == expected
    # plan, then both research nodes at once, then answer after both: the graph's shape.
    parents = {c[3]: {next(n for n, e in expected.items() if e[0] == p) for p in c[8]}
               for c in calls}
    assert parents == {"plan": set(), "research_a": {"plan"}, "research_b": {"plan"},
                       "answer": {"research_a", "research_b"}}


def _otlp_json(attributes: dict[str, dict], start: Any = str(T0),
               end: Any = str(T0 + 5 * MS)) -> dict:
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
            "name": "ChatOpenAI", "startTimeUnixNano": start, "endTimeUnixNano": end,
            "attributes": [{"key": k, "value": v} for k, v in attributes.items()]}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def test_otel_openinference_model_from_langchain_invocation_parameters(tmp_path: Path) -> None:
    file = tmp_path / "t.json"
    file.write_text(json.dumps(_otlp_json({
        "openinference.span.kind": {"stringValue": "LLM"},
        "llm.invocation_parameters": {"stringValue": json.dumps(
            {"model_name": "gpt-4o", "temperature": 0.0, "_type": "openai-chat"})},
        "llm.token_count.prompt": {"intValue": "11"},
        "llm.token_count.completion": {"intValue": "3"}})))
    table = import_otel(file)
    assert table.llms == ("gpt-4o",)
    assert (int(table.input_tokens[0]), int(table.output_tokens[0])) == (11, 3)


def test_otel_openinference_llm_span_without_a_model_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "t.json"
    file.write_text(json.dumps(_otlp_json({"openinference.span.kind": {"stringValue": "LLM"}})))
    with pytest.raises(TraceError, match=r"spans\[0\]: attributes.llm.model_name: the "
                                         r"OpenInference LLM span names no model"):
        import_otel(file)


_GENAI_ATTRS = {"gen_ai.request.model": {"stringValue": "gpt-4o"}}
_GENAI = {"gen_ai.operation.name": '{"stringValue": "chat"}',
          "gen_ai.request.model": '{"stringValue": "gpt-4o"}'}


@pytest.mark.parametrize("token, start, field, shown", [
    ('{"doubleValue": NaN}', f'"{T0}"', "attributes.gen_ai.usage.input_tokens", "nan"),
    ('{"doubleValue": Infinity}', f'"{T0}"', "attributes.gen_ai.usage.input_tokens", "inf"),
    ('{"doubleValue": "NaN"}', f'"{T0}"', "attributes.gen_ai.usage.input_tokens", "'NaN'"),
    ('{"intValue": "12"}', "1" + "0" * 400, "startTimeUnixNano", "1000"),
    ('{"intValue": "12"}', '"' + "9" * 30 + '"', "startTimeUnixNano", "'999"),
    ('{"intValue": "12"}', str(2**64), "startTimeUnixNano", str(2**64)),
])
def test_otel_non_finite_tokens_and_huge_times_are_refused(
        tmp_path: Path, token: str, start: str, field: str, shown: str) -> None:
    attributes = ", ".join(f'{{"key": "{k}", "value": {v}}}' for k, v in
                           {**_GENAI, "gen_ai.usage.input_tokens": token}.items())
    text = ('{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb2'
            f'11c80319c", "spanId": "b7ad6b7169203331", "name": "chat", "startTimeUnixNano": '
            f'{start}, "endTimeUnixNano": "{2**64 - 1}", "attributes": [{attributes}]}}]}}]}}]}}')
    file = tmp_path / "t.json"
    file.write_text(text)
    with pytest.raises(TraceError) as info:
        import_otel(file)
    message = str(info.value)
    assert message.startswith(f"{file}: resourceSpans[0].scopeSpans[0].spans[0]: {field}: ")
    assert f"(got {shown}" in message and "Fix:" in message


def test_otel_integer_beyond_the_digit_limit_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "t.json"
    file.write_text(json.dumps(_otlp_json(_GENAI_ATTRS)).replace(
        f'"{T0}"', "1" * 5000))
    with pytest.raises(TraceError, match=rf"{file}: a number cannot be read"):
        import_otel(file)


def test_otel_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "t.json"
    file.write_bytes(json.dumps(_otlp_json(_GENAI_ATTRS), indent=1).encode()
                     .replace(b"ChatOpenAI", b"Chat\xc3(OpenAI"))
    with pytest.raises(TraceError, match=rf"{file}:\d+: encoding: not UTF-8 text"):
        import_otel(file)


def test_otel_protobuf_file_that_is_no_trace_message_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("opentelemetry.proto.trace.v1.trace_pb2")
    file = tmp_path / "t.pb"
    file.write_bytes(b"\x0a\xff\xff\xff\xff\x0f")
    with pytest.raises(TraceError, match=rf"{file}: not an OTLP protobuf trace message"):
        import_otel(file)


# ------------------------------------------------------------------------------ the CLI


def _bad_litellm(tmp_path: Path) -> Path:
    file = tmp_path / "calls.jsonl"
    file.write_text(_GOOD_RECORD.replace('"prompt_tokens": 10', '"prompt_tokens": NaN') + "\n")
    return file


def _bad_otel_encoding(tmp_path: Path) -> Path:
    file = tmp_path / "spans.json"
    file.write_bytes(json.dumps(_otlp_json(_GENAI_ATTRS)).encode().replace(b"Chat", b"\xffChat"))
    return file


def _bad_otel_time(tmp_path: Path) -> Path:
    file = tmp_path / "spans.json"
    file.write_text(json.dumps(_otlp_json(_GENAI_ATTRS, start=10**400)))
    return file


@pytest.mark.parametrize("make, fmt, needles", [
    (_bad_litellm, "litellm", [":1: prompt_tokens:", "(got nan)", "Fix:"]),
    (_bad_otel_encoding, "otel", [":1: encoding: not UTF-8 text", "Fix:"]),
    (_bad_otel_time, "otel", ["spans[0]: startTimeUnixNano:", "2^64 - 1", "Fix:"]),
])
def test_bad_trace_values_end_the_cli_with_a_clear_error(cli, tmp_path, make, fmt, needles):
    trace = make(tmp_path)
    run_dir = tmp_path / "run"
    result = cli("+workflow=traces", f"workflow.traces.path={trace}",
                 f"workflow.traces.format={fmt}", "stop_after=analyze",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for needle in [str(trace), *needles]:
        assert needle in result.stderr, (needle, result.stderr)
    assert not (run_dir / "workflow_stats.json").exists()


def test_the_cli_analyses_a_metagpt_log_that_starts_at_round_4(cli, tmp_path):
    run_dir = tmp_path / "run"
    result = cli("+workflow=traces", f"workflow.traces.path={_renumbered_log(tmp_path, 4, 1)}",
                 "workflow.traces.format=metagpt", "stop_after=analyze",
                 f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    stats = json.loads((run_dir / "workflow_stats.json").read_text())
    assert stats["num_requests"] == 1 and set(stats["llms"]) == {"gpt-4-32k"}


def test_otel_protobuf_without_opentelemetry_proto_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.proto.trace.v1.trace_pb2", None)
    file = tmp_path / "t.pb"
    file.write_bytes(b"")
    with pytest.raises(TraceError, match=r"needs the opentelemetry-proto package.*"
                                         r"pip install opentelemetry-proto"):
        import_otel(file)


# ------------------------------------------------------------------------------ model names


@pytest.mark.parametrize("logged, name", [
    ("claude-haiku-4-5", "claude-haiku-4-5"),
    ("anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
    ("Anthropic/claude-haiku-4-5", "claude-haiku-4-5"),
    ("openrouter/anthropic/claude-3-haiku", "claude-3-haiku"),
    ("hosted_vllm/meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
    ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
    ("Qwen/Qwen2.5-7B-Instruct", "Qwen/Qwen2.5-7B-Instruct"),
    ("openai/", "openai/"),
])
def test_model_name_strips_litellm_provider_prefixes_only(logged: str, name: str) -> None:
    assert model_name(logged) == name


def test_metagpt_provider_prefix_names_one_llm(tmp_path: Path) -> None:
    lines = METAGPT_LOG.read_text().splitlines()
    lines[1] = lines[1].replace('"model": "gpt-4-32k"', '"model": "azure/gpt-4-32k"', 3)
    file = tmp_path / "log.jsonl"
    file.write_text("\n".join(lines) + "\n")
    assert '"azure/gpt-4-32k"' in file.read_text()
    assert import_metagpt(file).llms == ("gpt-4-32k",)


# ------------------------------------------------------------------------------ unreadable text


@pytest.mark.parametrize("importer, good_line", [
    (import_litellm, _GOOD_RECORD),
    (import_metagpt, None),
])
def test_an_integer_beyond_pythons_digit_limit_is_refused_with_its_line(
        tmp_path: Path, importer, good_line: str | None) -> None:
    good = good_line or METAGPT_LOG.read_text().splitlines()[0]
    file = tmp_path / "log.jsonl"
    file.write_text(good + "\n\n" + '{"prompt_tokens": ' + "7" * 5000 + "}\n")
    with pytest.raises(TraceError, match=rf"{file}:3: a number cannot be read.*Fix:"):
        importer(file)


def test_metagpt_log_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "log.jsonl"
    file.write_bytes(METAGPT_LOG.read_bytes().replace(b"Write a deep", b"Write a \xe9 deep", 1))
    with pytest.raises(TraceError, match=rf"{file}:1: encoding: not UTF-8 text"):
        import_metagpt(file)
