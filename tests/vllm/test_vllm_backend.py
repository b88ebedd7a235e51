"""The vllm profiler backend, for real: vLLM's CPU engine with dummy weights of the tiny test llm.

One module-wide sweep (TP {1, 2} x two memory fractions, two batch sizes, two prompt lengths, a
load curve) feeds most checks. The points compared are far apart (8 to 16 times the work), and
step times are compared at their 10th percentile over the repetitions: other processes on the
machine only slow some repetitions down.
"""

import math
import time

import numpy as np
import pytest

from scepsy_opt.core.profile_table import read_csv, write_csv
from scepsy_opt.core.profiling import CallMix, ProfileGrid, ProfileRequest
from scepsy_opt.core.types import GpuSpec
from scepsy_opt.profile.vllm_backend import VllmBackend, record_key

pytestmark = pytest.mark.vllm

CPU = GpuSpec(id="cpu", vendor="cpu", memory_gib=8.0, hbm_bandwidth_gb_s=50.0,
              bf16_dense_tflops=1.0, sm_count=2, nvlink_gb_s=0.0, pcie_gb_s=0.0,
              form_factor="cpu")
FRACTIONS = (0.25, 0.5)
GRID = ProfileGrid(
    tp_degrees=(1, 2), gpu_fractions=FRACTIONS, prefill_batch_sizes=(1, 16),
    prefill_prompt_tokens=(32, 512), decode_batch_sizes=(1, 16), decode_context_tokens=(256,),
    memory_context_tokens=(256, 1024),
)
MIX = CallMix(input_tokens=(64, 128, 256, 96), output_tokens=(16, 32, 24, 8))
# fraction f gets f x 64 MiB of KV cache: 32768 and 65536 tokens of 512 B
# five rates: the ladder doubles from half the rate one call alone sustains, so the top rate is
# past saturation whatever the machine's speed
BACKEND = VllmBackend(repetitions=5, warmup=1, decode_steps=8, batch_output_tokens=(8,),
                      requests_per_rate=24, min_rates=5, cpu_kv_cache_gib=1 / 16)
NUMBERS = ("time_ms", "time_ms_p10", "time_ms_p90", "weights_gib_per_gpu",
           "kv_bytes_per_token_per_gpu", "kv_capacity_tokens", "max_num_seqs", "rate_rps",
           "throughput_rps", "ttft_ms_mean", "ttft_ms_p50", "ttft_ms_p99", "tpot_ms_mean",
           "tpot_ms_p50", "tpot_ms_p99", "latency_ms_mean", "latency_ms_p50",
           "latency_ms_p99")


@pytest.fixture(scope="module")
def request_(catalog):
    return ProfileRequest(catalog.llms["tiny-llama-2l"], CPU, GRID, call_mix=MIX)


@pytest.fixture(scope="module")
def table(request_):
    return BACKEND.profile(request_)


def _rows(table, kind, fraction, tp=1, **where):
    out = [r for r in table.records() if r["kind"] == kind and r["tp"] == tp
           and r["gpu_fraction"] == fraction and all(r.get(k) == v for k, v in where.items())]
    assert out, (kind, fraction, where)
    return out


def _time(table, kind, fraction, **where):
    (row,) = _rows(table, kind, fraction, **where)
    assert row["status"] == "ok", row
    return row["time_ms_p10"]


def test_the_table_round_trips_through_csv(table, tmp_path):
    path = tmp_path / "tiny-llama-2l__cpu.csv"
    write_csv(table, path)
    again = read_csv(path)
    assert again.records() == table.records()
    assert dict(again.env) == dict(table.env)
    assert (again.llm, again.gpu, again.backend) == ("tiny-llama-2l", "cpu", "vllm")


def test_every_ok_number_is_positive_and_finite(table):
    ok = [r for r in table.records() if r["status"] == "ok"]
    assert {r["kind"] for r in ok} == {"prefill", "decode", "batch", "memory", "load"}
    for row in ok:
        for name in NUMBERS:
            if name in row:
                assert math.isfinite(row[name]) and row[name] > 0, (name, row)


def test_the_env_block_says_how_the_data_were_taken(table):
    env = dict(table.env)
    assert env["backend"] == "vllm"
    assert env["vllm"] and env["torch"] and env["scepsy_opt"]
    assert env["device"].startswith("CPU")
    assert env["dtype"] == "bfloat16"
    assert "memory model" in env["memory"]
    for kind in ("prefill", "decode", "batch", "load", "date"):
        assert env[kind]


def test_tp2_is_not_measurable_on_a_cpu_and_the_sweep_goes_on(table):
    tp2 = [r for r in table.records() if r["tp"] == 2]
    assert tp2 and all(r["status"] == "failed" and "TP 2" in r["error"] for r in tp2)
    assert {r["kind"] for r in tp2} == {"prefill", "decode", "batch", "memory", "load"}
    assert all(r["status"] == "ok" for r in table.records() if r["tp"] == 1)


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_prefill_grows_with_prompt_tokens_and_batch_size(table, fraction):
    long_batch = _time(table, "prefill", fraction, batch_size=16, prompt_tokens=512)
    assert long_batch > _time(table, "prefill", fraction, batch_size=16, prompt_tokens=32)
    assert long_batch > _time(table, "prefill", fraction, batch_size=1, prompt_tokens=512)
    (row,) = _rows(table, "prefill", fraction, batch_size=16, prompt_tokens=512)
    assert row["time_ms_p10"] <= row["time_ms"] <= row["time_ms_p90"]
    assert row["repetitions"] == BACKEND.repetitions


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_decode_step_time_grows_with_batch_size(table, fraction):
    assert (_time(table, "decode", fraction, batch_size=16, context_tokens=256)
            > _time(table, "decode", fraction, batch_size=1, context_tokens=256))


def test_batch_rows_cover_the_prefill_grid(table):
    rows = _rows(table, "batch", 0.5)
    assert {(r["batch_size"], r["prompt_tokens"], r["output_tokens"]) for r in rows} == {
        (1, 32, 8), (1, 512, 8), (16, 32, 8), (16, 512, 8)}


def test_the_larger_fraction_has_the_larger_kv_capacity(table, request_):
    small, large = (_rows(table, "memory", f, context_tokens=256)[0] for f in FRACTIONS)
    assert large["kv_capacity_tokens"] > small["kv_capacity_tokens"]
    # 64 MiB x fraction of KV cache at 512 B per token (2 layers x 1 KV head x 64 x bf16 x K, V)
    assert small["kv_bytes_per_token_per_gpu"] == request_.llm.kv_bytes_per_token == 512
    assert small["kv_capacity_tokens"] == 32768 and large["kv_capacity_tokens"] == 65536
    assert small["weights_gib_per_gpu"] == pytest.approx(request_.llm.weight_gib)
    long = _rows(table, "memory", FRACTIONS[1], context_tokens=1024)[0]
    assert long["max_num_seqs"] == 64 and large["max_num_seqs"] == 256


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_the_load_curve_rises_until_saturation(table, fraction):
    curve = sorted(_rows(table, "load", fraction), key=lambda r: r["rate_rps"])
    assert len(curve) >= 5 and all(r["status"] == "ok" for r in curve)
    rates = [r["rate_rps"] for r in curve]
    throughput = [r["throughput_rps"] for r in curve]
    assert rates == sorted(set(rates))
    saturated = BACKEND.first_saturated(rates, throughput, [r["latency_ms_p50"] for r in curve],
                                        [r["latency_ms_p99"] for r in curve])
    rising = len(curve) if saturated is None else saturated
    assert np.all(np.diff(throughput[:rising]) > 0), throughput
    assert max(throughput) > throughput[0]
    # the top rate against the quickest of the lower half of the rates: one point slowed down
    # by another process on the machine does not decide the comparison
    for name in ("ttft_ms_p50", "latency_ms_p50"):
        low = min(r[name] for r in curve[:len(curve) // 2])
        assert curve[-1][name] > low, (name, [r[name] for r in curve])
    assert all(r["ttft_ms_mean"] < r["latency_ms_mean"] for r in curve)


def test_a_resumed_sweep_measures_nothing_again(table, request_, monkeypatch):
    builds = []

    def no_build(self, *args):
        builds.append(args)
        raise AssertionError("a resumed sweep must not build an engine")

    monkeypatch.setattr(VllmBackend, "_build_engine", no_build)
    started = time.monotonic()
    again = BACKEND.profile(request_, previous=table)
    assert builds == []
    assert again.records() == table.records()
    assert time.monotonic() - started < 5


def test_a_resumed_sweep_measures_only_the_missing_points(table, request_, monkeypatch):
    missing = ("prefill", 1, 0.5, 16, 32, -1, -1, -1.0)
    partial = table.select(np.array([record_key(r) != missing for r in table.records()]))
    assert len(partial) == len(table) - 1
    builds = []
    build = VllmBackend._build_engine

    def counting_build(self, *args):
        builds.append(args[1:3])
        return build(self, *args)

    monkeypatch.setattr(VllmBackend, "_build_engine", counting_build)
    again = BACKEND.profile(request_, previous=partial)
    assert builds == [(1, 0.5)]
    assert len(again) == len(table)
    new = {record_key(r): r for r in again.records()}
    for record in table.records():
        if record_key(record) != missing:
            assert new[record_key(record)] == record
    assert new[missing]["status"] == "ok" and new[missing]["time_ms"] > 0


def test_a_configuration_vllm_refuses_is_infeasible_with_its_message(request_):
    grid = ProfileGrid(tp_degrees=(1,), gpu_fractions=(0.25, 1.0), prefill_batch_sizes=(1,),
                       prefill_prompt_tokens=(64,), decode_batch_sizes=(),
                       decode_context_tokens=(), memory_context_tokens=(512,))
    # 512 KiB x fraction of KV cache: 256 tokens at 0.25 hold no 512-token sequence
    backend = VllmBackend(repetitions=2, warmup=1, batch_output_tokens=(),
                          cpu_kv_cache_gib=2**-11)
    records = backend.profile(ProfileRequest(request_.llm, CPU, grid)).records()
    small = [r for r in records if r["gpu_fraction"] == 0.25]
    assert {r["kind"] for r in small} == {"memory", "prefill"}
    assert all(r["status"] == "infeasible" and "KV cache" in r["error"] for r in small)
    whole = [r for r in records if r["gpu_fraction"] == 1.0]
    assert all(r["status"] == "ok" for r in whole)
    (memory,) = (r for r in whole if r["kind"] == "memory")
    assert memory["kv_capacity_tokens"] == 1024 and memory["max_num_seqs"] == 2


def test_explicit_rates_and_the_checkpoint_file(request_, tmp_path):
    grid = ProfileGrid(tp_degrees=(1,), gpu_fractions=(0.5,), prefill_batch_sizes=(),
                       prefill_prompt_tokens=(), decode_batch_sizes=(),
                       decode_context_tokens=(), memory_context_tokens=(512,))
    checkpoint = tmp_path / "partial.csv"
    backend = VllmBackend(rates_rps=(40.0, 10.0), requests_per_rate=12, cpu_kv_cache_gib=1 / 16,
                          checkpoint=str(checkpoint))
    table = backend.profile(ProfileRequest(request_.llm, CPU, grid, call_mix=MIX))
    load = [r for r in table.records() if r["kind"] == "load"]
    assert [r["rate_rps"] for r in load] == [10.0, 40.0]
    assert all(r["status"] == "ok" for r in load)
    assert read_csv(checkpoint).records() == table.records()
