"""The import profiler backend: vllm bench serve / latency result files to profile tables."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from scepsy_opt.core.catalog import load_catalog
from scepsy_opt.core.profile_table import ProfileError, read_csv, write_csv
from scepsy_opt.core.profiling import ProfileGrid, ProfilerBackend, ProfileRequest
from scepsy_opt.profile.import_backend import ImportBackend

DATA = Path(__file__).resolve().parents[2] / "data" / "vllm_bench"
SERVE = DATA / "serve"
LATENCY = DATA / "latency"
R1 = SERVE / "vllm-1.0qps-Llama-3.1-8B-Instruct-20250812-101502.json"
R2 = SERVE / "openai-2.0qps-Llama-3.1-8B-Instruct-20250812-103011.json"
R4 = SERVE / "openai-4.0qps-Llama-3.1-8B-Instruct-20250812-104530.json"
RINF = SERVE / "openai-infqps-Llama-3.1-8B-Instruct-20250812-110044.json"
HALF = SERVE / "half-gpu-2.0qps-Llama-3.1-8B-Instruct-20250812-121500.json"
QWEN = SERVE / "openai-2.0qps-Qwen2.5-7B-Instruct-20250813-090210.json"
A100 = SERVE / "openai-2.0qps-Llama-3.1-8B-Instruct-20250814-141733.json"
LAT_BS1 = LATENCY / "llama-3.1-8b-bs1-in512-out128.json"
LAT_BS8 = LATENCY / "llama-3.1-8b-tp2-bs8-in1024-out256.json"
H100 = "H100-SXM-80GB"
LLAMA = "llama-3.1-8b-instruct"

# The load rows of llama-3.1-8b-instruct on H100 (request_rate "inf" skipped), sorted by
# (tp, gpu_fraction, rate): values copied from the fixture files.
LOAD_ROWS = [
    {"gpu_fraction": 0.5, "rate_rps": 2.0, "throughput_rps": 1.9733596447952642,
     "ttft_ms_mean": 31.06, "ttft_ms_p50": 29.84, "ttft_ms_p99": 58.3,
     "tpot_ms_mean": 9.81, "tpot_ms_p50": 9.74, "tpot_ms_p99": 11.02,
     "latency_ms_mean": 1276.93, "latency_ms_p50": 1268.4, "latency_ms_p99": 1449.71},
    {"gpu_fraction": 1.0, "rate_rps": 1.0, "throughput_rps": 0.9929007595690811,
     "ttft_ms_mean": 21.43, "ttft_ms_p50": 20.91, "ttft_ms_p99": 33.74,
     "tpot_ms_mean": 6.71, "tpot_ms_p50": 6.69, "tpot_ms_p99": 7.02,
     "latency_ms_mean": 873.6, "latency_ms_p50": 871.25, "latency_ms_p99": 912.44},
    {"gpu_fraction": 1.0, "rate_rps": 2.0, "throughput_rps": 1.9827500743531277,
     "ttft_ms_mean": 23.92, "ttft_ms_p50": 23.18, "ttft_ms_p99": 39.51,
     "tpot_ms_mean": 7.12, "tpot_ms_p50": 7.09, "tpot_ms_p99": 7.68,
     "latency_ms_mean": 928.16, "latency_ms_p50": 924.8, "latency_ms_p99": 1001.37},
    {"gpu_fraction": 1.0, "rate_rps": 4.0, "throughput_rps": 3.951007506914263,
     "ttft_ms_mean": 28.71, "ttft_ms_p50": 27.35, "ttft_ms_p99": 52.16,
     "tpot_ms_mean": 8.05, "tpot_ms_p50": 7.98, "tpot_ms_p99": 9.11,
     "latency_ms_mean": 1051.06, "latency_ms_p50": 1043.52, "latency_ms_p99": 1186.9},
]
INF_ROW = {"gpu_fraction": 1.0, "rate_rps": 20.38735983690112,
           "throughput_rps": 20.38735983690112,
           "ttft_ms_mean": 1843.24, "ttft_ms_p50": 1902.67, "ttft_ms_p99": 2987.12,
           "tpot_ms_mean": 31.52, "tpot_ms_p50": 31.07, "tpot_ms_p99": 38.46,
           "latency_ms_mean": 5846.28, "latency_ms_p50": 5871.93, "latency_ms_p99": 7102.55}
BATCH_BS1 = {"kind": "batch", "llm": LLAMA, "gpu": H100, "tp": 1, "gpu_fraction": 1.0,
             "status": "ok", "batch_size": 1, "prompt_tokens": 512, "output_tokens": 128,
             "time_ms": 824.25, "time_ms_p10": 823.69, "time_ms_p90": 825.29, "repetitions": 10}
BATCH_BS8 = {"kind": "batch", "llm": LLAMA, "gpu": H100, "tp": 2, "gpu_fraction": 0.5,
             "status": "ok", "batch_size": 8, "prompt_tokens": 1024, "output_tokens": 256,
             "time_ms": 1913.05, "time_ms_p10": 1912.16, "time_ms_p90": 1914.19,
             "repetitions": 10}


def request(llm: str = LLAMA, gpu: str = H100) -> ProfileRequest:
    catalog = load_catalog()
    return ProfileRequest(llm=catalog.llms[llm], gpu=catalog.gpus[gpu], grid=ProfileGrid())


def load_record(**values: Any) -> dict[str, Any]:
    return {"kind": "load", "llm": LLAMA, "gpu": H100, "tp": 1, "status": "ok", **values}


def assert_records(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert set(got) == set(want)
        for key, value in want.items():
            if isinstance(value, float):
                assert got[key] == pytest.approx(value, rel=1e-12), key
            else:
                assert got[key] == value, key


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def edited(tmp_path: Path, source: Path, **changes: Any) -> Path:
    """A copy of ``source`` with keys set (or removed, for the value ``...``)."""
    record = json.loads(source.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is ...:
            record.pop(key)
        else:
            record[key] = value
    return write_json(tmp_path / source.name, record)


# ------------------------------------------------------------------------------ serve results


def test_serve_results_give_one_load_row_per_finite_rate() -> None:
    table = ImportBackend(SERVE).profile(request())
    assert (table.llm, table.gpu, table.backend) == (LLAMA, H100, "import")
    assert_records(table.records(), [load_record(**row) for row in LOAD_ROWS])
    assert table.configurations() == [(1, 0.5), (1, 1.0)]


def test_infinite_rate_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="scepsy_opt.profile.import_backend"):
        table = ImportBackend(SERVE).profile(request())
    assert not np.isinf(table["rate_rps"]).any()
    assert any(RINF.name in r.getMessage() and "inf" in r.getMessage() for r in caplog.records)
    env = dict(table.env)
    assert RINF.name in env["skipped"]
    assert env["infinite_rate"] == "skip"
    assert RINF.name not in env["files"]


def test_infinite_rate_as_achieved_throughput() -> None:
    table = ImportBackend(SERVE, {"infinite_rate": "throughput"}).profile(request())
    expected = sorted([*LOAD_ROWS, INF_ROW], key=lambda r: (r["gpu_fraction"], r["rate_rps"]))
    assert_records(table.records(), [load_record(**row) for row in expected])
    env = dict(table.env)
    assert RINF.name in env["rate_from_throughput"]
    assert "achieved request_throughput" in env["rate_from_throughput"]
    assert env["skipped"] == "none"


def test_results_of_other_llms_and_gpus_are_skipped() -> None:
    qwen = ImportBackend(SERVE).profile(request("qwen2.5-7b-instruct"))
    assert_records(qwen.records(), [{
        "kind": "load", "llm": "qwen2.5-7b-instruct", "gpu": H100, "tp": 1, "gpu_fraction": 1.0,
        "status": "ok", "rate_rps": 2.0, "throughput_rps": 1.9853087155052611,
        "ttft_ms_mean": 22.65, "ttft_ms_p50": 22.02, "ttft_ms_p99": 36.87,
        "tpot_ms_mean": 6.58, "tpot_ms_p50": 6.55, "tpot_ms_p99": 7.09,
        "latency_ms_mean": 858.31, "latency_ms_p50": 855.12, "latency_ms_p99": 925.6}])
    assert dict(qwen.env)["files"] == QWEN.name
    a100 = ImportBackend(SERVE).profile(request(gpu="A100-SXM-80GB"))
    assert len(a100) == 1
    assert a100["gpu"][0] == "A100-SXM-80GB"
    assert a100["latency_ms_mean"][0] == 1553.58
    assert dict(a100.env)["files"] == A100.name


def test_env_block_lists_files_dates_backends_and_versions() -> None:
    env = dict(ImportBackend(SERVE).profile(request()).env)
    assert env["backend"] == "import"
    assert env["source"] == str(SERVE)
    assert env["files"].split(", ") == sorted(p.name for p in (R1, R2, R4, HALF))
    assert env["date"] == ("20250812-101502, 20250812-103011, 20250812-104530, "
                           "20250812-121500")
    assert env["vllm_backend"] == "openai, vllm"
    assert env["vllm_version"] == "0.10.1.1, 0.8.5"
    assert env["model_id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert env["burstiness"] == "1.0"
    assert env["max_concurrency"] == "unknown"


def test_single_file_and_options_override_metadata() -> None:
    table = ImportBackend(R2, {"tp": 2, "gpu_fraction": 0.25}).profile(request())
    assert table.configurations() == [(2, 0.25)]
    assert dict(table.env)["files"] == R2.name
    assert_records(table.records(), [load_record(**{**LOAD_ROWS[2], "tp": 2,
                                                    "gpu_fraction": 0.25})])


def test_option_llm_and_gpu_relabel_every_file(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, model_id="/models/llama8b", gpu=...)
    table = ImportBackend(path, {"llm": LLAMA, "gpu": H100}).profile(request())
    assert table["throughput_rps"][0] == pytest.approx(1.9827500743531277)


def test_model_id_matches_a_local_path_ending_in_the_hf_id(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, model_id="/data/models/meta-llama/Llama-3.1-8B-Instruct")
    assert len(ImportBackend(path).profile(request())) == 1


def test_metadata_llm_wins_over_model_id(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, model_id="/data/ckpt/step-1200", llm=LLAMA)
    assert len(ImportBackend(path).profile(request())) == 1


def test_e2el_statistics_from_per_request_latencies(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, mean_e2el_ms=..., median_e2el_ms=..., std_e2el_ms=...,
                  p99_e2el_ms=..., completed=4, failed=0, latencies=[0.9, 1.0, 1.1, 1.2])
    table = ImportBackend(path).profile(request())
    assert table["latency_ms_mean"][0] == pytest.approx(1050.0)
    assert table["latency_ms_p50"][0] == pytest.approx(1050.0)
    assert table["latency_ms_p99"][0] == pytest.approx(1197.0)
    assert path.name in dict(table.env)["latency_from_per_request"]


def test_missing_p99_leaves_the_column_empty(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, p99_ttft_ms=...)
    record = ImportBackend(path).profile(request()).records()[0]
    assert "ttft_ms_p99" not in record
    assert record["ttft_ms_mean"] == 23.92


def test_appended_results_in_one_file(tmp_path: Path) -> None:
    text = R1.read_text(encoding="utf-8").strip() + "\n" + R4.read_text(encoding="utf-8")
    path = tmp_path / "appended.json"
    path.write_text(text, encoding="utf-8")
    table = ImportBackend(path).profile(request())
    assert list(table["rate_rps"]) == [1.0, 4.0]
    assert dict(table.env)["files"] == "appended.json#1, appended.json#2"


def test_ramp_up_runs_are_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    edited(tmp_path, R2)
    edited(tmp_path, RINF, ramp_up_strategy="linear", ramp_up_start_rps=1, ramp_up_end_rps=8)
    with caplog.at_level(logging.WARNING, logger="scepsy_opt.profile.import_backend"):
        table = ImportBackend(tmp_path, {"infinite_rate": "throughput"}).profile(request())
    assert list(table["rate_rps"]) == [2.0]
    assert "ramp-up" in dict(table.env)["skipped"]
    assert any("ramp-up" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------ latency results


def test_latency_result_with_vllm_companion_file() -> None:
    table = ImportBackend(LAT_BS1, {"gpu": H100}).profile(request())
    assert_records(table.records(), [BATCH_BS1])


def test_latency_result_with_keys_in_the_json() -> None:
    table = ImportBackend(LAT_BS8).profile(request())
    assert_records(table.records(), [BATCH_BS8])
    assert dict(table.env)["vllm_version"] == "0.10.1.1"


def test_latency_folder() -> None:
    table = ImportBackend(LATENCY, {"gpu": H100}).profile(request())
    assert_records(table.records(), [BATCH_BS1, BATCH_BS8])
    assert dict(table.env)["files"] == f"{LAT_BS1.name}, {LAT_BS8.name}"


def companion_copy(tmp_path: Path, **args: Any) -> Path:
    """A copy of the batch-1 latency result whose companion arguments are changed."""
    result = Path(shutil.copy(LAT_BS1, tmp_path / "run.json"))
    records = json.loads(LAT_BS1.with_name(LAT_BS1.stem + ".pytorch.json").read_text())
    records[0]["benchmark"]["extra_info"]["args"].update(args)
    write_json(tmp_path / "run.pytorch.json", records)
    return result


def test_latency_configuration_from_the_companion(tmp_path: Path) -> None:
    path = companion_copy(tmp_path, tensor_parallel_size=2, batch_size=16, input_len=2048)
    record = ImportBackend(path, {"gpu": H100}).profile(request()).records()[0]
    assert (record["tp"], record["batch_size"], record["prompt_tokens"],
            record["output_tokens"]) == (2, 16, 2048, 128)


def test_latency_run_with_several_sequences_per_prompt(tmp_path: Path) -> None:
    path = companion_copy(tmp_path, n=4)
    message = raises(ImportBackend(path, {"gpu": H100}))
    assert f"{tmp_path / 'run.pytorch.json'}: benchmark.extra_info.args.n" in message


def test_backend_protocol() -> None:
    backend: ProfilerBackend = ImportBackend(SERVE)
    assert backend.name == "import"


def test_latency_shape_from_options(tmp_path: Path) -> None:
    path = shutil.copy(LAT_BS1, tmp_path / "run.json")
    options = {"llm": LLAMA, "gpu": H100, "batch_size": 4, "input_len": 256, "output_len": 64}
    record = ImportBackend(path, options).profile(request()).records()[0]
    assert (record["batch_size"], record["prompt_tokens"], record["output_tokens"]) == (4, 256, 64)
    assert record["time_ms"] == pytest.approx(824.25)


def test_latency_percentiles_computed_when_absent(tmp_path: Path) -> None:
    path = edited(tmp_path, LAT_BS8, percentiles=...)
    record = ImportBackend(path).profile(request()).records()[0]
    latencies = np.array(json.loads(LAT_BS8.read_text(encoding="utf-8"))["latencies"])
    assert record["time_ms"] == pytest.approx(np.median(latencies) * 1000)
    assert record["time_ms_p10"] == pytest.approx(np.percentile(latencies, 10) * 1000)
    assert record["time_ms_p90"] == pytest.approx(np.percentile(latencies, 90) * 1000)
    assert record["time_ms"] == pytest.approx(BATCH_BS8["time_ms"])


def test_mixed_folder_gives_batch_and_load_rows(tmp_path: Path) -> None:
    for source in (R1, R2, LAT_BS8):
        shutil.copy(source, tmp_path / source.name)
    table = ImportBackend(tmp_path).profile(request())
    assert list(table["kind"]) == ["batch", "load", "load"]


# ------------------------------------------------------------------------------ round trip


def test_round_trip_through_csv(tmp_path: Path) -> None:
    options = {"gpu": H100, "infinite_rate": "throughput"}
    folder = tmp_path / "results"
    shutil.copytree(SERVE, folder / "serve")
    shutil.copy(LAT_BS1, folder / LAT_BS1.name)
    shutil.copy(LAT_BS1.with_name(LAT_BS1.stem + ".pytorch.json"), folder)
    table = ImportBackend(folder, options).profile(request())
    assert list(table["kind"]).count("batch") == 1
    path = tmp_path / "profile.csv"
    write_csv(table, path)
    back = read_csv(path)
    assert (back.llm, back.gpu, back.backend) == (LLAMA, H100, "import")
    assert back.env == table.env
    assert back.records() == table.records()


# ------------------------------------------------------------------------------ errors


def raises(backend: ImportBackend, req: ProfileRequest | None = None) -> str:
    with pytest.raises(ProfileError) as info:
        backend.profile(req or request())
    return str(info.value)


def test_malformed_json_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(R2.read_text(encoding="utf-8")[:400], encoding="utf-8")
    message = raises(ImportBackend(path))
    assert str(path) in message
    assert "malformed JSON at line 1" in message


def test_missing_field_names_the_file_and_field(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, mean_ttft_ms=...)
    message = raises(ImportBackend(path))
    assert f"{path}: mean_ttft_ms: missing field" in message


def test_missing_e2el_without_latencies_asks_for_percentile_metrics(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, mean_e2el_ms=...)
    message = raises(ImportBackend(path))
    assert f"{path}: mean_e2el_ms: missing field" in message
    assert "--percentile-metrics ttft,tpot,itl,e2el" in message


def test_wrong_type_names_the_file_and_field(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, median_tpot_ms="7.09")
    message = raises(ImportBackend(path))
    assert f"{path}: median_tpot_ms: wrong type" in message
    assert "'7.09'" in message


@pytest.mark.parametrize("value", [-1.0, math.nan])
def test_negative_or_nan_numbers_name_the_file_and_field(tmp_path: Path, value: float) -> None:
    path = tmp_path / "bad.json"
    record = json.loads(R2.read_text(encoding="utf-8"))
    record["p99_ttft_ms"] = value
    path.write_text(json.dumps(record), encoding="utf-8")  # NaN is written as NaN
    message = raises(ImportBackend(path))
    assert f"{path}: p99_ttft_ms: must be a finite number >= 0" in message


def test_negative_latency_iteration_names_its_index(tmp_path: Path) -> None:
    path = edited(tmp_path, LAT_BS8, latencies=[1.9, -0.1])
    assert f"{path}: latencies[1]: must be a finite number >= 0" in raises(ImportBackend(path))


def test_bad_metadata_value_names_the_file_and_key(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, tp="two")
    assert f"{path}: tp: expected an integer (got 'two')" in raises(ImportBackend(path))
    path = edited(tmp_path, R2, gpu_fraction="1.5")
    assert f"{path}: gpu_fraction: must be in (0, 1]" in raises(ImportBackend(path))


def test_missing_batch_size_of_a_latency_result(tmp_path: Path) -> None:
    path = shutil.copy(LAT_BS1, tmp_path / "run.json")
    message = raises(ImportBackend(path, {"llm": LLAMA, "gpu": H100}))
    assert f"{path}: batch_size: the batch_size of this latency result is unknown" in message
    assert "SAVE_TO_PYTORCH_BENCHMARK_FORMAT=1" in message


def test_latency_result_of_unknown_llm(tmp_path: Path) -> None:
    path = shutil.copy(LAT_BS1, tmp_path / "run.json")
    message = raises(ImportBackend(path, {"gpu": H100}))
    assert f"{path}: llm: the llm of this latency result is unknown" in message


def test_result_of_the_llm_without_gpu(tmp_path: Path) -> None:
    message = raises(ImportBackend(LAT_BS1))
    assert f"{LAT_BS1}: gpu: the GPU of this result is unknown" in message
    assert f"gpu={H100}" in message


def test_no_matching_result_names_the_path_and_what_was_found() -> None:
    message = raises(ImportBackend(SERVE), request("qwen2.5-72b-instruct"))
    assert message.startswith(f"{SERVE}: no usable vllm bench result of qwen2.5-72b-instruct")
    assert "meta-llama/Llama-3.1-8B-Instruct on A100-SXM-80GB (1 result(s))" in message
    assert "Qwen/Qwen2.5-7B-Instruct on H100-SXM-80GB (1 result(s))" in message


def test_only_skipped_results_is_an_error(tmp_path: Path) -> None:
    message = raises(ImportBackend(RINF))
    assert f"{RINF}: no usable vllm bench result of {LLAMA}" in message
    assert "skipped" in message and "request_rate inf" in message


def test_unrecognised_json_names_the_file(tmp_path: Path) -> None:
    path = write_json(tmp_path / "throughput.json",
                      {"elapsed_time": 12.5, "num_requests": 1000, "requests_per_second": 80.0})
    message = raises(ImportBackend(tmp_path))
    assert f"{path}: neither a vllm bench serve result" in message


def test_no_completed_request(tmp_path: Path) -> None:
    path = edited(tmp_path, R2, completed=0, failed=200)
    assert f"{path}: completed: no request of this run completed" in raises(ImportBackend(path))


def test_malformed_companion_names_it(tmp_path: Path) -> None:
    result = shutil.copy(LAT_BS1, tmp_path / "run.json")
    companion = write_json(tmp_path / "run.pytorch.json", {"benchmark": {}})
    message = raises(ImportBackend(result, {"gpu": H100}))
    assert f"{companion}: [0].benchmark.extra_info.args" in message


def test_unknown_option_and_policy() -> None:
    message = raises(ImportBackend(SERVE, {"tensor_parallel": 2}))
    assert "import profile options: tensor_parallel: unknown import option(s)" in message
    message = raises(ImportBackend(SERVE, {"infinite_rate": "guess"}))
    assert "infinite_rate: unknown infinite_rate policy" in message
    message = raises(ImportBackend(SERVE, {"tp": 0}))
    assert "import profile options: tp: must be >= 1" in message


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    assert f"{missing}: the vllm bench result path does not exist" in raises(
        ImportBackend(missing))
    assert f"{tmp_path}: the folder holds no result files" in raises(ImportBackend(tmp_path))
