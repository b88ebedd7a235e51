"""Trace importers: litellm logs, MetaGPT round logs, OTLP/JSON exports, timing dependencies."""

from __future__ import annotations

import copy
import json
import logging
import random
import shutil
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import Call, TraceTable, table_from_calls, write_jsonl
from scepsy_opt.workflow.importers import IMPORTERS, load_traces
from scepsy_opt.workflow.importers._timing import infer_dependencies
from scepsy_opt.workflow.importers.litellm import import_litellm
from scepsy_opt.workflow.importers.metagpt import detect_role, import_metagpt
from scepsy_opt.workflow.importers.otel import import_otel

DATA = Path(__file__).resolve().parents[2] / "data"
TAU2 = DATA / "litellm" / "tau2_retail"
SESSIONS = ("0e1f2eca", "2473490a", "b8eae4da")
METAGPT_LOG = DATA / "metagpt" / "metagpt_log_3_round.jsonl"
OTEL = DATA / "otel" / "rag_trace.json"


def calls_of(table: TraceTable) -> dict[str, list[Call]]:
    return dict(table.iter_requests())


def by_id(calls: list[Call]) -> dict[str, Call]:
    return {c.call_id: c for c in calls}


# ------------------------------------------------------------------------------ timing


def _call(call_id: str, start: float, end: float) -> Call:
    return Call(request_id="r", call_id=call_id, kind="llm", start_s=start, end_s=end, llm="m")


def _parents(calls: list[Call]) -> dict[str, set[str]]:
    return {c.call_id: set(c.parents) for c in calls}


def test_infer_dependencies_chain_within_tolerance() -> None:
    calls = [_call("a", 0.0, 1.0), _call("b", 1.0, 2.0), _call("c", 1.9995, 3.0),
             _call("d", 3.5, 4.0)]
    assert _parents(infer_dependencies(calls)) == {
        "a": set(), "b": {"a"}, "c": {"b"}, "d": {"c"}}


def test_infer_dependencies_fan_out_and_join() -> None:
    calls = [_call("root", 0.0, 1.0), _call("x", 1.0, 2.0), _call("y", 1.0, 3.0),
             _call("z", 1.001, 2.5), _call("join", 3.0, 4.0), _call("late", 5.0, 6.0)]
    assert _parents(infer_dependencies(calls)) == {
        "root": set(), "x": {"root"}, "y": {"root"}, "z": {"root"},
        "join": {"x", "y", "z"}, "late": {"join"}}


def test_infer_dependencies_overlapping_calls() -> None:
    # b overlaps a, so it depends on nothing; c starts after a ended but while b runs.
    calls = [_call("a", 0.0, 2.0), _call("b", 1.0, 3.0), _call("c", 2.5, 4.0),
             _call("d", 4.0, 5.0)]
    assert _parents(infer_dependencies(calls)) == {
        "a": set(), "b": set(), "c": {"a"}, "d": {"b", "c"}}


def test_infer_dependencies_zero_duration_ties_stay_acyclic() -> None:
    calls = [_call("a", 1.0, 1.0), _call("b", 1.0, 1.0), _call("c", 2.0, 3.0)]
    result = infer_dependencies(calls)
    assert _parents(result) == {"a": set(), "b": {"a"}, "c": {"b"}}
    table_from_calls(result, "test")  # raises on a cycle


def test_infer_dependencies_keeps_input_order_and_ignores_it_for_parents() -> None:
    calls = [_call("root", 0.0, 1.0), _call("x", 1.0, 2.0), _call("y", 1.0, 3.0),
             _call("join", 3.0, 4.0)]
    shuffled = calls[:]
    random.Random(7).shuffle(shuffled)
    result = infer_dependencies(shuffled)
    assert [c.call_id for c in result] == [c.call_id for c in shuffled]
    assert _parents(result) == _parents(infer_dependencies(calls))


def test_infer_dependencies_rejects_several_requests() -> None:
    other = Call(request_id="other", call_id="z", kind="llm", start_s=0, end_s=1, llm="m")
    with pytest.raises(ValueError, match="one request"):
        infer_dependencies([_call("a", 0, 1), other])


# ------------------------------------------------------------------------------ litellm


def _raw_records(session: str) -> dict[str, list[dict]]:
    """Role -> success records, read straight from the session's files."""
    records: dict[str, list[dict]] = {}
    for file in sorted((TAU2 / session).rglob("*.jsonl")):
        role = file.relative_to(TAU2 / session).parts[0]
        lines = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        records.setdefault(role, []).extend(r for r in lines if r["status"] == "success")
    return records


@pytest.mark.parametrize("session", SESSIONS)
def test_litellm_session_counts_and_tokens_match_the_raw_files(session: str) -> None:
    raw = _raw_records(session)
    table = import_litellm(TAU2 / session)
    assert table.request_ids == (session,)
    assert table.num_calls == sum(len(r) for r in raw.values())
    assert int(table.input_tokens.sum()) == sum(
        r["prompt_tokens"] for rs in raw.values() for r in rs)
    assert int(table.output_tokens.sum()) == sum(
        r["completion_tokens"] for rs in raw.values() for r in rs)
    calls = calls_of(table)[session]
    assert Counter(c.name for c in calls) == {role: len(rs) for role, rs in raw.items()}


@pytest.mark.parametrize("session", SESSIONS)
def test_litellm_session_is_one_chain_in_end_time_order(session: str) -> None:
    raw = _raw_records(session)
    ends = sorted(
        (datetime.fromisoformat(r["timestamp"]).timestamp(), f"{role}-{k}")
        for role, rs in raw.items() for k, r in enumerate(rs))
    calls = by_id(calls_of(import_litellm(TAU2 / session))[session])
    first = calls[ends[0][1]]
    assert first.parents == () and first.start_s == first.end_s == 0.0
    for (prev_end, prev_id), (end, call_id) in zip(ends, ends[1:], strict=False):
        call = calls[call_id]
        assert call.parents == (prev_id,)
        assert call.start_s == pytest.approx(prev_end - ends[0][0], abs=1e-6)
        assert call.end_s == pytest.approx(end - ends[0][0], abs=1e-6)
    # Both roles take part in the one chain.
    assert {calls[cid].name for _, cid in ends} == {"agent", "benchmark"}


def test_litellm_llm_from_model_and_role() -> None:
    by_model = import_litellm(TAU2 / SESSIONS[0])
    assert by_model.llms == ("claude-haiku-4-5",)
    by_role = import_litellm(TAU2 / SESSIONS[0], llm_from="role")
    assert by_role.llms == ("agent", "benchmark")
    for call in calls_of(by_role)[SESSIONS[0]]:
        assert call.llm == call.name
        assert call.call_id.startswith(f"{call.name}-")


def test_litellm_folder_of_sessions_is_one_request_per_session() -> None:
    table = import_litellm(TAU2)
    assert table.request_ids == SESSIONS
    for session, calls in calls_of(table).items():
        assert len(calls) == sum(len(r) for r in _raw_records(session).values())


def test_litellm_explicit_layout_overrides_the_guess() -> None:
    # Read as one session, the session folders become roles of a single request.
    table = import_litellm(TAU2, layout="session")
    assert table.request_ids == ("tau2_retail",)
    assert set(table.names) == set(SESSIONS)


def test_litellm_single_file_is_one_request_named_by_its_stem(tmp_path: Path) -> None:
    src = TAU2 / SESSIONS[0] / "agent" / "litellm" / "trace.jsonl"
    file = tmp_path / "agent_only.jsonl"
    shutil.copy(src, file)
    table = import_litellm(file)
    assert table.request_ids == ("agent_only",)
    assert table.num_calls == len(_raw_records(SESSIONS[0])["agent"])
    assert table.names == ("agent_only",)


def _payload(start: float, end: float, **extra: object) -> str:
    record = {"id": f"c{start}", "startTime": start, "endTime": end, "model": "gpt-4o",
              "prompt_tokens": 100, "completion_tokens": 10, "status": "success"}
    record.update(extra)
    return json.dumps(record)


def test_litellm_standard_logging_payload_keeps_times_and_infers_parents(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    session = tmp_path / "s1"
    (session / "planner").mkdir(parents=True)
    (session / "worker").mkdir()
    (session / "planner" / "log.jsonl").write_text("\n".join([
        _payload(1000.0, 1001.0),
        _payload(1001.2, 1001.3, status="failure", prompt_tokens=None),
        _payload(1003.5, 1004.0),
    ]) + "\n")
    (session / "worker" / "log.jsonl").write_text("\n".join([
        _payload(1001.0, 1002.0, model="llama-3.1-8b"),
        _payload(1001.0, 1003.5, model="llama-3.1-8b"),
    ]) + "\n")
    with caplog.at_level(logging.INFO):
        table = import_litellm(session)
    assert "skipped 1 call(s)" in caplog.text
    calls = by_id(calls_of(table)["s1"])
    assert set(calls) == {"planner-0", "planner-1", "worker-0", "worker-1"}
    assert (calls["planner-0"].start_s, calls["planner-0"].end_s) == (0.0, 1.0)
    assert (calls["worker-1"].start_s, calls["worker-1"].end_s) == (1.0, 3.5)
    assert calls["worker-0"].parents == calls["worker-1"].parents == ("planner-0",)
    assert set(calls["planner-1"].parents) == {"worker-0", "worker-1"}
    assert calls["worker-0"].llm == "llama-3.1-8b"


def test_litellm_error_names_file_and_line_of_malformed_json(tmp_path: Path) -> None:
    file = tmp_path / "broken.jsonl"
    file.write_text(_payload(0.0, 1.0) + "\n{not json\n")
    with pytest.raises(TraceError) as info:
        import_litellm(file)
    assert f"{file}:2" in str(info.value)
    assert "malformed JSON" in str(info.value)
    assert "Fix:" in str(info.value)


def test_litellm_error_names_file_line_and_field_of_missing_model(tmp_path: Path) -> None:
    record = json.loads(_payload(0.0, 1.0))
    del record["model"]
    file = tmp_path / "nomodel.jsonl"
    file.write_text(_payload(0.0, 1.0) + "\n\n" + json.dumps(record) + "\n")
    with pytest.raises(TraceError) as info:
        import_litellm(file)
    message = str(info.value)
    assert f"{file}:3: model:" in message
    assert "names no model" in message and "(got None)" in message


def test_litellm_error_on_mixed_record_styles(tmp_path: Path) -> None:
    file = tmp_path / "mixed.jsonl"
    end_only = {"timestamp": "2026-04-23T17:42:22+00:00", "status": "success", "model": "m",
                "prompt_tokens": 1, "completion_tokens": 1}
    file.write_text(_payload(0.0, 1.0) + "\n" + json.dumps(end_only) + "\n")
    with pytest.raises(TraceError, match=rf"{file}:2: timestamp: .*mixes"):
        import_litellm(file)


def test_litellm_error_on_unknown_llm_from() -> None:
    with pytest.raises(TraceError, match="llm_from.*'agent'.*model, role"):
        import_litellm(TAU2, llm_from="agent")


# ------------------------------------------------------------------------------ metagpt


def _metagpt_raw() -> list[dict]:
    return [json.loads(line) for line in METAGPT_LOG.read_text().splitlines() if line.strip()]


def test_metagpt_calls_and_roles() -> None:
    table = import_metagpt(METAGPT_LOG)
    assert table.request_ids == ("metagpt_log_3_round",)
    assert table.num_calls == 25
    calls = calls_of(table)["metagpt_log_3_round"]
    roles = Counter(c.name.split(":")[0] for c in calls)
    assert roles == {"architect": 1, "engineer": 16, "reviewer": 8}
    assert table.llms == ("gpt-4-32k",)
    roles_by_round = {c.call_id.split("-")[0]: c.name.split(":")[0] for c in calls}
    assert roles_by_round == {"r0": "architect", "r1": "engineer", "r2": "reviewer",
                              "r3": "engineer"}
    raw = _metagpt_raw()
    assert int(table.input_tokens.sum()) == sum(
        resp["usage"]["prompt_tokens"] for k, line in enumerate(raw)
        for resp in line[f"r{k}_responses"].values())
    assert int(table.output_tokens.sum()) == sum(
        resp["usage"]["completion_tokens"] for k, line in enumerate(raw)
        for resp in line[f"r{k}_responses"].values())


def test_metagpt_role_rule_ignores_architecture_in_review_feedback() -> None:
    raw = _metagpt_raw()
    query = raw[3]["r3_queries"]["tensor.py"]
    assert "architect" in (query["system"] + query["user_msg"]).lower()  # "architecture"
    assert detect_role(query["system"], query["user_msg"]) == "engineer"
    architect = raw[0]["r0_queries"]["noname"]
    assert detect_role(architect["system"], architect["user_msg"]) == "architect"


def test_metagpt_rounds_are_barriers() -> None:
    raw = _metagpt_raw()
    calls = calls_of(import_metagpt(METAGPT_LOG))["metagpt_log_3_round"]
    ids = {k: {f"r{k}-{key}" for key in line[f"r{k}_responses"]} for k, line in enumerate(raw)}
    assert [len(ids[k]) for k in range(4)] == [1, 8, 8, 8]
    for call in calls:
        k = int(call.call_id.split("-")[0][1:])
        assert set(call.parents) == (ids[k - 1] if k > 0 else set())
        assert len(call.parents) == (len(ids[k - 1]) if k > 0 else 0)


def _measured_and_unmeasured() -> tuple[dict[str, float], dict[str, int]]:
    """Call id -> created gap (calls with a successor), and call id -> completion tokens."""
    measured: dict[str, float] = {}
    unmeasured: dict[str, int] = {}
    for k, line in enumerate(_metagpt_raw()):
        items = sorted(line[f"r{k}_responses"].items(), key=lambda kv: kv[1]["created"])
        for (key, resp), (_, nxt) in zip(items, items[1:], strict=False):
            measured[f"r{k}-{key}"] = nxt["created"] - resp["created"]
        last_key, last = items[-1]
        unmeasured[f"r{k}-{last_key}"] = last["usage"]["completion_tokens"]
    return measured, unmeasured


def test_metagpt_durations_from_created_gaps_and_token_fit() -> None:
    calls = by_id(calls_of(import_metagpt(METAGPT_LOG))["metagpt_log_3_round"])
    assert calls["r1-tensor.py"].duration_s == 1701865294 - 1701865272 == 22
    measured, unmeasured = _measured_and_unmeasured()
    assert len(measured) == 21 and set(unmeasured) == {
        "r0-noname", "r1-main.py", "r2-main.py", "r3-main.py"}
    for call_id, gap in measured.items():
        assert calls[call_id].duration_s == pytest.approx(gap)
    tokens = [calls[c].output_tokens for c in measured]
    slope, intercept = np.polyfit(tokens, list(measured.values()), 1)
    assert 0.03 < slope < 0.05  # about 0.04 s per completion token
    for call_id, n in unmeasured.items():
        assert calls[call_id].duration_s == pytest.approx(intercept + slope * n)


def test_metagpt_durations_follow_created_order_not_log_order(tmp_path: Path) -> None:
    raw = _metagpt_raw()
    for k, line in enumerate(raw):
        for part in ("queries", "responses"):
            items = list(line[f"r{k}_{part}"].items())
            line[f"r{k}_{part}"] = dict(reversed(items))
    file = tmp_path / "reordered.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in raw))
    got = by_id(calls_of(import_metagpt(file))["reordered"])
    expected = by_id(calls_of(import_metagpt(METAGPT_LOG))["metagpt_log_3_round"])
    assert {c: got[c].duration_s for c in got} == pytest.approx(
        {c: expected[c].duration_s for c in expected})


def test_metagpt_round_starts_follow_the_previous_round() -> None:
    calls = calls_of(import_metagpt(METAGPT_LOG))["metagpt_log_3_round"]
    rounds: dict[int, list[Call]] = {}
    for call in calls:
        rounds.setdefault(int(call.call_id.split("-")[0][1:]), []).append(call)
    assert {c.start_s for c in rounds[0]} == {0.0}
    for k in (1, 2, 3):
        assert {c.start_s for c in rounds[k]} == {max(c.end_s for c in rounds[k - 1])}
    # The logical makespan is far below the replay's wall time (rounds hours apart).
    assert max(c.end_s for c in rounds[3]) < 200


def test_metagpt_llm_from_role_and_folder(tmp_path: Path) -> None:
    assert import_metagpt(METAGPT_LOG, llm_from="role").llms == (
        "architect", "engineer", "reviewer")
    shutil.copy(METAGPT_LOG, tmp_path / "a.jsonl")
    shutil.copy(METAGPT_LOG, tmp_path / "b.jsonl")
    table = import_metagpt(tmp_path)
    assert table.request_ids == ("a", "b")
    assert table.num_calls == 50


def test_metagpt_error_names_file_line_and_field_without_usage(tmp_path: Path) -> None:
    raw = _metagpt_raw()
    broken = copy.deepcopy(raw)
    del broken[1]["r1_responses"]["tensor.py"]["usage"]
    file = tmp_path / "nousage.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in broken))
    with pytest.raises(TraceError) as info:
        import_metagpt(file)
    message = str(info.value)
    assert f"{file}:2: r1_responses.tensor.py.usage:" in message
    assert "no usage" in message and "Fix:" in message


def test_metagpt_error_on_misnumbered_round(tmp_path: Path) -> None:
    raw = _metagpt_raw()
    file = tmp_path / "skip.jsonl"
    file.write_text(json.dumps(raw[0]) + "\n" + json.dumps(raw[2]) + "\n")
    with pytest.raises(TraceError, match=rf"{file}:2: round 1 must hold r1_queries"):
        import_metagpt(file)


# ------------------------------------------------------------------------------ otel

RAG = "4bf92f3577b34da6a3ce929d0e0e4736"
WX = "0af7651916cd43dd8448eb211c80319c"
REWRITE, TOOL, ANSWER = "a1b2c3d4e5f60002", "a1b2c3d4e5f60003", "a1b2c3d4e5f60008"
RERANKS = {"a1b2c3d4e5f60005", "a1b2c3d4e5f60006", "a1b2c3d4e5f60007"}


def test_otel_rag_fan_out_and_join() -> None:
    table = import_otel(OTEL)
    assert table.request_ids == (RAG, WX)
    calls = by_id(calls_of(table)[RAG])
    # The agent span and the rerank wrapper are structure only.
    assert set(calls) == {REWRITE, TOOL, ANSWER} | RERANKS
    assert calls[REWRITE].parents == ()
    assert calls[TOOL].parents == (REWRITE,)
    for rerank in RERANKS:
        assert calls[rerank].parents == (TOOL,)
        assert calls[rerank].llm == "llama-3.1-8b-instruct"
    assert set(calls[ANSWER].parents) == RERANKS


def test_otel_tokens_tools_and_relative_times() -> None:
    requests = calls_of(import_otel(OTEL))
    rag = by_id(requests[RAG])
    assert (rag[REWRITE].input_tokens, rag[REWRITE].output_tokens) == (212, 38)
    assert (rag[ANSWER].input_tokens, rag[ANSWER].output_tokens) == (1830, 214)
    assert rag[ANSWER].llm == "llama-3.1-70b-instruct"
    assert sum(rag[r].input_tokens for r in RERANKS) == 640 + 655 + 610
    assert rag[TOOL].kind == "tool" and rag[TOOL].name == "vector_search"
    assert (rag[TOOL].input_tokens, rag[TOOL].llm) == (0, None)
    # Relative to the agent span, which starts first (exact to the nanosecond).
    assert rag[REWRITE].start_s == pytest.approx(0.010, abs=1e-12)
    assert rag[TOOL].start_s == pytest.approx(0.625, abs=1e-12)
    assert rag[TOOL].end_s == pytest.approx(0.790, abs=1e-12)
    assert rag[ANSWER].end_s == pytest.approx(5.950, abs=1e-12)
    # Second trace: older token attributes, response model only, tool named by its span.
    wx = requests[WX]
    assert [c.kind for c in wx] == ["llm", "tool", "llm"]
    assert [c.llm for c in wx] == ["gpt-4o-mini-2024-07-18", None, "gpt-4o-mini-2024-07-18"]
    assert [(c.input_tokens, c.output_tokens) for c in wx] == [(150, 22), (0, 0), (210, 48)]
    assert wx[1].name == "execute_tool get_weather"
    assert [c.parents for c in wx] == [(), (wx[0].call_id,), (wx[1].call_id,)]
    assert wx[0].start_s == pytest.approx(0.05, abs=1e-12)


def test_otel_json_lines_batches_give_the_same_calls(tmp_path: Path) -> None:
    document = json.loads(OTEL.read_text())
    lines = []
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:  # one batch per scope: a trace spans two lines
            lines.append({"resourceSpans": [{**resource, "scopeSpans": [scope]}]})
    file = tmp_path / "export.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert len(lines) == 3
    assert calls_of(import_otel(file)) == calls_of(import_otel(OTEL))


def test_otel_span_order_does_not_matter(tmp_path: Path) -> None:
    document = json.loads(OTEL.read_text())
    for resource in document["resourceSpans"]:
        resource["scopeSpans"].reverse()
        for scope in resource["scopeSpans"]:
            scope["spans"].reverse()
    file = tmp_path / "reversed.json"
    file.write_text(json.dumps(document))
    expected = {rid: by_id(calls) for rid, calls in calls_of(import_otel(OTEL)).items()}
    got = {rid: by_id(calls) for rid, calls in calls_of(import_otel(file)).items()}
    assert got == expected


def test_otel_error_without_resource_spans(tmp_path: Path) -> None:
    file = tmp_path / "metrics.json"
    file.write_text(json.dumps({"resourceMetrics": []}))
    with pytest.raises(TraceError) as info:
        import_otel(file)
    message = str(info.value)
    assert f"{file}: resourceSpans:" in message
    assert "'resourceMetrics'" in message and "Fix:" in message


def test_otel_error_names_the_line_of_a_json_lines_export(tmp_path: Path) -> None:
    good = OTEL.read_text().replace("\n", "")
    file = tmp_path / "export.jsonl"
    file.write_text(good + "\n" + json.dumps({"spans": []}) + "\n")
    with pytest.raises(TraceError, match=rf"{file}:2: resourceSpans:"):
        import_otel(file)


def test_otel_error_names_the_span_with_a_bad_time(tmp_path: Path) -> None:
    document = json.loads(OTEL.read_text())
    span = document["resourceSpans"][0]["scopeSpans"][1]["spans"][2]
    span["endTimeUnixNano"] = "soon"
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(document))
    with pytest.raises(TraceError) as info:
        import_otel(file)
    assert (f"{file}: resourceSpans[0].scopeSpans[1].spans[2]: endTimeUnixNano:"
            in str(info.value))


# ------------------------------------------------------------------------------ registry


def test_registry_and_load_traces(tmp_path: Path) -> None:
    assert set(IMPORTERS) == {"jsonl", "litellm", "otel", "metagpt"}
    table = load_traces(METAGPT_LOG, "metagpt", llm_from="role")
    assert table.llms == ("architect", "engineer", "reviewer")
    out = tmp_path / "trace.jsonl"
    write_jsonl(table, out)
    back = load_traces(out, "jsonl")
    assert calls_of(back) == calls_of(table)


def test_load_traces_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(TraceError, match="format.*'langfuse'.*jsonl, litellm, metagpt, otel"):
        load_traces(OTEL, "langfuse")


def test_load_traces_unknown_option() -> None:
    with pytest.raises(TraceError, match="format 'otel' takes no option.*llm_from"):
        load_traces(OTEL, "otel", llm_from="role")
