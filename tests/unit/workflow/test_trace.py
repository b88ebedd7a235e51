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
    ([rec("a", input_tokens=-4)], "token counts must be integers in [0, 1,000,000,000]"),
    # JSON that Python reads as non-finite or huge numbers, and times before 0
    (['{"request_id": "r1", "call_id": "a", "llm": "a", "start_s": 0, "end_s": 1, '
      '"input_tokens": NaN}'], "input_tokens: token counts must be integers"),
    (['{"request_id": "r1", "call_id": "a", "llm": "a", "start_s": 0, "end_s": 1, '
      '"output_tokens": Infinity}'], "output_tokens: token counts must be integers"),
    ([rec("a", input_tokens=1e19)], "input_tokens: token counts must be integers"),
    ([rec("a", input_tokens=10**19)], "(got 10000000000000000000)"),
    ([rec("a", start_s=-5.0)], "start_s: request 'r1' call 'a' has a time that is not finite "
                                "seconds in [0, 1e+12]"),
    (['{"request_id": "r1", "call_id": "a", "llm": "a", "start_s": 0, "end_s": Infinity}'],
     "end_s: request 'r1' call 'a' has a time that is not finite seconds"),
    (['{"request_id": "r1", "call_id": "a", "llm": "a", "start_s": 0, "end_s": 1e400}'],
     "end_s: request 'r1' call 'a' has a time that is not finite seconds"),
    (['{"request_id": "r1", "call_id": "a", "llm": "a", "start_s": 0, "end_s": '
      + "1" * 400 + "}"], "a field has the wrong type"),
    (["[" * 100_000 + "]" * 100_000], "nested too deeply"),
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


def test_a_trace_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(json.dumps(rec("a")).encode() + b"\n" + b'{"request_id": "\xff"}\n')
    with pytest.raises(TraceError) as info:
        read_jsonl(path)
    assert f"{path}:2: not UTF-8 text: the byte(s) ff cannot be decoded" in str(info.value)
    assert "Fix: save the file as UTF-8" in str(info.value)


def test_calls_built_by_an_importer_are_range_checked():
    """table_from_calls, which every importer feeds, refuses what JSON Lines refuses."""
    for bad, needle in [({"input_tokens": float("nan")}, "input_tokens: "),
                        ({"output_tokens": 10**19}, "output_tokens: "),
                        ({"start_s": -1.0}, "start_s: "), ({"end_s": float("inf")}, "end_s: ")]:
        fields = {"start_s": 0.0, "end_s": 1.0, "input_tokens": 1, "output_tokens": 1, **bad}
        with pytest.raises(TraceError, match=needle):
            table_from_calls([Call("r", "c", "llm", llm="a", **fields)], "mem")


def test_more_llm_names_than_an_int16_index_holds():
    n = 40_000
    calls = [Call(f"r{i}", "c", "llm", 0.0, 1.0, (), f"m{i}", None, 1, 1) for i in range(n)]
    table = table_from_calls(calls, "mem")
    assert len(table.llms) == n and int(table.llm.min()) == 0
    # every call keeps its own llm through the index (an int16 index wraps past 32,767)
    assert [table.llms[i] for i in table.llm[[0, 32_767, 32_768, n - 1]]] == [
        "m0", "m32767", "m32768", f"m{n - 1}"]
    renamed = rename_llms(table, {"m39999": "m0"})
    assert len(renamed.llms) == n - 1 and renamed.llms[renamed.llm[n - 1]] == "m0"
    joined = concat_tables([table, table_from_calls([Call("x", "c", "llm", 0.0, 1.0, (), "zz",
                                                          None, 1, 1)], "b")], "both")
    assert joined.llms[joined.llm[n]] == "zz" and joined.llms[joined.llm[n - 1]] == "m39999"


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
