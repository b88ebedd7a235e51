import json

import numpy as np
import pytest

from scepsy_opt.core.errors import TraceError
from scepsy_opt.core.trace import (
    Call,
    concat_tables,
    read_jsonl,
    rename_llms,
    table_from_calls,
    write_jsonl,
)


def write(tmp_path, records, name="t.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                            for r in records))
    return path


def rec(call_id, parents=(), **extra):
    base = {"request_id": "r1", "call_id": call_id, "parents": list(parents), "llm": "a",
            "start_s": 0.0, "end_s": 1.0, "input_tokens": 10, "output_tokens": 2}
    base.update(extra)
    return base


def test_round_trip_keeps_every_field(tmp_path):
    calls = [
        Call("r1", "c0", "llm", 0.0, 1.5, (), "a", "plan", 100, 20),
        Call("r1", "t0", "tool", 1.5, 2.0, ("c0",), None, "search", 0, 0),
        Call("r1", "c1", "llm", 2.0, 4.0, ("t0", "c0"), "b", None, 300, 0),
        Call("r2", "c0", "llm", 0.0, 0.5, (), "b", None, 5, 1),
    ]
    table = table_from_calls(calls, "mem")
    path = tmp_path / "out.jsonl"
    write_jsonl(table, path)
    again = read_jsonl(path)
    assert [c for _, cs in again.iter_requests() for c in cs] == calls
    lines = path.read_text().splitlines()
    assert json.loads(lines[1]) == {"request_id": "r1", "call_id": "t0", "parents": ["c0"],
                                    "kind": "tool", "name": "search", "start_s": 1.5,
                                    "end_s": 2.0}


def test_sampled_ids_are_generated_per_request():
    table = table_from_calls([Call("r", "x", "llm", 0, 1, (), "a")], "mem")
    assert table.call_id(0, 0) == "x"


@pytest.mark.parametrize("records, needle", [
    ([rec("a", ["b"]), rec("b", ["a"])], "dependency cycle: "),
    ([rec("a"), rec("b", ["c", "a"]), rec("c", ["b"])], "dependency cycle"),
    ([rec("a", ["zz"])], "depends on unknown call 'zz'"),
    ([rec("a"), rec("a")], "appears twice"),
    ([rec("a", start_s=3.0, end_s=1.0)], "ends before it starts"),
    ([rec("a", input_tokens=-4)], "negative token count"),
    ([rec("a", input_tokens=2.5)], "token counts must be integers"),
    ([rec("a", kind="gpu")], "unknown kind"),
    ([rec("a", llm=None)], "without an llm"),
    ([{k: v for k, v in rec("a").items() if k != "end_s"}], "missing field(s) end_s"),
    ([{**rec("a"), "parents": "b"}], "parents must be a list"),
    (['{"request_id": "r1", '], "malformed JSON"),
    (["[1, 2]"], "must be a JSON object"),
])
def test_bad_traces_name_the_file_and_the_problem(tmp_path, records, needle):
    path = write(tmp_path, records)
    with pytest.raises(TraceError) as info:
        read_jsonl(path)
    message = str(info.value)
    assert str(path) in message and needle in message and "Fix:" in message


def test_cycle_message_lists_the_calls_on_it(tmp_path):
    path = write(tmp_path, [rec("root"), rec("a", ["root", "c"]), rec("b", ["a"]),
                            rec("c", ["b"])])
    with pytest.raises(TraceError) as info:
        read_jsonl(path)
    names = str(info.value).split("cycle: ")[1].split(" (")[0].split(". Fix")[0]
    assert set(names.split(" <- ")) == {"a", "b", "c"}


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(TraceError, match="does not exist"):
        read_jsonl(tmp_path / "none.jsonl")
    with pytest.raises(TraceError, match="holds no calls"):
        read_jsonl(write(tmp_path, []))


def test_select_concat_and_rename():
    calls = [Call(r, f"c{i}", "llm", i, i + 1, (f"c{i - 1}",) if i else (), llm, None, 1, 1)
             for r, llm in (("r1", "a"), ("r2", "b")) for i in range(3)]
    table = table_from_calls(calls, "mem")
    second = table.select_requests(np.array([1]))
    assert second.request_ids == ("r2",) and second.num_calls == 3
    assert second.llms == ("a", "b") and set(second.llm.tolist()) == {1}
    assert second.parent_idx.tolist() == [0, 1]
    both = concat_tables([second, table.select_requests(np.array([0]))], source="x")
    assert both.request_ids == ("r2", "r1") and both.parent_idx.tolist() == [0, 1, 3, 4]
    merged = rename_llms(table, {"a": "z", "b": "z"})
    assert merged.llms == ("z",) and set(merged.llm.tolist()) == {0}
    with pytest.raises(TraceError, match="request ids repeat"):
        concat_tables([table, table], source="x")
