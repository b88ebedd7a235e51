"""Importers on logs laid out as published tools write them: MetaGPT logs that start at a later
round, litellm folders of single-role sessions, provider-prefixed model names, OpenInference
attributes and OTLP protobuf files, and malformed values that must be refused, not crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import Call, TraceTable
from scepsy_opt.workflow.importers.metagpt import import_metagpt

DATA = Path(__file__).resolve().parents[2] / "data"
TAU2 = DATA / "litellm" / "tau2_retail"
SESSIONS = ("0e1f2eca", "2473490a", "b8eae4da")
METAGPT_LOG = DATA / "metagpt" / "metagpt_log_3_round.jsonl"


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
