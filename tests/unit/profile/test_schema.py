import math

import pytest

from scepsy_opt.core.profile_table import (
    COLUMN_NAMES,
    ProfileError,
    make_table,
    read_csv,
    table_from_columns,
    to_csv,
    write_csv,
)

ENV = {"backend": "test", "device": "none"}
ROWS = [
    {"kind": "prefill", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 4,
     "prompt_tokens": 512, "time_ms": 12.5, "time_ms_p10": 12.0, "time_ms_p90": 13.1,
     "repetitions": 5},
    {"kind": "decode", "tp": 2, "gpu_fraction": 0.5, "status": "ok", "batch_size": 8,
     "context_tokens": 2048, "time_ms": 7.25},
    {"kind": "batch", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 2,
     "prompt_tokens": 128, "output_tokens": 64, "time_ms": 900.0},
    {"kind": "memory", "tp": 1, "gpu_fraction": 0.25, "status": "infeasible",
     "context_tokens": 2048, "error": "weights 15.0 GiB exceed 18.0 GiB, really"},
    {"kind": "memory", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "context_tokens": 2048,
     "weights_gib_per_gpu": 14.96, "kv_bytes_per_token_per_gpu": 131072,
     "kv_capacity_tokens": 400000, "max_num_seqs": 195},
    {"kind": "load", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "rate_rps": 2.0,
     "throughput_rps": 1.98, "ttft_ms_mean": 40.0, "ttft_ms_p50": 35.0, "ttft_ms_p99": 120.0,
     "tpot_ms_mean": 9.0, "tpot_ms_p50": 8.5, "tpot_ms_p99": 15.0, "latency_ms_mean": 1200.0,
     "latency_ms_p50": 1100.0, "latency_ms_p99": 3000.0},
    {"kind": "decode", "tp": 8, "gpu_fraction": 1.0, "status": "failed", "batch_size": 1,
     "context_tokens": 512, "error": "RuntimeError: CUDA out of memory\nsecond line"},
]


def test_round_trip_keeps_every_value(tmp_path):
    table = make_table("l", "g", ENV, ROWS)
    path = tmp_path / "p.csv"
    write_csv(table, path)
    again = read_csv(path)
    assert again.llm == "l" and again.gpu == "g"
    assert dict(again.env) == ENV
    assert again.records() == table.records()
    assert again.records()[0] == {"kind": "prefill", "llm": "l", "gpu": "g", "tp": 1,
                                  "gpu_fraction": 1.0, "status": "ok", "batch_size": 4,
                                  "prompt_tokens": 512, "time_ms": 12.5, "time_ms_p10": 12.0,
                                  "time_ms_p90": 13.1, "repetitions": 5}
    text = path.read_text().splitlines()
    assert text[0] == "# scepsy_opt profile schema 1"
    assert text[3] == ",".join(COLUMN_NAMES)


def test_columns_constructor_matches_rows():
    columns = {"kind": ["decode", "decode"], "tp": [1, 1], "gpu_fraction": [1.0, 0.5],
               "status": ["ok", "ok"], "batch_size": [1, 8], "context_tokens": [512, 512],
               "time_ms": [5.0, 9.0]}
    table = table_from_columns("l", "g", ENV, columns)
    assert len(table) == 2 and math.isnan(table["time_ms_p10"][0])
    assert table.rows("decode")["time_ms"].tolist() == [5.0, 9.0]
    assert table.configurations() == [(1, 0.5), (1, 1.0)]


@pytest.mark.parametrize("row, needle", [
    ({"kind": "warmup", "tp": 1, "gpu_fraction": 1.0, "status": "ok"}, "unknown row kind"),
    ({"kind": "decode", "tp": 1, "gpu_fraction": 1.0, "status": "maybe"}, "unknown row status"),
    ({"kind": "decode", "tp": 0, "gpu_fraction": 1.0, "status": "ok", "batch_size": 1,
      "context_tokens": 1, "time_ms": 1.0}, "tp must be >= 1"),
    ({"kind": "decode", "tp": 1, "gpu_fraction": 1.5, "status": "ok", "batch_size": 1,
      "context_tokens": 1, "time_ms": 1.0}, "gpu_fraction in (0, 1]"),
    ({"kind": "decode", "tp": 1, "gpu_fraction": 1.0, "status": "failed"}, "needs an error"),
    ({"kind": "decode", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 1,
      "time_ms": 1.0}, "context_tokens"),
    ({"kind": "prefill", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 1,
      "prompt_tokens": 8, "time_ms": float("inf")}, "time_ms"),
    ({"kind": "prefill", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "batch_size": 1,
      "prompt_tokens": 8, "time_ms": 0.0}, "a step time must be > 0"),
    ({"kind": "load", "tp": 1, "gpu_fraction": 1.0, "status": "ok", "rate_rps": 1.0},
     "throughput_rps"),
])
def test_invalid_rows_are_rejected(row, needle):
    with pytest.raises(ProfileError) as info:
        make_table("l", "g", ENV, [ROWS[0], row])
    assert needle in str(info.value) and "row 2" in str(info.value)


def test_reader_rejects_foreign_files(tmp_path):
    table = make_table("l", "g", ENV, ROWS[:2])
    good = to_csv(table)
    cases = {
        "no_header.csv": good.split("\n", 1)[1],
        "version.csv": good.replace("schema 1", "schema 9", 1),
        "columns.csv": good.replace(",error\n", ",oops\n", 1),
        "cells.csv": good.rstrip("\n") + ",extra\n",
        "number.csv": good.replace(",12.5,", ",fast,", 1),
    }
    needles = {"no_header.csv": "missing header line", "version.csv": "unsupported profile",
               "columns.csv": "column header does not match",
               "cells.csv": "expected 30 cells", "number.csv": "expected float"}
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ProfileError) as info:
            read_csv(path)
        assert needles[name] in str(info.value) and str(path) in str(info.value)
    with pytest.raises(ProfileError, match="does not exist"):
        read_csv(tmp_path / "none.csv")


def test_one_llm_and_gpu_per_file(tmp_path):
    text = to_csv(make_table("l", "g", ENV, ROWS[:2]))
    lines = text.splitlines()
    lines[-1] = lines[-1].replace(",l,g,", ",other,g,")
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ProfileError, match="one llm on one GPU"):
        read_csv(path)
