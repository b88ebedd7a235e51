"""Importers on logs laid out as published tools write them: MetaGPT logs that start at a later
round, litellm folders of single-role sessions, provider-prefixed model names, OpenInference
attributes and OTLP protobuf files, and malformed values that must be refused, not crash."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import Call, TraceTable
from scepsy_opt.workflow.importers.litellm import import_litellm
from scepsy_opt.workflow.importers.metagpt import import_metagpt

DATA = Path(__file__).resolve().parents[2] / "data"
TAU2 = DATA / "litellm" / "tau2_retail"
SESSIONS = ("0e1f2eca", "2473490a", "b8eae4da")
METAGPT_LOG = DATA / "metagpt" / "metagpt_log_3_round.jsonl"
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
    with pytest.raises(TraceError, match=rf"{file}:2: encoding: the file is not UTF-8 text "
                                         r"\(byte \d+: invalid start byte\) \(got b'\\xff'\)"):
        import_litellm(file)
